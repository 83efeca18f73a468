<!--{* mypage/change.tpl *}-->
<div id="undercolumn"></div>
