"""open_case: case.yml validation (the case file), globs, lazy tables, accounting."""

from __future__ import annotations

import datetime as dt
import textwrap

import polars as pl
import pytest

from forensics import schemas
from forensics.case import CaseError, CaseWarning, open_case

UTC = dt.timezone.utc
GOOD = """\
id: test-case
title: テスト
timezone: Asia/Tokyo
site:
  profile: eccube2
  admin_dir: manage
evidence:
  access_logs: [logs/httpd/access_log*]
  app_logs: [logs/eccube/*.log*]
  query_logs: [logs/mysql/general.log*]
  fs_timeline: fs/bodyfile.txt
  server_files: server/
  db: {encoding: utf-8, dir: db/}
facts:
  containment: 2017-04-10T13:00:00+09:00
  internal_ips: [198.51.100.10, 10.0.0.0/8]
  test_markers:
    customer_ids: [1]
    emails: ["*@Toyoshoji.example"]
    card_numbers: ["4111111111111111"]
  card_payment_ids: [5]
  clock_skew: {access_logs: 30}
"""


@pytest.fixture
def case_dir(tmp_path):
    (tmp_path / "logs/httpd").mkdir(parents=True)
    (tmp_path / "logs/httpd/access_log").write_text(
        '203.0.113.9 - - [31/Mar/2017:23:28:31 +0900] "GET / HTTP/1.1" 200 5 "-" "ua"\nbad line\n')
    (tmp_path / "logs/eccube").mkdir(parents=True)
    (tmp_path / "logs/eccube/admin.log").write_text("2017/03/31 23:28:10 [/admin/index.php] x from 1.2.3.4\n")
    (tmp_path / "logs/mysql").mkdir(parents=True)
    (tmp_path / "logs/mysql/general.log").write_text("170331 23:31:02\t   12 Query\tSELECT 1\n")
    (tmp_path / "fs").mkdir()
    (tmp_path / "fs/bodyfile.txt").write_text("0|/a|1|r/r|0|0|1|0|1490970660|0|0\n")
    (tmp_path / "server/html").mkdir(parents=True)
    (tmp_path / "server/html/x.php").write_text("<?php ")
    (tmp_path / "db").mkdir()
    (tmp_path / "db/dtb_customer.csv").write_text("customer_id,create_date\n1,2017-04-01 09:00:00\n")
    (tmp_path / "case.yml").write_text(GOOD)
    return tmp_path


def test_open_good_case(case_dir):
    case = open_case(case_dir / "case.yml")
    assert (case.id, case.title, case.timezone, case.profile, case.admin_dir) == ("test-case", "テスト", "Asia/Tokyo", "eccube2", "/manage/")
    assert case.root == case_dir
    assert case.facts.containment == dt.datetime(2017, 4, 10, 4, 0, tzinfo=UTC)
    assert case.facts.internal_ips == ["198.51.100.10", "10.0.0.0/8"]
    assert case.facts.test_markers.customer_ids == [1]
    assert case.facts.test_markers.emails == ["*@toyoshoji.example"]
    assert case.facts.card_payment_ids == [5] and case.facts.clock_skew == {"access_logs": 30.0}
    assert case.available == {"access_logs", "app_logs", "query_logs", "fs_timeline", "server_files", "db"}
    assert case.server_root == case_dir / "server"
    assert case.evidence["db"] == [case_dir / "db/dtb_customer.csv"]


