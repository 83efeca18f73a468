$(function(){ $('.rollover').hover(function(){}, function(){}); });
