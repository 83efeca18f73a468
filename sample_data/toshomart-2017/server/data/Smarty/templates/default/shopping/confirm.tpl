<!--{* shopping/confirm.tpl *}-->
<div id="undercolumn"></div>
