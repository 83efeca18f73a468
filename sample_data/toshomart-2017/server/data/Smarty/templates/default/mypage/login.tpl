<!--{* mypage/login.tpl *}-->
<div id="undercolumn"></div>
