"""The JSON-lines inbox (offsets, malformed lines) and the serve/members commands."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from typer.testing import CliRunner

from sopctl.events.engine import EventEngine
from sopctl.events.inbox import read_inbox
from sopctl.main import app
from sopctl.run.ledger import Ledger

HERE = Path(__file__).parent


def line(**kw) -> str:
    return json.dumps(kw, ensure_ascii=False) + "\n"


def test_inbox_offsets_and_malformed_lines(pb, tmp_path, caplog):
    inbox = tmp_path / "in"
    inbox.mkdir()
    f = inbox / "a.jsonl"
    f.write_text(line(id="1", type="message", group="g001", member="u1", text="多少钱",
                      at="2026-11-24T02:00:00Z")
                 + "{broken\n"
                 + line(id="2", type="join", group="nowhere", member="u2")
                 + line(id="3", type="checkin", group="wrOgAAA001", member="u1",
                        at="2026-11-24T02:00:00Z")
                 + '{"id": "4", "type": "checkin"', encoding="utf-8")  # writer mid-line
    led = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    eng = EventEngine(pb, led)
    with caplog.at_level(logging.WARNING, "sopctl.events"):
        rep = read_inbox(eng, inbox)
    assert (rep.events, rep.skipped) == (2, 2)
    assert f"{f}:2: skipped: malformed JSON" in caplog.text
    assert f"{f}:3: skipped: unknown group 'nowhere'" in caplog.text
    assert eng.store.get("g001", "u1")["points"] == 2
    # nothing new: nothing read; the finished line is read next time, with its line number
    assert read_inbox(eng, inbox).events == 0
    with f.open("a", encoding="utf-8") as fh:
        fh.write(', "group": "g002", "member": "u1"}\n{bad\n')
    caplog.clear()
    with caplog.at_level(logging.WARNING, "sopctl.events"):
        rep = read_inbox(eng, inbox)
    assert (rep.events, rep.skipped) == (1, 1) and f"{f}:6: skipped" in caplog.text
    led.close()


def test_serve_once_and_members_export_forget(tmp_path):
    inbox = tmp_path / "events.jsonl"
    inbox.write_text(line(id="j1", type="join", group="g001", member="wm1", nickname="小丽")
                     + line(id="p1", type="purchase", group="g001", member="wm1", amount=9.9,
                            product="trial"), encoding="utf-8")
    state = str(tmp_path / "state")
    runner = CliRunner()
    r = runner.invoke(app, ["serve", str(HERE / "events_playbook.yaml"), "--inbox", str(inbox),
                            "--once", "--state-dir", state])
    assert r.exit_code == 0, r.output
    # the console channel, as for the timetable: the group, then the text
    assert "events: 2" in r.output and "美肌福利群001 (console)\n@小丽 欢迎加入中转群" in r.output
    r = runner.invoke(app, ["members", "export", "wm1", "--state-dir", state])
    data = json.loads(r.output)
    assert data["groups"][0]["stage"] == "transit" and data["groups"][0]["spend"] == 9.9
    led = Ledger(f"sqlite:///{Path(state).resolve() / 'ledger.db'}")
    rows = {row["key"]: row["status"] for row in led.rows()}
    led.close()
    assert rows == {"promote/g001/wm1/transit/invite": "sent"}  # the welcome waits 3 min
    r = runner.invoke(app, ["members", "forget", "wm1", "--state-dir", state], input="n\n")
    assert r.exit_code == 1 and "nothing deleted" in r.output
    r = runner.invoke(app, ["members", "forget", "wm1", "--yes", "--state-dir", state])
    assert "deleted 1" in r.output
    r = runner.invoke(app, ["members", "export", "wm1", "--state-dir", state])
    assert json.loads(r.output)["groups"] == []


def test_reactions_show_in_history_and_status_with_the_timetable(tmp_path):
    inbox = tmp_path / "events.jsonl"
    inbox.write_text(line(id="q1", type="message", group="g001", member="wm1", text="多少钱")
                     + line(id="a1", type="message", group="g001", member="wm2",
                            text="加微信 领券"), encoding="utf-8")
    state = str(tmp_path / "state")
    pb = str(HERE / "events_playbook.yaml")
    runner = CliRunner()
    assert runner.invoke(app, ["serve", pb, "--inbox", str(inbox), "--once", "--state-dir",
                               state]).exit_code == 0
    r = runner.invoke(app, ["--lang", "en", "history", "--state-dir", state, "--format",
                            "json"])
    assert r.exit_code == 0, r.output
    rows = {x["key"]: x for x in map(json.loads, r.output.splitlines()) if "key" in x}
    assert {k: v["status"] for k, v in rows.items()} == {"reply/g001/q1": "sent",
                                                          "warn/g001/a1": "sent"}
    assert rows["warn/g001/a1"]["slot"] == "rule:no-ads"
    r = runner.invoke(app, ["--lang", "en", "status", pb, "--state-dir", state])
    assert r.exit_code == 0 and "reply:price" in r.output and "rule:no-ads" in r.output


def test_serve_log_lines_are_on_the_playbooks_clock(tmp_path):
    """Log lines a person reads carry the playbook's local time and zone, in their language
    (a real process: logging is set up once per process)."""
    import os
    import re
    import subprocess
    import sys

    inbox = tmp_path / "in.jsonl"
    inbox.write_text(line(id="j1", type="join", group="g001", member="wm1", nickname="小丽")
                     + "{broken\n", encoding="utf-8")
    for lang, level, summary in (("zh-CN", "警告", "事件：1"), ("en", "warning", "events: 1")):
        env = {**os.environ, "SOPCTL_LANG": lang, "TZ": "America/New_York"}
        r = subprocess.run([sys.executable, "-m", "sopctl", "serve",
                            str(HERE / "events_playbook.yaml"), "--inbox", str(inbox), "--once",
                            "--state-dir", str(tmp_path / lang)],
                           capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 0, r.stderr
        assert summary in r.stdout
        warned = [x for x in r.stderr.splitlines() if ":2" in x]
        assert warned and re.match(rf"\d\d:\d\d:\d\d Asia/Shanghai {level} ", warned[0]), r.stderr
