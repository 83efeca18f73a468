"""SQL injection rules on real payload shapes and benign near-misses."""

from __future__ import annotations

from urllib.parse import quote

import polars as pl
import pytest

from forensics.detectors import sqli

from .frames import access


def flag(target: str) -> pl.DataFrame:
    frame = access([{"ts": "2017-03-19 01:00:00", "client_ip": "203.0.113.5", "target": target}])
    return sqli.detect_sqli(frame).collect()


ATTACKS = [
    pytest.param("/products/detail.php?product_id=1' AND 1234=1234 AND ('abc'='abc", {"boolean"}, id="sqlmap-boundary-paren-quote"),
    pytest.param("/products/detail.php?product_id=" + quote("1) AND 5411=5411 AND (7040=7040"), {"boolean"}, id="sqlmap-boundary-paren-num"),
    pytest.param("/products/list.php?name=x%27+OR+%27a%27%3D%27a", {"boolean"}, id="classic-or-quote"),
    pytest.param("/products/detail.php?product_id=1+AND+ORD(MID((SELECT+IFNULL(CAST(login_id+AS+CHAR),0x20)+FROM+dtb_member+LIMIT+0,1),1,1))>64", {"boolean"}, id="blind-ord-mid"),
    pytest.param("/products/detail.php?product_id=1+AND+1234+BETWEEN+1233+AND+1235", {"boolean"}, id="between-tamper"),
    pytest.param("/products/detail.php?product_id=-1+UNION+ALL+SELECT+NULL,CONCAT(0x716b,login_id,0x3a,password),NULL+FROM+dtb_member--+-", {"union", "other"}, id="union-all-select"),
    pytest.param("/products/detail.php?product_id=1/**/UNION/**/SELECT/**/1,2,3", {"union"}, id="comment-spaces"),
    pytest.param("/products/detail.php?product_id=1/*!50000UNION*//*!50000SELECT*/1,2", {"union"}, id="versioned-comment"),
    pytest.param("/products/detail.php?product_id=1%2520UNION%2520SELECT%25201%252C2", {"union"}, id="double-encoded"),
    pytest.param("/products/detail.php?product_id=1%25252527%252520OR%2525201%25253D1", {"boolean"}, id="triple-encoded"),
    pytest.param("/products/detail.php?product_id=1+UnIoN(SeLeCt+1,2)", {"union"}, id="mixed-case-paren"),
    pytest.param("/products/detail.php?product_id=1%0AUNION%0ASELECT%091", {"union"}, id="newline-tab"),
    pytest.param("/products/detail.php?product_id=1+AND+SLEEP(5)", {"time"}, id="sleep"),
    pytest.param("/products/detail.php?product_id=1+AND+(SELECT+1234+FROM+(SELECT(SLEEP(5)))abc)", {"time", "boolean"}, id="sqlmap-sleep-subselect"),
    pytest.param("/products/detail.php?product_id=1+AND+BENCHMARK(5000000,MD5(0x41))", {"time"}, id="benchmark"),
    pytest.param("/x.php?id=1;WAITFOR+DELAY+'0:0:5'--", {"time"}, id="waitfor"),
    pytest.param("/x.php?id=1;SELECT+PG_SLEEP(5)--", {"time", "stacked"}, id="pg-sleep-stacked"),
    pytest.param("/products/detail.php?product_id=1+AND+EXTRACTVALUE(1,CONCAT(0x5c,(SELECT+password+FROM+dtb_member+LIMIT+1)))", {"error"}, id="extractvalue"),
    pytest.param("/products/detail.php?product_id=1+AND+UPDATEXML(1,CONCAT(0x7e,version()),1)", {"error"}, id="updatexml"),
    pytest.param("/products/detail.php?product_id=1+AND(SELECT+1+FROM(SELECT+COUNT(*),CONCAT(0x7e,(SELECT+database()),FLOOR(RAND(0)*2))x+FROM+INFORMATION_SCHEMA.PLUGINS+GROUP+BY+x)a)", {"error"}, id="floor-rand"),
    pytest.param("/products/detail.php?product_id=1+AND+EXP(~(SELECT*FROM(SELECT+USER())a))", {"error"}, id="exp-overflow"),
    pytest.param("/products/detail.php?product_id=1;DROP+TABLE+dtb_order", {"stacked"}, id="stacked-drop"),
    pytest.param("/products/detail.php?product_id=1;+INSERT+INTO+dtb_member+VALUES(1)", {"stacked"}, id="stacked-insert"),
    pytest.param("/products/detail.php?product_id=1+AND+1=2+UNION+SELECT+table_name+FROM+information_schema.tables", {"union", "other"}, id="info-schema"),
    pytest.param("/products/detail.php?product_id=CHAR(97,98)", {"other"}, id="char-func"),
    pytest.param("/x.php?f=1+UNION+SELECT+LOAD_FILE('/etc/passwd')", {"union", "other"}, id="load-file"),
    pytest.param("/x.php?f=1+INTO+OUTFILE+'/var/www/x.php'", {"other"}, id="into-outfile"),
    pytest.param("/x.php?v=@@version", {"other"}, id="at-at-version"),
    pytest.param("/admin/index.php?login_id=admin'--+", {"other"}, id="comment-terminator"),
    pytest.param("/products/list.php?orderby=1')+ORDER+BY+5--+-", {"union"}, id="order-by-probe"),
    pytest.param("/x.php?id=1&#39;+or+1=1", {"boolean"}, id="html-entity-quote"),
    pytest.param("/products/list.php?category_id=3)%22,.%27(", {"boolean"}, id="heuristic-quote-run"),
    pytest.param("/products/list.php?category_id=3(),.(", {"boolean"}, id="heuristic-no-quote"),
    pytest.param("/products/list.php?category_id=3%27", {"boolean"}, id="lone-quote"),
    pytest.param("/products/list.php?category_id=3%27AbCd%3C%27%22%3EXyZaBc", {"other"}, id="xss-heuristic"),
    pytest.param("/products/list.php?category_id=3+OR+NOT+4821%3D1932", {"boolean"}, id="or-not"),
    pytest.param("/products/list.php?category_id=3+RLIKE+(SELECT+(CASE+WHEN+(5821%3D5821)+THEN+3+ELSE+0x28+END))", {"boolean"}, id="rlike-case"),
    pytest.param("/products/list.php?category_id=3+AND+4821%3D4821%23", {"boolean"}, id="hash-comment"),
    pytest.param("/products/list.php?category_id=3%253B%2553ELECT%2520SLEEP%25285%2529%2523", {"stacked", "time"}, id="double-stacked"),
    pytest.param("/products/list.php?category_id=3/**/UnIoN/**/aLl/**/SeLeCt/**/NULL,NULL--/**/abcd", {"union"}, id="space2comment-randomcase"),
    pytest.param("/x.php?id=3+AND+7150%3D(SELECT+COUNT(*)+FROM+SYSIBM.SYSTABLES+AS+T1,SYSIBM.SYSTABLES+AS+T2)", {"time"}, id="db2-heavy-query"),
    pytest.param("/x.php?id=3+OR+8159%3DUTL_INADDR.GET_HOST_ADDRESS(CHR(113)||CHR(106)||(SELECT+1+FROM+DUAL))", {"error"}, id="oracle-utl-inaddr"),
    pytest.param("/x.php?id=3;IIF(1321%3D7837,1,1/0)", {"boolean"}, id="access-iif"),
    pytest.param("/x.php?q=pear%27)+AS+bgFm+WHERE+6190%3D6190+OR+NOT+1%3D2", {"boolean"}, id="as-alias-where"),
    pytest.param("/x.php?q=pear%27+IN+BOOLEAN+MODE)+HAVING+8855%3D9589%23", {"boolean"}, id="boolean-mode-having"),
    pytest.param("/x.php?id=3+AND+5011%3D(SELECT+COUNT(*)+FROM+GENERATE_SERIES(1,5000000))", {"time"}, id="pg-generate-series"),
    pytest.param("/x.php?id=3+AND+6213%3D(SELECT+COUNT(*)+FROM+system.numbers+WHERE+sleepEachRow(1))", {"time"}, id="clickhouse-sleepeachrow"),
    pytest.param("/x.php?id=3+AND+5173%3D(SELECT+1+FROM+RDB$DATABASE)", {"other"}, id="firebird-rdb"),
    pytest.param("/x.php?id=3+AND+1234%3D(SELECT+COUNT(*)+FROM+SYSMASTER:SYSPAGHDR)", {"boolean"}, id="informix-sysmaster"),
    pytest.param("/x.php?q=pear$$+AND+9824%3D2032", {"boolean"}, id="pg-dollar-quote"),
    pytest.param("/x.php?id=%A%-%1%%27%20%A%N%D%20%4%3%%3D%4%3", {"boolean"}, id="percentage-tamper"),
    pytest.param("/x.php?id=3--%0AAND--%0A1234%3D1234", {"boolean"}, id="space2mysqldash"),
    pytest.param("/x.php?q=%70%65%61%72%27%29%2B%4F%52%44%45%52%2B%42%59%2B%31%2D%2D", {"union"}, id="charencode-space2plus"),
    pytest.param("/x.php?id=(SELECT+CONCAT(0x71,(SELECT+(ELT(1%3D1,1))),0x71))", {"inline", "other"}, id="inline-query"),
    pytest.param("/x.php?id=3+AND+(9363)%3D9363", {"boolean"}, id="parenthesised-number"),
    pytest.param("/x.php?q=pear+AND+1762%3D1762--+abcd", {"boolean"}, id="numeric-boundary-on-a-word"),
]

