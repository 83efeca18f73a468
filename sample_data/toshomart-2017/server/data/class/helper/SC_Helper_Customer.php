<?php
/*
 * This file is part of EC-CUBE
 */

class SC_Helper_Customer
{
}
