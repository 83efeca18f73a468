"""SQL injection in web requests and what it reached.

Pipeline (all vectorised polars expressions, no per-row Python):

1. **normalise** the request target (:func:`normalise_expr`): ``+`` as space, percent-decoding
   repeated ``DECODE_ROUNDS`` times (double and triple encoding), lower-case, lone ``%`` signs
   dropped (ASP reads ``%S%E%L%E%C%T`` as SELECT), an encoded ``+`` read as a space, MySQL
   versioned comments ``/*!50000 select*/`` keep their content, other ``/* ... */`` comments and
   ``--``/``#`` comments that a line break ends become a space, whitespace runs collapse to one
   space. Non-ASCII bytes stay percent-encoded: Japanese search words can never look like SQL.
2. **rules** (:data:`SQLI_RULES`, records: id, technique, regex, description, known false
   positives, whether the rule also reads the application's own statements) run on the
   normalised text; a request is SQL injection when any rule fires. The regexes are written with
   token classes, the way a SQL tokeniser sees an injected value (:data:`BREAK` the end of the
   literal the application opened, :data:`LOGIC`, :data:`OPERAND`, :data:`CMP`, :data:`FUNC`):
   generic rules describe the structure of an injection (a broken-out literal, a logical
   operator, a comparison or a function call; constants compared; the attacker's own WHERE,
   HAVING, CASE, subselect; a DBMS catalogue), specific ones name the technique (UNION, delay
   and error functions of each DBMS family, stacked statements). Techniques: boolean, union,
   time, error, stacked, inline, other.
3. **targets**: tables after ``FROM`` in injected selects and ``table_name='...'`` / hex literals
   (sqlmap writes names as ``0x...``), columns named in the injected select list.

Benign near-misses (apostrophes in names, Japanese text, "select wine set", "union jack glass",
"order by phone", "1=1 sale" as search words, a quoted URL in a path) are in
``tests/detectors/test_sqli.py``. Recall per technique, DBMS and tamper script on real sqlmap
traffic and false positives on public web logs: :mod:`forensics.detectors.sqli_eval` (``make eval``
prints its tables; corpus in ``tests/data/sqli_corpus/``); figures and the sample-case measurement
(``.venv/bin/python -m forensics.detectors.sqli sample_data/toshomart-2017/case.yml``) are in
``docs/benchmarks.md``.
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl

from forensics.cards import mask_pans_expr
from forensics.detectors.near import near_expr

__all__ = [
    "PREFILTER",
    "Rule",
    "SQLI_RULES",
    "DECODE_ROUNDS",
    "normalise_expr",
    "detect_sqli",
    "sqli_by_ip",
    "sqli_query_reach",
    "statement_text_expr",
    "NOT_TIED",
    "QUERY_REACH",
    "sqli_reach_summary",
]

#: The sample case (docs/benchmarks.md has the command): every attack request of truth.json
#: flagged, no other request.
MEASURED = {"requests": 114_575, "attacks": 1_340, "flagged": 1_340, "recall": 1.0, "false_positives": 0, "missed": 0}

DECODE_ROUNDS = 3

# percent escapes of ASCII only, any hex case; control characters decode to a space (they
# separate tokens in MySQL), line breaks stay line breaks (they end a -- or # comment)
_PCT: dict[str, str] = {}
for _i in range(128):
    _ch = chr(_i) if 0x20 <= _i < 0x7F else "\n" if _i in (0x0A, 0x0D) else " "
    _h = f"{_i:02x}"
    for _a in {_h[0], _h[0].upper()}:
        for _b in {_h[1], _h[1].upper()}:
            _PCT["%" + _a + _b] = _ch


class Rule(NamedTuple):
    """One detection rule: a regex over the normalised request text (:func:`normalise_expr`)."""

    id: str
    technique: str  #: boolean, union, time, error, stacked, inline, other
    regex: str  #: Rust regex (no look-around, no backrefs), built from the token classes below
    description: str
    false_positives: str = ""  #: benign text the rule can fire on, when known
    query_log: bool = True  #: also run on the application's own statements (query log, error log)
    #: a structural rule: it says the text is SQL injection; its technique is reported only when
    #: no specific rule (a delay function, UNION, an error function...) names one
    generic: bool = False
    status: str = "stable"  #: how far the rule is trusted (forensics.rules.STATUSES)


# Token classes of the normalised text (decoded, lower case, comments gone, one space between
# tokens). A rule is a sequence of these, the way a SQL tokeniser sees the value: the end of the
# literal the application opened (BREAK), a logical operator, an operand, a comparison.
_Q = r"(?:'|\"|\)|\b\d+)"  # the end of a broken-out literal: quote, parenthesis or number
BREAK = r"(?:['\"`)\]}]|\$\$|\b\d+|\bnull)"
LOGIC = r"(?:\b(?:and|or|xor)\b|&&|\|\|)"
NUM = r"-?\d+(?:\.\d+)?"
STR = r"(?:'[^']*'?|\"[^\"]*\"?)"
#: a function call: a name, optionally qualified (schema.pkg.fn, sysmaster:table), then "(" with
#: no space (SQL allows one, people's text nearly always has it)
FUNC = r"[a-z_][a-z0-9_$]*(?:[.:][a-z_][a-z0-9_$]*)*\("
OPERAND = rf"(?:[(\s]*(?:{NUM}|{STR}|{FUNC}|null\b|select\b|case\b|[a-z_][a-z0-9_$]*\.[a-z_][a-z0-9_$]*|\[[^\]]*\](?:\[\d+\])?)\)*)"
CMP = r"(?:=|<>|!=|<=?|>=?|\blike\b|\brlike\b|\bregexp\b|\bnot\s+between\b|\bbetween\b|\bin\s*\(|\bis\s+(?:not\s+)?null\b|\bglob\b|\bsounds\s+like\b)"

#: DBMS system catalogues and dummy tables (the tables an injection reads to learn the database)
CATALOGS = (
    r"information_schema|mysql\.(?:user|db)\b|performance_schema|sys\.objects|sysobjects|syscolumns|sysusers|"
    r"master\.\.sys|pg_catalog|pg_user|pg_database|sqlite_master|sqlite_version|all_tables|all_users|user_tables|"
    r"sysibm\.|syscat\.|sysmaster:|systables|rdb\$|msysaccessobjects|msysobjects|domain\.(?:domains|tables|columns)|"
    r"system\.(?:numbers|one|tables|databases)|sys\.(?:sysusers|systables|sysschemas)|v\$version|"
    r"dual\s*(?:\)|$|&|--|#|;|,|\|\||where\b|union\b|limit\b|order\b)"
)

#: functions that delay the response (time-based) or raise an error carrying data (error-based),
#: one per DBMS family: catalogue knowledge of the DBMSes, not of any one tool
DELAY_FUNCS = (
    r"sleep|pg_sleep|benchmark|dbms_pipe\.receive_message|dbms_lock\.sleep|dbms_session\.sleep|"
    r"randomblob|sleepeachrow|generate_series|get_lock|regexp_substring"
)
ERROR_FUNCS = (
    r"extractvalue|updatexml|gtid_subset|gtid_subtract|json_keys|exp|name_const|xmltype|"
    r"utl_inaddr\.get_host_address|ctxsys\.drithsx\.sn|dbms_utility\.sqlid_to_sqlhash|raise_error|"
    r"convert|cast|iif|error|geometrycollection|multipoint|polygon|linestring|multilinestring|multipolygon"
)

#: The rules. A request is SQL injection when any rule fires on its normalised target.
SQLI_RULES: tuple[Rule, ...] = (
    # --- boolean-based -------------------------------------------------------------------------
    Rule("bool-tautology", "boolean",
         _Q + r"\s*(?:and|or|xor|&&|\|\|)\s+(?:not\s+)?[(\s]*(?:'[^']*'|\"[^\"]*\"|-?\d+)\s*(?:=|<>|!=|<=?|>=?|\blike\b)\s*[(\s]*(?:'[^']*|\"[^\"]*|-?\d+)",
         "quote/paren/number, then AND/OR with a literal comparison: ' or 'a'='a, 1 and 1=1, sqlmap ') AND 1234=1234 AND ('abc'='abc"),
    Rule("logic-compare", "boolean",
         BREAK + r"\s*" + LOGIC + r"\s*(?:not\s+)?" + OPERAND + r"\s*(?:" + CMP + r"|" + NUM + r"\b)",
         "a broken-out literal, a logical operator, an operand and a comparison (or a second literal): "
         "3 AND 7150=(SELECT ..., ' OR 8159=UTL_INADDR..., ) AND 'x' LIKE 'x, 3 AND 1234 BETWEEN 1233 AND 1235, ' AND 95 31",
         "a search 'size 5 and 6 = 11'; a word before AND ('sale and 1=1') is value-word-logic's", query_log=False, generic=True),
    Rule("logic-function", "boolean",
         BREAK + r"\s*" + LOGIC + r"\s*(?:not\s+)?[(\s!]*" + FUNC,
         "a broken-out literal, a logical operator, then a function call: AND IIF(..), OR ELT(..), AND GREATEST(..)",
         "'1 and only(...)' with no space before the parenthesis", query_log=False, generic=True),
    Rule("value-word-logic", "boolean",
         r"[?&][^=&\s]*=[a-z0-9_.-]+\s" + LOGIC + r"\s+(?:not\s+)?" + OPERAND + r"\s*" + CMP,
         "a parameter value of one word, then a logical operator, an operand and a comparison: "
         "q=pear AND 1762=1762 (a numeric boundary on a string parameter)",
         "a search of one word then 'and 1=1' ('sale and 1=1'); two words before ('summer sale and 1=1') do not fire",
         query_log=False, generic=True),
    Rule("const-compare", "boolean",
         r"[(,]\s*" + NUM + r"\s*(?:=|<>|!=|<=?|>=?)\s*" + NUM + r"\s*[,)]",
         "two constants compared as a function argument or in parentheses: IIF(7061=5750,1,1/0), ELT(1234=1234,1), (5821=5821)",
         "'(1=1)' typed as text", query_log=False, generic=True),
    Rule("bool-not-between", "boolean",
         _Q + r"\s*(?:and|or)\s+(?:not\s+)?\d+\s+between\s+\d+\s+and\s+\d+",
         "sqlmap between tamper: AND 1234 BETWEEN 1233 AND 1235"),
    Rule("bool-inference", "boolean",
         r"\b(?:and|or)\s+[(\s]*(?:ord|ascii|mid|substring|substr|length|if|case|elt|make_set)\s*\(",
         "blind extraction: AND ORD(MID((SELECT ...),1,1))>64, AND IF(...), AND ELT(...)"),
    Rule("bool-subselect", "boolean",
         _Q + r"\s*(?:and|or|rlike|regexp)\s+[(\s]*(?:not\s+)?(?:exists\s*)?\(\s*select\b",
         "AND (SELECT ...) / OR EXISTS(SELECT ...) / RLIKE (SELECT (CASE ...)) after a broken-out literal"),
    Rule("clause-compare", "boolean",
         r"\b(?:where|having|when)\s+(?:not\s+)?" + OPERAND + r"\s*" + CMP,
         "a WHERE/HAVING/WHEN clause of the attacker's: ') AS x WHERE 6190=6190, ) HAVING 8855=9589, CASE WHEN (1=1)",
         "'where 2 = 3' typed as a search", query_log=False, generic=True),
    Rule("case-when", "boolean",
         r"\bcase\s+when\s*\(|\bcase\s+when\s+" + OPERAND + r"\s*" + CMP + r"|\bcase\s+" + NUM + r"\s+when\b",
         "a CASE expression on a condition: (CASE WHEN (1=1) .., CASE WHEN 1=1 .., CASE 1234 WHEN 1234",
         "'case when 2 > 1' typed as text; 'in case when it rains' does not fire", query_log=False, generic=True),
    Rule("heuristic-quote-run", "boolean",
         r"(?:['\"][()'\",.]{2,}|[()'\",.]{2,}['\"]|[()\",.]['\"][()\",.])",
         "sqlmap heuristic check: a quote inside a run of 3+ of ( ) ' \" , . (e.g. 3)\",.'( ); O'Reilly has none"),
    Rule("heuristic-numeric-break", "boolean",
         r"=-?\d+[()'\",.]{3,}(?:&|$)|^[^']*=-?\d+'+(?:&|$)|^[^\"]*=-?\d+\"+(?:&|$)",
         "a numeric value followed only by breaking characters or by a quote that no earlier quote "
         "opened: id=3(),.( / id=3'",
         "a quoted URL in a path, /\"http://x/?appid=440\", is balanced and does not fire"),
    Rule("heuristic-xss-probe", "other",
         r"['\"][a-z0-9]*<\s?['\"]{1,2}\s?>",
         "sqlmap's combined SQL/XSS heuristic: 3'abcd<'\">efgh"),
    # --- UNION ---------------------------------------------------------------------------------
    Rule("union-select", "union",
         r"\bunion(?:\s+(?:all|distinct))?(?:\s+|\s*\(\s*)select\b",
         "UNION [ALL] SELECT (also union(select ...)); 'union jack glass' has no select"),
    Rule("order-by-probe", "union",
         r"(?:['\")]\s*order\s+by\s+\d+|\border\s+by\s+\d+\s*(?:--|#))",
         "column-count probing before a UNION: ') ORDER BY 3-- -; 'order by phone' does not fire"),
    Rule("break-order-group", "union", BREAK + r"\s*(?:order|group)\s+by\s+(?:\d|[a-z_]+\()",
         "a broken-out literal then ORDER/GROUP BY a column number or expression: 3 ORDER BY 10, ') GROUP BY x",
         "'top 10 order by 2' typed as text", query_log=False, generic=True),
    # --- time-based ----------------------------------------------------------------------------
    Rule("time-sleep", "time", r"\bsleep\s*\(\s*\d", "MySQL SLEEP(n)"),
    Rule("time-benchmark", "time", r"\bbenchmark\s*\(\s*\d", "MySQL BENCHMARK(n, expr)"),
    Rule("time-waitfor", "time", r"\bwaitfor\s+(?:delay|time)\s*'", "MSSQL WAITFOR DELAY '0:0:5'"),
    Rule("time-pg-sleep", "time", r"\bpg_sleep\s*\(", "PostgreSQL pg_sleep(n)"),
    Rule("time-dbms-pipe", "time", r"\bdbms_pipe\.receive_message\s*\(", "Oracle DBMS_PIPE.RECEIVE_MESSAGE"),
    Rule("time-delay-func", "time", r"(?:^|[^a-z0-9_$.])!?(?:" + DELAY_FUNCS + r")\(\s*(?:-?\d|'|\(|[a-z_]+\()",
         "a DBMS delay function called: SLEEP(, PG_SLEEP(, DBMS_LOCK.SLEEP(, RANDOMBLOB(, sleepEachRow(, GENERATE_SERIES(, GET_LOCK(",
         "'sleep(' written without a space in text", query_log=False),
    Rule("time-heavy-query", "time", r"\bcount\(\*\)\s*from\s+[a-z_$.:]+(?:\s+as)?\s+[a-z0-9_]+\s*,\s*[a-z_$.:]+",
         "a heavy cross join as delay: (SELECT COUNT(*) FROM SYSIBM.SYSTABLES AS T1,SYSIBM.SYSTABLES AS T2,...)",
         query_log=False),
    # --- error-based ---------------------------------------------------------------------------
    Rule("error-extractvalue", "error", r"\bextractvalue\s*\(", "MySQL XPath error: EXTRACTVALUE(1, CONCAT(0x7e, ...))"),
    Rule("error-updatexml", "error", r"\bupdatexml\s*\(", "MySQL XPath error: UPDATEXML(1, CONCAT(...), 1)"),
    Rule("error-floor-rand", "error", r"\bfloor\s*\(\s*rand\s*\(", "duplicate-key error: COUNT(*), CONCAT(..., FLOOR(RAND(0)*2))"),
    Rule("error-exp", "error", r"\bexp\s*\(\s*~", "double overflow: EXP(~(SELECT ...))"),
    Rule("error-geometry", "error", r"\b(?:geometrycollection|multipoint|polygon|linestring|multilinestring|multipolygon)\s*\(\s*\(?\s*select\b",
         "spatial-function error with a subselect"),
    Rule("error-name-const", "error", r"\bname_const\s*\(", "NAME_CONST duplicate column error"),
    Rule("error-convert-int", "error", r"\b(?:convert|cast)\s*\(\s*int\s*,", "MSSQL CONVERT(INT, (SELECT ...)) error"),
    Rule("error-func-subselect", "error", r"(?:^|[^a-z0-9_$.])(?:" + ERROR_FUNCS + r")\([^&]*\(\s*select\b",
         "an error-raising function around a subselect: GTID_SUBSET(CONCAT(..(SELECT.., XMLType(..(SELECT.., "
         "UTL_INADDR.GET_HOST_ADDRESS(..(SELECT..", query_log=False),
    Rule("error-cast-concat", "error", r"(?:\|\||::)\s*(?:text|varchar|numeric|int)\b|'\s*\|\|\s*\(\s*select\b|\bchr\(\d+\)\s*\|\|",
         "string building for an error or a marker: '...'||(SELECT ...)::text, CHR(113)||CHR(..)", query_log=False),
    # --- stacked queries -----------------------------------------------------------------------
    Rule("stacked", "stacked",
         r";\s*(?:select\s.*\bfrom\b|select\s+(?:sleep|benchmark|pg_sleep|@@|version|\d+\s*(?:,|\)|$|&|--|#|;|\bfrom\b))|insert\s+into\b|update\s+\S+\s+set\b|delete\s+from\b|drop\s+(?:table|database)\b|declare\s+@|exec(?:ute)?\s|shutdown\b|truncate\s+table\b|create\s+(?:table|user)\b)",
         "; followed by a statement (a lone '; select wine set' without FROM does not fire)"),
    Rule("stacked-statement", "stacked",
         r";\s*(?:select\s+(?:\(|" + FUNC + r"|case\b|\*|null\b|" + NUM + r"\s*(?:,|\)|$|&|--|#|;|\bfrom\b))"
         r"|declare\s+@|exec(?:ute)?\s+[a-z_@(]|waitfor\s+(?:delay|time)\b|begin\s+(?:if|declare|dbms_|[a-z_.]+\()"
         r"|call\s+[a-z_.$]+\(|if\s*\(|set\s+@)",
         "; then a statement that starts like code: ;SELECT PG_SLEEP(5), ;SELECT (CASE.., ;WAITFOR DELAY, "
         ";BEGIN IF .., ;CALL F(.., ;DECLARE @x", "'; call us', '; begin now', '; select 2 bottles' do not fire",
         query_log=False),
    # --- inline queries ------------------------------------------------------------------------
    Rule("subselect", "inline",
         r"\(\s*select\s+(?:\(|" + FUNC + r"|case\b|\*|null\b|distinct\b|top\s+\d|'[^']*'|" + NUM
         + r"\s*(?:,|\)|=|\|\||\bfrom\b)|[a-z_][a-z0-9_$]*(?:\s*,\s*[a-z_][a-z0-9_$]*)*\s+from\b)",
         "a parenthesised SELECT of SQL: (SELECT CONCAT(..)), (SELECT 1234 FROM .., (SELECT (CASE .., (SELECT a,b FROM ..",
         "'(select a from b)' typed as text; '(select 3 colours)' does not fire", query_log=False, generic=True),
    # --- other ---------------------------------------------------------------------------------
    Rule("info-schema", "other", r"\binformation_schema\b", "metadata enumeration"),
    Rule("sys-catalog", "other", r"\b(?:mysql\.user|sysobjects|syscolumns|pg_catalog|sqlite_master|all_tables)\b",
         "other DBMS catalogues"),
    Rule("catalog-from", "other", r"\bfrom\s+\(*(?:" + CATALOGS + r")",
         "FROM a DBMS catalogue or dummy table: FROM RDB$DATABASE, FROM SYSIBM.SYSDUMMY1, FROM DUAL, FROM SYSMASTER:SYSPAGHDR",
         query_log=False, generic=True),
    Rule("char-func", "other", r"\bchar\s*\(\s*\d+\s*(?:,\s*\d+\s*)*\)", "CHAR(65,66) string building"),
    Rule("concat-hex", "other", r"\bconcat(?:_ws)?\s*\(\s*(?:0x[0-9a-f]+|char\s*\()", "CONCAT(0x7171..., ...) sqlmap markers"),
    Rule("hex-literal", "other", r"(?:^|[\s=(,])0x[0-9a-f]{6,}\b", "long hex literal (sqlmap encodes strings as 0x...)"),
    Rule("file-io", "other", r"\bload_file\s*\(|\binto\s+(?:out|dump)file\b", "file read/write through SQL"),
    Rule("sys-vars", "other", r"@@(?:version|datadir|hostname|basedir)\b|\b(?:version|database|schema|current_user|user|system_user)\s*\(\s*\)",
         "server fingerprinting"),
    Rule("comment-terminator", "other", r"['\"]\s*\)*\s*(?:--(?:\s|$|-)|#)", "quote closed then the rest commented out: admin'-- , ')#"),
)

#: A text can only match a rule when it holds one of these (raw, case-insensitive): every rule
#: needs whitespace (" ", "+", %09/%0a/%20, /**/), a quote, a parenthesis, ";", "#", "<", "|", a
#: hex literal or one of the listed words. Texts without any are skipped before decoding.
PREFILTER: tuple[str, ...] = (
    " ", "+", "%0", "%2", "%3", "%5", "%7", "'", '"', "(", ")", ";", "#", "/*", "--", "<", "|", "@@", "0x", ",",
    "&#", "information_schema", "mysql.user", "sysobjects", "pg_catalog", "sqlite_master", "all_tables",
)

#: Rules that describe request text only and would fire on ordinary statements of the
#: application ('' literals, quoted identifiers, its own information_schema or comment use, its
#: own WHERE clauses, subselects and functions).
QUERY_LOG_EXCLUDED_RULES = frozenset(
    ["info-schema", "comment-terminator", "sys-vars", "heuristic-quote-run", "heuristic-numeric-break", "heuristic-xss-probe"]
    + [r.id for r in SQLI_RULES if not r.query_log]
)

#: Words after FROM that are not tables (a derived table ``FROM (SELECT ...)``, ``FROM DUAL``).
_NOT_TABLES = frozenset(["dual", "select", "where", "values", "set"])

#: Identifiers inside an injected select list that are SQL functions or keywords, not columns.
_NOT_COLUMNS = frozenset(
    "select distinct all concat concat_ws ifnull isnull cast convert char as from count mid ord "
    "ascii substring substr length if case when then else end null char_length hex unhex group_concat "
    "limit offset where and or not lower upper trim rand floor version database user schema "
    "current_user system_user session_user extractvalue updatexml sleep benchmark table_name "
    "column_name table_schema nchar varchar binary utf8 utf8mb4 signed unsigned x elt make_set rlike regexp "
    "exists md5 sha1 by order group having union exp geometrycollection name_const json_keys".split()
)


def normalise_expr(expr: pl.Expr, *, rounds: int = DECODE_ROUNDS) -> pl.Expr:
    """The decoded, lower-cased, comment-stripped, whitespace-collapsed form of ``expr``."""
    e = expr.fill_null("").str.replace_all("+", " ", literal=True)
    for _ in range(rounds):
        e = e.str.replace_many(_PCT)
    e = e.str.to_lowercase()
    if rounds:
        # what is left of "%": escapes of non-ASCII bytes (kept) and lone percent signs, which
        # ASP drops (%S%E%L%E%C%T is SELECT there); a "+" that was encoded is a space to a tokeniser
        e = (
            e.str.replace_all(r"%([89a-f][0-9a-f])", "\x00$1")
            .str.replace_all("%", "", literal=True)
            .str.replace_all("\x00", "%", literal=True)
            .str.replace_all("+", " ", literal=True)
        )
    # HTML-entity quote tampers
    e = e.str.replace_many({"&#39;": "'", "&#x27;": "'", "&quot;": '"', "&#34;": '"'})
    # /*!50000 select*/ keeps its content: drop the opening marker, the closing */ goes below
    e = e.str.replace_all(r"/\*!\d{0,6}", " ")
    e = e.str.replace_all(r"(?s)/\*.*?\*/", " ")
    e = e.str.replace_all(r"\*/", " ", literal=False)
    # a -- or # comment that a line break ends is a space (the space2mysqldash / space2hash form)
    e = e.str.replace_all(r"(?:--|#)[^\n]*\n", " ")
    e = e.str.replace_all(r"\s+", " ")
    return e.str.strip_chars()


def _with_rule_hits(
    lf: pl.LazyFrame, payload: str = "payload", rules=SQLI_RULES, *, hits_only: bool = False
) -> pl.LazyFrame:
    """Add ``rule_ids`` and ``techniques`` (lists) for the rules firing on column ``payload``.

    Each regex runs once per row (boolean helper columns), the lists are built from those. With
    ``hits_only`` the rows no rule fires on are dropped first, by one pass of all the rules as a
    single alternation (in a log nearly every row goes there). ``techniques`` are those of the
    specific rules that fired, and those of the generic (structural) ones only when no specific
    rule named one (``other`` names none).
    """
    if len(rules) > 64:
        raise ValueError("at most 64 rules: their hits are one 64-bit mask per row")
    if hits_only:
        # one pass of all rules as one alternation (one automaton) keeps the rows to explain
        lf = lf.filter(pl.col(payload).str.contains("|".join(f"(?:{r.regex})" for r in rules)))
    bits = [pl.lit(1 << i, pl.UInt64) for i in range(len(rules))]
    # which rules fired, as one integer per row; the lists are built once per distinct mask (a
    # log has a few hundred) and joined back
    lf = lf.with_columns(
        __mask=pl.sum_horizontal([pl.col(payload).str.contains(r.regex).cast(pl.UInt64) * b for r, b in zip(rules, bits)])
    )
    fired = [(pl.col("__mask") & b) > 0 for b in bits]
    ids = pl.concat_list(
        [pl.when(f).then(pl.lit(r.id)).otherwise(pl.lit(None, pl.String)) for f, r in zip(fired, rules)]
    ).list.drop_nulls()

    def techniques(generic: bool) -> pl.Expr:
        return pl.concat_list(
            [pl.lit([], pl.List(pl.String))]
            + [pl.when(f).then(pl.lit(r.technique)).otherwise(pl.lit(None, pl.String))
               for f, r in zip(fired, rules) if r.generic == generic]
        ).list.drop_nulls().list.unique(maintain_order=True)

    specific = techniques(False)
    named = specific.list.set_difference(pl.lit(["other"], pl.List(pl.String)))
    techs = pl.when(named.list.len() > 0).then(specific).otherwise(
        pl.concat_list([specific, techniques(True)]).list.unique(maintain_order=True)
    )
    masks = lf.select("__mask").unique().with_columns(rule_ids=ids, techniques=techs)
    return lf.join(masks, on="__mask", how="left", maintain_order="left").drop("__mask")


def _targets(payload: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(tables, columns) named by injected selects in ``payload`` (normalised text)."""
    from_tables = payload.str.extract_all(r"\bfrom\s+[`(]*(?:[a-z0-9_]+[`]?\.[`]?)?[a-z_][a-z0-9_$]*").list.eval(
        pl.element().str.replace(r"^from\s+[`(]*", "").str.replace_all("`", "")
    ).list.eval(
        # a database prefix (eccube.dtb_member) goes; information_schema.tables stays as it is
        pl.when(pl.element().str.starts_with("information_schema."))
        .then(pl.element())
        .otherwise(pl.element().str.replace(r"^[^.]*\.", ""))
    )
    named = payload.str.extract_all(r"table_name\s*(?:=|like|in\s*\()\s*'[a-z0-9_$]+'").list.eval(
        pl.element().str.extract(r"'([a-z0-9_$]+)'", 1)
    )
    hexed = payload.str.extract_all(r"table_name\s*(?:=|like|in\s*\()\s*0x[0-9a-f]+").list.eval(
        pl.element().str.extract(r"0x([0-9a-f]+)", 1).str.decode("hex", strict=False).cast(pl.String, strict=False)
    )
    tables = (
        pl.concat_list([from_tables, named, hexed])
        .list.eval(pl.element().filter(pl.element().is_not_null() & ~pl.element().is_in(list(_NOT_TABLES))))
        .list.unique(maintain_order=True)
    )
    # identifiers inside string literals ('<script>alert("xss")</script>') are not columns
    sel = payload.str.replace_all(r"'[^']*'", "''").str.extract_all(r"\bselect\s+(?:distinct\s+)?[^;]*?\s+from\b").list.eval(
        pl.element().str.extract_all(r"\b[a-z_][a-z0-9_]*\b")
    ).list.eval(pl.element().list.explode(keep_nulls=False, empty_as_null=False))
    cols_hex = payload.str.extract_all(r"column_name\s*(?:=|like)\s*0x[0-9a-f]+").list.eval(
        pl.element().str.extract(r"0x([0-9a-f]+)", 1).str.decode("hex", strict=False).cast(pl.String, strict=False)
    )
    columns = (
        pl.concat_list([sel, cols_hex])
        .list.eval(
            pl.element().filter(
                pl.element().is_not_null()
                & ~pl.element().is_in(list(_NOT_COLUMNS))
                & ~pl.element().str.starts_with("0x")
            )
        )
        .list.unique(maintain_order=True)
    )
    return tables, columns


