"""Access-log formats as data: compiled definitions, detection per file, the same table for all."""

from __future__ import annotations

from pathlib import Path

import pytest

from forensics.case import CaseError, open_case
from forensics.loaders import read_access_logs
from forensics.loaders.access_log import file_formats
from forensics.loaders.logformat import FormatError, compile_format, detect_format

DATA = Path(__file__).resolve().parents[1] / "data" / "access_logs"
COMBINED_LINE = '203.0.113.9 - - [31/Mar/2017:23:28:01 +0900] "GET /a?x=1 HTTP/1.1" 200 512 "-" "ua"'
#: Apache's vhost_combined, as Debian's apache2.conf defines it: %v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"
VHOST_LINE = 'shop.example:443 203.0.113.9 - - [31/Mar/2017:23:28:01 +0900] "GET /a?x=1 HTTP/1.1" 200 734 "-" "ua"'


@pytest.mark.parametrize("lines, name", [
    ((DATA / "nasa_jul95_head.log").read_text().splitlines(), "common"),
    ((DATA / "elastic_apache_logs_head.log").read_text().splitlines(), "combined"),
    ([VHOST_LINE], "vhost_combined"),
    ([COMBINED_LINE + ' "extra field"'], "combined"),
])
def test_a_file_format_is_detected_from_its_lines(lines, name):
    assert detect_format(lines).name == name


def test_lines_of_no_known_format_detect_nothing():
    assert detect_format(["[Fri Mar 31 23:28:01.123 2017] [core:error] [pid 1] AH00126: Invalid URI"]) is None


def test_the_common_log_format_of_a_real_server_reads_whole(tmp_path):
    loaded = read_access_logs([DATA / "nasa_jul95_head.log"], case_root=DATA)
    assert loaded.rejects.height == 0 and loaded.records.height == 5
    first = loaded.records.row(0, named=True)
    assert (first["client_ip"], first["path"], first["status"], first["bytes"], first["utc_offset_min"]) == (
        "199.72.81.55", "/history/apollo/", 200, 6245, -240)
    assert first["ts"].isoformat() == "1995-07-01T04:00:01+00:00"
    assert first["referer"] is None and first["user_agent"] is None  # the format has none
    assert loaded.records["client_ip"][1] == "unicomp6.unicomp.net"  # %h holds a host name there


def test_vhost_and_port_are_kept_and_the_table_is_the_same(tmp_path):
    (tmp_path / "other_vhosts_access.log").write_text(VHOST_LINE + "\n")
    (tmp_path / "access_log").write_text(COMBINED_LINE + "\n")
    loaded = read_access_logs(sorted(tmp_path.iterdir()), case_root=tmp_path)
    assert loaded.rejects.height == 0
    rows = {r["source"]: r for r in loaded.records.iter_rows(named=True)}
    vhost = rows["other_vhosts_access.log"]
    assert (vhost["client_ip"], vhost["path"], vhost["query"]) == ("203.0.113.9", "/a", "x=1")
    assert (vhost["vhost"], vhost["port"]) == ("shop.example", 443)  # typed columns
    assert vhost["bytes_sent"] == 734 and vhost["bytes"] is None and vhost["extra"] is None  # %O: as sent
    assert rows["access_log"]["vhost"] is None and rows["access_log"]["port"] is None
    assert rows["access_log"]["bytes"] == 512 and rows["access_log"]["extra"] is None
    assert rows["access_log"]["bytes_sent"] is None
    assert loaded.records.schema == read_access_logs([tmp_path / "access_log"], case_root=tmp_path).records.schema


def test_a_format_given_for_every_file_is_used_and_misfits_name_it(tmp_path):
    (tmp_path / "access_log").write_text(COMBINED_LINE + "\n" + VHOST_LINE + "\n")
    loaded = read_access_logs([tmp_path / "access_log"], case_root=tmp_path, format="vhost_combined")
    assert loaded.records.height == 1 and loaded.rejects["line_no"].to_list() == [1]
    # the reason names the first piece the line fails at, and the format
    assert loaded.rejects["reason"][0] == "':' expected after the vhost field (format vhost_combined)"


def test_a_logformat_string_compiles_with_headers_and_durations():
    fmt = compile_format('%a %l %u %t "%r" %>s %b %D "%{X-Forwarded-For}i" "%{X-Request-Id}i"')
    assert fmt.fields[-3:] == ("duration_us", "forwarded_for", "header_x_request_id")
    with pytest.raises(FormatError, match=r"%Z is not supported"):
        compile_format("%h %Z")


def test_formats_by_file_mixed_in_one_key(tmp_path):
    import gzip

    (tmp_path / "a").write_text(COMBINED_LINE + "\n")
    (tmp_path / "b.gz").write_bytes(gzip.compress((DATA / "nasa_jul95_head.log").read_bytes() * 2000))
    got = {p.name: f.name for p, f in file_formats([tmp_path / "a", tmp_path / "b.gz"]).items()}
    assert got == {"a": "combined", "b.gz": "common"}


CASE = """\
id: fmt
timezone: Asia/Tokyo
evidence:
  access_logs: {access}
"""


