<!--{* クレジットカード情報入力 *}-->
<form name="form1" method="post" action="<!--{$smarty.const.ROOT_URLPATH}-->shopping/load_payment_module.php">
<input type="text" name="card_no" />
</form>