BENIGN = [
    pytest.param("/products/list.php?name=O%27Reilly", id="apostrophe-name"),
    pytest.param("/products/list.php?name=O'Reilly+and+Sons", id="apostrophe-and"),
    pytest.param("/products/list.php?name=%E3%82%BB%E3%83%AC%E3%82%AF%E3%83%88", id="japanese"),
    pytest.param("/products/list.php?name=%E6%9D%B1%E5%95%86+%E3%83%9E%E3%83%BC%E3%83%88+1%3D1", id="japanese-with-1eq1"),
    pytest.param("/products/list.php?name=select+wine+set", id="select-wine-set"),
    pytest.param("/products/list.php?name=union+jack+glass", id="union-jack"),
    pytest.param("/products/list.php?orderby=order+by+phone", id="order-by-phone"),
    pytest.param("/products/list.php?name=1%3D1+sale", id="1eq1-sale"),
    pytest.param("/products/list.php?name=summer+sale+and+1%3D1+gift", id="and-1eq1-words"),
    pytest.param("/products/list.php?name=cheap;+select+wine+set", id="semicolon-select-words"),
    pytest.param("/products/list.php?name=from+japan+with+love", id="from-words"),
    pytest.param("/products/list.php?category_id=3&pageno=2&disp_number=15&orderby=date", id="listing"),
    pytest.param("/products/detail.php?product_id=12", id="detail"),
    pytest.param("/user_data/packages/default/img/top/banner_0x1234.png", id="hex-looking-file"),
    pytest.param("/products/list.php?name=50%25+off", id="percent-literal"),
    pytest.param("/products/list.php?name=Rock+%27n%27+Roll", id="quoted-word"),
    pytest.param("/contact/index.php?q=char+(dog)+sleep+bag", id="char-sleep-words"),
    pytest.param("/shopping/load_payment_module.php", id="card-entry"),
    pytest.param("/products/list.php?name=Rock%27n%27Roll", id="rock-n-roll"),
    pytest.param("/products/list.php?name=drop+shipping", id="drop-shipping"),
    pytest.param("/products/list.php?name=buy+2+get+1%3D1+free", id="buy-2-get-1eq1"),
    pytest.param("/products/list.php?name=gift+--+box", id="double-dash-words"),
    pytest.param("/products/list.php?name=%E6%97%A5%E6%9C%AC%E9%85%92+--+%E8%BE%9B%E5%8F%A3", id="japanese-double-dash"),
    pytest.param("/products/list.php?name=select+1", id="select-1"),
    pytest.param("/products/list.php?name=Chef%27s+choice", id="chefs-choice"),
    pytest.param("/products/list.php?name=d%27Arenberg", id="d-arenberg"),
    pytest.param("/products/list.php?name=where+to+buy", id="where-to-buy"),
    pytest.param("/products/list.php?name=and%2For+%E7%84%BC%E9%85%8E", id="and-or-japanese"),
    pytest.param("/products/list.php?name=wow...+great", id="ellipsis"),
    pytest.param("/products/list.php?name=%22gift+set%22", id="double-quoted-phrase"),
    pytest.param("/products/list.php?name=size+5%27+10%22+tall", id="feet-inches"),
    pytest.param('/sharedfiles/filedetails/"http://example.com/id/x/images/?appid=440"', id="quoted-url-in-path"),
    pytest.param("/wiki/Mercury_(planet)?action=edit&section=2", id="wiki-parenthesis"),
    pytest.param("/search?q=salt+and+pepper+(coarse)", id="and-parenthesis-words"),
    pytest.param("/products/list.php?name=rock+%27n%27+roll+and+blues", id="quoted-n-and"),
    pytest.param("/products/list.php?name=top+10+or+more", id="number-or-words"),
    pytest.param("/products/list.php?name=where+is+my+order", id="where-words"),
    pytest.param("/products/list.php?name=c%2B%2B+primer", id="encoded-plus"),
    pytest.param("/products/list.php?name=100%25+cotton", id="percent-cotton"),
    pytest.param("/products/list.php?q=3+oranges(large)", id="number-then-word-starting-with-or"),
    pytest.param("/products/list.php?q=galaxy+s3+android(4.4)", id="number-then-word-starting-with-and"),
    pytest.param("/products/list.php?q=in+case+when+it+rains", id="in-case-when"),
    pytest.param("/products/list.php?q=gift+(select+3+colours)", id="select-in-parentheses"),
    pytest.param("/products/list.php?q=(select+red,+blue)", id="select-list-of-words"),
    pytest.param("/products/list.php?q=upgrade+from+dual+core", id="from-dual-core"),
    pytest.param("/products/list.php?q=contact;+call+us", id="semicolon-call-us"),
    pytest.param("/products/list.php?q=ready;+begin+now", id="semicolon-begin"),
    pytest.param("/products/list.php?q=wine;+select+2+bottles", id="semicolon-select-number-words"),
    pytest.param("/products/list.php?q=convert(pdf)+select+pages", id="convert-then-select-words"),
    pytest.param("/products/sleep(bag)", id="sleep-call-of-a-word"),
]


