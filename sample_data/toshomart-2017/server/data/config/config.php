<?php
define('ECCUBE_INSTALL', 'ON');
define('HTTP_URL', 'http://toshomart.com/');
define('HTTPS_URL', 'https://toshomart.com/');
define('ROOT_URLPATH', '/');
define('DOMAIN_NAME', '');
define('DB_TYPE', 'mysql');
define('DB_USER', 'eccube');
define('DB_PASSWORD', '********');
define('DB_SERVER', 'localhost');
define('DB_NAME', 'eccube_db');
define('DB_PORT', '');
define('ADMIN_DIR', 'admin/');
define('ADMIN_FORCE_SSL', FALSE);
define('ADMIN_ALLOW_HOSTS', 'a:0:{}');
define('AUTH_MAGIC', 'rouslaewiadiecrouhiapiudiaphoadiutriejiaw');
define('PASSWORD_HASH_ALGOS', 'sha256');