def test_case_file_names_the_format_of_its_access_logs(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "ssl_access_log").write_text((DATA / "nasa_jul95_head.log").read_text())
    (tmp_path / "case.yml").write_text(CASE.format(access="{paths: [logs/ssl_access_log], format: common}"))
    case = open_case(tmp_path / "case.yml")
    assert case.access_log_format == "common" and case.access_log().collect().height == 5
    (tmp_path / "case.yml").write_text(CASE.format(access="{paths: [logs/ssl_access_log], format: apache}"))
    with pytest.raises(CaseError, match=r"^case\.yml: 'evidence\.access_logs\.format' 'apache' is neither"):
        open_case(tmp_path / "case.yml")
    (tmp_path / "case.yml").write_text(CASE.format(access="{paths: [logs/ssl_access_log], format: '%h %Q'}"))
    with pytest.raises(CaseError, match=r"'evidence\.access_logs\.format': .*%Q is not supported"):
        open_case(tmp_path / "case.yml")
    (tmp_path / "case.yml").write_text(CASE.format(access="[logs/ssl_access_log]"))
    detected = open_case(tmp_path / "case.yml")
    assert detected.access_log().collect()["path"][0] == "/history/apollo/"
    from forensics.manifest import build_manifest

    entry = {f["path"]: f for f in build_manifest(detected)["files"]}["logs/ssl_access_log"]
    assert (entry["format"], entry["records"], entry["rejected"]) == ("common", 5, 0)


NGINX_MAIN_EXT = ('$remote_addr - $remote_user [$time_iso8601] "$request" $status $body_bytes_sent "$http_referer" '
                  '"$http_user_agent" "$http_x_forwarded_for" $request_time $host:$server_port')


def test_an_nginx_log_format_string_is_compiled_and_its_fields_typed(tmp_path):
    p = tmp_path / "access.log"
    p.write_text(
        '10.0.0.5 - - [2017-03-31T23:28:41+09:00] "POST /admin/index.php HTTP/1.1" 302 5 "-" "Mozilla/5.0 (X11)" '
        '"192.0.2.146, 10.0.0.1" 0.123 shop.example:443\n'
        '10.0.0.5 - - [2017-03-31T14:30:00Z] "GET /x?q=%22 HTTP/1.1" 200 15 "-" "a\\x22b" "-" 1.500 shop.example:80\n',
        encoding="utf-8")
    loaded = read_access_logs([p], case_root=tmp_path, format=NGINX_MAIN_EXT, show_progress=False)
    r = loaded.records
    assert loaded.rejects.is_empty()
    assert [t.isoformat() for t in r["ts"]] == ["2017-03-31T14:28:41+00:00", "2017-03-31T14:30:00+00:00"]
    assert r["utc_offset_min"].to_list() == [540, 0]
    assert r["vhost"].to_list() == ["shop.example"] * 2 and r["port"].to_list() == [443, 80]
    assert r["duration_us"].to_list() == [123_000, 1_500_000]
    assert r["forwarded_for"].to_list() == ["192.0.2.146, 10.0.0.1", None]
    assert r["user_agent"].to_list()[1] == "a\\x22b"  # a \xNN escape stays as logged, as Apache's do


def test_apache_d_and_v_directives_fill_the_typed_columns(tmp_path):
    p = tmp_path / "access.log"
    p.write_text('shop.example:443 192.0.2.9 - - [31/Mar/2017:23:28:41 +0900] "GET / HTTP/1.1" 200 10 "-" "ua" 1200\n',
                 encoding="utf-8")
    r = read_access_logs([p], case_root=tmp_path, format='%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i" %D',
                         show_progress=False).records
    assert (r["vhost"][0], r["port"][0], r["duration_us"][0], r["bytes_sent"][0], r["extra"][0]) == (
        "shop.example", 443, 1200, 10, None)


def test_a_common_format_line_in_a_combined_file_is_named_so(tmp_path):
    p = tmp_path / "access_log"
    p.write_text('192.0.2.9 - - [31/Mar/2017:23:28:41 +0900] "GET / HTTP/1.1" 200 10 "-" "ua"\n'
                 '192.0.2.9 - - [31/Mar/2017:23:28:42 +0900] "GET / HTTP/1.1" 200 10\n'
                 '192.0.2.9 - - [31/Mar/2017:23:28:43 +0900] "GET / HTTP/1.1" 200 10 "-" ua\n', encoding="utf-8")
    rejects = read_access_logs([p], case_root=tmp_path, format="combined", show_progress=False).rejects
    assert rejects["reason"].to_list() == ["common-format line (no referer/user-agent)",
                                           "bad user-agent field (a quoted field expected after the referer)"]


def test_a_logformat_copied_from_httpd_conf_reads_its_escaped_quotes():
    # httpd.conf: LogFormat "%h %l %u %t \"%r\" %>s %b" common
    assert compile_format(r'%h %l %u %t \"%r\" %>s %b').regex == compile_format("common").regex


def test_the_readme_case_file_formats_open(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "access_log").write_text(COMBINED_LINE + " 1200\n")
    access = ("{paths: [logs/access_log], format: "
              r"""'%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %D'}""")
    (tmp_path / "case.yml").write_text(CASE.format(access=access))
    assert open_case(tmp_path / "case.yml").access_log().collect()["duration_us"].to_list() == [1200]
