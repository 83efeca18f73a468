import polars as pl

from forensics.gaps import AFFECTS, evidence_gaps, not_established


def counts(rows):
    return pl.DataFrame(rows, schema={"source": pl.String, "records": pl.Int64, "rejected": pl.Int64,
                                      "evidence": pl.String}, orient="row")


def test_absent_kinds_and_unusable_files_are_gaps_with_reasons():
    c = counts([("logs/access_log", 0, 12, "access_logs"), ("logs/access_log.1", 0, 0, "access_logs"),
                ("logs/mysql/general.log", 0, 0, "query_logs"), ("logs/app/site.log", 5, 1, "app_logs")])
    rej = pl.DataFrame({"source": ["logs/access_log"] * 12, "reason": ["no known format"] * 10 + ["bad time"] * 2})
    gaps = evidence_gaps({"access_logs", "query_logs", "app_logs"}, c, rej)
    absent = [g["evidence"] for g in gaps if g["path"] is None]
    assert absent == [k for k in AFFECTS if k not in {"access_logs", "query_logs", "app_logs"}]
    files = {g["path"]: g for g in gaps if g["path"]}
    assert set(files) == {"logs/access_log", "logs/access_log.1", "logs/mysql/general.log"}
    assert files["logs/access_log"]["reason"].startswith("every one of its 12 lines was rejected")
    assert "no known format (10)" in files["logs/access_log"]["reason"]
    assert "no statement" in files["logs/mysql/general.log"]["reason"]


def test_a_conclusion_is_not_established_only_when_all_it_needs_is_unusable():
    c = counts([("logs/access_log", 0, 3, "access_logs"), ("logs/app.log", 4, 0, "app_logs")])
    gaps = evidence_gaps({"access_logs", "app_logs"}, c)
    assert "logs/access_log: every one of its 3 lines" in not_established("sqli_first", gaps)
    # the admin login shows in the app log too, which was read: not finding it is a finding
    assert not_established("attacker_admin_login", gaps) is None
    usable = counts([("logs/access_log", 0, 3, "access_logs"), ("logs/access_log.1", 9, 0, "access_logs")])
    assert not_established("sqli_first", evidence_gaps({"access_logs"}, usable)) is None
