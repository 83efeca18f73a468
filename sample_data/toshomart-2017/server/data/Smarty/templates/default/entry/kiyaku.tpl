<!--{* entry/kiyaku.tpl *}-->
<div id="undercolumn"></div>
