<!--{* home.tpl *}-->
<div id="contents"></div>