@pytest.mark.parametrize("target,techniques", ATTACKS)
def test_attack_flagged(target, techniques):
    out = flag(target)
    assert out.height == 1, target
    assert techniques <= set(out["techniques"][0]), out["rule_ids"][0]


@pytest.mark.parametrize("target", BENIGN)
def test_benign_not_flagged(target):
    out = flag(target)
    assert out.height == 0, out["rule_ids"].to_list()


TOKEN_CLASSES = [
    pytest.param("BREAK", ["'", '"', ")", "`", "$$", "3", "null"], ["a", "-", "("], id="break"),
    pytest.param("LOGIC", ["and", "or", "xor", "&&", "||"], ["andy", "sand", "order", "orange"], id="logic"),
    pytest.param("CMP", ["=", "<>", "!=", "<", ">=", "like", "rlike", "between", "not between", "in (", "is null", "is not null"],
                 ["likely", "is", "inside"], id="comparison"),
    pytest.param("FUNC", ["sleep(", "utl_inaddr.get_host_address(", "sysmaster:x(", "rdb$get_context("], ["sleep (", "(", "1x("], id="function-call"),
    pytest.param("OPERAND", ["1234", "-1", "'abc'", "(select", "iif(", "null", "case", "t1.col", "[1,2,3][2]", "(9363)"],
                 ["abc", "-"], id="operand"),
]


