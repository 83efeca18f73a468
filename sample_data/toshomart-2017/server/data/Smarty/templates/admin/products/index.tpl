<!--{* products/index.tpl *}-->
<div id="contents"></div>
