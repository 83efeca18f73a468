<!--{* frontparts/bloc/recommend.tpl *}-->
<div id="undercolumn"></div>