@pytest.mark.parametrize("name,matches,misses", TOKEN_CLASSES)
def test_token_classes(name, matches, misses):
    rx = "^" + getattr(sqli, name) + "$"
    got = pl.Series(matches + misses).str.contains(rx).to_list()
    assert got == [True] * len(matches) + [False] * len(misses), dict(zip(matches + misses, got))


def test_generic_rules_name_a_technique_only_alone():
    # AND SLEEP(5) is a logical operator and a function call (generic) and a delay (specific)
    out = flag("/p.php?id=1+AND+SLEEP(5)")
    assert {"logic-function", "time-sleep"} <= set(out["rule_ids"][0].to_list())
    assert out["techniques"][0].to_list() == ["time"]
    out = flag("/p.php?id=1+AND+IIF(1%3D2,1,1/0)")
    assert out["techniques"][0].to_list() == ["boolean"]


def test_rules_are_records_with_known_scopes():
    assert {r.id for r in sqli.SQLI_RULES if not r.query_log} <= sqli.QUERY_LOG_EXCLUDED_RULES
    assert all(r.id in {x.id for x in sqli.SQLI_RULES} for r in sqli.SQLI_RULES if r.generic)


def test_normalise_decodes_and_strips():
    frame = pl.DataFrame({"t": ["/a?x=1%252F%252A%252A%252FUNION/*!50000SeLeCt*/+1"]})
    got = frame.select(sqli.normalise_expr(pl.col("t")))["t"][0]
    assert got == "/a?x=1 union select 1"


