"""First contact: the README's first command shows the runner delivering and recording, at
any hour, and a rehearsal never touches the real ledger or a real channel."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from typer.testing import CliRunner

from sopctl.main import app

ROOT = Path(__file__).resolve().parent.parent
SKINCARE = ROOT / "playbooks" / "skincare.yaml"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _planned(path: Path, day: str) -> int:
    from sopctl.plan import build_plan
    from sopctl.plan.timing import LocalClock
    from sopctl.playbook.loader import load_playbook

    pb = load_playbook(str(path)).playbook
    clock = LocalClock(pb.timezone)
    d = datetime.fromisoformat(day).date()
    start = clock.day_start(d)
    end = clock.day_start(d.fromordinal(d.toordinal() + 1))
    return sum(1 for o in build_plan(pb, start, end) if start <= o.at_utc < end)


def _rehearse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local: str, *args: str,
              lang: str = "en") -> tuple[int, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOPCTL_STATE_DIR", str(tmp_path / "real-state"))
    monkeypatch.delenv("SOPCTL_NOW", raising=False)
    from sopctl import i18n

    at = datetime.fromisoformat(local).replace(tzinfo=SHANGHAI)
    i18n.setup(lang)  # the console entry point does this from --lang before Typer runs
    try:
        with time_machine.travel(at, tick=False):
            result = CliRunner().invoke(app, ["run", "--rehearse", *args])
    finally:
        i18n.setup("en")
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.mark.parametrize("local", ["2026-12-02T00:00", "2026-12-02T03:00", "2026-12-02T07:45",
                                   "2026-12-02T13:10", "2026-12-02T21:30", "2026-12-02T23:59"])
def test_rehearsal_delivers_the_whole_day_at_any_hour(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      local: str) -> None:
    code, out = _rehearse(tmp_path, monkeypatch, local, str(SKINCARE))
    assert code == 0, out
    planned = _planned(SKINCARE, local[:10])
    assert planned > 20
    # each message was printed by the console channel, under a labelled local time
    assert out.count("(console") == planned
    assert re.search(r"^\d\d:\d\d Asia/Shanghai · rehearsal", out, re.M) and "美肌福利群001" in out
    assert f"{planned} messages were delivered to the console and recorded" in out
    row = next(line for line in out.splitlines() if line.startswith("美肌福利群 "))
    # planned, delivered, recorded (read back from the rehearsal's ledger)
    assert re.search(rf"│\s+{planned}\s+│\s+{planned}\s+│\s+{planned}\s+│", row), row
    assert f"{local[:10]} Asia/Shanghai" in row
    assert not (tmp_path / "real-state").exists() and not (tmp_path / ".sopctl").exists()


def test_rehearsal_speaks_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _rehearse(tmp_path, monkeypatch, "2026-12-02T03:00", str(SKINCARE),
                          lang="zh-CN")
    assert code == 0, out
    planned = _planned(SKINCARE, "2026-12-02")
    assert "演练" in out and f"{planned} 条消息" in out
    assert "Rehearsal" not in out and "messages were delivered" not in out


def test_a_day_without_messages_rehearses_the_next_one(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "examples" / "minimal.yaml").read_text(encoding="utf-8")
    text = text.replace('    at: "07:30"\n', '    at: "07:30"\n    days: [sat]\n')
    pb = tmp_path / "weekly.yaml"
    pb.write_text(text.replace("$schema=../docs/", "$schema="), encoding="utf-8")
    code, out = _rehearse(tmp_path, monkeypatch, "2026-12-02T03:00", str(pb))  # a Wednesday
    assert code == 0, out
    assert "2026-12-05" in out and "Nothing is planned for today (2026-12-02)" in out
    assert "1 message was delivered to the console and recorded" in out


def test_rehearsal_never_uses_a_real_channel_or_secret(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "examples" / "minimal.yaml").read_text(encoding="utf-8")
    # a channel *named* console that is not one, and a secret nobody set
    text = text.replace("  console: {type: console}\n",
                        '  console: {type: telegram, token: "${TG_BOT_TOKEN}", '
                        'chat_id: "-100123", base_url: "http://127.0.0.1:9"}\n')
    pb = tmp_path / "tg.yaml"
    pb.write_text(text, encoding="utf-8")
    monkeypatch.delenv("TG_BOT_TOKEN", raising=False)
    code, out = _rehearse(tmp_path, monkeypatch, "2026-12-02T03:00", str(pb))
    assert code == 0, out
    assert "1 message was delivered to the console" in out
    assert "早上好 美肌福利群001 的朋友们" in out


def test_rehearsal_leaves_the_real_ledger_alone(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "real-state"
    env = {**os.environ, "SOPCTL_STATE_DIR": str(real),
           "SOPCTL_NOW": "2026-12-02T00:05:00Z"}  # 08:05 local: the 08:00 slots are due
    subprocess.run([sys.executable, "-m", "sopctl", "run", "--once", str(SKINCARE)], env=env,
                   capture_output=True, timeout=120, check=True, cwd=tmp_path)
    db = real / "ledger.db"
    before = hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns
    listed = sorted(p.name for p in real.iterdir())  # the ledger and the host's rate state
    code, out = _rehearse(tmp_path, monkeypatch, "2026-12-02T08:10", str(SKINCARE))
    assert code == 0, out
    # the rehearsal sends the slots the real run already sent: its ledger is not this one
    assert "08:00 Asia/Shanghai · rehearsal" in out
    assert (hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns) == before
    assert sorted(p.name for p in real.iterdir()) == listed


@pytest.mark.parametrize("extra", [["--once"], ["--dry-run"], ["--since", "24h"],
                                   ["--channel", "wecom-robot"], ["--shard", "1/2"],
                                   ["--resend-uncertain"]])
def test_rehearsal_refuses_options_about_the_real_run(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      extra: list[str]) -> None:
    from sopctl.errors import UsageError

    with pytest.raises(UsageError, match="--rehearse cannot be combined with --"):
        _rehearse(tmp_path, monkeypatch, "2026-12-02T03:00", str(SKINCARE), *extra)
    assert not (tmp_path / "real-state").exists()


def _first_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)\n```", readme, re.S)
    assert block is not None
    return block.group(1).strip()


def test_readme_first_command_installs_and_rehearses() -> None:
    cmd = _first_command()
    assert "\n" not in cmd
    assert cmd.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install -q . "
                          "&& sopctl ")
    assert "--rehearse" in cmd.split("&& sopctl ", 1)[1]


@pytest.mark.parametrize("utc", ["2026-12-01T19:00:00Z", "2026-12-02T06:30:00Z"])  # 03:00, 14:30
def test_readme_first_command_shows_deliveries_on_a_fresh_checkout(tmp_path: Path,
                                                                   utc: str) -> None:
    """The sopctl part of the README's line, in a copy of the repository with no state."""
    shutil.copytree(ROOT / "playbooks", tmp_path / "playbooks")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    args = _first_command().split("&& sopctl ", 1)[1].split()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPCTL_", "LC_", "LANG"))}
    env.update(SOPCTL_NOW=utc, COLUMNS="100")
    proc = subprocess.run([sys.executable, "-m", "sopctl", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, encoding="utf-8", timeout=180)
    assert proc.returncode == 0, proc.stderr
    sent = re.search(r"(\d+) messages were delivered to the console and recorded", proc.stdout)
    assert sent is not None and int(sent.group(1)) > 20, proc.stdout[-2000:]
    assert proc.stdout.count("(console") == int(sent.group(1))
    assert not (tmp_path / ".sopctl").exists()


def test_several_playbooks_in_different_zones(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "examples" / "minimal.yaml").read_text(encoding="utf-8")
    berlin = tmp_path / "berlin.yaml"
    berlin.write_text(text.replace("name: 美肌福利群", "name: 柏林群")
                      .replace("timezone: Asia/Shanghai", "timezone: Europe/Berlin"),
                      encoding="utf-8")
    # 03:00 in Shanghai is 20:00 the day before in Berlin: each is rehearsed on its own day
    code, out = _rehearse(tmp_path, monkeypatch, "2026-12-02T03:00", str(SKINCARE),
                          str(berlin))
    assert code == 0, out
    assert "07:30 Europe/Berlin · rehearsal" in out
    assert re.search(r"^柏林群 .*2026-12-01 Europe/Berlin", out, re.M)
    assert re.search(r"^美肌福利群 .*2026-12-02 Asia/Shanghai", out, re.M)
    total = _planned(SKINCARE, "2026-12-02") + 1
    assert f"{total} messages were delivered to the console and recorded" in out


def test_readme_first_command_in_chinese(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "playbooks", tmp_path / "playbooks")
    args = _first_command().split("&& sopctl ", 1)[1].split()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPCTL_", "LC_", "LANG"))}
    env.update(SOPCTL_NOW="2026-12-01T19:00:00Z", LANG="zh_CN.UTF-8", COLUMNS="100")
    proc = subprocess.run([sys.executable, "-m", "sopctl", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, encoding="utf-8", timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "演练结束" in proc.stdout and "条消息已送达终端并记入演练台账" in proc.stdout


def test_rehearsal_never_opens_the_store_it_is_given(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "prod" / "ledger.db"
    code, out = _rehearse(tmp_path, monkeypatch, "2026-12-02T03:00", str(SKINCARE),
                          "--store", f"sqlite:///{store}", "--state-dir", str(tmp_path / "sd"))
    assert code == 0, out
    assert not store.parent.exists() and not (tmp_path / "sd").exists()
