"""The command line: registry of sub-commands, one-line errors, no traceback without --debug."""

from __future__ import annotations

import pytest

from forensics import cli


def test_every_registered_command_has_a_parser():
    parser = cli.build_parser()
    for name in cli.COMMANDS:
        args = parser.parse_args([name, "x"])
        assert args.command == name


def test_error_is_one_line_without_traceback(tmp_path, capsys):
    missing = tmp_path / "nope" / "case.yml"
    code = cli.main(["run", str(missing)])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("forensics: ")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_debug_shows_the_exception(tmp_path):
    with pytest.raises(Exception):
        cli.main(["--debug", "run", str(tmp_path / "nope.yml")])


def test_unknown_command_is_rejected(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["frobnicate"])
    assert exc.value.code != 0


def test_run_takes_a_cluster_of_local_workers_or_a_scheduler(capsys):
    parser = cli.build_parser()
    args = parser.parse_args(["run", "case.yml"])
    assert (args.workers, args.scheduler) == (None, None)  # in process
    assert parser.parse_args(["run", "case.yml", "--workers", "2"]).workers == 2
    assert parser.parse_args(["run", "case.yml", "--scheduler", "tcp://127.0.0.1:8786"]).scheduler == "tcp://127.0.0.1:8786"
    for wrong in (["--workers", "0"], ["--workers", "two"], ["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["run", "case.yml", *wrong])
    assert "--workers" in capsys.readouterr().err
