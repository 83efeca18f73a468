<!-- 新着情報 -->
<div class="bloc_outer"></div>