def test_tables_lazy_and_typed(case_dir):
    case = open_case(case_dir)
    for method, schema in [("access_log", schemas.ACCESS_LOG), ("app_log", schemas.APP_LOG), ("query_log", schemas.QUERY_LOG),
                           ("fs_files", schemas.FS_FILES), ("fs_timeline", schemas.FS_TIMELINE), ("server_files", schemas.SERVER_FILES)]:
        lf = getattr(case, method)()
        assert isinstance(lf, pl.LazyFrame) and lf.collect_schema() == schema
        assert lf.collect().height >= 1, method
    # clock skew applied to the access log only
    assert case.access_log().collect()["ts"][0] == dt.datetime(2017, 3, 31, 14, 28, 1, tzinfo=UTC)
    assert case.db_table("dtb_customer").collect()["create_date"][0] == dt.datetime(2017, 4, 1, 0, 0, tzinfo=UTC)
    assert case.db_table("dtb_nothing") is None
    rejects = case.rejects().collect()
    assert rejects.schema == schemas.REJECTS and rejects["source"].to_list() == ["logs/httpd/access_log"]
    assert case.rejects("access_logs").collect().height == 1 and case.rejects("db").collect().height == 0
    counts = case.record_counts()
    row = counts.filter(pl.col("source") == "logs/httpd/access_log").row(0, named=True)
    assert (row["records"], row["rejected"]) == (1, 1)
    assert counts.filter(pl.col("evidence") == "server_files")["records"].sum() == 1
    got = case.server_file_bytes(["html/x.php"], max_bytes=2)
    assert got["content"].to_list() == [b"<?"]


def test_db_folder_takes_admin_csv_downloads_by_their_header(case_dir):
    from forensics.manifest import build_manifest

    rows = "会員ID,E-MAIL,登録日\r\n7,a@example.jp,2017-04-01 09:00:00\r\n"
    (case_dir / "db/customer_170410_130501.CSV").write_bytes(rows.encode("cp932"))
    (case_dir / "db/order_170410_130733.csv").write_bytes(
        "注文番号,会員ID,お名前(姓),注文日時\r\n1001,7,東商,2017-04-08 21:20:05\r\n".encode("cp932"))
    (case_dir / "db/notes.csv").write_text("what,when\nimaged,2017-04-11\n")  # not an export: left out
    (case_dir / "case.yml").write_text(GOOD.replace("encoding: utf-8", "encoding: auto"))
    case = open_case(case_dir / "case.yml")
    assert [p.name for p in case.evidence["db"]] == ["customer_170410_130501.CSV", "dtb_customer.csv",
                                                     "order_170410_130733.csv"]
    # the dump is dtb_customer; the download of the same table keeps its file name
    assert sorted(case.db_tables()) == ["customer_170410_130501", "dtb_customer", "dtb_order"]
    assert case.db_table("dtb_order").collect()["order_name01"].to_list() == ["東商"]
    formats = {f["path"]: f.get("format") for f in build_manifest(case)["files"]}
    assert formats["db/order_170410_130733.csv"] == "eccube_admin_csv (csv_id 3: dtb_order)"
    assert formats["db/customer_170410_130501.CSV"] == "eccube_admin_csv (csv_id 2: dtb_customer)"
    assert formats["db/dtb_customer.csv"] == "table_dump" and "db/notes.csv" not in formats
    # a declared encoding that cannot read the download: loaded, every record rejected with the reason
    (case_dir / "case.yml").write_text(GOOD)
    case = open_case(case_dir / "case.yml")
    assert len(case.evidence["db"]) == 3
    rej = case.rejects("db").collect()
    assert set(rej["source"]) == {"db/customer_170410_130501.CSV", "db/order_170410_130733.csv"}
    assert rej["reason"].str.contains("not valid utf-8").all()