@pytest.mark.parametrize(
    "raw,want",
    [
        pytest.param("/a?x=1--%0AAND--%0A2%3D2", "/a?x=1 and 2=2", id="dash-comment-ends-at-line-break"),
        pytest.param("/a?x=1%23abc%0AAND%23def%0A2", "/a?x=1 and 2", id="hash-comment-ends-at-line-break"),
        pytest.param("/a?x=%S%E%L%E%C%T%20%%27", "/a?x=select '", id="lone-percent-signs"),
        pytest.param("/a?x=%E3%82%BB+50%25+off", "/a?x=%e3%82%bb 50 off", id="non-ascii-escapes-kept"),
        pytest.param("/a?x=1%2BOR%2B2", "/a?x=1 or 2", id="encoded-plus"),
        pytest.param("/a?x=gift+--+box", "/a?x=gift -- box", id="dashes-without-line-break"),
    ],
)
def test_normalise_tamper_forms(raw, want):
    got = pl.DataFrame({"t": [raw]}).select(sqli.normalise_expr(pl.col("t")))["t"][0]
    assert got == want


def test_targets_tables_and_columns():
    out = flag(
        "/products/detail.php?product_id=-1+UNION+ALL+SELECT+NULL,CONCAT(0x716b,IFNULL(CAST(login_id+AS+CHAR),0x20),0x3a,password),NULL+FROM+eccube.dtb_member--+-"
    )
    assert out["tables"][0].to_list() == ["dtb_member"]
    assert {"login_id", "password"} <= set(out["columns"][0].to_list())
    out = flag("/x.php?id=1+UNION+SELECT+column_name+FROM+information_schema.columns+WHERE+table_name=0x6474625f6d656d626572")
    assert set(out["tables"][0].to_list()) == {"information_schema.columns", "dtb_member"}


def test_output_columns_and_provenance():
    frame = access(
        [
            {"ts": "2017-03-19 01:00:00", "client_ip": "203.0.113.5", "target": "/p.php?id=1+AND+SLEEP(5)", "line_no": 7, "status": 200},
            {"ts": "2017-03-19 01:00:01", "client_ip": "198.51.100.20", "target": "/p.php?id=2", "line_no": 8},
        ]
    )
    out = sqli.detect_sqli(frame).collect()
    assert out.columns == [
        "ts", "source", "line_no", "client_ip", "method", "target_raw", "path", "status", "bytes",
        "user_agent", "payload", "techniques", "rule_ids", "tables", "columns",
    ]
    assert out["line_no"].to_list() == [7]


def test_by_ip_summary():
    frame = access(
        [
            {"ts": "2017-03-19 01:00:00", "client_ip": "203.0.113.5", "target": "/p.php?id=1+AND+SLEEP(5)", "status": 200, "bytes": 10},
            {"ts": "2017-03-20 02:00:00", "client_ip": "203.0.113.5", "target": "/p.php?id=1+UNION+SELECT+1", "status": 500, "bytes": 30},
            {"ts": "2017-03-21 02:00:00", "client_ip": "203.0.113.9", "target": "/p.php?id=1'+OR+'1'='1", "status": 200, "bytes": 5},
        ]
    )
    summary = sqli.sqli_by_ip(sqli.detect_sqli(frame))
    row = summary.filter(pl.col("ip") == "203.0.113.5").row(0, named=True)
    assert row["requests"] == 2
    assert row["techniques"] == ["time", "union"]
    assert row["statuses"] == [200, 500]
    assert (row["bytes_min"], row["bytes_max"]) == (10, 30)
    assert summary["ip"].to_list() == ["203.0.113.5", "203.0.113.9"]


def test_rule_ids_unique_and_commented():
    ids = [r.id for r in sqli.SQLI_RULES]
    assert len(ids) == len(set(ids))
    assert all(r.technique in {"boolean", "union", "time", "error", "stacked", "inline", "other"} and r.description for r in sqli.SQLI_RULES)


