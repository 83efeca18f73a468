<!--{* index.tpl *}-->
<div id="undercolumn"></div>
