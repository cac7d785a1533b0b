"""Hostile and careless input at the command line: clean messages, the right exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sopctl.errors import UsageError
from sopctl.main import app

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = ROOT / "examples" / "minimal.yaml"


def cli(*args: str) -> tuple[int, str, BaseException | None]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.output, r.exception


def usage_error(*args: str) -> str:
    code, out, exc = cli(*args)
    assert isinstance(exc, UsageError), (code, out, exc)
    return exc.message


@pytest.mark.parametrize("command", ["agenda", "simulate", "status", "run"])
def test_a_directory_as_playbook_is_a_usage_error(tmp_path: Path, command: str) -> None:
    d = tmp_path / "book.yaml"
    d.mkdir()
    assert "is a directory" in usage_error(command, str(d))


@pytest.mark.parametrize("command", ["agenda", "simulate", "status", "run"])
def test_a_missing_playbook_is_a_usage_error(tmp_path: Path, command: str) -> None:
    assert "no such file" in usage_error(command, str(tmp_path / "nope.yaml"))


def test_run_refuses_stdin_it_could_not_watch() -> None:
    assert "standard input" in usage_error("run", "-", "--dry-run")


def test_dry_run_with_nothing_due_says_so(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["run", str(MINIMAL), "--dry-run", "--since", "1h",
                                 "--state-dir", str(tmp_path)],
                           env={"SOPCTL_NOW": "2026-11-24T12:00:00+08:00"})  # nothing at 11-12
    assert r.exit_code == 0 and "due now: nothing" in r.output


def test_status_reports_a_broken_playbook_instead_of_skipping_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [1,\n", encoding="utf-8")
    code, out, _ = cli("status", str(bad), "--state-dir", str(tmp_path / "state"))
    assert code == 1 and "SOP001" in out and f"{bad}:" in out


def test_lint_of_a_directory_without_playbooks_does_not_pass(tmp_path: Path) -> None:
    assert "no playbooks" in usage_error("lint", str(tmp_path))


def test_lint_of_an_inventory_file_says_which_file_to_lint() -> None:
    code, out, _ = cli("lint", "--no-env", str(ROOT / "playbooks" / "fruit-groups.yaml"))
    assert code == 1 and "groups inventory" in out
    # the playbook naming it lints clean, inventory included
    code, out, _ = cli("lint", "--no-env", str(ROOT / "playbooks" / "fruit.yaml"))
    assert code == 0, out


@pytest.mark.parametrize(("command", "option"), [("agenda", "--from"), ("simulate", "--start"),
                                                 ("simulate", "--from")])
@pytest.mark.parametrize("day", ["9999-12-30", "0001-01-01"])
def test_dates_at_the_ends_of_the_calendar(command: str, option: str, day: str) -> None:
    assert "1900-01-01..9000-12-31" in usage_error(command, str(MINIMAL), option, day,
                                                   "--days", "3")


@pytest.mark.parametrize("target", ["missing-dir/x.ics", "."])
def test_agenda_output_that_cannot_be_written(tmp_path: Path, target: str) -> None:
    msg = usage_error("agenda", str(MINIMAL), "--from", "2026-11-24", "-f", "ics",
                      "-o", str(tmp_path / target))
    assert msg.startswith("cannot write")


def test_no_traceback_end_to_end(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "sopctl", "agenda", str(MINIMAL), "--from",
                           "9999-12-31", "-f", "json", "-o", str(tmp_path)],
                          capture_output=True, text=True, encoding="utf-8", timeout=60,
                          env={**os.environ, "SOPCTL_DEBUG": ""})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "internal error" not in proc.stderr and "error:" in proc.stderr


def test_serve_port_in_use_or_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        msg = usage_error("serve", str(MINIMAL), "--port", str(port),
                          "--state-dir", str(tmp_path))
    assert msg.startswith(f"cannot listen on 127.0.0.1:{port}")
    code, out, _ = cli("serve", str(MINIMAL), "--port", "99999", "--state-dir", str(tmp_path))
    assert code == 2 and "65535" in out


def test_serve_shares_the_state_dir_variable_with_run(tmp_path: Path) -> None:
    inbox = tmp_path / "in.jsonl"
    inbox.write_text("", encoding="utf-8")
    r = CliRunner().invoke(app, ["serve", str(MINIMAL), "--once", "--inbox", str(inbox)],
                           env={"SOPCTL_STATE_DIR": str(tmp_path / "state")})
    assert r.exit_code == 0, r.output
    assert any((tmp_path / "state").iterdir())


def test_serve_warns_about_a_missing_inbox(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["serve", str(MINIMAL), "--once", "--inbox",
                                 str(tmp_path / "none.jsonl"), "--state-dir", str(tmp_path)])
    assert r.exit_code == 0 and "does not exist" in r.output


@pytest.mark.parametrize("args", [["history", "--limit", "0"], ["history", "--limit", "-1"],
                                  ["status", "--next", "-5"]])
def test_negative_counts_are_refused(tmp_path: Path, args: list[str]) -> None:
    code, _, _ = cli(*args, "--state-dir", str(tmp_path))
    assert code == 2


def test_history_table_fits_the_terminal_and_keeps_cjk(tmp_path: Path) -> None:
    env = {**os.environ, "SOPCTL_STATE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-m", "sopctl", "run", str(MINIMAL), "--once", "--since",
                    "48h"], env=env, capture_output=True, timeout=60, check=True)
    for width in (120, 80, 60):
        proc = subprocess.run([sys.executable, "-m", "sopctl", "history"],
                              env={**env, "COLUMNS": str(width)}, capture_output=True,
                              text=True, encoding="utf-8", timeout=60)
        lines = proc.stdout.splitlines()
        assert proc.returncode == 0 and all(len(line) <= width for line in lines), proc.stdout
        # no playbook here: the times are UTC and say so
        assert any(line.startswith("UTC ") for line in lines)  # header unbroken
        assert "美肌福利群" in proc.stdout  # never cut
        assert "skipped" in proc.stdout
