<!--{* site_frame.tpl *}-->
<div id="undercolumn"></div>
