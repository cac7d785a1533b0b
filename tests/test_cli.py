"""The command line's contract: --version, --help everywhere, `python -m sopctl`,
exit 2 for usage errors, and never a traceback for an internal error."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sopctl import __version__
from sopctl.main import COMMANDS as TABLE
from sopctl.main import _invoked, app, build_app

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = sorted(c.name for c in app.registered_commands if c.name)


def _run(args: list[str], cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, encoding="utf-8",
                          timeout=60, env={**os.environ, **env})


def test_version_through_module_and_script() -> None:
    proc = _run([sys.executable, "-m", "sopctl", "--version"])
    assert proc.returncode == 0 and proc.stdout.strip() == f"sopctl {__version__}"
    script = shutil.which("sopctl")
    if script is None:
        pytest.skip("console script not on PATH")
    proc = _run([script, "--version"])
    assert proc.returncode == 0 and proc.stdout.strip() == f"sopctl {__version__}"


def test_module_runs_a_command() -> None:
    proc = _run([sys.executable, "-m", "sopctl", "lint", "examples/minimal.yaml", "--no-env",
                 "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_root_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def test_core_commands_are_registered() -> None:
    assert {"lint", "rules", "rule", "schema", "init"} <= set(COMMANDS)
    assert set(COMMANDS) | {g.name for g in app.registered_groups} == set(TABLE)


@pytest.mark.parametrize("args", [["lint", "--help"], ["members", "--help"],
                                  ["lint", "examples/minimal.yaml", "--no-env", "-f", "json"],
                                  ["lint", "--format", "xml"]])
def test_a_command_built_alone_behaves_as_in_the_whole_tree(args: list[str]) -> None:
    lone = build_app(args[0])
    assert [c.name for c in lone.registered_commands] + [
        g.name for g in lone.registered_groups] == [args[0]]
    full, part = CliRunner().invoke(app, args), CliRunner().invoke(lone, args)
    assert (part.exit_code, part.output) == (full.exit_code, full.output)


def test_only_the_invoked_command_is_built_except_for_completion(monkeypatch) -> None:
    monkeypatch.delenv("_SOPCTL_COMPLETE", raising=False)
    assert _invoked(["sopctl", "lint", "x.yaml"]) == "lint"
    assert _invoked(["sopctl", "bogus"]) is None and _invoked(["sopctl", "--help"]) is None
    monkeypatch.setenv("_SOPCTL_COMPLETE", "complete_bash")
    assert _invoked(["sopctl", "lint"]) is None


def test_shell_completion_sees_every_command_and_option() -> None:
    names = _run([sys.executable, "-m", "sopctl"], _SOPCTL_COMPLETE="complete_bash",
                 COMP_WORDS="sopctl s", COMP_CWORD="1").stdout.split()
    assert set(names) == {n for n in TABLE if n.startswith("s")}
    opts = _run([sys.executable, "-m", "sopctl"], _SOPCTL_COMPLETE="complete_bash",
                COMP_WORDS="sopctl lint --st", COMP_CWORD="2").stdout.split()
    assert set(opts) == {"--strict", "--statistics"}


@pytest.mark.parametrize("name", COMMANDS)
def test_help_on_every_command(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert f"sopctl {name}" in result.output and "--help" in result.output


@pytest.mark.parametrize("args", [[], ["bogus"], ["lint", "--format", "xml"],
                                  ["lint", "--no-such-option"], ["rule"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    proc = _run([sys.executable, "-m", "sopctl", *args])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_user_errors_exit_2_cleanly(tmp_path: Path) -> None:
    proc = _run([sys.executable, "-m", "sopctl", "rule", "SOP9999"], cwd=tmp_path)
    assert proc.returncode == 2 and "error:" in proc.stderr and "Traceback" not in proc.stderr


_CRASH = """
import sys
import sopctl.commands.lint as lint_cmd
import sopctl.lint.engine as engine

def boom(*args, **kwargs):
    raise RuntimeError("kaboom 坏了")

