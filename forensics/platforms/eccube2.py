"""EC-CUBE 2 (2.13): admin routing and the person records each admin page displays.

Pages as ``EC-CUBE 2.13.5`` has them (``data/class/pages/admin/...``). Admin navigation is POST,
so the ``mode`` of a request is known only when it is in the query string: a page whose class
depends on its mode (a list page's CSV export, a backup download) is that class only when the
mode shows; :data:`MODE_HIDDEN_PAGES` names the pages whose hidden mode may have been the
display one. The admin CSV downloads, column by column, are in :mod:`forensics.platforms.eccube2_csv`.
"""

from __future__ import annotations

from forensics.platforms.eccube2_csv import ADMIN_CSV_COLUMNS, ADMIN_CSV_OUTPUTS  # noqa: F401 (the platform's knowledge, in one place)
from forensics.platforms.routing import ANY_PERSON_TABLE, EVERY_PERSON_TABLE, AdminPage, Platform
from forensics.rules import PaymentRule

ADMIN_PAGES: tuple[AdminPage, ...] = (
    AdminPage("login", r"(?:index\.php)?", source="LC_Page_Admin_Index: the login form and its POST"),
    AdminPage("home", r"home\.php", ("dtb_order",),
              source="LC_Page_Admin_Home: the newest orders with the orderers' names"),
    AdminPage("customer_csv", r"customer/(?:index\.php)?", ("dtb_customer",), mode="csv",
              source="LC_Page_Admin_Customer mode=csv: every member matching the search"),
    AdminPage("customer_list", r"customer/(?:index\.php)?", ("dtb_customer",),
              source="LC_Page_Admin_Customer: member search results",
              false_positives=("the search form alone (mode search not yet posted) shows no member; its SELECTs "
                               "decide when the query log has them",)),
    AdminPage("customer_edit", r"customer/edit\.php", ("dtb_customer",),
              source="LC_Page_Admin_Customer_Edit: one member's record"),
    AdminPage("customer_search", r"customer/search_customer\.php", ("dtb_customer",),
              source="LC_Page_Admin_Customer_SearchCustomer: member search pop-up of the order form"),
    AdminPage("order_csv", r"order/(?:index\.php)?", ("dtb_order",), mode="csv",
              source="LC_Page_Admin_Order mode=csv: every order matching the search"),
    AdminPage("order_list", r"order/(?:index\.php)?", ("dtb_order",),
              source="LC_Page_Admin_Order: order search results with the orderers"),
    AdminPage("order_edit", r"order/edit\.php", ("dtb_order",),
              source="LC_Page_Admin_Order_Edit: one order with the orderer's details"),
    AdminPage("order_disp", r"order/disp\.php", ("dtb_order",),
              source="LC_Page_Admin_Order_Disp: one order, read only"),
    AdminPage("order_pdf", r"order/pdf\.php", ("dtb_order",),
              source="LC_Page_Admin_Order_Pdf: delivery slips of the chosen orders"),
    AdminPage("order_mail", r"order/mail\.php", ("dtb_order",),
              source="LC_Page_Admin_Order_Mail: mail to the orderers of the chosen orders"),
    AdminPage("order_status", r"order/status\.php", ("dtb_order",),
              source="LC_Page_Admin_Order_Status: orders by status with the orderers"),
    AdminPage("mail_search", r"mail/(?:index\.php)?", ("dtb_customer",),
              source="LC_Page_Admin_Mail: members matching a mail-magazine search"),
    AdminPage("csv_sql_output", r"contents/csv_sql\.php", (ANY_PERSON_TABLE,), mode="csv_output",
              source="LC_Page_Admin_Contents_CsvSql mode=csv_output: a stored SELECT's rows as CSV",
              # lfDoCsvOutput reads the stored statement by its id, then runs it; preview runs the
              # form's statement without reading dtb_csv_sql by id
              mode_signature=r"(?is)^\s*select\b.*\bfrom\s+`?dtb_csv_sql`?\s+where\s+sql_id\s*="),
    AdminPage("backup_download", r"system/bkup\.php", (EVERY_PERSON_TABLE,), mode="download", whole=True,
              source="LC_Page_Admin_System_Bkup mode=download: a backup of every table"),
    AdminPage("file_manager", r"contents/file_manager\.php",
              source="LC_Page_Admin_Contents_FileManager: uploads under html/user_data/"),
    AdminPage("backup", r"system/bkup\.php", source="LC_Page_Admin_System_Bkup: backups listed, made, restored",
              false_positives=("a POST hides its mode: the request may have been the download (MODE_HIDDEN_PAGES)",)),
    AdminPage("csv_sql", r"contents/csv_sql\.php", source="LC_Page_Admin_Contents_CsvSql: stored SELECTs edited"),
)

