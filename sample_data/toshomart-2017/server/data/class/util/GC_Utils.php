<?php
/*
 * This file is part of EC-CUBE
 */

class GC_Utils
{
}
