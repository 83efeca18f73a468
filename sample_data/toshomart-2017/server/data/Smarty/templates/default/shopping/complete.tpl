<!--{* shopping/complete.tpl *}-->
<div id="undercolumn"></div>
