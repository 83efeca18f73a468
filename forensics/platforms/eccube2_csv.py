"""EC-CUBE 2 (2.13): the admin panel's CSV downloads, column by column.

The shop's admin pages write their CSV downloads from the ``dtb_csv`` table: one row per output
column, ``csv_id`` naming the download, ``col`` the SQL column or expression it selects,
``disp_name`` the header label written in the file, ``status`` whether the column is written (1)
or not (2; 0 for ``ZIP CODE`` and ``国`` of the member and order lists, which the installation
leaves off). The shop can switch columns on and off and reorder them (``contents/csv.php``
writes ``status`` and ``rank`` only), never rename them, so a download's header row is a subset,
in any order, of one ``csv_id``'s labels.

Source: ``html/install/sql/insert_data.sql`` of EC-CUBE 2.13.5 (the ``INSERT INTO dtb_csv``
rows, copied here in their ``no`` order; ``col`` is the stored value, so SQL's doubled quotes
appear single). The writer is ``data/class/helper/SC_Helper_CSV.php``: ``sfDownloadCsv`` selects
the enabled columns (``status = 1``) ordered by ``rank, no``, writes the ``disp_name`` labels as
the header row with PHP's ``fputcsv`` (``,`` separated; a field with a comma, quote, backslash,
space, tab or line break quoted, ``"`` doubled except right after a backslash), converts the
text to CP932 (``convert.iconv.utf-8/cp932``), ends each record with CRLF (a line break inside a
field stays as stored), and names the download ``<file_head>_<yymmdd>_<HHMMSS>.csv``
(``customer_170401_231502.csv``). Times are written as the database returns them
(``2017-04-01 23:15:02``; PostgreSQL may add fractional seconds).

:data:`ADMIN_CSV_COLUMNS` maps each label to a column name of the exported table: the column
itself where ``col`` is a plain column (``email`` -> ``email``; ``A.create_date`` of the review
download -> ``create_date``), a derived name otherwise, so that a value that is not the table's
own never takes a real column's name: a master-table lookup (``(SELECT name FROM mtb_pref WHERE
mtb_pref.id = dtb_customer.pref) as pref``: the prefecture's name, where the table holds its id)
is named after the column it reads, without ``_id``, plus ``_name`` (``pref_name``,
``order_pref_name``, ``country_name``); the joined product name of the review download is
``product_name``; any other expression keeps its ``AS`` alias (``maker_name``,
``category_ids``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AdminCsvOutput:
    """One admin CSV download: its ``csv_id``, the table its rows are (``table``), the file-name
    head EC-CUBE gives it (``SC_Helper_CSV::$arrSubnavi``) and the admin page that sends it;
    ``implied``: (column, value) that every row of the download has by the page's own ``WHERE``
    though no label writes it (the member and order lists leave deleted rows out: ``del_flg = 0``)."""

    csv_id: int
    table: str
    file_head: str
    page: str
    implied: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class AdminCsvColumn:
    """One ``dtb_csv`` row: ``csv_id``, ``no``, ``col`` (as stored), ``disp_name`` (the header
    label), ``name`` (the column it is loaded as), ``status`` as installed (1: written)."""

    csv_id: int
    no: int
    col: str
    disp_name: str
    name: str
    status: int

    @property
    def derived(self) -> bool:
        """True when ``col`` is an expression, not a column of the table (``name`` is derived)."""
        return not (self.col == self.name or self.col == f"A.{self.name}")


#: The downloads ``SC_Helper_CSV::sfDownloadCsv`` writes, by ``csv_id`` (its ``FROM`` per id and
#: the page that calls it with that id).
ADMIN_CSV_OUTPUTS: dict[int, AdminCsvOutput] = {
    # rows of SC_Product::prdclsSQL: one per product class, dtb_products joined with dtb_products_class
    1: AdminCsvOutput(1, "dtb_products", "product", "products/index.php (LC_Page_Admin_Products, mode csv)"),
    # LC_Page_Admin_Customer::lfDoCSV: SC_CustomerList(..., 'customer') sets WHERE del_flg = 0
    2: AdminCsvOutput(2, "dtb_customer", "customer", "customer/index.php (LC_Page_Admin_Customer, mode csv)",
                      implied=(("del_flg", 0),)),
    # LC_Page_Admin_Order::action, mode csv: $where = 'del_flg = 0' plus the search conditions
    3: AdminCsvOutput(3, "dtb_order", "order", "order/index.php (LC_Page_Admin_Order, mode csv)",
                      implied=(("del_flg", 0),)),
    # dtb_review AS A INNER JOIN dtb_products AS B
    4: AdminCsvOutput(4, "dtb_review", "review", "products/review.php (LC_Page_Admin_Products_Review, mode csv)"),
    5: AdminCsvOutput(5, "dtb_category", "category", "products/category.php (LC_Page_Admin_Products_Category, mode csv)"),
}

_C = AdminCsvColumn

#: Every ``dtb_csv`` row of the installation: csv_id, no, col, disp_name, name (loaded as), status.
ADMIN_CSV_COLUMNS: tuple[AdminCsvColumn, ...] = (
    _C(1, 1, 'product_id', '商品ID', 'product_id', 1),
    _C(1, 2, 'product_class_id', '商品規格ID', 'product_class_id', 1),
    _C(1, 3, 'parent_classcategory_id', '親規格分類ID', 'parent_classcategory_id', 1),
    _C(1, 4, 'classcategory_id', '規格分類ID', 'classcategory_id', 1),
    _C(1, 5, 'parent_classcategory_name', '親規格分類名', 'parent_classcategory_name', 1),
    _C(1, 6, 'classcategory_name', '規格分類名', 'classcategory_name', 1),
    _C(1, 7, 'maker_id', 'メーカーID', 'maker_id', 1),
    _C(1, 8, '(SELECT name as maker_name FROM dtb_maker WHERE prdcls.maker_id = dtb_maker.maker_id) as maker_name', 'メーカー名', 'maker_name', 1),
    _C(1, 9, 'name', '商品名', 'name', 1),
    _C(1, 10, 'status', '表示ステータス(公開・非公開)', 'status', 1),
    _C(1, 11, 'comment1', 'メーカーURL(コメント1)', 'comment1', 1),
    _C(1, 12, 'comment2', 'コメント2', 'comment2', 1),
    _C(1, 13, 'comment3', '検索ワード(コメント3)', 'comment3', 1),
    _C(1, 14, 'comment4', 'コメント4', 'comment4', 1),
    _C(1, 15, 'comment5', 'コメント5', 'comment5', 1),
    _C(1, 16, 'comment6', 'コメント6', 'comment6', 1),
    _C(1, 17, 'note', '備考欄(SHOP専用)', 'note', 1),
    _C(1, 18, 'main_list_comment', '一覧-メインコメント', 'main_list_comment', 1),
    _C(1, 19, 'main_list_image', '一覧-メイン画像', 'main_list_image', 1),
    _C(1, 20, 'main_comment', '詳細-メインコメント', 'main_comment', 1),
    _C(1, 21, 'main_image', '詳細-メイン画像', 'main_image', 1),
    _C(1, 22, 'main_large_image', '詳細-メイン拡大画像 ', 'main_large_image', 1),
    _C(1, 23, 'sub_title1', '詳細-サブタイトル(1)', 'sub_title1', 1),
    _C(1, 24, 'sub_comment1', '詳細-サブコメント(1)', 'sub_comment1', 1),
    _C(1, 25, 'sub_image1', '詳細-サブ画像(1)', 'sub_image1', 1),
    _C(1, 26, 'sub_large_image1', '詳細-サブ拡大画像(1)', 'sub_large_image1', 1),
    _C(1, 27, 'sub_title2', '詳細-サブタイトル(2)', 'sub_title2', 1),
    _C(1, 28, 'sub_comment2', '詳細-サブコメント(2)', 'sub_comment2', 1),
    _C(1, 29, 'sub_image2', '詳細-サブ画像(2)', 'sub_image2', 1),
    _C(1, 30, 'sub_large_image2', '詳細-サブ拡大画像(2)', 'sub_large_image2', 1),
    _C(1, 31, 'sub_title3', '詳細-サブタイトル(3)', 'sub_title3', 1),
    _C(1, 32, 'sub_comment3', '詳細-サブコメント(3)', 'sub_comment3', 1),
    _C(1, 33, 'sub_image3', '詳細-サブ画像(3)', 'sub_image3', 1),
    _C(1, 34, 'sub_large_image3', '詳細-サブ拡大画像(3)', 'sub_large_image3', 1),
    _C(1, 35, 'sub_title4', '詳細-サブタイトル(4)', 'sub_title4', 1),
    _C(1, 36, 'sub_comment4', '詳細-サブコメント(4)', 'sub_comment4', 1),
    _C(1, 37, 'sub_image4', '詳細-サブ画像(4)', 'sub_image4', 1),
    _C(1, 38, 'sub_large_image4', '詳細-サブ拡大画像(4)', 'sub_large_image4', 1),
    _C(1, 39, 'sub_title5', '詳細-サブタイトル(5)', 'sub_title5', 1),
    _C(1, 40, 'sub_comment5', '詳細-サブコメント(5)', 'sub_comment5', 1),
    _C(1, 41, 'sub_image5', '詳細-サブ画像(5)', 'sub_image5', 1),
    _C(1, 42, 'sub_large_image5', '詳細-サブ拡大画像(5)', 'sub_large_image5', 1),
    _C(1, 43, 'deliv_date_id', '発送日目安ID', 'deliv_date_id', 1),
    _C(1, 44, 'del_flg', '削除フラグ', 'del_flg', 1),
    _C(1, 45, 'product_type_id', '商品種別ID', 'product_type_id', 1),
    _C(1, 46, 'product_code', '商品コード', 'product_code', 1),
    _C(1, 47, 'stock', '在庫数', 'stock', 1),
    _C(1, 48, 'stock_unlimited', '在庫無制限フラグ', 'stock_unlimited', 1),
    _C(1, 49, 'sale_limit', '販売制限数', 'sale_limit', 1),
    _C(1, 50, 'price01', '通常価格', 'price01', 1),
    _C(1, 51, 'price02', '販売価格', 'price02', 1),
    _C(1, 52, 'deliv_fee', '送料', 'deliv_fee', 1),
    _C(1, 53, 'point_rate', 'ポイント付与率', 'point_rate', 1),
    _C(1, 54, 'down_filename', 'ダウンロードファイル名', 'down_filename', 1),
    _C(1, 55, 'down_realfilename', 'ダウンロード実ファイル', 'down_realfilename', 1),
    _C(1, 56, '(SELECT recommend_product_id FROM dtb_recommend_products WHERE prdcls.product_id = dtb_recommend_products.product_id ORDER BY rank DESC, recommend_product_id DESC limit 1 offset 0) AS recommend_product_id1', '関連商品ID(1)', 'recommend_product_id1', 1),
    _C(1, 57, '(SELECT comment FROM dtb_recommend_products WHERE prdcls.product_id = dtb_recommend_products.product_id ORDER BY rank DESC, recommend_product_id DESC limit 1 offset 0) AS recommend_comment1', '関連商品コメント(1)', 'recommend_comment1', 1),
    _C(1, 58, '(SELECT recommend_product_id FROM dtb_recommend_products WHERE prdcls.product_id = dtb_recommend_products.product_id ORDER BY rank DESC, recommend_product_id DESC limit 1 offset 1) AS recommend_product_id2', '関連商品ID(2)', 'recommend_product_id2', 1),
    _C(1, 59, '(SELECT comment FROM dtb_recommend_products WHERE prdcls.product_id = dtb_recommend_products.product_id ORDER BY rank DESC, recommend_product_id DESC limit 1 offset 1) AS recommend_comment2', '関連商品コメント(2)', 'recommend_comment2', 1),
    _C(1, 60, '(SELECT recommend_product_id FROM dtb_recommend_products WHERE prdcls.product_id = dtb_recommend_products.product_id ORDER BY rank DESC, recommend_product_id DESC limit 1 offset 2) AS recommend_product_id3', '関連商品ID(3)', 'recommend_product_id3', 1),
    _C(1, 61, '(SELECT comment FROM dtb_recommend_products WHERE prdcls.product_id = dtb_recommend_products.product_id ORDER BY rank DESC, recommend_product_id DESC limit 1 offset 2) AS recommend_comment3', '関連商品コメント(3)', 'recommend_comment3', 1),
    _C(1, 62, '(SELECT recommend_product_id FROM dtb_recommend_products WHERE prdcls.product_id = dtb_recommend_products.product_id ORDER BY rank DESC, recommend_product_id DESC limit 1 offset 3) AS recommend_product_id4', '関連商品ID(4)', 'recommend_product_id4', 1),
    _C(1, 63, '(SELECT comment FROM dtb_recommend_products WHERE prdcls.product_id = dtb_recommend_products.product_id ORDER BY rank DESC, recommend_product_id DESC limit 1 offset 3) AS recommend_comment4', '関連商品コメント(4)', 'recommend_comment4', 1),
    _C(1, 64, '(SELECT recommend_product_id FROM dtb_recommend_products WHERE prdcls.product_id = dtb_recommend_products.product_id ORDER BY rank DESC, recommend_product_id DESC limit 1 offset 4) AS recommend_product_id5', '関連商品ID(5)', 'recommend_product_id5', 1),
    _C(1, 65, '(SELECT comment FROM dtb_recommend_products WHERE prdcls.product_id = dtb_recommend_products.product_id ORDER BY rank DESC, recommend_product_id DESC limit 1 offset 4) AS recommend_comment5', '関連商品コメント(5)', 'recommend_comment5', 1),
    _C(1, 66, '(SELECT recommend_product_id FROM dtb_recommend_products WHERE prdcls.product_id = dtb_recommend_products.product_id ORDER BY rank DESC, recommend_product_id DESC limit 1 offset 5) AS recommend_product_id6', '関連商品ID(6)', 'recommend_product_id6', 1),
    _C(1, 67, '(SELECT comment FROM dtb_recommend_products WHERE prdcls.product_id = dtb_recommend_products.product_id ORDER BY rank DESC, recommend_product_id DESC limit 1 offset 5) AS recommend_comment6', '関連商品コメント(6)', 'recommend_comment6', 1),
    _C(1, 68, "(SELECT ARRAY_TO_STRING(ARRAY(SELECT product_status_id FROM dtb_product_status WHERE dtb_product_status.product_id = prdcls.product_id and del_flg = 0 ORDER BY dtb_product_status.product_status_id), ',')) as product_statuses", '商品ステータス', 'product_statuses', 1),
    _C(1, 69, "(SELECT ARRAY_TO_STRING(ARRAY(SELECT name FROM dtb_product_status LEFT JOIN mtb_status ON  dtb_product_status.product_status_id = mtb_status.id  WHERE dtb_product_status.product_id = prdcls.product_id and del_flg = 0 ORDER BY dtb_product_status.product_status_id), ',')) as product_status_names", '商品ステータス名', 'product_status_names', 1),
    _C(1, 70, "(SELECT ARRAY_TO_STRING(ARRAY(SELECT category_id FROM dtb_product_categories WHERE dtb_product_categories.product_id = prdcls.product_id ORDER BY dtb_product_categories.rank), ',')) as category_ids", 'カテゴリID', 'category_ids', 1),
    _C(1, 71, "(SELECT ARRAY_TO_STRING(ARRAY(SELECT category_name FROM dtb_product_categories LEFT JOIN dtb_category ON dtb_product_categories.category_id = dtb_category.category_id WHERE dtb_product_categories.product_id = prdcls.product_id ORDER BY dtb_product_categories.rank), ',')) as category_names", 'カテゴリ名', 'category_names', 1),
    _C(2, 72, 'customer_id', '会員ID', 'customer_id', 1),
    _C(2, 73, 'name01', 'お名前(姓)', 'name01', 1),
    _C(2, 74, 'name02', 'お名前(名)', 'name02', 1),
    _C(2, 75, 'kana01', 'お名前(フリガナ・姓)', 'kana01', 1),
    _C(2, 76, 'kana02', 'お名前(フリガナ・名)', 'kana02', 1),
    _C(2, 77, 'company_name', '会社名', 'company_name', 1),
    _C(2, 78, 'zip01', '郵便番号1', 'zip01', 1),
    _C(2, 79, 'zip02', '郵便番号2', 'zip02', 1),
    _C(2, 80, 'zipcode', 'ZIP CODE', 'zipcode', 0),
    _C(2, 81, '(SELECT name FROM mtb_country WHERE mtb_country.id = dtb_customer.country_id) as country', '国', 'country_name', 0),
    _C(2, 82, '(SELECT name FROM mtb_pref WHERE mtb_pref.id = dtb_customer.pref) as pref', '都道府県', 'pref_name', 1),
    _C(2, 83, 'addr01', '住所1', 'addr01', 1),
    _C(2, 84, 'addr02', '住所2', 'addr02', 1),
    _C(2, 85, 'email', 'E-MAIL', 'email', 1),
    _C(2, 86, 'tel01', 'TEL1', 'tel01', 1),
    _C(2, 87, 'tel02', 'TEL2', 'tel02', 1),
    _C(2, 88, 'tel03', 'TEL3', 'tel03', 1),
    _C(2, 89, 'fax01', 'FAX1', 'fax01', 1),
    _C(2, 90, 'fax02', 'FAX2', 'fax02', 1),
    _C(2, 91, 'fax03', 'FAX3', 'fax03', 1),
    _C(2, 92, '(SELECT name FROM mtb_sex WHERE mtb_sex.id = dtb_customer.sex) as sex', '性別', 'sex_name', 1),
    _C(2, 93, '(SELECT name FROM mtb_job WHERE mtb_job.id = dtb_customer.job) as job', '職業', 'job_name', 1),
    _C(2, 94, 'birth', '誕生日', 'birth', 1),
    _C(2, 95, 'first_buy_date', '初回購入日', 'first_buy_date', 1),
    _C(2, 96, 'last_buy_date', '最終購入日', 'last_buy_date', 1),
    _C(2, 97, 'buy_times', '購入回数', 'buy_times', 1),
    _C(2, 98, 'point', 'ポイント残高', 'point', 1),
    _C(2, 99, 'note', '備考', 'note', 1),
    _C(2, 100, 'create_date', '登録日', 'create_date', 1),
    _C(2, 101, 'update_date', '更新日', 'update_date', 1),
    _C(3, 102, 'order_id', '注文番号', 'order_id', 1),
    _C(3, 103, 'customer_id', '会員ID', 'customer_id', 1),
    _C(3, 104, 'message', '要望等', 'message', 1),
    _C(3, 105, 'order_name01', 'お名前(姓)', 'order_name01', 1),
    _C(3, 106, 'order_name02', 'お名前(名)', 'order_name02', 1),
    _C(3, 107, 'order_kana01', 'お名前(フリガナ・姓)', 'order_kana01', 1),
    _C(3, 108, 'order_kana02', 'お名前(フリガナ名)', 'order_kana02', 1),
    _C(3, 109, 'order_company_name', '会社名', 'order_company_name', 1),
    _C(3, 110, 'order_email', 'メールアドレス', 'order_email', 1),
    _C(3, 111, 'order_tel01', '電話番号1', 'order_tel01', 1),
    _C(3, 112, 'order_tel02', '電話番号2', 'order_tel02', 1),
    _C(3, 113, 'order_tel03', '電話番号3', 'order_tel03', 1),
    _C(3, 114, 'order_fax01', 'FAX1', 'order_fax01', 1),
    _C(3, 115, 'order_fax02', 'FAX2', 'order_fax02', 1),
    _C(3, 116, 'order_fax03', 'FAX3', 'order_fax03', 1),
    _C(3, 117, 'order_zip01', '郵便番号1', 'order_zip01', 1),
    _C(3, 118, 'order_zip02', '郵便番号2', 'order_zip02', 1),
    _C(3, 119, 'order_zipcode', 'ZIP CODE', 'order_zipcode', 0),
    _C(3, 120, '(SELECT name FROM mtb_country WHERE mtb_country.id = dtb_order.order_country_id) as country', '国', 'order_country_name', 0),
    _C(3, 121, '(SELECT name FROM mtb_pref WHERE mtb_pref.id = dtb_order.order_pref) as pref', '都道府県', 'order_pref_name', 1),
    _C(3, 122, 'order_addr01', '住所1', 'order_addr01', 1),
    _C(3, 123, 'order_addr02', '住所2', 'order_addr02', 1),
    _C(3, 124, 'order_sex', '性別', 'order_sex', 1),
    _C(3, 125, 'order_birth', '生年月日', 'order_birth', 1),
    _C(3, 126, 'order_job', '職種', 'order_job', 1),
    _C(3, 127, 'subtotal', '小計', 'subtotal', 1),
    _C(3, 128, 'discount', '値引き', 'discount', 1),
    _C(3, 129, 'deliv_fee', '送料', 'deliv_fee', 1),
    _C(3, 130, 'charge', '手数料', 'charge', 1),
    _C(3, 131, 'use_point', '使用ポイント', 'use_point', 1),
    _C(3, 132, 'add_point', '加算ポイント', 'add_point', 1),
    _C(3, 133, 'tax', '税金', 'tax', 1),
    _C(3, 134, 'total', '合計', 'total', 1),
    _C(3, 135, 'payment_total', 'お支払い合計', 'payment_total', 1),
    _C(3, 136, 'deliv_id', '配送業者ID', 'deliv_id', 1),
    _C(3, 137, 'payment_method', '支払い方法', 'payment_method', 1),
    _C(3, 138, 'note', 'SHOPメモ', 'note', 1),
    _C(3, 139, 'status', '対応状況', 'status', 1),
    _C(3, 140, 'create_date', '注文日時', 'create_date', 1),
    _C(3, 141, 'update_date', '更新日時', 'update_date', 1),
    _C(3, 142, 'commit_date', '発送完了日時', 'commit_date', 1),
    _C(3, 143, 'device_type_id', '端末種別ID', 'device_type_id', 1),
    _C(3, 144, "(SELECT ARRAY_TO_STRING(ARRAY(SELECT shipping_id FROM dtb_shipping WHERE dtb_shipping.order_id = dtb_order.order_id), ',')) as shipping_ids", '配送情報ID', 'shipping_ids', 1),
    _C(4, 145, 'B.name', '商品名', 'product_name', 1),
    _C(4, 146, '(SELECT name FROM mtb_disp WHERE mtb_disp.id = A.status) as status', 'レビュー表示', 'status_name', 1),
    _C(4, 147, 'A.create_date', '投稿日', 'create_date', 1),
    _C(4, 148, 'A.reviewer_name', '投稿者名', 'reviewer_name', 1),
    _C(4, 149, 'A.reviewer_url', '投稿者URL', 'reviewer_url', 1),
    _C(4, 150, '(SELECT name FROM mtb_sex WHERE mtb_sex.id = A.sex) as sex', '性別', 'sex_name', 1),
    _C(4, 151, '(SELECT name FROM mtb_recommend WHERE mtb_recommend.id = A.recommend_level) as recommend_level', 'おすすめレベル', 'recommend_level_name', 1),
    _C(4, 152, 'A.title', 'タイトル', 'title', 1),
    _C(4, 153, 'A.comment', 'コメント', 'comment', 1),
    _C(5, 154, 'category_id', 'カテゴリID', 'category_id', 1),
    _C(5, 155, 'category_name', 'カテゴリ名', 'category_name', 1),
    _C(5, 156, 'parent_category_id', '親カテゴリID', 'parent_category_id', 1),
    _C(5, 157, 'level', '階層', 'level', 2),
    _C(5, 158, 'rank', '表示ランク', 'rank', 2),
    _C(5, 159, 'del_flg', '削除フラグ', 'del_flg', 2),
)
