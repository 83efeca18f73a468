"""W3C extended logs (IIS, CloudFront) and the real-world fixtures of every named format."""

from __future__ import annotations

from pathlib import Path

import pytest

from forensics.case import open_case
from forensics.gaps import evidence_gaps
from forensics.loaders import read_access_logs
from forensics.loaders.access_log import file_formats, w3c_segments
from forensics.loaders.logformat import detect_format

DATA = Path(__file__).resolve().parents[1] / "data" / "access_logs"


def _lines(name: str) -> int:
    return len((DATA / name).read_bytes().splitlines())


@pytest.mark.parametrize("name, fmt, rows", [
    pytest.param("plaso_iis.log", "w3c", 11, id="iis-plaso"),
    pytest.param("lnav_w3c_big_head.log", "w3c", 8, id="iis-restarts-lnav"),
    pytest.param("matomo_amazon_cloudfront_web.log", "w3c", 1, id="cloudfront-matomo"),
    pytest.param("crowdsec_vhost_combined.log", "vhost_combined", 1, id="vhost_combined-crowdsec"),
    pytest.param("lnav_access_log.log", "combined", 3, id="combined-lnav"),
    pytest.param("nasa_jul95_head.log", "common", 5, id="common-nasa"),
    pytest.param("elastic_apache_logs_head.log", "combined", 20, id="combined-elastic"),
])
def test_every_line_of_a_real_fixture_is_read(name, fmt, rows):
    path = DATA / name
    assert file_formats([path])[path].name == fmt
    loaded = read_access_logs([path], case_root=DATA, show_progress=False)
    counts = loaded.counts.row(0, named=True)
    assert loaded.rejects.is_empty()
    assert counts["records"] + counts["rejected"] == _lines(name)  # directive lines are records, not rows
    assert counts["rows"] == loaded.records.height == rows


def _row(name: str, i: int = 0, **options) -> dict:
    return read_access_logs([DATA / name], case_root=DATA, show_progress=False, **options).records.row(i, named=True)


def test_iis_fields_fill_the_table():
    r = _row("plaso_iis.log", 4)  # 2013-07-30 00:00:03 ... GET /some/path/something.jpg whichServer=WEBSOS2 80 - 10.10.10.100 CFSCHEDULE 200 0 0
    assert r["ts"].isoformat() == "2013-07-30T00:00:03+00:00" and r["utc_offset_min"] == 0  # W3C times are UTC
    assert (r["client_ip"], r["method"], r["path"], r["query"], r["status"], r["port"]) == (
        "10.10.10.100", "GET", "/some/path/something.jpg", "whichServer=WEBSOS2", 200, 80)
    assert r["request_raw"] == "GET /some/path/something.jpg?whichServer=WEBSOS2"  # no cs-version: no protocol
    assert r["protocol"] is None and r["bytes"] is None  # the file has no sc-bytes
    assert r["extra"] == "s-sitename=SOME1234NAME s-ip=10.10.10.100 sc-substatus=0 sc-win32-status=0"
    r = _row("plaso_iis.log", 1)
    assert r["user_agent"].startswith("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_6_8)")  # IIS "+" is a space
    assert r["query"] is None and r["query_raw"] is None  # "-": no query


def test_iis_time_taken_is_milliseconds_and_sc_bytes_the_size():
    r = _row("lnav_w3c_big_head.log")
    assert (r["client_ip"], r["path"], r["status"], r["bytes"], r["duration_us"]) == (
        "157.55.39.146", "/robots.txt", 404, 1405, 283_000)
    assert r["ts"].isoformat() == "2015-01-13T00:32:17+00:00"


def test_cloudfront_fields_are_decoded():
    r = _row("matomo_amazon_cloudfront_web.log")
    assert r["ts"].isoformat() == "2014-05-23T01:13:11+00:00"
    assert (r["client_ip"], r["method"], r["path"], r["status"], r["bytes"], r["protocol"]) == (
        "192.0.2.10", "GET", "/view/my/file.html", 200, 182, "HTTP/1.1")
    assert r["vhost"] == "d111111abcdef8.cloudfront.net" and r["referer"] == "https://example.com/"
    assert r["user_agent"].startswith("Mozilla/5.0 (Windows; U; Windows NT 6.1; de-DE) AppleWebKit")  # %2520: encoded twice
    assert r["duration_us"] == 1_000  # time-taken 0.001 s
    assert "x-edge-location=FRA2" in r["extra"] and "x-host-header=example.com" in r["extra"]


