<!--{* customer/edit.tpl *}-->
<div id="contents"></div>
