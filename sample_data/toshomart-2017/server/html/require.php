<?php
$include_dir = realpath(dirname( __FILE__));
require_once $include_dir . '/define.php';
require_once HTML_REALDIR . HTML2DATA_DIR . 'require_base.php';
