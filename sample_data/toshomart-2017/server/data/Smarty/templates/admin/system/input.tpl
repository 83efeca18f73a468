<!--{* system/input.tpl *}-->
<div id="contents"></div>