def test_counting_records_drops_the_tables_it_read_and_keeps_their_rejects(case_dir, monkeypatch):
    import dataclasses

    from forensics.loaders import registry

    (case_dir / "db/order_170410_130733.csv").write_bytes(
        "注文番号,会員ID,お名前(姓),注文日時\r\n1001,7,東商,2017-04-08 21:20:05\r\n".encode("cp932"))
    reads = []
    kind = registry.EVIDENCE["db"]
    monkeypatch.setitem(registry.EVIDENCE, "db", dataclasses.replace(
        kind, read=lambda source: reads.append(1) or kind.read(source)))
    expected = open_case(case_dir / "case.yml")
    expected_rejects, expected_counts = expected.rejects("db").collect(), expected.record_counts()
    assert len(reads) == 1 and expected_rejects.height > 0  # the cp932 download under a utf-8 case

    case = open_case(case_dir / "case.yml")
    assert case.count_records().equals(expected_counts)
    assert len(reads) == 2
    # rejects and counts come from the count; the table was not kept: the next use reads it again
    assert case.rejects("db").collect().equals(expected_rejects) and case.record_counts().equals(expected_counts)
    assert len(reads) == 2
    assert case.db_table("dtb_customer").collect().height == 1 and len(reads) == 3
    # once loaded, the loaded table's own accounting is used and the table stays
    assert case.count_records().equals(expected_counts) and case.db_table("dtb_customer") is not None
    assert len(reads) == 3


def test_absent_evidence_gives_empty_frames(tmp_path):
    (tmp_path / "case.yml").write_text("id: empty\ntimezone: UTC\n")
    case = open_case(tmp_path / "case.yml")
    assert case.available == set() and case.server_root is None
    for method in ("access_log", "app_log", "query_log", "fs_files", "fs_timeline", "server_files", "rejects"):
        assert getattr(case, method)().collect().height == 0
    assert case.db_tables() == {} and case.record_counts().height == 0
    assert case.admin_dir == "/admin/" and case.facts.containment is None


def _bad(tmp_path, text):
    (tmp_path / "case.yml").write_text(textwrap.dedent(text))
    with pytest.raises(CaseError) as err:
        open_case(tmp_path / "case.yml")
    msg = str(err.value)
    assert "\n" not in msg and isinstance(err.value, ValueError)
    return msg


