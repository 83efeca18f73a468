"""The sample's access logs in each named format (options ``log_*``): every file detected as its
format, every line a record or a planted reject, and the analysis giving the same answers as on
the default (combined) case.

Referer and user agent (absent from ``common``) and the response size (absent from IIS's default
W3C fields) are shown by the detectors but decide no finding, so every answer must be the same.
"""

from __future__ import annotations

import json

import pytest

from forensics.loaders import read_access_logs
from forensics.loaders.access_log import file_formats
from forensics.sample import write_sample_case
from forensics.sample.logformats import OPTION_FORMATS
from tests.sample.test_sample_options import analyse, assert_key_answers, cases  # noqa: F401 (a fixture)

#: option -> the format detection names (nginx's default log_format writes Apache's combined).
DETECTED = {"log_common": "common", "log_vhost_combined": "vhost_combined", "log_nginx": "combined", "log_w3c": "w3c"}


def test_each_format_option_is_tested():
    assert set(DETECTED) == set(OPTION_FORMATS)


def test_two_formats_at_once_are_refused(tmp_path):
    with pytest.raises(ValueError, match="written in one format"):
        write_sample_case(tmp_path / "x", options=["log_w3c", "log_common"])


@pytest.mark.parametrize("option", sorted(DETECTED))
def test_every_line_is_read_in_its_detected_format(cases, option):
    case = cases(option)
    files = sorted((case / "logs/httpd").iterdir())
    assert {f.name for f in file_formats(files).values()} == {DETECTED[option]}
    loaded = read_access_logs(files, case_root=case, show_progress=False)
    truth = json.loads((case / "truth.json").read_text(encoding="utf-8"))
    planted = {(p["file"], p["line_no"]) for p in truth["planted_rejects"] if p["file"].startswith("logs/httpd/")}
    assert set(loaded.rejects.select("source", "line_no").iter_rows()) == planted
    for source, records, rejected, _rows in loaded.counts.iter_rows():
        text = (case / source).read_bytes()
        if source.endswith(".gz"):
            import gzip
            text = gzip.decompress(text)
        assert records + rejected == len(text.splitlines()), source


def test_w3c_files_begin_with_their_header_and_log_utc(cases):
    text = (cases("log_w3c") / "logs/httpd/access_log").read_text(encoding="utf-8", errors="replace")
    head = text.splitlines()[:5]
    assert head[0] == "#Software: Microsoft Internet Information Services 10.0"
    assert head[2] == "#Date: 2017-04-15 18:13:30"  # when the file was begun (the weekly rotation), in UTC
    assert head[4].startswith("2017-04-15 18:")  # a UTC time: 03:xx JST on the 16th
    assert head[3].startswith("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port")


@pytest.fixture(scope="module")
def default_findings(tmp_path_factory) -> dict:
    return analyse(write_sample_case(tmp_path_factory.mktemp("default") / "case"))[0]


@pytest.mark.slow
@pytest.mark.parametrize("option", sorted(DETECTED))
def test_the_analysis_gives_the_same_answers_in_every_format(cases, option, default_findings):
    findings, truth = analyse(cases(option))
    assert_key_answers(findings, truth)
    assert findings["counts"] == default_findings["counts"]  # 55 viewed; 13 cards = 2 + 3 + 8
    assert (findings["counts"]["viewed_persons"], findings["counts"]["cards_total"]) == (55, 13)
    for key in ("phases", "attacker_ips", "backdoor_paths", "tampered_files", "skim_files", "windows"):
        assert findings[key] == default_findings[key], key
