<?php
/*
 * This file is part of EC-CUBE
 */

class LC_Page_Admin_Contents_FileManager
{
}
