<!--{* site_main.tpl *}-->
<div id="undercolumn"></div>