def detect_sqli(access: pl.LazyFrame | pl.DataFrame, *, fields: tuple[str, ...] = ("target_raw",)) -> pl.LazyFrame:
    """Requests carrying SQL injection.

    Parameters
    ----------
    access : frame of ``schemas.ACCESS_LOG``.
    fields : columns scanned (joined with a space); POST bodies are not in access logs, so the
        request target is what there is; add ``"user_agent"``/``"referer"`` for header injection.

    Returns
    -------
    LazyFrame, flagged requests only, sorted by ``ts``: ``ts, source, line_no, client_ip, method,
    target_raw, path, status, bytes, user_agent, payload`` (normalised text; in these four text
    columns card-number-shaped digit runs are masked to first 6 + last 4),
    ``techniques: list[str]``, ``rule_ids: list[str]``, ``tables: list[str]``, ``columns: list[str]``.
    """
    text = pl.concat_str([pl.col(f).fill_null("") for f in fields], separator=" ")
    tables, columns = _targets(pl.col("payload"))
    # Logs repeat the same targets many times: decode and match each distinct text once, and
    # only texts that contain a character or word some rule needs (PREFILTER) at all. The texts
    # flagged are few: they are found first (one streaming pass over the text column), then the
    # requests carrying them, so a large log is never held whole.
    texts = (
        access.lazy()
        .select(__text=text)
        .filter(pl.col("__text").str.contains_any(list(PREFILTER), ascii_case_insensitive=True))
        .unique()
        .with_columns(payload=normalise_expr(pl.col("__text")))
    )
    flagged = (
        _with_rule_hits(texts, hits_only=True)
        .with_columns(tables=tables, columns=columns)
        .collect(engine="streaming")
    )
    lf = access.lazy().filter(text.is_in(flagged["__text"].implode())).with_columns(__text=text)
    # attacker text is shown with card-number-shaped digit runs masked (the handling of evidence);
    # source and line_no lead back to the line as logged
    return (
        lf.join(flagged.lazy(), on="__text", how="inner")
        .with_columns([mask_pans_expr(pl.col(c)).alias(c) for c in ("target_raw", "path", "user_agent", "payload")])
        .select(
            "ts", "source", "line_no", "client_ip", "method", "target_raw", "path", "status", "bytes",
            "user_agent", "payload", "techniques", "rule_ids", "tables", "columns",
        )
        .sort("ts", "source", "line_no")
    )