def test_query_log_reach():
    from .frames import query_log

    q = query_log(
        [
            {"ts": "2017-03-19 01:00:00", "argument": "SELECT * FROM dtb_products WHERE product_id = 1"},
            {"ts": "2017-03-19 01:00:01", "argument": "SELECT * FROM dtb_products WHERE product_id = -1 UNION ALL SELECT login_id,password FROM dtb_member"},
        ]
    )
    reqs = access([{"ts": "2017-03-19 01:00:01", "client_ip": "203.0.113.5", "target": "/p.php?product_id=-1+UNION+ALL+SELECT+login_id,password+FROM+dtb_member", "line_no": 42}])
    out = sqli.sqli_query_reach(q, sqli.detect_sqli(reqs))
    assert out.height == 1
    assert set(out["tables"][0].to_list()) == {"dtb_products", "dtb_member"}
    assert {"login_id", "password"} <= set(out["columns"][0].to_list())
    assert out["req_line_no"].to_list() == [42]
    assert out["client_ip"].to_list() == ["203.0.113.5"]
    assert out["tie"].to_list() == ["injected text found in the statement, same second"]


LIST_SQL = "SELECT COUNT(*) FROM dtb_products WHERE category_id = "


def reach_of(statements: list[tuple[str, str]], requests: list[tuple[str, str, str]]) -> pl.DataFrame:
    """:func:`sqli.sqli_query_reach` of query-log ``(ts, statement)`` and flagged requests
    ``(ts, client_ip, target)`` (line numbers 1, 2, ... in that order)."""
    from .frames import query_log

    q = query_log([{"ts": t, "argument": a} for t, a in statements])
    reqs = access([{"ts": t, "client_ip": ip, "target": target} for t, ip, target in requests])
    flagged = sqli.detect_sqli(reqs).collect()
    assert flagged.height == len(requests)
    return sqli.sqli_query_reach(q, flagged)


def test_statements_within_the_tolerance_either_side_are_examined_and_none_beyond():
    payload = "/products/list.php?category_id=3+AND+SLEEP(5)"
    out = reach_of(
        [(t, LIST_SQL + "3 AND SLEEP(5)") for t in
         ("2017-03-19 00:59:54", "2017-03-19 00:59:55", "2017-03-19 01:00:05", "2017-03-19 01:00:06")],
        [("2017-03-19 01:00:00", "203.0.113.5", payload)],
    )
    assert out["ts"].dt.second().to_list() == [55, 5]  # 5 s before and after; 6 s is beyond reach
    assert out["tie"].to_list() == ["injected text found in the statement, 5 s apart"] * 2


def test_two_requests_in_one_second_each_statement_goes_to_the_request_whose_text_it_carries():
    # the nearest-in-time rule gave both statements to one request: they are all in the same second
    out = reach_of(
        [("2017-03-19 01:00:01", LIST_SQL + "3 AND 7150=7150 UNION ALL SELECT login_id,password FROM dtb_member"),
         ("2017-03-19 01:00:01", LIST_SQL + "3 AND SLEEP(5)")],
        [("2017-03-19 01:00:01", "203.0.113.5", "/products/list.php?category_id=3+AND+SLEEP(5)"),
         ("2017-03-19 01:00:01", "198.51.100.7",
          "/products/list.php?category_id=3%20AND%207150%3D7150%20UNION%20ALL%20SELECT%20login_id,password%20FROM%20dtb_member")],
    )
    assert out["req_line_no"].to_list() == [2, 1]
    assert out["client_ip"].to_list() == ["198.51.100.7", "203.0.113.5"]
    assert out["tie"].to_list() == ["injected text found in the statement, same second"] * 2
    assert out["candidates"].to_list() == [1, 1]
    from forensics.detectors.sql_errors import sqli_database_side

    side = sqli_database_side(sqli.detect_sqli(access([
        {"ts": "2017-03-19 01:00:01", "client_ip": "203.0.113.5", "target": "/products/list.php?category_id=3+AND+SLEEP(5)"},
    ])).collect(), out, None)
    # the per-IP proof counts the statements its own requests caused, and says how they were tied
    assert side.select("ip", "statements").rows() == [("198.51.100.7", 1), ("203.0.113.5", 1)]
    assert side["how_tied"].to_list()[1] == ["query log: injected text found in the statement, same second (1)"]


