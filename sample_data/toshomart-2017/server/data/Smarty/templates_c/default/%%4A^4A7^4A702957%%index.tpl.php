<?php /* Smarty version 2.6.26, created on 2016-11-02 14:20:31
         compiled from /var/www/eccube/data/Smarty/templates/default/guide/index.tpl */ ?>
<?php require_once(SMARTY_CORE_DIR . 'core.load_plugins.php');
smarty_core_load_plugins(array('plugins' => array(array('modifier', 'h', '/var/www/eccube/data/Smarty/templates/default/guide/index.tpl', 3, false),)), $this); ?>
<div id="undercolumn" class="index">
  <h2 class="title"><?php echo ((is_array($_tmp=$this->_tpl_vars['tpl_title'])) ? $this->_run_mod_handler('h', true, $_tmp) : smarty_modifier_h($_tmp)); ?></h2>
  <?php if (count($this->_tpl_vars['arrErr']) > 0): ?><p class="attention">入力内容をご確認ください。</p><?php endif; ?>
</div>
