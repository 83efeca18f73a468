<!--{* header.tpl *}-->
<div id="undercolumn"></div>
