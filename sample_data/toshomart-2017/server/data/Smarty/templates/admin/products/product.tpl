<!--{* products/product.tpl *}-->
<div id="contents"></div>
