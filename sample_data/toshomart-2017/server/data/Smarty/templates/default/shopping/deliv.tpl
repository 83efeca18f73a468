<!--{* shopping/deliv.tpl *}-->
<div id="undercolumn"></div>