def test_vhost_combined_and_combined_fixtures():
    r = _row("crowdsec_vhost_combined.log")
    assert (r["vhost"], r["port"], r["client_ip"], r["status"], r["path"]) == ("website.com", 443, "1.2.3.4", 403, "/web/.well-known")
    assert r["ts"].isoformat() == "2021-10-25T09:05:52+00:00" and r["utc_offset_min"] == 120
    r = _row("lnav_access_log.log", 2)
    assert (r["client_ip"], r["status"], r["bytes"], r["path"], r["user_agent"]) == (
        "192.168.202.254", 200, 78929, "/vmw/vSphere/default/vmkernel.gz", "gPXE/0.9.7")


def _two_headers() -> str:
    """The plaso IIS block, then the lnav one: other fields from line 16 on (a server whose logged
    fields were changed)."""
    plaso = (DATA / "plaso_iis.log").read_text()
    return plaso + "\n" + (DATA / "lnav_w3c_big_head.log").read_text()


def test_fields_changed_mid_file_are_read_by_the_directive_before_each_line(tmp_path):
    p = tmp_path / "u_ex130730.log"
    p.write_text(_two_headers())
    segments = w3c_segments(p)
    assert segments["line_no"].to_list() == [4, 19, 29, 34]
    assert segments["fields"].to_list()[0][-1] == "sc-win32-status"
    assert segments["fields"].to_list()[1][-1] == "time-taken"
    for batch_lines in (400_000, 3):  # batches parsed apart (in worker threads) read the same
        loaded = read_access_logs([p], case_root=tmp_path, batch_lines=batch_lines, show_progress=False)
        assert loaded.rejects.is_empty()
        assert loaded.counts.row(0) == ("u_ex130730.log", 35, 0, 19)
        r = loaded.records
        assert r["bytes"].null_count() == 11 and r["bytes"][11] == 1405  # plaso's fields have no sc-bytes
        assert r["duration_us"][11] == 283_000 and r["line_no"][11] == 20


def test_lines_that_do_not_fit_are_rejected_with_their_reason(tmp_path):
    p = tmp_path / "ex.log"
    p.write_text("2013-07-30 00:00:00 10.0.0.1 GET / - 200\n"
                 "#Version: 1.0\n"
                 "#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status\n"
                 "2013-07-30 00:00:01 10.0.0.1 GET / - 200\n"
                 "2013-07-30 00:00:02 10.0.0.1 GET / - 200 extra\n"
                 "2013-07-30 25:00:02 10.0.0.1 GET / - 200\n"
                 "2013-07-30 00:00:03 10.0.0.1 GET / - OK\n")
    loaded = read_access_logs([p], case_root=tmp_path, show_progress=False)
    assert loaded.rejects.select("line_no", "reason").rows() == [
        (1, "W3C line before any #Fields: directive"),
        (5, "W3C line of 8 fields where its #Fields: directive (line 3) names 7"),
        (6, "bad W3C date or time field (YYYY-MM-DD HH:MM:SS expected)"),
        (7, "bad W3C sc-status field"),
    ]
    assert loaded.counts.row(0) == ("ex.log", 3, 4, 1)


def test_w3c_is_detected_from_its_head():
    assert detect_format(["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0"]).name == "w3c"
    assert detect_format(["#Version: 1.0", "#Fields: date time c-ip"]).name == "w3c"
    assert detect_format(["# a comment", "x"]) is None


CASE = """\
id: w3c
timezone: Asia/Tokyo
evidence:
  access_logs: {access}
"""


