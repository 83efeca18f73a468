<?php
/*
 * This file is part of EC-CUBE
 */

class SC_Display
{
}