@pytest.mark.parametrize(
    "text, needle",
    [
        pytest.param("id: x\ntimezone: UTC\ncolour: red\n", "'colour'", id="unknown-top-key"),
        pytest.param("id: x\ntimezone: UTC\nevidence:\n  acces_logs: [a]\n", "'evidence.acces_logs'", id="unknown-evidence-key"),
        pytest.param("id: x\ntimezone: UTC\nsite:\n  profil: eccube2\n", "'site.profil'", id="unknown-site-key"),
        pytest.param("id: x\ntimezone: UTC\nfacts:\n  test_markers:\n    emails: []\n    ids: [1]\n", "'facts.test_markers.ids'", id="unknown-nested-key"),
        pytest.param("id: x\ntimezone: UTC\nevidence:\n  db: {dir: db/, charset: utf-8}\n", "'evidence.db.charset'", id="unknown-db-key"),
        pytest.param("timezone: UTC\n", "'id'", id="missing-id"),
        pytest.param("id: x\n", "'timezone'", id="missing-timezone"),
        pytest.param("id: Bad_ID\ntimezone: UTC\n", "[a-z0-9-]+", id="bad-id"),
        pytest.param("id: x\ntimezone: Asia/Tokio\n", "Asia/Tokio", id="bad-zone"),
        pytest.param("id: x\ntimezone: UTC\nfacts:\n  containment: yesterday\n", "facts.containment", id="bad-containment"),
        pytest.param("id: x\ntimezone: UTC\nfacts:\n  internal_ips: [300.1.1.1]\n", "facts.internal_ips", id="bad-ip"),
        pytest.param("id: x\ntimezone: UTC\nfacts:\n  test_markers:\n    customer_ids: [a]\n", "customer_ids", id="bad-customer-id"),
        pytest.param("id: x\ntimezone: UTC\nfacts:\n  test_markers:\n    card_numbers: ['12ab']\n", "card_numbers", id="bad-card"),
        pytest.param("id: x\ntimezone: UTC\nfacts:\n  clock_skew: {access_logs: soon}\n", "facts.clock_skew.access_logs", id="bad-skew"),
        pytest.param("id: x\ntimezone: UTC\nfacts:\n  clock_skew: {cctv: 3}\n", "'facts.clock_skew.cctv'", id="bad-skew-key"),
        pytest.param("id: x\ntimezone: UTC\nsite:\n  profile: magento\n", "site.profile", id="bad-profile"),
        pytest.param("id: x\ntimezone: UTC\nevidence:\n  fs_timeline: fs/nothere.txt\n", "fs/nothere.txt", id="missing-file"),
        pytest.param("id: x\ntimezone: UTC\nevidence:\n  server_files: srv/\n", "evidence.server_files", id="missing-folder"),
        pytest.param("id: x\ntimezone: UTC\nevidence:\n  db: {encoding: klingon, dir: .}\n", "evidence.db.encoding", id="bad-encoding"),
        pytest.param("id: x\ntimezone: UTC\nevidence: [a]\n", "'evidence' must be a mapping", id="evidence-not-mapping"),
        pytest.param("id: [x\n", "not valid YAML", id="bad-yaml"),
        pytest.param('id: "abc\\n"\ntimezone: UTC\n', "[a-z0-9-]+", id="id-with-newline"),
        pytest.param("id: x\nid: y\ntimezone: UTC\n", "'id' is given twice", id="duplicate-key"),
        pytest.param("id: x\ntimezone: UTC\nfacts:\n  internal_ips: &a [1.1.1.1]\n  test_markers: {customer_ids: *a}\n",
                     "aliases", id="alias"),
        pytest.param("id: x\ntimezone: UTC\ntitle: '" + "a" * (1 << 20) + "'\n", "at most", id="huge-file"),
        pytest.param("id: x\ntimezone: localtime\n", "'timezone'", id="localtime"),
        pytest.param("id: x\ntimezone: UTC\nfacts:\n  containment: 9999-01-01T00:00:00Z\n", "'facts.containment'", id="far-future"),
        pytest.param("id: x\ntimezone: UTC\nfacts:\n  clock_skew: {access_logs: .inf}\n", "'facts.clock_skew.access_logs'", id="skew-inf"),
        pytest.param("id: x\ntimezone: UTC\nfacts:\n  clock_skew: {access_logs: .nan}\n", "'facts.clock_skew.access_logs'", id="skew-nan"),
        pytest.param("id: x\ntimezone: UTC\nfacts:\n  clock_skew: {access_logs: 1e12}\n", "'facts.clock_skew.access_logs'", id="skew-huge"),
        pytest.param("id: x\ntimezone: UTC\nevidence:\n  db: {encoding: base64, dir: .}\n", "'evidence.db.encoding'", id="encoding-base64"),
        pytest.param("id: x\ntimezone: UTC\nevidence:\n  db: {encoding: utf-16, dir: .}\n", "'evidence.db.encoding'", id="encoding-utf16"),
    ],
)
def test_validation_errors(tmp_path, text, needle):
    assert needle in _bad(tmp_path, text)


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))
    assert "aliases" in _bad(tmp_path, "id: x\ntimezone: UTC\nfacts:\n  containment: 2017-01-01T00:00:00Z\n" + bomb)


def test_missing_case_file(tmp_path):
    with pytest.raises(CaseError, match="case file not found"):
        open_case(tmp_path / "nope.yml")


def test_empty_glob_is_a_warning(tmp_path):
    (tmp_path / "case.yml").write_text("id: x\ntimezone: UTC\nevidence:\n  access_logs: [logs/access_log*]\n")
    with pytest.warns(CaseWarning, match="evidence.access_logs"):
        case = open_case(tmp_path / "case.yml")
    assert case.available == set() and case.warnings


def test_naive_containment_in_case_zone(tmp_path):
    (tmp_path / "case.yml").write_text("id: x\ntimezone: Asia/Tokyo\nfacts:\n  containment: '2017-04-10 13:00:00'\n")
    assert open_case(tmp_path / "case.yml").facts.containment == dt.datetime(2017, 4, 10, 4, 0, tzinfo=UTC)


