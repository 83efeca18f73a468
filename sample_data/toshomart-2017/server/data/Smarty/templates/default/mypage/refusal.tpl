<!--{* mypage/refusal.tpl *}-->
<div id="undercolumn"></div>