engine.lint_paths = boom
sys.argv = ["sopctl", "lint", "examples/minimal.yaml"]
from sopctl.main import main
main()
"""


def test_internal_error_prints_no_traceback() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SOPCTL_DEBUG"}
    proc = subprocess.run([sys.executable, "-c", _CRASH], cwd=ROOT, capture_output=True,
                          text=True, encoding="utf-8", timeout=60, env=env)
    assert proc.returncode == 2
    assert "internal error" in proc.stderr and "kaboom 坏了" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "SOPCTL_DEBUG" in proc.stderr  # says how to get the traceback


def test_internal_error_traceback_on_request() -> None:
    proc = subprocess.run([sys.executable, "-c", _CRASH], cwd=ROOT, capture_output=True,
                          text=True, encoding="utf-8", timeout=60,
                          env={**os.environ, "SOPCTL_DEBUG": "1"})
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_a_short_option_means_the_same_everywhere() -> None:
    import typer.main

    meaning: dict[str, set[str]] = {}

    def walk(cmd) -> None:
        for p in cmd.params:
            longs = [o for o in p.opts if o.startswith("--")]
            for short in (o for o in p.opts if o[:1] == "-" and o[:2] != "--"):
                meaning.setdefault(short, set()).update(longs)
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(app))
    assert meaning and all(len(v) == 1 for v in meaning.values()), meaning


def test_the_ledger_options_are_one_declaration() -> None:
    """--store and --state-dir read the same environment and say the same everywhere."""
    import typer.main

    seen: dict[str, list[tuple[str, tuple]]] = {"--store": [], "--state-dir": []}

    def walk(cmd, path: str) -> None:
        for p in cmd.params:
            for opt in set(p.opts) & set(seen):
                seen[opt].append((path, (p.envvar, p.help, p.default)))
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())

    walk(typer.main.get_command(app), "")
    users = {"run", "serve", "status", "history", "members export", "members forget",
             "members dedup", "calibrate"}
    for opt, uses in seen.items():
        assert {u[0] for u in uses} == users, opt
        assert len({u[1] for u in uses}) == 1, uses
    assert seen["--store"][0][1][0] == "SOPCTL_STORE"
    assert seen["--state-dir"][0][1][0] == "SOPCTL_STATE_DIR"



def _port_options() -> list[tuple[list[str], str]]:
    """(command path, option) of every option taking a port, found in the click tree."""
    import typer.main

    found: list[tuple[list[str], str]] = []

    def walk(cmd, path: list[str]) -> None:
        for p in cmd.params:
            if any(o == "--port" or o.endswith("-port") for o in p.opts):
                found.append((path, p.opts[0]))
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def test_every_port_option_is_range_checked(tmp_path: Path) -> None:
    found = _port_options()
    assert {(" ".join(c), o) for c, o in found} >= {("run", "--metrics-port"),
                                                     ("serve", "--port")}
    pb = str(ROOT / "examples" / "minimal.yaml")
    for cmd, opt in found:
        for bad in ("0", "65536", "-1"):
            r = CliRunner().invoke(app, [*cmd, pb, opt, bad, "--state-dir", str(tmp_path)],
                                   env={"COLUMNS": "200", "SOPCTL_LANG": "en"})
            assert r.exit_code == 2, (cmd, opt, bad, r.output)
            assert f"{bad} is not a port; use a number from 1 to 65535" in r.output


def test_metrics_port_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "sopctl", "run", str(ROOT / "examples" /
                           "minimal.yaml"), "--metrics-port", "99999", "--once", "--state-dir",
                           str(tmp_path)], capture_output=True, text=True, encoding="utf-8",
                          timeout=60, env={**os.environ, "SOPCTL_DEBUG": "", "COLUMNS": "200",
                                           "SOPCTL_LANG": "en"})
    assert proc.returncode == 2, proc.stderr
    assert "'--metrics-port': 99999 is not a port; use a number from 1 to 65535" in proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


def test_agenda_says_when_run_would_refuse_the_playbook() -> None:
    from typer.testing import CliRunner

    from sopctl.main import app

    root = Path(__file__).resolve().parents[1]
    bad = CliRunner().invoke(app, ["agenda", str(root / "examples/rules/SOP203.bad.yaml"),
                                   "--days", "1"])
    assert bad.exit_code == 0 and "sopctl run refuses it" in bad.stderr
    good = CliRunner().invoke(app, ["agenda", str(root / "playbooks/skincare.yaml"),
                                    "--days", "1"])
    assert good.exit_code == 0 and "refuses" not in good.stderr
