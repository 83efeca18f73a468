<!--{* frontparts/bloc/news.tpl *}-->
<div id="undercolumn"></div>
