"""The self-contained investigation report (``report.html``), Japanese first with an English version.

One file that opens offline: no script, no stylesheet or font from the network, charts inlined
as SVG, the few Japanese glyphs it uses embedded as a subset of IPAexGothic. Both languages are
in the file; a CSS-only switch (radio buttons, no JavaScript) shows one at a time, and a browser
without CSS shows both.

Built with a tiny element builder: every string is ``html.escape``d unless it is a
:class:`Markup` produced by the builder itself, so attacker-controlled text (URLs, file names,
IPs, user agents) can never become markup. Card numbers: the findings hold none; as a second
line of defence any Luhn-valid 13..19 digit run in the text is masked to first 6 + last 4.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from forensics import vocabulary
from forensics.markup import Markup, el, esc
from forensics.report.wareki import to_wareki, wareki_datetime

__all__ = ["Markup", "el", "esc", "TODO", "render_report", "write_report", "PPC_ITEMS"]

#: Marker for what the evidence cannot answer and the analyst must fill in.
TODO = ("要記入", "to be completed by the analyst")


# -- values -------------------------------------------------------------------------------------
def _instant(value: object) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _when(value: object, tz: str, lang: str, reason: object = None) -> Markup:
    """ISO-ish local time; in Japanese with the 和暦 date after it."""
    t = _instant(value)
    if t is None:
        return _unknown(lang, reason)
    local = t.astimezone(ZoneInfo(tz))
    iso = local.strftime("%Y-%m-%d %H:%M:%S") + " " + (local.tzname() or "")
    if lang == "ja":
        return el("span", iso, el("span", f"（{wareki_datetime(local)}）", cls="wareki"))
    return el("span", iso)


def _date(value: object, tz: str, lang: str) -> str:
    """The local date (和暦 in Japanese); only called with a value that is there."""
    local = _instant(value).astimezone(ZoneInfo(tz))
    return to_wareki(local) if lang == "ja" else local.strftime("%Y-%m-%d")


def _why(reason: object, lang: str) -> str:
    if not reason:
        return ""
    return f"（{reason}）" if lang == "ja" else f" ({reason})"


#: Summary sentences per phase: (found ja, found en, not found ja, not found en); ``{d}`` is the date.
SUMMARY_PHASES = {
    "sqli_first": ("{d}以降、当該サイトに対する SQL インジェクション攻撃が確認された。",
                   "SQL injection against the shop is seen from {d}.",
                   "SQL インジェクション攻撃は確認されなかった{r}。", "No SQL injection was found{r}."),
    "attacker_admin_login": ("{d}に攻撃者が管理画面へログインした。", "On {d} the attacker logged into the admin panel.",
                             "攻撃者による管理画面へのログインは確認されなかった{r}。",
                             "No attacker login to the admin panel was found{r}."),
    "backdoor_installed": ("{d}にバックドアが設置された。", "On {d} a backdoor was installed.",
                           "バックドアの設置は確認されなかった{r}。", "No backdoor installation was found{r}."),
    "card_form_tampered": ("{d}にカード情報入力フォームが改ざんされた。", "On {d} the card-entry form was tampered with.",
                           "カード情報入力フォームの改ざんは確認されなかった{r}。",
                           "No tampering of the card-entry form was found{r}."),
}


def _summary_sentences(f: Mapping, lang: str) -> list[str]:
    """The summary, one sentence per finding: what was found with its date, what was not with
    the reason; counts as established, bounded, or not established with the reason."""
    ja = lang == "ja"
    tz = f.get("timezone") or "UTC"
    phases, reasons = f.get("phases") or {}, f.get("phases_reason") or {}
    out = []
    for key, (fj, fe, nj, ne) in SUMMARY_PHASES.items():
        if phases.get(key):
            out.append((fj if ja else fe).format(d=_date(phases[key], tz, lang)))
        else:
            out.append((nj if ja else ne).format(r=_why(reasons.get(key), lang)))
    out += _count_sentences(f, lang)
    if phases.get("containment"):
        out.append(f"{_date(phases['containment'], tz, lang)}に攻撃元を遮断した。" if ja
                   else f"The attacker was blocked on {_date(phases['containment'], tz, lang)}.")
    else:
        out.append(f"遮断の日時は記録されていない{_why(reasons.get('containment'), lang)}。" if ja
                   else f"No containment time is recorded{_why(reasons.get('containment'), lang)}.")
    return out


def _gap_sentences(f: Mapping, lang: str) -> list[str]:
    """One sentence per gap: the evidence the case lacks, and each supplied file that could not be
    used, with the reason and the conclusions left open."""
    ja = lang == "ja"
    out = []
    for g in f.get("gaps") or []:
        affects = ("、" if ja else ", ").join(g.get("affects") or [])
        if g.get("path"):
            out.append(f"{g['path']} は証拠として使えなかった（{g['reason']}）。影響：{affects}。" if ja else
                       f"{g['path']} could not be used ({g['reason']}); it bears on: {affects}.")
        else:
            out.append(f"{g['reason']}（影響：{affects}）。" if ja else f"{g['reason'][:1].upper()}{g['reason'][1:]} "
                       f"(bears on: {affects}).")
    return out


def _count_sentences(f: Mapping, lang: str) -> list[str]:
    """Persons viewed and card entries leaked: each established, bounded, or not established with
    the reason."""
    ja = lang == "ja"
    counts = f.get("counts") or {}
    out = []
    viewed, upper = counts.get("viewed_persons"), counts.get("viewed_persons_upper")
    if viewed is not None:
        out.append(f"管理画面で閲覧された顧客は {viewed:,} 人である。" if ja
                   else f"{viewed:,} persons' records were viewed in the admin panel.")
    elif upper is not None:
        out.append(f"管理画面で閲覧された顧客の人数は確定できず、上限は {upper:,} 人である{_why(_reason(f, 'viewed_persons'), lang)}。"
                   if ja else f"The number of persons whose records were viewed is not established; at most {upper:,}"
                   f"{_why(_reason(f, 'viewed_persons'), lang)}.")
    else:
        out.append(f"管理画面で閲覧された顧客の人数は確定できない{_why(_reason(f, 'viewed_persons'), lang)}。" if ja
                   else f"The number of persons whose records were viewed is not established"
                   f"{_why(_reason(f, 'viewed_persons'), lang)}.")
    total = counts.get("cards_total")
    parts = [counts.get(k) for k in ("cards_confirmed_customer", "cards_confirmed_test",
                                     "cards_possible_customer", "cards_possible_test")]
    if total is not None and None not in parts:
        out.append(f"流出又は流出のおそれのあるクレジットカード情報は {total:,} 件（確定 顧客 {parts[0]}・テスト {parts[1]}、"
                   f"可能性 顧客 {parts[2]}・テスト {parts[3]}）である。" if ja else
                   f"{total:,} card entries leaked or possibly leaked (confirmed: {parts[0]} customer, {parts[1]} test; "
                   f"possible: {parts[2]} customer, {parts[3]} test).")
    elif counts.get("cards_total_upper") is not None:
        lo, hi = counts.get("cards_total_lower"), counts["cards_total_upper"]
        r = _why(_reason(f, "cards_possible"), lang)
        out.append(f"流出又は流出のおそれのあるクレジットカード情報は {lo:,} 件以上 {hi:,} 件以下で、確定できない{r}。" if ja
                   else f"Between {lo:,} and {hi:,} card entries leaked or possibly leaked; the number is not "
                   f"established{r}.")
    else:
        r = _why(_reason(f, "cards_possible") or _reason(f, "cards_confirmed") or _reason(f, "cards_total"), lang)
        out.append(f"流出又は流出のおそれのあるクレジットカード情報の件数は確定できない{r}。" if ja
                   else f"The number of card entries leaked or possibly leaked is not established{r}.")
    for m in (f.get("cards") or {}).get("payment_methods_undetermined") or []:
        name = f"{m.get('payment_method') or '?'}（id {m.get('payment_id')}）" if ja else \
            f"{m.get('payment_method') or '?'} (id {m.get('payment_id')})"
        out.append(f"支払方法 {name} がカード決済かどうかは証拠から判断できない（{m.get('reason')}）。"
                   "facts.card_payment_ids で指定する。" if ja else
                   f"Whether payment method {name} is a card method cannot be told from the evidence "
                   f"({m.get('reason')}); facts.card_payment_ids decides.")
    return out


def _unknown(lang: str, reason: object = None) -> Markup:
    text = "証拠から確定できず" if lang == "ja" else "not established from the evidence"
    return el("span", text + _why(reason, lang), cls="unknown")


def _todo(lang: str) -> Markup:
    return el("span", f"{TODO[0]} / {TODO[1]}", cls="todo")


def _n(value: object, lang: str, reason: object = None) -> Markup:
    return _unknown(lang, reason) if value is None else el("strong", f"{int(value):,}")


# -- wording ------------------------------------------------------------------------------------
PHASES = {k: (t.long_ja, t.long_en) for k, t in vocabulary.PHASES.items()}
WINDOWS = {k: (t.long_ja, t.long_en) for k, t in vocabulary.WINDOWS.items()}
#: (key, ja, en, definition ja, definition en) of the counts the report's table shows
COUNT_ROWS = [(k, t.long_ja, t.long_en, t.definition_ja, t.definition_en)
              for k, t in vocabulary.COUNTS.items() if t.definition_ja]
VIEWED_ITEMS = [("氏名", "name"), ("住所", "postal address"), ("電話番号", "phone number"),
                ("メールアドレス", "e-mail address")]
CARD_ITEMS = [("クレジットカード番号", "card number"), ("カード会員名", "cardholder name"),
              ("カード会員住所", "cardholder address"), ("有効期限", "expiry date"),
              ("セキュリティコード", "security code")]

#: Items of a breach report to the Personal Information Protection Commission (個人情報保護委員会).
PPC_ITEMS = [
    ("overview", "概要", "Overview"),
    ("items", "漏えい等が発生し、又は発生したおそれがある個人データの項目",
     "Items of personal data leaked or possibly leaked"),
    ("persons", "本人の数", "Number of persons affected"),
    ("cause", "原因", "Cause"),
    ("secondary", "二次被害又はそのおそれの有無及びその内容", "Secondary damage or its risk, and its nature"),
    ("notice", "本人への対応の実施状況", "Status of response to the persons affected"),
    ("publication", "公表の実施状況", "Status of public announcement"),
    ("prevention", "再発防止のための措置", "Measures to prevent recurrence"),
    ("other", "その他参考となる事項", "Other matters for reference"),
]


def _reason(f: Mapping, key: str) -> object:
    """Why a count is null, from the findings' extra keys (``counts_reason``, ``counts``' own)."""
    for holder in (f.get("counts_reason") or {}, f.get("counts") or {}):
        for k in (key, f"{key}_reason", key.split("_")[0] + "_" + key.split("_")[1] if "_" in key else key):
            if isinstance(holder.get(k), str):
                return holder[k]
    return None


def _causes(f: Mapping) -> list[tuple[str, str]]:
    """Causes the findings establish (each only when its evidence is there)."""
    phases = f.get("phases") or {}
    out = []
    if phases.get("sqli_first"):
        out.append(("Webアプリケーションの SQL インジェクション脆弱性が悪用され、管理画面のログイン情報が取得された可能性",
                    "an SQL injection vulnerability in the web application was exploited; the admin credentials "
                    "were likely obtained through it"))
    if phases.get("attacker_admin_login"):
        out.append(("攻撃者が管理画面へ正規のログイン情報でログインできた（管理画面へのアクセス元IPの制限なし）",
                    "the attacker could log into the admin panel with valid credentials (no source-IP restriction "
                    "on the admin panel)"))
    if f.get("backdoor_paths"):
        out.append(("管理画面のファイル管理機能から PHP ファイルを公開ディレクトリへアップロードでき、そこで実行された",
                    "the admin file manager accepted a PHP file into a public folder, where it was executed"))
    if f.get("tampered_files"):
        out.append(("Web サーバーの実行ユーザーがテンプレートの実行キャッシュファイルを書き換え可能だった（権限設定の不備）",
                    "the compiled templates were writable by the web server user (improper permissions)"))
    return out


def _secondary(f: Mapping) -> tuple[str, str] | None:
    counts = f.get("counts") or {}
    if (counts.get("cards_total") or 0) > 0:
        return ("クレジットカード情報（セキュリティコードを含む）が流出したおそれがあり、不正利用のおそれがある。"
                "実際の不正利用の有無はカード会社への確認が必要。",
                "card data including security codes may have leaked, so fraudulent use is possible; whether it "
                "happened must be confirmed with the card companies.")
    if (counts.get("viewed_persons") or counts.get("viewed_persons_upper") or 0) > 0:
        return ("閲覧された連絡先情報を悪用したフィッシング等のおそれがある。",
                "the contact details viewed may be abused, e.g. for phishing.")
    return None


PREVENTION = [
    ("SQLインジェクション脆弱性の修正（プレースホルダの使用）", "fix the SQL injection (parameterised queries)"),
    ("管理画面へのアクセス元IP制限と多要素認証", "restrict the admin panel by source IP and add multi-factor authentication"),
    ("公開ディレクトリでのPHP実行禁止とアップロード拡張子の制限", "forbid PHP execution in upload folders; restrict upload types"),
    ("テンプレート・実行キャッシュの書込権限の見直しと改ざん検知", "remove write access to templates and compiled templates; monitor them for changes"),
]


# -- page ---------------------------------------------------------------------------------------
CSS = """
body{font-family:'IPAexGothic',sans-serif;margin:0;color:#222;background:#fff;line-height:1.6}
header{background:#2c3e50;color:#fff;padding:16px 32px}
header h1{margin:0;font-size:1.5em}
main{padding:8px 32px 48px;max-width:1100px}
h2{border-bottom:2px solid #2c3e50;margin-top:2em;font-size:1.25em}
table{border-collapse:collapse;margin:8px 0 16px;width:100%}
th,td{border:1px solid #bbb;padding:4px 8px;text-align:left;vertical-align:top;font-size:.92em}
th{background:#ecf0f1;width:30%}
td.num{text-align:right}
.todo{background:#fdebd0;color:#a04000;padding:0 4px;font-weight:bold}
.unknown{color:#7f8c8d;font-style:italic}
.wareki{color:#555;margin-left:4px}
.chart{margin:12px 0;overflow-x:auto}
.chart svg{max-width:100%;height:auto}
code{font-family:monospace;word-break:break-all}
.lang-switch{padding:8px 32px;background:#ecf0f1}
.lang-switch label{margin-right:16px;cursor:pointer}
#show-ja:checked~main .en{display:none}
#show-en:checked~main .ja{display:none}
.lang-switch input{margin-right:4px}
"""


def _table(rows: Iterable[tuple[object, object]]) -> Markup:
    return el("table", [el("tr", el("th", k), el("td", v)) for k, v in rows])


def _grid(head: list[str], rows: Iterable[list[object]], num_cols: set[int] = frozenset()) -> Markup:
    return el(
        "table",
        el("tr", [el("th", h) for h in head]),
        [el("tr", [el("td", c, cls="num" if i in num_cols else None) for i, c in enumerate(r)]) for r in rows],
    )


def _code_list(items: Iterable[object], lang: str, reason: object = None) -> Markup:
    items = list(items or [])
    if not items:
        return el("span", ("なし（証拠上確認されず）" if lang == "ja" else "none found in the evidence")
                  + _why(reason, lang), cls="unknown")
    return el("ul", [el("li", el("code", i)) for i in items])


def _svg(svg: str) -> Markup:
    from forensics.charts import tidy_svg

    svg = tidy_svg(re.sub(r"^\s*<\?xml[^>]*>\s*", "", svg))
    # Only vl-convert output is inlined; refuse markup that could run or fetch. The markup is
    # checked, not the text: a label showing attacker text such as "x.onmouseover=1" is escaped
    # character data and harmless.
    for tag in _SVG_TAG.finditer(svg):
        body = tag.group(1)
        name = body.split(None, 1)[0].lstrip("/").lower() if body.strip() else ""
        if name in _SVG_FORBIDDEN:
            raise ValueError(f"chart SVG holds a <{name}> element; refusing to inline it")
        for attr, value in _SVG_ATTR.findall(body):
            attr = attr.lower()
            if attr.startswith("on") or (attr in ("href", "xlink:href", "src")
                                         and not value.strip("\"'").startswith(("#", "data:"))):
                raise ValueError(f"chart SVG holds a {attr} attribute; refusing to inline it")
    return Markup(svg)


_SVG_TAG = re.compile(r"<([^<>]*)>")
_SVG_ATTR = re.compile(r"([^\s=/\"']+)\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+)")
_SVG_FORBIDDEN = {"script", "foreignobject", "iframe", "object", "embed"}


def _confirmed_cards(f: Mapping, tz: str, lang: str) -> Markup:
    """Confirmed cards (masked first 6 + last 4) with their order, when findings list them."""
    rows = ((f.get("cards") or {}).get("confirmed")) or []
    if not rows:
        return Markup("")
    ja = lang == "ja"
    head = (["カード（マスク済）", "注文番号", "入力日時", "区分"] if ja else ["card (masked)", "order", "entered", "kind"])
    kind = (lambda r: "テスト" if r.get("test") else "顧客") if ja else (lambda r: "test" if r.get("test") else "customer")
    return Markup(
        el("p", "窃取ファイルで確認されたカード：" if ja else "Cards found in the skim files:")
        + _grid(head, [[el("code", r.get("card")), r.get("order_id") if r.get("order_id") is not None
                        else el("span", "対応する注文なし" if ja else "no matching order", cls="unknown"),
                        _when(r.get("first_entered"), tz, lang), kind(r)] for r in rows])
    )


@dataclass(frozen=True)
class _Page:
    """What every section of one language's page reads: the findings and their parts."""

    lang: str
    f: Mapping
    charts: Mapping[str, str]

    @property
    def ja(self) -> bool:
        return self.lang == "ja"

    def L(self, pair) -> str:  # noqa: N802 - the pair's word in this language
        return pair[0] if self.ja else pair[1]

    @property
    def tz(self) -> str:
        return self.f.get("timezone") or "UTC"

    @property
    def sep(self) -> str:
        return "" if self.ja else " "

    def chart(self, stem: str) -> Markup:
        return el("div", _svg(self.charts[stem]), cls="chart") if stem in self.charts else Markup("")

    def summary(self) -> str:
        """One sentence per finding, each only as far as the evidence goes."""
        return self.sep.join(_summary_sentences(self.f, self.lang))


def _summary_part(p: _Page) -> list[Markup]:
    return [
        el("h2", "1. 概要" if p.ja else "1. Summary"),
        el("p", p.summary()),
        el("p", ("時刻はすべて " if p.ja else "All times in ") + p.tz + ("（和暦併記）" if p.ja else ".")),
    ]


def _timeline_part(p: _Page) -> list[Markup]:
    phases, windows = p.f.get("phases") or {}, p.f.get("windows") or {}
    phase_reasons, window_reasons = p.f.get("phases_reason") or {}, p.f.get("windows_reason") or {}
    return [
        el("h2", "2. 経過" if p.ja else "2. Timeline"),
        _grid(["事象" if p.ja else "event", "日時" if p.ja else "time"],
              [[p.L(PHASES.get(k, (k, k))), _when(phases.get(k), p.tz, p.lang, phase_reasons.get(k))] for k in
               list(PHASES) + [k for k in phases if k not in PHASES]]),
        _grid(["期間" if p.ja else "window", "開始" if p.ja else "start", "終了" if p.ja else "end"],
              [[p.L(WINDOWS.get(k, (k, k))), _when((v or [None, None])[0], p.tz, p.lang, window_reasons.get(k)),
                _when((v or [None, None])[1], p.tz, p.lang)] for k, v in windows.items()]),
        p.chart("attack_timeline"),
        p.chart("requests_per_day"),
    ]


def _counts_part(p: _Page) -> list[Markup]:
    counts = p.f.get("counts") or {}
    return [
        el("h2", "3. 件数と定義" if p.ja else "3. Counts and definitions"),
        _grid(["項目" if p.ja else "item", "件数" if p.ja else "count", "定義" if p.ja else "definition"],
              [[r[1] if p.ja else r[2], _n(counts.get(r[0]), p.lang, _reason(p.f, r[0])), r[3] if p.ja else r[4]]
               for r in COUNT_ROWS],
              num_cols={1}),
        el("p", p.sep.join(_count_sentences(p.f, p.lang))),
        p.chart("exposure_counts"),
        p.chart("exposure_windows"),
        p.chart("payment_failure"),
    ]


def software(p: _Page) -> str:
    """The shop software as the findings name it (``platform``), else a general word."""
    return p.f.get("platform") or ("ショップのソフトウェア" if p.ja else "the shop software")


def _data_part(p: _Page) -> list[Markup]:
    ja, L = p.ja, p.L
    return [
        el("h2", "4. 漏えい等の対象となった情報" if ja else "4. Data affected"),
        _table([
            ("管理画面で閲覧された顧客情報" if ja else "customer records viewed in the admin panel",
             "、".join(L(i) for i in VIEWED_ITEMS) if ja else ", ".join(L(i) for i in VIEWED_ITEMS)),
            ("流出又はそのおそれのあるカード情報" if ja else "card data leaked or possibly leaked",
             "、".join(L(i) for i in CARD_ITEMS) if ja else ", ".join(L(i) for i in CARD_ITEMS)),
        ]),
        el("p", (f"閲覧項目は {software(p)} の顧客・受注画面の表示項目、カード項目はカード入力フォームの入力項目による。"
                 "カード番号は本報告書では先頭6桁と末尾4桁まで（PCI DSS）しか示さない。" if ja else
                 f"Viewed items are the fields {software(p)}'s customer and order pages display; card items are the "
                 "fields of the card-entry form. Card numbers appear in this report as first 6 + last 4 digits at most.")),
        _confirmed_cards(p.f, p.tz, p.lang),
    ]


def _causes_part(p: _Page) -> list[Markup]:
    ja, f, causes = p.ja, p.f, _causes(p.f)
    not_decoded = f.get("skim_files_not_decoded")
    return [
        el("h2", "5. 判明した原因" if ja else "5. Causes found"),
        el("ol", [el("li", p.L(c)) for c in causes]) if causes else el("p", _todo(p.lang)),
        _table([
            ("攻撃元IP" if ja else "attacker IPs", _code_list(f.get("attacker_ips"), p.lang, f.get("attacker_ips_reason"))),
            ("バックドア（URL）" if ja else "backdoors (URL path)", _code_list(f.get("backdoor_paths"), p.lang)),
            ("改ざんされたファイル" if ja else "tampered files", _code_list(f.get("tampered_files"), p.lang)),
            ("カード情報の記録ファイル" if ja else "files holding skimmed cards", _code_list(f.get("skim_files"), p.lang)),
            ("読めなかった記録ファイル候補" if ja else "candidate skim files not read",
             el("ul", [el("li", el("code", s["path"]), ("：" if ja else ": ") + str(s.get("reason") or s.get("status")))
                       for s in not_decoded])
             if not_decoded else el("span", "なし" if ja else "none", cls="unknown")),
        ]),
    ]


def _ppc_part(p: _Page) -> list[Markup]:
    ja, L, f, lang = p.ja, p.L, p.f, p.lang
    causes, sec = _causes(f), _secondary(f)
    other_rows = [
        ("封じ込め" if ja else "containment", _when((f.get("phases") or {}).get("containment"), p.tz, lang)),
        ("攻撃元IP" if ja else "attacker IPs", _code_list(f.get("attacker_ips"), lang, f.get("attacker_ips_reason"))),
        ("証拠の一覧は下記「証拠」を参照。" if ja else "see the evidence list below", ""),
    ]
    ppc_values = {
        "overview": el("span", p.summary()),
        "items": el("span", ("閲覧：" if ja else "viewed: ") + ("、" if ja else ", ").join(L(i) for i in VIEWED_ITEMS)
                    + ("／カード：" if ja else "; cards: ") + ("、" if ja else ", ").join(L(i) for i in CARD_ITEMS)),
        "persons": el("span", p.sep.join(_count_sentences(f, lang))),
        "cause": el("span", ("" if causes else _todo(lang)), ("；" if ja else "; ").join(L(c) for c in causes)),
        "secondary": el("span", L(sec), " ", _todo(lang)) if sec else _todo(lang),
        "notice": _todo(lang),
        "publication": _todo(lang),
        "prevention": el("span", ("推奨：" if ja else "recommended: ") + ("、" if ja else "; ").join(L(x) for x in PREVENTION),
                         " ", _todo(lang)),
        "other": _table(other_rows),
    }
    return [
        el("h2", "6. 個人情報保護委員会への報告事項" if ja else "6. Items of the report to the Personal Information "
                                                      "Protection Commission (PPC)"),
        el("p", ("証拠から答えられる事項は調査結果から記載し、答えられない事項は「要記入」とした。" if ja else
                 "Items the evidence answers are filled from the findings; the others are marked for the analyst.")),
        _table([(ja_label if ja else f"{en_label}（{ja_label}）", ppc_values[key]) for key, ja_label, en_label in PPC_ITEMS]),
    ]


def _evidence_part(p: _Page) -> list[Markup]:
    ja, f = p.ja, p.f
    untimed = f.get("query_log_untimed_statements")
    return [
        el("h2", "7. 証拠" if ja else "7. Evidence"),
        el("p", ("解析前に全入力ファイルの SHA-256 を取得した（manifest.json）。" if ja else
                 "SHA-256 of every input file was taken before analysis (manifest.json).")),
        _grid(["ファイル" if ja else "file", "SHA-256", "レコード" if ja else "records", "不採用" if ja else "rejected"],
              [[el("code", e.get("path")), el("code", e.get("sha256")), e.get("records", ""), e.get("rejected", "")]
               for e in f.get("evidence") or []], num_cols={2, 3}),
        el("p", (f"クエリログの {untimed:,} 件の文は、ファイル先頭の最初の時刻行より前にあり時刻がない。"
                 "その時刻より前であることのみ確かで、時刻を推定して配置していない。" if ja else
                 f"{untimed:,} query-log statements stand before the first time line of their "
                 "file and have no time of their own: they are known only to lie before it and are not placed at a "
                 "guessed time.")) if untimed else Markup(""),
        el("h3", "証拠の欠落" if ja else "Gaps in the evidence"),
        el("ul", [el("li", s) for s in _gap_sentences(f, p.lang)]) if f.get("gaps") else
        el("p", "なし" if ja else "none"),
    ]


#: The report's sections in order, one function each (a language's page is their concatenation).
SECTIONS = (_summary_part, _timeline_part, _counts_part, _data_part, _causes_part, _ppc_part, _evidence_part)


def _section(lang: str, f: Mapping, charts: Mapping[str, str], title: str) -> Markup:
    page = _Page(lang, f, charts)
    return el("div", *[part for section in SECTIONS for part in section(page)], cls=lang, lang=lang)


def render_report(findings: Mapping, *, charts: Mapping[str, str] | None = None, title: str | None = None,
                  generated: dt.date | None = None) -> str:
    """The whole report as one HTML string (see the module docstring).

    ``findings``: the findings.json object (the findings format). ``charts``: stem -> SVG text
    (``attack_timeline``, ``requests_per_day``, ``exposure_windows``, ``exposure_counts``,
    ``payment_failure``; missing ones are left out). ``generated``: the report date.
    """
    charts = dict(charts or {})
    case = findings.get("case") or ""
    title = title or f"不正アクセス調査報告書 {case}"
    gen = generated or dt.date.today()
    body = Markup(
        el("header", el("h1", title),
           el("div", f"事案 / case: {case}　作成日 / date: {gen.isoformat()}（{to_wareki(gen)}）"))
        + el("input", type="radio", name="lang", id="show-ja", checked=True)
        + el("input", type="radio", name="lang", id="show-en")
        + el("div", el("label", "日本語", for_="show-ja"), el("label", "English", for_="show-en"), cls="lang-switch")
        + el("main", _section("ja", findings, charts, title), _section("en", findings, charts, title))
    )
    # hide the radio buttons themselves; the labels switch them
    css = CSS + "#show-ja,#show-en{position:absolute;left:-9999px}"
    try:
        from forensics.display import font_face_css

        text = re.sub(r"<[^>]+>", "", body) + title
        css = font_face_css(html.unescape(text)) + css
    except Exception:  # pragma: no cover - the font is a hard dependency; the page still works without it
        pass
    return (
        "<!DOCTYPE html>\n"
        + el("html",
             el("head", Markup('<meta charset="utf-8">'),
                Markup('<meta name="viewport" content="width=device-width, initial-scale=1">'),
                el("title", title), el("style", Markup(css))),
             el("body", body), lang="ja")
        + "\n"
    )


def write_report(findings: Mapping, out_dir: str | Path, *, charts_dir: str | Path | None = None,
                 title: str | None = None, generated: dt.date | None = None) -> Path:
    """Write ``out_dir/report.html`` with the SVG charts found in ``charts_dir`` (default out_dir/charts)."""
    out = Path(out_dir)
    cdir = Path(charts_dir) if charts_dir else out / "charts"
    charts = {p.stem: p.read_text(encoding="utf-8") for p in sorted(cdir.glob("*.svg"))} if cdir.is_dir() else {}
    path = out / "report.html"
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(findings, charts=charts, title=title, generated=generated), encoding="utf-8")
    return path
