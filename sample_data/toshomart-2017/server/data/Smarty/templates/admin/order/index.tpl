<!--{* order/index.tpl *}-->
<div id="contents"></div>
