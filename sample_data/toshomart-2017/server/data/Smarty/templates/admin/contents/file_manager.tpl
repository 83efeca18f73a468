<!--{* contents/file_manager.tpl *}-->
<div id="contents"></div>
