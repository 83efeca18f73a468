<!--{* order/edit.tpl *}-->
<div id="contents"></div>
