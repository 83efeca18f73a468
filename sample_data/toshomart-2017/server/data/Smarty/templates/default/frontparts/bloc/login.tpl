<!--{* frontparts/bloc/login.tpl *}-->
<div id="undercolumn"></div>