def test_a_case_names_w3c_and_the_manifest_shows_the_detected_formats(tmp_path):
    from forensics.manifest import build_manifest

    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "u_ex130730.log").write_text((DATA / "plaso_iis.log").read_text())
    (tmp_path / "case.yml").write_text(CASE.format(access="{paths: [logs/u_ex130730.log], format: w3c}"))
    case = open_case(tmp_path / "case.yml")
    assert case.access_log_format == "w3c" and case.access_log().collect().height == 11
    (tmp_path / "logs" / "access_log").write_text((DATA / "lnav_access_log.log").read_text())
    (tmp_path / "case.yml").write_text(CASE.format(access="[logs/u_ex130730.log, logs/access_log]"))
    files = {f["path"]: f for f in build_manifest(open_case(tmp_path / "case.yml"))["files"]}
    assert (files["logs/u_ex130730.log"]["format"], files["logs/u_ex130730.log"]["records"]) == ("w3c", 15)
    assert files["logs/access_log"]["format"] == "combined"


def test_a_file_of_no_known_format_is_one_gap_not_a_reject_per_line(tmp_path):
    p = tmp_path / "error_log"
    p.write_text("[Fri Mar 31 23:28:01.123 2017] [core:error] [pid 1] AH00126: Invalid URI\x1b[0m\n" * 5000)
    assert file_formats([p])[p].name == "unknown"
    loaded = read_access_logs([p], case_root=tmp_path, show_progress=False)
    assert loaded.records.is_empty() and loaded.counts.row(0) == ("error_log", 0, 5000, 0)  # every line accounted
    assert loaded.rejects.height == 1 and loaded.rejects["line_no"][0] is None
    reason = loaded.rejects["reason"][0]
    assert reason.startswith("no known access-log format: first line [Fri Mar 31 23:28:01.123 2017] [core:error]")
    assert "\\x1b" in reason and "\x1b" not in reason  # escaped
    gaps = evidence_gaps({"access_logs"}, loaded.counts.with_columns(evidence=__import__("polars").lit("access_logs")),
                         loaded.rejects)
    assert [(g["path"], g["reason"]) for g in gaps if g["path"]] == [("error_log", reason)]


def test_the_intake_names_formats_and_counts_a_whole_file_reject(tmp_path):
    from forensics.session import open_run

    (tmp_path / "case" / "logs").mkdir(parents=True)
    (tmp_path / "case" / "logs" / "u_ex130730.log").write_text((DATA / "plaso_iis.log").read_text())
    (tmp_path / "case" / "logs" / "error_log").write_text("[Fri Mar 31 23:28:01.123 2017] [core:error] x\n" * 40)
    (tmp_path / "case" / "case.yml").write_text(CASE.format(access="[logs/u_ex130730.log, logs/error_log]"))
    run = open_run(str(tmp_path / "case" / "case.yml"), str(tmp_path / "out"))
    assert dict(run.manifest_table().select("path", "format").iter_rows()) == {
        "logs/error_log": "unknown", "logs/u_ex130730.log": "w3c"}
    summary = run.rejects_summary()
    assert summary.select("source", "rejected", "first_line").rows() == [("logs/error_log", 40, None)]
    assert summary["reason"][0].startswith("no known access-log format: first line [Fri Mar 31")


def test_a_file_whose_head_is_no_log_keeps_the_records_after_it(tmp_path):
    p = tmp_path / "access_log"
    good = (DATA / "lnav_access_log.log").read_text()
    p.write_text("Traceback (most recent call last):\n" * 30 + good)
    assert file_formats([p])[p].name == "unknown"
    loaded = read_access_logs([p], case_root=tmp_path, show_progress=False)
    assert loaded.records["line_no"].to_list() == [31, 32, 33]  # never lost to the head
    assert loaded.counts.row(0) == ("access_log", 3, 30, 3)
    assert loaded.rejects.select("line_no", "reason").rows() == [
        (None, "no known access-log format: first line Traceback (most recent call last):")]


def test_a_damaged_access_log_head_is_rejected_line_by_line(tmp_path):
    p = tmp_path / "access_log"
    p.write_text('203.0.113.9 - - [01/Jan/12017:00:00:00 +0900] "GET / HTTP/1.1" 200 12 "-" "ua"\n' * 25)
    assert file_formats([p])[p].name == "combined"
    rejects = read_access_logs([p], case_root=tmp_path, show_progress=False).rejects
    assert rejects.height == 25 and set(rejects["reason"]) == {"bad %t time field"}