def sqli_by_ip(sqli: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    """Per sending IP: ``ip, first_ts, last_ts, requests, techniques, tables, columns, paths,
    statuses, bytes_min, bytes_max, bytes_total, user_agents`` (lists sorted)."""
    return (
        sqli.lazy()
        .group_by(pl.col("client_ip").alias("ip"))
        .agg(
            first_ts=pl.col("ts").min(),
            last_ts=pl.col("ts").max(),
            requests=pl.len(),
            techniques=pl.col("techniques").list.explode(keep_nulls=False, empty_as_null=False).unique().sort(),
            tables=pl.col("tables").list.explode(keep_nulls=False, empty_as_null=False).drop_nulls().unique().sort(),
            columns=pl.col("columns").list.explode(keep_nulls=False, empty_as_null=False).drop_nulls().unique().sort(),
            paths=pl.col("path").unique().sort(),
            statuses=pl.col("status").unique().sort(),
            bytes_min=pl.col("bytes").min(),
            bytes_max=pl.col("bytes").max(),
            bytes_total=pl.col("bytes").sum(),
            user_agents=pl.col("user_agent").unique().sort(),
        )
        .sort("first_ts", "ip")
        .collect()
    )


#: Shortest decoded parameter value, or SQL part of one, that ties a statement to a request by
#: its text (shorter ones, such as ``1`` or ``or 1``, appear in ordinary statements).
MIN_TIE_CHARS = 4
MIN_PART_CHARS = 8
#: Characters of a statement kept for display.
STATEMENT_CHARS = 500
#: Why a statement with injected SQL is tied to no request.
NOT_TIED = "not tied: no flagged request's payload in it"

QUERY_REACH = pl.Schema({
    "ts": pl.Datetime("us", "UTC"), "source": pl.String, "line_no": pl.Int64, "conn_id": pl.Int64,
    "statement": pl.String, "techniques": pl.List(pl.String), "rule_ids": pl.List(pl.String),
    "tables": pl.List(pl.String), "columns": pl.List(pl.String),
    "req_source": pl.String, "req_line_no": pl.Int64, "client_ip": pl.String, "tie": pl.String, "candidates": pl.Int64,
})


def statement_text_expr(expr: pl.Expr) -> pl.Expr:
    """Text of a statement or of a decoded parameter value, compared for a tie: as the rules see it
    (lower case, comments gone, whitespace collapsed) and without the escaping the application
    adds when it quotes a value (``\\'`` and ``''`` are ``'``; backslashes dropped)."""
    return (
        normalise_expr(expr, rounds=0)
        .str.replace_all("\\", "", literal=True)
        .str.replace_all(r"'{2,}", "'")
        .str.replace_all(r"\"{2,}", '"')
    )


def _param_values(target: pl.Expr) -> pl.Expr:
    """The request's parameter values as the application receives them (``+`` a space, one round
    of percent-decoding, as PHP does), in :func:`statement_text_expr` form: a list per request."""
    return (
        target.str.extract(r"\?(.*)$", 1).fill_null("").str.split("&")
        .list.eval(statement_text_expr(
            pl.element().str.replace(r"^[^=]*=", "").str.replace_all("+", " ", literal=True).str.replace_many(_PCT)
        ))
    )


def _seconds(tolerance: str | int) -> int:
    """``"5s"`` (or ``5``) as whole seconds."""
    if isinstance(tolerance, int):
        return tolerance
    if not tolerance.endswith("s") or not tolerance[:-1].isdigit():
        raise ValueError(f"tolerance in whole seconds, such as '5s', not {tolerance!r}")
    return int(tolerance[:-1])


def sqli_query_reach(
    query_log: pl.LazyFrame | pl.DataFrame,
    sqli: pl.LazyFrame | pl.DataFrame | None = None,
    *,
    tolerance: str = "5s",
    near_requests_only: bool = True,
) -> pl.DataFrame:
    """Statements the database executed that carry injected SQL, each tied to the flagged request
    whose text it carries.

    The application pastes the injected text into its own statement, so the same rules find it in
    the query log (metadata enumeration alone, ``information_schema``, is not enough here: the
    application itself may query it). A statement reached the database from a flagged request
    (``sqli``, :func:`detect_sqli`) when both hold:

    - **text**: one of the request's decoded parameter values (four or more characters with a
      space, quote, parenthesis, comma or semicolon in it) appears in the statement, or its SQL
      part (the value from its first such character on, eight or more characters) does; both
      compared in :func:`statement_text_expr` form, so the application's quoting (``''``,
      ``\\'``), case and whitespace do not matter;
    - **time**: the request was logged within ``tolerance`` of the statement (both logs are to
      the second; the tolerance allows for clock skew between the web and database servers and
      for a slow page). The general query log does not name the script that ran a statement, so
      the page cannot be compared.

    Where several requests qualify they are weighed: the whole value over its SQL part, then the
    longer text, then the nearer in time; when the best are equal and from one IP the first in the
    log is named, when from several IPs none is. The ``tie`` column says how the tie was made
    ("injected text found in the statement, same second", "..., 2 s apart", "..., longest match of
    2 candidates", "..., nearest of 3 candidates", "..., first of 2 equal candidates") or why there
    is none (:data:`NOT_TIED`; "not tied: the payloads of 2 requests from 2 IPs are in it, none
    better"). With ``near_requests_only`` only
    statements within ``tolerance`` of a flagged request are examined (a query log of millions of
    statements stays cheap); without ``sqli`` every statement is examined and none is tied.

    Returns :data:`QUERY_REACH`: ``ts, source, line_no, conn_id, statement`` (first
    :data:`STATEMENT_CHARS` characters, card-number-shaped digit runs masked), ``techniques,
    rule_ids, tables, columns`` (tables of the whole statement: the application's own FROM too),
    ``req_source, req_line_no, client_ip`` (the request tied, null when none), ``tie``,
    ``candidates`` (flagged requests in the time allowed whose text is in the statement), sorted
    by ``ts``. Without ``sqli`` the last five columns are left out. The flagged requests come with
    card-number-shaped digit runs masked, so statements are compared masked the same way.
    """
    q = query_log.lazy().filter(pl.col("command").is_in(["Query", "Execute", "Prepare"]) & pl.col("ts").is_not_null())
    tol = _seconds(tolerance)
    req = None
    if sqli is not None:
        req = (
            sqli.lazy()
            .select(pl.col("ts").alias("req_ts"), pl.col("source").alias("req_source"), pl.col("line_no").alias("req_line_no"),
                    "client_ip", "target_raw")
            .sort("req_ts")
            .collect()
        )
        if near_requests_only:
            if req.is_empty():
                q = q.head(0)
            else:
                near = req.select("req_ts")
                # only the seconds within reach are read from the log (a filter its scan applies
                # as it reads); the exact nearest-request test then runs on those statements
                q = q.filter(near_expr(pl.col("ts"), near["req_ts"], tol))
                q = (
                    q.sort("ts")
                    .join_asof(near.lazy(), left_on="ts", right_on="req_ts", strategy="nearest",
                               tolerance=f"{tol}s", check_sortedness=False)
                    .filter(pl.col("req_ts").is_not_null())
                    .drop("req_ts")
                )
    q = q.with_columns(payload=normalise_expr(pl.col("argument"), rounds=0))
    rules = tuple(r for r in SQLI_RULES if r.id not in QUERY_LOG_EXCLUDED_RULES)
    tables, columns = _targets(pl.col("payload"))
    base = ["ts", "source", "line_no", "conn_id", "statement", "techniques", "rule_ids", "tables", "columns"]
    out = (
        _with_rule_hits(q, "payload", rules)
        .filter(pl.col("rule_ids").list.len() > 0)
        .with_columns(tables=tables, columns=columns, _text=statement_text_expr(mask_pans_expr(pl.col("argument"))),
                      statement=mask_pans_expr(pl.col("argument").str.slice(0, STATEMENT_CHARS)))
        .select(*base, "_text")
        .sort("ts", "source", "line_no")
        .collect()
    )
    if req is None:
        return out.drop("_text").cast({k: QUERY_REACH[k] for k in base})
    return _tie_by_text(out, req, tol).select(list(QUERY_REACH.names())).cast(dict(QUERY_REACH))


def _tie_by_text(stmts: pl.DataFrame, req: pl.DataFrame, tol: int) -> pl.DataFrame:
    """``stmts`` (with ``_text``) with the request each carries the text of (see
    :func:`sqli_query_reach`): a join on the seconds of the time window, then a containment test
    of each candidate's values, all as expressions."""
    salient = r"[\s'\"(),;]"
    values = (
        req.lazy()
        .with_columns(_val=_param_values(pl.col("target_raw")), _sec=pl.col("req_ts").dt.truncate("1s"))
        .explode("_val")
        .filter((pl.col("_val").str.len_chars() >= MIN_TIE_CHARS) & pl.col("_val").str.contains(salient))
        .with_columns(_part=pl.col("_val").str.extract(r"([\s'\"(),;].*)$", 1).str.strip_chars())
        .select("req_ts", "req_source", "req_line_no", "client_ip", "_sec", "_val", "_part")
    )
    keyed = stmts.with_row_index("_stmt")
    windows = keyed.lazy().select(
        "_stmt", "ts", "_text",
        _sec=pl.datetime_ranges(pl.col("ts").dt.truncate("1s") - pl.duration(seconds=tol),
                                pl.col("ts").dt.truncate("1s") + pl.duration(seconds=tol), interval="1s"),
    ).explode("_sec")
    whole = pl.col("_text").str.contains(pl.col("_val"), literal=True)
    part = (pl.col("_part").str.len_chars() >= MIN_PART_CHARS) & pl.col("_text").str.contains(pl.col("_part"), literal=True)
    pairs = (
        windows.join(values, on="_sec", how="inner")
        .with_columns(
            _exact=whole,
            _len=pl.when(whole).then(pl.col("_val").str.len_chars())
            .when(part.fill_null(False)).then(pl.col("_part").str.len_chars()).otherwise(None),
        )
        .filter(pl.col("_len").is_not_null())
        # a request's best value for the statement
        .group_by("_stmt", "req_source", "req_line_no")
        .agg(pl.col("client_ip").first(), pl.col("req_ts").first(), pl.col("ts").first(),
             _exact=pl.col("_exact").max(), _len=pl.col("_len").max())
        .with_columns(_gap=(pl.col("ts") - pl.col("req_ts")).abs().dt.total_seconds(),
                      candidates=pl.len().over("_stmt").cast(pl.Int64))
        .sort("_stmt", "_exact", "_len", "_gap", "req_source", "req_line_no",
              descending=[False, True, True, False, False, False])
    )
    # the best requests of each statement: equal in kind, length and time distance
    best = pairs.filter(
        pl.struct("_exact", "_len", "_gap") == pl.struct("_exact", "_len", "_gap").first().over("_stmt")
    ).group_by("_stmt").agg(
        pl.col("req_source").first(), pl.col("req_line_no").first(), pl.col("client_ip").first(),
        pl.col("_gap").first(), pl.col("candidates").first(),
        _equal=pl.len(), _ips=pl.col("client_ip").n_unique(),
    ).join(
        # candidates whose text is as good as the best one's: more than one, and time decided
        pairs.filter(pl.struct("_exact", "_len") == pl.struct("_exact", "_len").first().over("_stmt"))
        .group_by("_stmt").agg(_same_text=pl.len()),
        on="_stmt",
    )
    found = "injected text found in the statement, " + pl.when(pl.col("_gap") == 0).then(pl.lit("same second")).otherwise(
        pl.col("_gap").cast(pl.String) + " s apart")
    tie = (
        pl.when(pl.col("_ips") > 1)
        .then(pl.format("not tied: the payloads of {} requests from {} IPs are in it, none better",
                        pl.col("_equal"), pl.col("_ips")))
        .when(pl.col("_equal") > 1)
        .then(pl.format("{}, first of {} equal candidates", found, pl.col("_equal")))
        .when(pl.col("_same_text") > 1)
        .then(pl.format("{}, nearest of {} candidates", found, pl.col("candidates")))
        .when(pl.col("candidates") > 1)
        .then(pl.format("{}, longest match of {} candidates", found, pl.col("candidates")))
        .otherwise(found)
    )
    decided = best.lazy().with_columns(tie=tie).with_columns(
        [pl.when(pl.col("_ips") > 1).then(None).otherwise(pl.col(c)).alias(c)
         for c in ("req_source", "req_line_no", "client_ip")]
    ).select("_stmt", "req_source", "req_line_no", "client_ip", "tie", "candidates")
    return (
        keyed.lazy().join(decided, on="_stmt", how="left")
        .with_columns(tie=pl.col("tie").fill_null(pl.lit(NOT_TIED)), candidates=pl.col("candidates").fill_null(0))
        .sort("_stmt").drop("_stmt", "_text")
        .collect()
    )


def sqli_reach_summary(sqli: pl.LazyFrame | pl.DataFrame, reach: pl.DataFrame | None = None) -> pl.DataFrame:
    """What the injection reached, per table: ``table, columns, via`` ("payload"/"query_log"),
    ``requests`` (SQLi requests naming it), ``statements`` (query-log statements touching it),
    ``first_ts, last_ts``.

    ``reach`` is :func:`sqli_query_reach`; tables named by payloads (``FROM x``, ``table_name=``)
    and tables of executed statements carrying injected text are both reported.
    """
    s = sqli.lazy().collect()
    parts = []
    if not s.is_empty():
        parts.append(
            s.select("ts", "tables", "columns").explode("tables").drop_nulls("tables")
            .group_by(pl.col("tables").alias("table"))
            .agg(
                columns=pl.col("columns").list.explode(keep_nulls=False, empty_as_null=False).drop_nulls().unique().sort(),
                requests=pl.len().cast(pl.Int64), statements=pl.lit(0, pl.Int64),
                first_ts=pl.col("ts").min(), last_ts=pl.col("ts").max(), via=pl.lit("payload"),
            )
        )
    if reach is not None and not reach.is_empty():
        parts.append(
            reach.select("ts", "tables", "columns").explode("tables").drop_nulls("tables")
            .group_by(pl.col("tables").alias("table"))
            .agg(
                columns=pl.col("columns").list.explode(keep_nulls=False, empty_as_null=False).drop_nulls().unique().sort(),
                requests=pl.lit(0, pl.Int64), statements=pl.len().cast(pl.Int64),
                first_ts=pl.col("ts").min(), last_ts=pl.col("ts").max(), via=pl.lit("query_log"),
            )
        )
    schema = {"table": pl.String, "columns": pl.List(pl.String), "via": pl.List(pl.String), "requests": pl.Int64,
              "statements": pl.Int64, "first_ts": pl.Datetime("us", "UTC"), "last_ts": pl.Datetime("us", "UTC")}
    if not parts:
        return pl.DataFrame(schema=schema)
    return (
        pl.concat(parts, how="vertical_relaxed")
        .group_by("table")
        .agg(
            columns=pl.col("columns").list.explode(keep_nulls=False, empty_as_null=False).drop_nulls().unique().sort(),
            via=pl.col("via").unique().sort(),
            requests=pl.col("requests").sum(), statements=pl.col("statements").sum(),
            first_ts=pl.col("first_ts").min(), last_ts=pl.col("last_ts").max(),
        )
        .select(list(schema))
        .sort("table")
    )


def _main(argv: list[str] | None = None) -> int:  # pragma: no cover - measurement helper
    """Measure recall and false positives on a case with truth.json (prints figures, no numbers of cards)."""
    import json
    import sys
    from pathlib import Path

    from forensics.case import open_case

    args = argv if argv is not None else sys.argv[1:]
    case = open_case(args[0])
    truth = json.loads((Path(case.root) / "truth.json").read_text(encoding="utf-8"))
    truth_lines = {(r["source"], int(r["line_no"])) for r in truth["sqli"]["requests"]}
    flagged = detect_sqli(case.access_log()).select("source", "line_no").collect()
    got = {(s, n) for s, n in flagged.iter_rows()}
    tp = len(got & truth_lines)
    print(f"requests flagged: {len(got)}; truth attack requests: {len(truth_lines)}")
    print(f"true positives: {tp}; recall: {tp / max(len(truth_lines), 1):.4f}; false positives: {len(got - truth_lines)}; missed: {len(truth_lines - got)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())
