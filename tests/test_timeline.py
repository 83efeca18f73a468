"""Super-timeline: every SQLi request tagged, Timesketch JSONL fields, CSV neutralisation."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).parent))

from detectors import scenario as S  # noqa: E402

from forensics import cards, schemas, timeline  # noqa: E402
from forensics.detectors import admin, backdoor, payment, phases, skim, sqli, tampering  # noqa: E402


def build() -> pl.DataFrame:
    s = sqli.detect_sqli(S.ACCESS)
    lg = admin.admin_logins(S.ACCESS, S.APP, S.ADMIN)
    ips = [S.ATT, S.SHELL]
    tp = tampering.tampered_files(S.FS, pl.DataFrame({"path": [S.TEMPLATE], "content": [S.SKIMMER_PHP]}))
    sk = skim.skim_records(pl.DataFrame({"path": [S.SKIM], "content": [S.skim_bytes()]}), tz="Asia/Tokyo")
    bd = backdoor.backdoors(app_log=S.APP, access=S.ACCESS, fs_files=S.FS, admin_dir=S.ADMIN)
    ph = phases.incident_phases(sqli=s, logins=lg, attacker_ips=ips, backdoors=bd, tampered=tp, access=S.ACCESS)
    return timeline.build_timeline(
        sqli=s, logins=lg, admin_requests=admin.attacker_admin_requests(S.ACCESS, S.APP, ips, S.ADMIN),
        uploads=backdoor.uploads(S.APP, S.ACCESS, S.ADMIN),
        backdoor_requests=backdoor.backdoor_requests(S.ACCESS, ["/user_data/x1.php"]),
        tampered=tp, skim=sk, phases=phases.phases_frame(ph), card_entries=payment.card_entries(S.ACCESS),
        access=S.ACCESS, attacker_ips=ips,
    )


def test_schema_and_sqli_tags():
    tl = build()
    assert tl.schema == schemas.TIMELINE
    tagged = tl.filter(pl.col("tags").list.contains("sqli") & (pl.col("source") == "logs/httpd/access_log"))
    assert sorted(tagged["line_no"].to_list()) == [3, 4, 22]
    assert tl["ts"].is_sorted()
    assert {"skim", "tampered", "phase", "backdoor", "admin", "attacker", "card_entry"} <= set(tl["tags"].explode().to_list())


def test_jsonl_timesketch_fields(tmp_path):
    path = timeline.write_timeline_jsonl(build(), tmp_path / "timeline.jsonl", "Asia/Tokyo")
    lines = path.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    assert set(first) == {"message", "datetime", "timestamp_desc", "source", "line_no", "tags"}
    assert first["datetime"].endswith("+09:00") and "T" in first["datetime"]
    assert isinstance(first["tags"], list)
    assert all(json.loads(line)["message"] for line in lines)


def test_csv_neutralises_formulas(tmp_path):
    frame = pl.DataFrame(
        {
            "ts": [S.frames.ts("2018-01-01 00:00:00")] * 4,
            "timestamp_desc": ["Request Time"] * 4,
            "source": ["a"] * 4,
            "line_no": [1, 2, 3, 4],
            "message": ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)"],
            "tags": [["x"]] * 4,
        },
        schema=schemas.TIMELINE,
    )
    path = timeline.write_timeline_csv(frame, tmp_path / "t.csv", "UTC")
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["message"] for r in rows] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2+3", "'@SUM(A1)"]
    assert rows[0]["datetime"] == "2018-01-01T00:00:00.000000+00:00"


def test_attacker_text_kept_as_data():
    frame = S.frames.access([{"ts": "2018-01-01 00:00:00", "client_ip": "1.2.3.4", "target": "/p.php?id=1+UNION+SELECT+'{}{0}%s<script>'"}])
    tl = timeline.build_timeline(sqli=sqli.detect_sqli(frame))
    assert "'{}{0}%s<script>'" in tl["message"][0]


def test_no_full_card_number_in_timeline(tmp_path):
    tl = build()
    timeline.write_timeline_jsonl(tl, tmp_path / "t.jsonl", "Asia/Tokyo")
    timeline.write_timeline_csv(tl, tmp_path / "t.csv", "Asia/Tokyo")
    assert cards.scan_for_card_data(tmp_path) == []
    assert cards.scan_text_for_card_data(repr(tl.to_dicts())) == []


def test_empty_timeline():
    assert timeline.build_timeline().schema == schemas.TIMELINE


def test_fs_rows_for_named_files_with_tags():
    from forensics import schemas as sc

    fs = pl.DataFrame(
        {
            "ts": [S.frames.ts("2018-05-03 03:02:00"), S.frames.ts("2018-05-03 03:02:00")],
            "source": ["fs/bodyfile.txt"] * 2, "line_no": [1, 2],
            "timestamp_desc": ["Creation Time", "Creation Time"],
            "name": ["/srv/shop/html/user_data/x1.php", "/srv/shop/html/index.php"],
            "inode": ["1", "2"], "size": [10, 20], "mode": ["r/r", "r/r"], "deleted": [False, False],
        },
        schema=sc.FS_TIMELINE,
    )
    tl = timeline.build_timeline(fs_timeline=fs, fs_names={"html/user_data/x1.php": "backdoor"})
    assert tl["line_no"].to_list() == [1]
    assert tl["tags"].to_list() == [["fs", "backdoor"]]
    assert tl["timestamp_desc"].to_list() == ["Creation Time"]


def test_attacker_app_lines_incident_fs_events_and_window_edges():
    from forensics import schemas as sc

    t0 = S.frames.ts("2018-05-03 03:00:00")
    fs = pl.DataFrame(
        {"ts": [S.frames.ts("2018-05-01 00:00:00"), S.frames.ts("2018-05-03 04:00:00")],
         "source": ["fs/bodyfile.txt"] * 2, "line_no": [1, 2], "timestamp_desc": ["Content Modification Time"] * 2,
         "name": ["/srv/a.php", "/srv/b.php"], "deleted": [False, True], "inode": ["1", "2"], "size": [1, 2],
         "mode": ["r/r", "r/r"]}, schema=sc.FS_TIMELINE)
    app = pl.DataFrame({"ts": [t0, t0], "source": ["logs/app.log"] * 2, "line_no": [7, 8], "log": ["admin"] * 2,
                        "event": ["login", "access"], "message": ["login ok", "page"], "ip": ["192.0.2.9", "10.0.0.1"],
                        "sid": [None, "s-att"]})
    tl = timeline.build_timeline(fs_timeline=fs, incident=(t0, None), app_log=app, attacker_ips=["192.0.2.9"],
                                 attacker_sids=["s-att"])
    assert tl.filter(pl.col("source") == "fs/bodyfile.txt")["line_no"].to_list() == [2]  # inside the incident
    assert tl.filter(pl.col("source") == "logs/app.log")["line_no"].to_list() == [7, 8]  # by IP, by session
    w = timeline.with_windows(tl, {"backdoor": (t0, S.frames.ts("2018-05-04 00:00:00")), "skimmer": None})
    edges = w.filter(pl.col("tags").list.contains("window"))
    assert edges["message"].to_list() == ["backdoor window opens", "backdoor window closes"]


def test_every_event_of_every_source_streams_to_one_file(tmp_path):
    access = pl.LazyFrame({"ts": [S.frames.ts("2018-05-03 03:00:00")], "source": ["logs/access_log"], "line_no": [1],
                           "client_ip": ["192.0.2.1"], "method": ["GET"], "target_raw": ["/?card=4111111111111111"],
                           "status": [200], "user_agent": ["x"]})
    query = pl.LazyFrame({"ts": [None, S.frames.ts("2018-05-03 03:00:01")], "ts_before": [S.frames.ts("2018-05-03 02:00:00")] * 2,
                          "source": ["logs/q.log"] * 2, "line_no": [1, 2], "command": ["Query"] * 2, "conn_id": [3, 3],
                          "argument": ["SELECT 1", "SELECT 2"]},
                         schema_overrides={"ts": pl.Datetime("us", "UTC")})
    path = timeline.write_full_timeline({"access_logs": access, "query_logs": query}, tmp_path / "all.jsonl", "Asia/Tokyo")
    rows = [json.loads(ln) for ln in path.read_text().splitlines()]
    assert [r["source"] for r in rows] == ["logs/access_log", "logs/q.log", "logs/q.log"]
    assert rows[0]["datetime"] == "2018-05-03T12:00:00.000000+09:00" and "4111111111111111" not in rows[0]["message"]
    assert rows[1]["timestamp_desc"] == "Statement Time (before)" and rows[2]["timestamp_desc"] == "Statement Time"
