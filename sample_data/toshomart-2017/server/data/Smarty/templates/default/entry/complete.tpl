<!--{* entry/complete.tpl *}-->
<div id="undercolumn"></div>
