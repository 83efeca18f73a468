<?php
define('USE_FILENAME_DIR_INDEX', null);
define('HTML2DATA_DIR', '../data/');
