<!--{* products/list.tpl *}-->
<div id="undercolumn"></div>