def test_statement_without_any_requests_payload_is_not_tied_to_the_request_next_to_it():
    out = reach_of(
        [("2017-03-19 01:00:01", LIST_SQL + "5 UNION ALL SELECT name,email FROM dtb_customer")],
        [("2017-03-19 01:00:01", "203.0.113.5", "/products/list.php?category_id=3+AND+SLEEP(5)")],
    )
    row = out.row(0, named=True)
    assert row["req_line_no"] is None and row["client_ip"] is None
    assert row["tie"] == sqli.NOT_TIED and row["candidates"] == 0
    # and the per-IP proof counts no statement for that IP
    from forensics.detectors.sql_errors import sqli_database_side

    side = sqli_database_side(sqli.detect_sqli(access([{"ts": "2017-03-19 01:00:01", "client_ip": "203.0.113.5",
                                                         "target": "/products/list.php?category_id=3+AND+SLEEP(5)"}])).collect(),
                              out, None)
    assert side.select("requests", "reached_db", "statements").row(0) == (1, 0, 0)


def test_text_ties_through_the_applications_quoting_and_case():
    # EC-CUBE quotes a string value: ' doubled (or backslash-escaped); MySQL keywords in any case
    out = reach_of(
        [("2017-03-19 01:00:02", "SELECT * FROM dtb_products WHERE name LIKE '%pear'' UNION SELECT login_id,password FROM dtb_member-- %'"),
         ("2017-03-19 01:00:02", "SELECT * FROM dtb_products WHERE name LIKE '%PEAR\\' union select LOGIN_ID,password from dtb_member-- %'")],
        [("2017-03-19 01:00:02", "203.0.113.5", "/products/list.php?name=pear%27+union+select+login_id,password+from+dtb_member--+")],
    )
    assert out["req_line_no"].to_list() == [1, 1]
    assert out["tie"].to_list() == ["injected text found in the statement, same second"] * 2


def test_several_requests_carry_the_text_the_longest_match_then_the_nearest_wins():
    statement = LIST_SQL + "3 AND 1=1 UNION ALL SELECT NULL,NULL-- -"
    out = reach_of(
        [("2017-03-19 01:00:02", statement)],
        [("2017-03-19 01:00:00", "203.0.113.5", "/products/list.php?category_id=3+AND+1%3D1+UNION+ALL+SELECT+NULL,NULL--+-"),
         ("2017-03-19 01:00:02", "203.0.113.5", "/products/list.php?category_id=3+AND+1%3D1")],
    )
    row = out.row(0, named=True)
    assert (row["req_line_no"], row["candidates"]) == (1, 2)
    assert row["tie"] == "injected text found in the statement, 2 s apart, longest match of 2 candidates"
    out = reach_of(
        [("2017-03-19 01:00:02", statement)],
        [("2017-03-19 01:00:00", "203.0.113.5", "/products/list.php?category_id=3+AND+1%3D1+UNION+ALL+SELECT+NULL,NULL--+-"),
         ("2017-03-19 01:00:02", "203.0.113.5", "/products/list.php?category_id=3+AND+1%3D1+UNION+ALL+SELECT+NULL,NULL--+-")],
    )
    row = out.row(0, named=True)
    assert row["req_line_no"] == 2
    assert row["tie"] == "injected text found in the statement, same second, nearest of 2 candidates"


def test_equal_payloads_from_two_ips_in_one_second_tie_to_neither():
    target = "/products/list.php?category_id=3+AND+SLEEP(5)"
    out = reach_of(
        [("2017-03-19 01:00:01", LIST_SQL + "3 AND SLEEP(5)")],
        [("2017-03-19 01:00:01", "203.0.113.5", target), ("2017-03-19 01:00:01", "198.51.100.7", target)],
    )
    row = out.row(0, named=True)
    assert row["client_ip"] is None and row["candidates"] == 2
    assert row["tie"] == "not tied: the payloads of 2 requests from 2 IPs are in it, none better"


def test_equal_payloads_from_one_ip_tie_to_the_first_and_say_so():
    target = "/products/list.php?category_id=3+AND+SLEEP(5)"
    out = reach_of(
        [("2017-03-19 01:00:01", LIST_SQL + "3 AND SLEEP(5)")],
        [("2017-03-19 01:00:01", "203.0.113.5", target), ("2017-03-19 01:00:01", "203.0.113.5", target)],
    )
    row = out.row(0, named=True)
    assert (row["client_ip"], row["req_line_no"], row["candidates"]) == ("203.0.113.5", 1, 2)
    assert row["tie"] == "injected text found in the statement, same second, first of 2 equal candidates"


