<!--{* frontparts/bloc/category.tpl *}-->
<div id="undercolumn"></div>
