<!--{* cart/index.tpl *}-->
<div id="undercolumn"></div>
