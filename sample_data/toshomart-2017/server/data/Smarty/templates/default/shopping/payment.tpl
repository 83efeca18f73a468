<!--{* shopping/payment.tpl *}-->
<div id="undercolumn"></div>
