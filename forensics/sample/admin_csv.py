"""The shop's own admin CSV downloads of members and orders, as EC-CUBE 2.13.5 writes them.

Columns: the ``dtb_csv`` rows of the member (csv_id 2) and order (csv_id 3) downloads, copied from
``html/install/sql/insert_data.sql`` (``csv_id, no, col, disp_name, rank, status``); a download
writes the enabled ones (``status = 1``) ordered by ``rank, no`` with their ``disp_name`` labels
as the header (``SC_Helper_CSV::sfDownloadCsv``). Rows: ``customer/index.php`` and
``order/index.php`` select live rows only (``del_flg = 0``). Each record is written by PHP's
``fputcsv`` (``,``; a field with a comma, double quote, backslash, space, tab, CR or LF quoted;
``"`` doubled), the text converted to CP932, CRLF after each record; the file is named
``<file_head>_<yymmdd>_<HHMMSS>.csv`` (``customer``, ``order``). A column that is an expression
(a master-table name) is written as the master table names its value.
"""

from __future__ import annotations

from pathlib import Path

#: (csv_id, no, col, disp_name, rank, status) of dtb_csv, csv_id 2 (members) and 3 (orders)
DTB_CSV: list[tuple[int, int, str, str, int, int]] = [
    (2, 72, 'customer_id', '会員ID', 1, 1),
    (2, 73, 'name01', 'お名前(姓)', 2, 1),
    (2, 74, 'name02', 'お名前(名)', 3, 1),
    (2, 75, 'kana01', 'お名前(フリガナ・姓)', 4, 1),
    (2, 76, 'kana02', 'お名前(フリガナ・名)', 5, 1),
    (2, 77, 'company_name', '会社名', 6, 1),
    (2, 78, 'zip01', '郵便番号1', 7, 1),
    (2, 79, 'zip02', '郵便番号2', 8, 1),
    (2, 80, 'zipcode', 'ZIP CODE', 9, 0),
    (2, 81, '(SELECT name FROM mtb_country WHERE mtb_country.id = dtb_customer.country_id) as country', '国', 10, 0),
    (2, 82, '(SELECT name FROM mtb_pref WHERE mtb_pref.id = dtb_customer.pref) as pref', '都道府県', 11, 1),
    (2, 83, 'addr01', '住所1', 12, 1),
    (2, 84, 'addr02', '住所2', 13, 1),
    (2, 85, 'email', 'E-MAIL', 14, 1),
    (2, 86, 'tel01', 'TEL1', 15, 1),
    (2, 87, 'tel02', 'TEL2', 16, 1),
    (2, 88, 'tel03', 'TEL3', 17, 1),
    (2, 89, 'fax01', 'FAX1', 18, 1),
    (2, 90, 'fax02', 'FAX2', 19, 1),
    (2, 91, 'fax03', 'FAX3', 20, 1),
    (2, 92, '(SELECT name FROM mtb_sex WHERE mtb_sex.id = dtb_customer.sex) as sex', '性別', 21, 1),
    (2, 93, '(SELECT name FROM mtb_job WHERE mtb_job.id = dtb_customer.job) as job', '職業', 22, 1),
    (2, 94, 'birth', '誕生日', 23, 1),
    (2, 95, 'first_buy_date', '初回購入日', 24, 1),
    (2, 96, 'last_buy_date', '最終購入日', 25, 1),
    (2, 97, 'buy_times', '購入回数', 26, 1),
    (2, 98, 'point', 'ポイント残高', 27, 1),
    (2, 99, 'note', '備考', 28, 1),
    (2, 100, 'create_date', '登録日', 29, 1),
    (2, 101, 'update_date', '更新日', 30, 1),
    (3, 102, 'order_id', '注文番号', 1, 1),
    (3, 103, 'customer_id', '会員ID', 2, 1),
    (3, 104, 'message', '要望等', 3, 1),
    (3, 105, 'order_name01', 'お名前(姓)', 4, 1),
    (3, 106, 'order_name02', 'お名前(名)', 5, 1),
    (3, 107, 'order_kana01', 'お名前(フリガナ・姓)', 6, 1),
    (3, 108, 'order_kana02', 'お名前(フリガナ名)', 7, 1),
    (3, 109, 'order_company_name', '会社名', 8, 1),
    (3, 110, 'order_email', 'メールアドレス', 9, 1),
    (3, 111, 'order_tel01', '電話番号1', 10, 1),
    (3, 112, 'order_tel02', '電話番号2', 11, 1),
    (3, 113, 'order_tel03', '電話番号3', 12, 1),
    (3, 114, 'order_fax01', 'FAX1', 13, 1),
    (3, 115, 'order_fax02', 'FAX2', 14, 1),
    (3, 116, 'order_fax03', 'FAX3', 15, 1),
    (3, 117, 'order_zip01', '郵便番号1', 16, 1),
    (3, 118, 'order_zip02', '郵便番号2', 17, 1),
    (3, 119, 'order_zipcode', 'ZIP CODE', 18, 0),
    (3, 120, '(SELECT name FROM mtb_country WHERE mtb_country.id = dtb_order.order_country_id) as country', '国', 19, 0),
    (3, 121, '(SELECT name FROM mtb_pref WHERE mtb_pref.id = dtb_order.order_pref) as pref', '都道府県', 20, 1),
    (3, 122, 'order_addr01', '住所1', 21, 1),
    (3, 123, 'order_addr02', '住所2', 23, 1),
    (3, 124, 'order_sex', '性別', 23, 1),
    (3, 125, 'order_birth', '生年月日', 24, 1),
    (3, 126, 'order_job', '職種', 25, 1),
    (3, 127, 'subtotal', '小計', 38, 1),
    (3, 128, 'discount', '値引き', 39, 1),
    (3, 129, 'deliv_fee', '送料', 40, 1),
    (3, 130, 'charge', '手数料', 41, 1),
    (3, 131, 'use_point', '使用ポイント', 42, 1),
    (3, 132, 'add_point', '加算ポイント', 43, 1),
    (3, 133, 'tax', '税金', 44, 1),
    (3, 134, 'total', '合計', 45, 1),
    (3, 135, 'payment_total', 'お支払い合計', 46, 1),
    (3, 136, 'deliv_id', '配送業者ID', 47, 1),
    (3, 137, 'payment_method', '支払い方法', 48, 1),
    (3, 138, 'note', 'SHOPメモ', 50, 1),
    (3, 139, 'status', '対応状況', 51, 1),
    (3, 140, 'create_date', '注文日時', 52, 1),
    (3, 141, 'update_date', '更新日時', 53, 1),
    (3, 142, 'commit_date', '発送完了日時', 54, 1),
    (3, 143, 'device_type_id', '端末種別ID', 55, 1),
    (3, 144, "(SELECT ARRAY_TO_STRING(ARRAY(SELECT shipping_id FROM dtb_shipping WHERE dtb_shipping.order_id = dtb_order.order_id), ',')) as shipping_ids", '配送情報ID', 57, 1),
]

