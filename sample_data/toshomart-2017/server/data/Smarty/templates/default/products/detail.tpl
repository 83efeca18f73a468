<!--{* products/detail.tpl *}-->
<div id="undercolumn"></div>
