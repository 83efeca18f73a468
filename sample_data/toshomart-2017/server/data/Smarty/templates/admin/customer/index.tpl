<!--{* customer/index.tpl *}-->
<div id="contents"></div>
