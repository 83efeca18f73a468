<!--{* basis/payment.tpl *}-->
<div id="contents"></div>
