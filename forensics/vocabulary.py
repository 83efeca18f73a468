"""The names the findings use for phases, windows and counts, and their words in Japanese and
English: one table read by the findings, the charts, the widgets and the report.

Each :class:`Term` has a short label (charts, widgets, tables) and a long one (the report's
sentences and table rows) in both languages; counts also carry their definition. The keys are the
findings format's keys, in the order an analyst reads them (the attack's order for phases).

>>> PHASES["backdoor_installed"].label()
'バックドア設置 / backdoor installed'
>>> [k for k in COUNTS][:2]
['viewed_persons', 'viewed_persons_upper']
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Term", "PHASES", "WINDOWS", "COUNTS", "EDGES", "PHASE_NAMES", "label"]


@dataclass(frozen=True)
class Term:
    """One name of the findings and its words: ``short_*`` for charts and tables, ``long_*`` for
    the report, ``definition_*`` (counts) for what exactly is counted."""

    short_ja: str
    short_en: str
    long_ja: str
    long_en: str
    definition_ja: str = ""
    definition_en: str = ""

    def label(self) -> str:
        """``短い名前 / short name``: the bilingual label of charts and widgets."""
        return f"{self.short_ja} / {self.short_en}"

    def long(self, lang: str) -> str:
        return self.long_ja if lang == "ja" else self.long_en


#: Incident phases (findings ``phases``), in the order of the attack.
PHASES: dict[str, Term] = {
    "sqli_first": Term("SQLi 初回", "first SQL injection",
                       "SQLインジェクション攻撃の開始（初回）", "first SQL injection request"),
    "attacker_admin_login": Term("管理画面ログイン", "admin login",
                                 "攻撃者による管理画面ログイン", "attacker logs into the admin panel"),
    "backdoor_installed": Term("バックドア設置", "backdoor installed", "バックドアの設置", "backdoor installed"),
    "card_form_tampered": Term("カード入力フォーム改ざん", "card form tampered",
                               "カード情報入力フォーム（実行キャッシュファイル）の改ざん",
                               "card-entry form (compiled template) tampered"),
    "containment": Term("遮断", "containment", "攻撃元の遮断（封じ込め）", "attacker blocked (containment)"),
}
PHASE_NAMES: tuple[str, ...] = tuple(PHASES)

#: Exposure windows (findings ``windows``).
WINDOWS: dict[str, Term] = {
    "admin_access": Term("管理画面アクセス", "admin access", "管理画面への不正アクセス期間", "attacker admin access"),
    "backdoor": Term("バックドア稼働", "backdoor live", "バックドア稼働期間", "backdoor live"),
    "skimmer": Term("スキマー稼働", "skimmer live", "カード情報窃取（スキマー）稼働期間", "card skimmer live"),
}

#: Window edges an analyst can move in the what-if explorer.
EDGES: dict[str, Term] = {
    "backdoor_start": Term("バックドア設置", "backdoor start", "バックドア稼働の開始", "backdoor window opens"),
    "skimmer_start": Term("スキマー設置", "skimmer start", "スキマー稼働の開始", "skimmer window opens"),
    "containment": Term("遮断", "containment", "攻撃元の遮断（封じ込め）", "attacker blocked (containment)"),
}

#: Counts (findings ``counts``), in reading order.
COUNTS: dict[str, Term] = {
    "viewed_persons": Term(
        "閲覧された本人", "persons viewed", "閲覧された顧客（本人）", "persons whose records were viewed",
        "攻撃者の管理画面リクエストが表示した顧客一覧・顧客編集・受注一覧・受注編集・CSV出力の行を、クエリログのSELECTをその時点のデータに再実行して特定した本人（会員ID、ゲストはメールアドレス）の数",
        "distinct persons (customer id, or e-mail for guests) on the customer/order list, edit and CSV pages "
        "an attacker admin request displayed, established by replaying the pages' SELECTs from the query log "
        "against the data as it stood at that moment"),
    "viewed_persons_upper": Term("閲覧（上限）", "viewed (upper bound)", "閲覧された顧客（上限）",
                                 "persons viewed (upper bound)"),
    "cards_confirmed_customer": Term(
        "カード確定・顧客", "cards confirmed, customer", "カード情報（確定・顧客）", "cards confirmed leaked: customers",
        "窃取ファイルに記録されていたカード番号（重複除く）のうち顧客のもの",
        "distinct card numbers found in a skim file, belonging to customers"),
    "cards_confirmed_test": Term(
        "カード確定・テスト", "cards confirmed, test", "カード情報（確定・テスト）", "cards confirmed leaked: test entries",
        "窃取ファイルに記録されていたカード番号のうち、事業者等のテスト入力（case.yml の test_markers）",
        "card numbers found in a skim file that were test entries (case.yml test_markers)"),
    "cards_possible_customer": Term(
        "カード可能性・顧客", "cards possible, customer", "カード情報（可能性・顧客）", "cards possibly leaked: customers",
        "バックドア稼働期間内にカード入力があり、確定に含まれない顧客",
        "customers with a card entry inside the backdoor window and no confirmed card"),
    "cards_possible_test": Term(
        "カード可能性・テスト", "cards possible, test", "カード情報（可能性・テスト）", "cards possibly leaked: test entries",
        "同上のうちテスト入力", "the same, for test entries"),
    "cards_total": Term(
        "カード合計", "cards total", "カード情報 合計（確定＋可能性）", "cards in total (confirmed + possible)",
        "確定と可能性の合計", "all confirmed plus all possible"),
}


def label(kind: dict[str, Term], key: str) -> str:
    """The bilingual label of ``key`` in one of the tables above; an unknown key is shown as it is."""
    term = kind.get(key)
    return term.label() if term is not None else key