FILE_HEADS = {2: "customer", 3: "order"}

#: mtb_sex, mtb_job, mtb_country (the one country the shop sells to) by id (insert_data.sql)
SEX_NAMES = {1: "男性", 2: "女性"}
JOB_NAMES = {1: "公務員", 2: "コンサルタント", 3: "コンピューター関連技術職", 4: "コンピューター関連以外の技術職", 5: "金融関係",
             6: "医師", 7: "弁護士", 8: "総務・人事・事務", 9: "営業・販売", 10: "研究・開発", 11: "広報・宣伝",
             12: "企画・マーケティング", 13: "デザイン関係", 14: "会社経営・役員", 15: "出版・マスコミ関係",
             16: "学生・フリーター", 17: "主婦", 18: "その他"}
COUNTRY_NAMES = {392: "日本"}


def _expression_value(col: str, row: dict, pref_names: dict[int, str]):
    """The value of a ``dtb_csv`` expression column for one row (the master table's name)."""
    if "mtb_pref" in col:
        return pref_names.get(row.get("order_pref") if "dtb_order" in col else row.get("pref"))
    if "mtb_sex" in col:
        return SEX_NAMES.get(row.get("sex"))
    if "mtb_job" in col:
        return JOB_NAMES.get(row.get("job"))
    if "mtb_country" in col:
        return COUNTRY_NAMES.get(row.get("order_country_id") if "dtb_order" in col else row.get("country_id"))
    return None  # shipping ids: the sample keeps no dtb_shipping


def php_fputcsv_field(value) -> str:
    """One field as PHP's fputcsv writes it (default delimiter and enclosure)."""
    text = "" if value is None else str(value)
    if any(ch in text for ch in ',"\\ \t\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_admin_csv(folder: Path, csv_id: int, rows: list[dict], at_local: str, pref_names: dict[int, str]) -> Path:
    """Write one download (``at_local``: ``YYYY-MM-DD HH:MM:SS``, the moment it was made)."""
    cols = sorted((r for r in DTB_CSV if r[0] == csv_id and r[5] == 1), key=lambda r: (r[4], r[1]))
    lines = [",".join(php_fputcsv_field(r[3]) for r in cols)]
    for row in rows:
        vals = []
        for _id, _no, col, _label, _rank, _status in cols:
            plain = col.replace("_", "").isalnum()
            vals.append(row.get(col) if plain else _expression_value(col, row, pref_names))
        lines.append(",".join(php_fputcsv_field(v) for v in vals))
    d, t = at_local.split(" ")
    name = f"{FILE_HEADS[csv_id]}_{d[2:4]}{d[5:7]}{d[8:10]}_{t.replace(':', '')}.csv"
    path = folder / name
    path.write_bytes("".join(line + "\r\n" for line in lines).encode("cp932", "replace"))
    return path
