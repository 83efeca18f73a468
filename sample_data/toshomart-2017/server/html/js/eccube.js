/* EC-CUBE */
function fnFormModeSubmit(form, mode, keyname, keyid) {
    document.forms[form]['mode'].value = mode;
    document.forms[form].submit();
}