#: Pages whose class hangs on a mode a POST hides: page -> the display class its mode may have been.
MODE_HIDDEN_PAGES: dict[str, str] = {"backup": "backup_download", "csv_sql": "csv_sql_output"}

#: Signs of a payment method's kind in ``dtb_payment`` (its name; its module's page, ``module_path``). Wallets and carrier billing are not card methods of the shop:
#: the card, if any, is entered at the provider, not on the shop's form.
PAYMENT_METHOD_RULES: tuple[PaymentRule, ...] = (
    PaymentRule("name-card", "name", r"クレジット|カード|credit|card|デビット|debit|visa|master|jcb|amex|diners",
                "card", "the method's name names a card (クレジットカード決済, Credit card)",
                false_positives=("a gift-card or point-card method (ギフトカード, ポイントカード払い)",)),
    PaymentRule("name-other", "name",
                r"コンビニ|convenience|\bcvs\b|銀行|振込|振替|bank|transfer|代金引換|代引|cash on delivery|\bcod\b|"
                r"現金|cash|ペイジー|pay-?easy|後払|atm|ネットバンク|キャリア|carrier|電子マネー|e-?money|edy|suica|"
                r"webmoney|paypal|amazon ?pay|楽天ペイ|rakuten ?pay|line ?pay|paypay|請求書|invoice|ポイント|point",
                "not_card", "the method's name names another way to pay (コンビニ決済, 銀行振込, 代金引換, ...)"),
    PaymentRule("module-file-card", "module_file", r"card|credit|\bcc\b|クレジット", "card",
                "the payment module's file for this method is its card page (card.php, credit.php)",
                false_positives=("a module whose card page also takes another payment (a multi-method gateway)",)),
    PaymentRule("module-file-other", "module_file",
                r"conveni|\bcvs|bank|payeasy|pay_easy|\batm|netbank|carrier|career|emoney|edy|paypal|deferred|atobarai",
                "not_card", "the payment module's file for this method is another payment's page (conveni.php, bank.php)"),
)


#: EC-CUBE 2.13 as one value (``site.profile: eccube2``), from ``EC-CUBE 2.13.5``:
#: ``SC_Initial`` sets Asia/Tokyo unconditionally; ``LC_Page_Admin_Index`` answers a login with a
#: redirect (302) and a failure with the error page (500, ``LC_Page_Error_DispError``; 200 when the
#: form is shown again); ``shopping/load_payment_module.php`` takes the card and redirects (302)
#: when it is accepted; ``SC_UploadFile`` logs the file manager's, template and plugin uploads;
#: ``html/define.php`` and ``html/require.php`` sit in the document root; admin sessions are rows
#: of ``dtb_session`` (``sess_id``).
ECCUBE2 = Platform(
    name="eccube2",
    app_log_timezone="Asia/Tokyo",
    default_admin_dir="/admin/",
    admin_pages=ADMIN_PAGES,
    mode_hidden_pages=MODE_HIDDEN_PAGES,
    person_tables={"dtb_customer": ("customer_id", "email"), "dtb_order": ("customer_id", "order_email")},
    session_table="dtb_session",
    session_id_column="sess_id",
    login_success_status=(302,),
    login_failure_status=(500, 200),
    card_entry_path="/shopping/load_payment_module.php",
    card_entry_method="POST",
    card_entry_ok_status=(302,),
    upload_pages=r"contents/file_manager\.php|design/up_down\.php|ownersstore/",
    docroot_markers=("define.php", "require.php"),
    db_export_glob="dtb_*.csv",
    customer_table="dtb_customer",
    order_table="dtb_order",
    payment_table="dtb_payment",
    csv_export_tables={"order_list": "dtb_order", "customer_list": "dtb_customer"},
    app_log_format="eccube2",
    admin_account_table="dtb_member",  # login_id, password (SHA-256 HMAC with AUTH_MAGIC) and salt
    admin_credential_columns=("login_id", "password", "salt"),
    payment_method_rules=PAYMENT_METHOD_RULES,
    upload_folder="user_data/",
    display_name="EC-CUBE 2",
    # data/require_base.php and define.php: HTML_REALDIR the document root, USER_REALDIR its
    # user_data/, DATA_REALDIR the data folder
    path_constants={"USER_REALDIR": "upload", "HTML_REALDIR": "docroot", "HTML_PATH": "docroot", "DATA_REALDIR": "data"},
)
