<?php
/*
 * This file is part of EC-CUBE
 */

class LC_Page_Shopping_LoadPaymentModule
{
}
