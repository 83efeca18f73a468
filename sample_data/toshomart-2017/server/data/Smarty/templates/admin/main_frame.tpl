<!--{* main_frame.tpl *}-->
<div id="contents"></div>