def _with_access_logs(case_dir, value: str, extra: str = "") -> None:
    text = GOOD.replace("  access_logs: [logs/httpd/access_log*]", f"  access_logs: {value}{extra}")
    (case_dir / "case.yml").write_text(text)


@pytest.mark.parametrize("value", ["[/etc/passwd]", "[../../../../etc/passwd]", "['/etc/sha*']",
                                   "[logs/../../outside.log]", "['logs/*/../../../outside.log']"])
def test_evidence_outside_the_case_is_refused(case_dir, value):
    (case_dir.parent / "outside.log").write_text("x\n")
    _with_access_logs(case_dir, value)
    with pytest.raises(CaseError, match=r"^case\.yml: 'evidence\.access_logs': .* lies outside the case folder"):
        open_case(case_dir / "case.yml")


def test_evidence_outside_the_case_is_read_when_the_case_allows_it_and_the_manifest_says_so(case_dir, tmp_path_factory):
    from forensics.manifest import build_manifest

    elsewhere = tmp_path_factory.mktemp("mounted")
    (elsewhere / "access_log").write_text(
        '203.0.113.9 - - [31/Mar/2017:23:28:31 +0900] "GET / HTTP/1.1" 200 5 "-" "ua"\n')
    _with_access_logs(case_dir, f"['{elsewhere}/access_log*']", "\n  allow_outside: true")
    case = open_case(case_dir / "case.yml")
    assert case.evidence["access_logs"] == [elsewhere / "access_log"]
    entries = {f["path"]: f for f in build_manifest(case)["files"]}
    assert entries[str(elsewhere / "access_log")]["outside_case"] is True
    assert entries[str(elsewhere / "access_log")]["format"] == "combined"
    assert entries[str(elsewhere / "access_log")]["records"] == 1
    assert "outside_case" not in entries["logs/eccube/admin.log"]


def test_allow_outside_must_be_a_boolean(case_dir):
    _with_access_logs(case_dir, "[logs/httpd/access_log*]", "\n  allow_outside: 'yes'")
    with pytest.raises(CaseError, match=r"^case\.yml: 'evidence\.allow_outside' must be true or false"):
        open_case(case_dir / "case.yml")


@pytest.mark.parametrize("value", ["[linked/access_log]", "['linked/access_log*']", "['**/access_log']"])
def test_a_symlinked_folder_inside_an_evidence_path_is_never_read_through(case_dir, tmp_path_factory, value):
    target = tmp_path_factory.mktemp("elsewhere")
    (target / "access_log").write_text("secret\n")
    (case_dir / "linked").symlink_to(target, target_is_directory=True)
    _with_access_logs(case_dir, value)
    with pytest.raises(CaseError, match=r"goes through the symbolic link 'linked'"):
        open_case(case_dir / "case.yml")


def test_a_symlinked_folder_above_a_server_or_db_folder_is_refused(case_dir, tmp_path_factory):
    target = tmp_path_factory.mktemp("elsewhere")
    (target / "db").mkdir()
    (target / "db/dtb_customer.csv").write_text("customer_id\n1\n")
    (case_dir / "exports").symlink_to(target, target_is_directory=True)
    (case_dir / "case.yml").write_text(GOOD.replace("dir: db/", "dir: exports/db/"))
    with pytest.raises(CaseError, match=r"'evidence\.db': 'exports/db/' goes through the symbolic link 'exports'"):
        open_case(case_dir / "case.yml")


def test_the_profile_names_the_platform_and_its_knowledge(tmp_path):
    from forensics.platforms import PLATFORMS

    (tmp_path / "case.yml").write_text("id: c\ntimezone: UTC\nsite:\n  profile: eccube2\n", encoding="utf-8")
    case = open_case(tmp_path / "case.yml")
    assert case.platform is PLATFORMS["eccube2"]
    # the shop software's own log zone, whatever the case's zone
    assert case.app_log_timezone == case.platform.app_log_timezone == "Asia/Tokyo"
    assert case.admin_dir == case.platform.default_admin_dir
