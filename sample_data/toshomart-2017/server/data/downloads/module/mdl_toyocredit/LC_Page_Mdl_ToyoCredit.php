<?php
// 東洋クレジット決済モジュール
class LC_Page_Mdl_ToyoCredit extends LC_Page_Ex
{
}
