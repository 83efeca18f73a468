"""Clock and zone traps: daylight saving, a clock that ran fast, mixed offsets across rotations.

One instant, 2017-11-05 05:30:00 UTC, is written by every source of a case whose zone is
America/New_York, the night daylight saving ended (01:00-01:59 happened twice: first EDT, UTC-4,
then EST, UTC-5):

- access logs: ``01:30:00 -0400`` in the rotated file, ``00:30:00 -0500`` in the current one,
  ``14:30:00 +0900`` in a file from a proxy in Tokyo (each ``%t`` carries its own offset);
- app log and MySQL 5.6 query log: naive ``01:30:00``, in the repeated hour;
- MySQL 5.7 query log: ``05:30:00Z``;
- bodyfile: epoch of 05:31:30 UTC, written by a server whose clock ran 90 s fast
  (``facts.clock_skew: {fs_timeline: 90}``).

The rule for a naive time in the repeated hour (documented in README, case.yml section, and
``forensics.loaders._common.local_to_utc``): the first pass (EDT, the earlier instant), until the
log steps back in time inside that hour: from there on, while the times stay in the repeated hour,
the second pass (EST). A naive time in the skipped hour (2017-03-12 02:30) does not exist: the
line is rejected with that reason.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from forensics.case import CaseError, open_case

INSTANT = dt.datetime(2017, 11, 5, 5, 30, tzinfo=dt.timezone.utc)
EPOCH = int(INSTANT.timestamp())


def _case(root: Path, skew: str = "  clock_skew: {fs_timeline: 90}\n") -> Path:
    (root / "logs/httpd").mkdir(parents=True)
    (root / "logs/eccube").mkdir(parents=True)
    (root / "logs/mysql").mkdir(parents=True)
    (root / "fs").mkdir()
    req = '"GET /index.php HTTP/1.1" 200 10 "-" "Mozilla/5.0"'
    (root / "logs/httpd/access_log-20171105").write_text(f"203.0.113.9 - - [05/Nov/2017:01:30:00 -0400] {req}\n")
    (root / "logs/httpd/access_log").write_text(f"203.0.113.9 - - [05/Nov/2017:00:30:00 -0500] {req}\n"
                                                f"203.0.113.9 - - [05/Nov/2017:01:30:00 -0500] {req}\n")
    (root / "logs/httpd/proxy_access_log").write_text(f"203.0.113.9 - - [05/Nov/2017:14:30:00 +0900] {req}\n")
    (root / "logs/eccube/admin.log").write_text(
        "2017/11/05 01:30:00 [/admin/index.php] admin password incorrect. from 203.0.113.9\n"
        "2017/03/12 02:30:00 [/admin/index.php] admin password incorrect. from 203.0.113.9\n"  # skipped hour
    )
    (root / "logs/mysql/general.log").write_text("171105  1:30:00\t    7 Query\tSELECT 1\n")
    (root / "logs/mysql/general57.log").write_text("2017-11-05T05:30:00.000000Z\t    8 Query\tSELECT 2\n")
    (root / "fs/bodyfile.txt").write_text(f"0|/var/www/html/index.php|1|r/rrw-r--r--|0|0|10|0|{EPOCH + 90}|0|0\n")
    yml = root / "case.yml"
    yml.write_text(
        "id: dst-case\ntimezone: America/New_York\n"
        "site: {app_log_timezone: America/New_York}\n"  # a shop whose application logs local time
        "evidence:\n  access_logs: [logs/httpd/*access_log*]\n  app_logs: [logs/eccube/*.log]\n"
        "  query_logs: [logs/mysql/*.log]\n  fs_timeline: fs/bodyfile.txt\n"
        f"facts:\n  containment: 2017-11-05T01:30:00-05:00\n{skew}"
    )
    return yml


@pytest.fixture
def case(tmp_path):
    return open_case(_case(tmp_path))


def test_mixed_offsets_across_rotated_access_logs_line_up(case):
    access = case.access_log().sort("source", "line_no").collect()
    by = {(r["source"], r["line_no"]): r["ts"] for r in access.iter_rows(named=True)}
    assert by[("logs/httpd/access_log-20171105", 1)] == INSTANT  # 01:30 EDT
    assert by[("logs/httpd/access_log", 1)] == INSTANT  # 00:30 EST
    assert by[("logs/httpd/proxy_access_log", 1)] == INSTANT  # 14:30 JST
    assert by[("logs/httpd/access_log", 2)] == INSTANT + dt.timedelta(hours=1)  # 01:30 EST, second pass
    assert access["utc_offset_min"].to_list().count(-240) == 1


def test_naive_times_in_the_repeated_hour_take_the_first_pass(case):
    app = case.app_log().collect()
    assert app["ts"].to_list() == [INSTANT]  # 01:30 read as EDT (earliest), equal to the access log
    q = case.query_log().collect().sort("conn_id")
    assert q["ts"].to_list() == [INSTANT, INSTANT]  # 5.6 naive (first pass) and 5.7 UTC agree


def test_a_log_that_steps_back_in_the_repeated_hour_is_in_its_second_pass(tmp_path):
    from forensics.loaders import read_app_logs, read_query_logs

    times = ["00:59:00", "01:30:00", "01:50:00", "01:10:00", "01:40:00", "02:10:00"]
    (tmp_path / "admin.log").write_text("".join(f"2017/11/05 {t} [/admin/x.php] m from 203.0.113.9\n" for t in times))
    app = read_app_logs([tmp_path / "admin.log"], case_root=tmp_path, timezone="America/New_York")
    utc = [t.strftime("%H:%M") for t in app.records["ts"]]
    assert utc == ["04:59", "05:30", "05:50", "06:10", "06:40", "07:10"]  # EDT, EDT, EDT, EST, EST, EST
    (tmp_path / "general.log").write_text(
        "171105  1:50:00\t 1 Query\tSELECT 1\n171105  1:10:00\t 1 Query\tSELECT 2\n\t\t 1 Query\tSELECT 3\n")
    q = read_query_logs([tmp_path / "general.log"], case_root=tmp_path, timezone="America/New_York")
    assert [t.strftime("%H:%M") for t in q.records["ts"]] == ["05:50", "06:10", "06:10"]
    # each file is its own sequence: another log starting in the hour starts in the first pass
    (tmp_path / "site.log").write_text("2017/11/05 01:10:00 [/x.php] m from 203.0.113.9\n")
    both = read_app_logs([tmp_path / "admin.log", tmp_path / "site.log"], case_root=tmp_path, timezone="America/New_York")
    assert both.records.filter(pl.col("source") == "site.log")["ts"].dt.strftime("%H:%M").to_list() == ["05:10"]


def test_eccube_application_logs_are_tokyo_time_whatever_the_server_zone(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "admin.log").write_text(
        "2017/11/05 14:30:00 [/admin/index.php] admin password incorrect. from 203.0.113.9\n")
    (tmp_path / "case.yml").write_text("id: utc-server\ntimezone: UTC\nsite: {profile: eccube2}\n"
                                       "evidence:\n  app_logs: [logs/admin.log]\n")
    assert open_case(tmp_path / "case.yml").app_log().collect()["ts"].to_list() == [INSTANT]  # 14:30 JST
    (tmp_path / "case.yml").write_text("id: utc-server\ntimezone: UTC\nsite: {app_log_timezone: UTC}\n"
                                       "evidence:\n  app_logs: [logs/admin.log]\n")
    assert open_case(tmp_path / "case.yml").app_log().collect()["ts"].to_list() == [INSTANT + dt.timedelta(hours=9)]


def test_naive_time_in_the_skipped_hour_is_rejected_with_reason(case):
    rej = case.rejects("app_logs").collect()
    assert rej.height == 1 and rej["line_no"].to_list() == [2]
    assert "does not exist" in rej["reason"][0] and "America/New_York" in rej["reason"][0]
    counts = case.record_counts().filter(pl.col("source") == "logs/eccube/admin.log").row(0, named=True)
    assert counts["records"] + counts["rejected"] == 2


def test_clock_skew_moves_one_source_onto_the_others(case, tmp_path):
    files = case.fs_files().collect()
    assert files["mtime"].to_list() == [INSTANT]  # 05:31:30 on a clock 90 s fast = 05:30:00
    timeline = case.fs_timeline().collect()
    assert timeline["ts"].to_list() == [INSTANT]
    # the same instant from every source compares equal in UTC
    instants = {
        case.access_log().collect()["ts"].min(),
        case.app_log().collect()["ts"][0],
        *case.query_log().collect()["ts"].to_list(),
        files["mtime"][0],
    }
    assert instants == {INSTANT}
    assert case.facts.containment == INSTANT + dt.timedelta(hours=1)  # explicit -05:00


def test_without_skew_the_bodyfile_is_90_seconds_late(tmp_path):
    case = open_case(_case(tmp_path, skew=""))
    assert case.fs_files().collect()["mtime"].to_list() == [INSTANT + dt.timedelta(seconds=90)]


def test_naive_containment_in_the_repeated_hour_is_the_first_pass(tmp_path):
    yml = _case(tmp_path)
    yml.write_text(yml.read_text().replace("2017-11-05T01:30:00-05:00", "2017-11-05T01:30:00"))
    # a naive case.yml time is read in the case zone; Python's fold=0 = the first pass, like the loaders
    assert open_case(yml).facts.containment == INSTANT


@pytest.mark.parametrize("skew", ["{fs_timeline: soon}", "{cctv: 3}", "{fs_timeline: true}"])
def test_bad_clock_skew_is_a_clear_error(tmp_path, skew):
    with pytest.raises(CaseError, match="clock_skew"):
        open_case(_case(tmp_path, skew=f"  clock_skew: {skew}\n"))
