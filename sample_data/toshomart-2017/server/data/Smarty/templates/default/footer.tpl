<!--{* footer.tpl *}-->
<div id="undercolumn"></div>
