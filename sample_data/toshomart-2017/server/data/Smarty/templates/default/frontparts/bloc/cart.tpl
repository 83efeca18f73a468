<!--{* frontparts/bloc/cart.tpl *}-->
<div id="undercolumn"></div>