def test_statement_outside_the_time_window_is_not_examined():
    out = reach_of(
        [("2017-03-19 01:00:30", LIST_SQL + "3 AND SLEEP(5)")],
        [("2017-03-19 01:00:01", "203.0.113.5", "/products/list.php?category_id=3+AND+SLEEP(5)")],
    )
    assert out.is_empty() and out.columns == list(sqli.QUERY_REACH.names())


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_TOKENS = ["1", "3", "a", "=", "&", "'", '"', "(", ")", ",", ".", ";", "#", "-", "+", " ", "%20", "%27", "%2527", "%0a",
           "/**/", "/*!50000", "*/", "and", "or", "union", "select", "sleep", "from", "0x41424344", "@@version", "<", ">",
           "information_schema", "char", "order", "by", "not", "x", "id", "?"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=14))
def test_prefilter_never_hides_a_match(tokens):
    text = "/p.php?id=" + "".join(tokens)
    frame = pl.DataFrame({"t": [text]})
    hit = sqli._with_rule_hits(frame.lazy().with_columns(payload=sqli.normalise_expr(pl.col("t")))).collect()["rule_ids"][0]
    if len(hit):
        assert any(p.lower() in text.lower() for p in sqli.PREFILTER), (text, hit.to_list())


def test_reach_summary():
    from .frames import query_log

    reqs = access(
        [
            {"ts": "2017-03-19 01:00:01", "client_ip": "203.0.113.5", "target": "/p.php?id=-1+UNION+ALL+SELECT+login_id,password+FROM+dtb_member"},
            {"ts": "2017-03-19 01:00:02", "client_ip": "203.0.113.5", "target": "/p.php?id=1+AND+SLEEP(5)"},
        ]
    )
    q = query_log([{"ts": "2017-03-19 01:00:01", "argument": "SELECT * FROM dtb_products WHERE product_id = -1 UNION ALL SELECT login_id,password FROM dtb_member"}])
    s = sqli.detect_sqli(reqs)
    out = sqli.sqli_reach_summary(s, sqli.sqli_query_reach(q, s))
    member = out.filter(pl.col("table") == "dtb_member").row(0, named=True)
    assert member["via"] == ["payload", "query_log"]
    assert (member["requests"], member["statements"]) == (1, 1)
    assert {"login_id", "password"} <= set(member["columns"])
    assert "dtb_products" in out["table"].to_list()


def test_targets_skip_derived_tables_and_string_literals():
    out = flag("/p.php?id=1+AND+(SELECT+1+FROM+(SELECT(SLEEP(5)))abc)+UNION+ALL+SELECT+NULL,'<script>alert(\"XSS\")</script>',table_name+FROM+information_schema.tables")
    assert out["tables"][0].to_list() == ["information_schema.tables"]
    assert "alert" not in out["columns"][0].to_list() and "xss" not in out["columns"][0].to_list()


def test_query_log_ordinary_statements_not_flagged():
    from .frames import query_log

    q = query_log(
        [
            {"ts": "2017-03-19 01:00:00", "argument": "INSERT INTO dtb_session (sess_id, sess_data, create_date) VALUES ('abc', '', NOW())"},
            {"ts": "2017-03-19 01:00:00", "argument": "UPDATE dtb_session SET sess_data = '', update_date = NOW() WHERE sess_id = 'x'"},
            {"ts": "2017-03-19 01:00:00", "argument": "SELECT * FROM dtb_order WHERE del_flg = 0 AND status = 1 ORDER BY update_date DESC LIMIT 10"},
            {"ts": "2017-03-19 01:00:00", "argument": "SELECT column_name FROM information_schema.columns WHERE table_name = 'dtb_order'"},
        ]
    )
    assert sqli.sqli_query_reach(q).is_empty()


def test_reach_statement_shows_no_card_number():
    out = reach_of(
        [("2017-03-19 01:00:01", LIST_SQL + "3 UNION ALL SELECT 4111111111111111,NULL FROM dtb_order")],
        [("2017-03-19 01:00:01", "203.0.113.5", "/products/list.php?category_id=3+UNION+ALL+SELECT+4111111111111111,NULL+FROM+dtb_order")],
    )
    assert out["req_line_no"].to_list() == [1]
    assert "4111111111111111" not in out["statement"][0]
