<!--{* order/status.tpl *}-->
<div id="contents"></div>
