"""`sopctl run/history/status` as a user runs them: real processes, real files, real signals."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from .conftest import write_playbook

REPO = Path(__file__).resolve().parents[2]
SOPCTL = [sys.executable, "-m", "sopctl"]


def sopctl(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 120):
    e = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    e.pop("SOPCTL_TEST_CRASH_AFTER_CLAIM", None) if "SOPCTL_TEST_CRASH_AFTER_CLAIM" not in (
        env or {}) else None
    return subprocess.run([*SOPCTL, *args], env=e, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, encoding="utf-8")


def outbox(state: Path) -> list[dict]:
    p = state / "outbox.jsonl"
    if not p.exists():
        return []
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x.strip()]


AT_0730 = {"SOPCTL_NOW": "2026-11-24T07:30:20+08:00"}


def test_once_twice_in_the_same_minute(tmp_path):
    pb = write_playbook(tmp_path / "pb.yaml", groups=3)
    st = tmp_path / "state"
    a = sopctl("run", "--once", str(pb), "--state-dir", str(st), "--log-format", "json",
               env=AT_0730)
    assert a.returncode == 0, a.stderr
    assert json.loads(a.stdout.splitlines()[-1])["summary"]["sent"] == 3
    b = sopctl("run", "--once", str(pb), "--state-dir", str(st), "--since", "10m",
               "--log-format", "json", env={"SOPCTL_NOW": "2026-11-24T07:30:50+08:00"})
    assert b.returncode == 0, b.stderr
    summary = json.loads(b.stdout.splitlines()[-1])["summary"]
    assert summary["sent"] == 0 and summary["already_handled"] == 3
    assert len(outbox(st)) == 3


def test_crash_between_claim_and_send(tmp_path):
    """The process dies right after a flip to `sending` committed, before the request: the
    flipped rows become uncertain (not re-sent unless asked), any row still only claimed is
    sent by the restart, and --resend-uncertain sends the uncertain ones once more."""
    pb = write_playbook(tmp_path / "pb.yaml", groups=2)
    st = tmp_path / "state"
    args = ("run", "--once", str(pb), "--state-dir", str(st))
    dead = sopctl(*args, env={**AT_0730, "SOPCTL_TEST_CRASH_AFTER_CLAIM": "1"})
    assert dead.returncode == 137 and outbox(st) == []
    h0 = sopctl("history", "--state-dir", str(st), "--format", "json")
    at_crash = {r["group_id"]: r["status"] for r in map(json.loads, h0.stdout.splitlines())}
    flipped = {g for g, s in at_crash.items() if s == "sending"}
    assert flipped and set(at_crash.values()) <= {"sending", "claimed"}, at_crash
    again = sopctl(*args, env={"SOPCTL_NOW": "2026-11-24T07:31:00+08:00"})
    assert again.returncode == 0, again.stderr
    assert "uncertain" in again.stderr
    assert {m["group_id"] for m in outbox(st)} == set(at_crash) - flipped  # not re-sent
    h = sopctl("history", "--uncertain", "--state-dir", str(st), "--format", "json")
    rows = [json.loads(x) for x in h.stdout.splitlines()]
    assert {r["group_id"] for r in rows} == flipped
    assert all(r["status"] == "uncertain" for r in rows)
    resend = sopctl(*args, "--resend-uncertain", env={"SOPCTL_NOW": "2026-11-24T07:32:00+08:00"})
    assert resend.returncode == 0, resend.stderr
    assert sorted(m["group_id"] for m in outbox(st)) == ["g001", "g002"]
    h2 = sopctl("history", "--state-dir", str(st), "--format", "csv")
    got = list(csv.DictReader(io.StringIO(h2.stdout)))
    assert [(r["group_id"], r["status"], r["attempts"]) for r in got] == [
        (g, "sent", "2" if g in flipped else "1") for g in ("g001", "g002")]


class _Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the platforms do
    received: ClassVar[list[str]] = []
    delay = 1.5

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body)["key"])
        time.sleep(self.delay)
        out = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a) -> None:
        pass


class _SlowServer(ThreadingHTTPServer):
    request_queue_size = 64  # 20 runner connections at once; this server only


def test_sigterm_finishes_in_flight_sends_and_exits_0(tmp_path):
    _Slow.received = []
    srv = _SlowServer(("127.0.0.1", 0), _Slow)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/hook"
    pb = write_playbook(tmp_path / "pb.yaml", groups=20, channel="webhook",
                        extra=f", url: \"{url}\"")
    st = tmp_path / "state"
    env = {**os.environ, "SOPCTL_NOW": "2026-11-24T07:29:59+08:00", "NO_COLOR": "1"}
    p = subprocess.Popen([*SOPCTL, "run", str(pb), "--state-dir", str(st), "--log-format",
                          "json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        deadline = time.monotonic() + 30
        while not _Slow.received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _Slow.received, "nothing was sent"
        p.send_signal(signal.SIGTERM)
        _out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
        srv.shutdown()
    assert p.returncode == 0, err
    h = sopctl("history", "--state-dir", str(st), "--format", "json")
    rows = [json.loads(x) for x in h.stdout.splitlines()]
    # in flight: finished and recorded; not begun: handed back; none left claimed or sending
    assert rows and {r["status"] for r in rows} <= {"sent", "released"}
    assert sorted(r["key"] for r in rows if r["status"] == "sent") == sorted(_Slow.received)
    assert any(json.loads(x)["event"] == "stop" for x in err.splitlines() if x.startswith("{"))


def test_playbook_with_errors_refuses_to_start(tmp_path):
    pb = write_playbook(tmp_path / "pb.yaml")
    pb.write_text(pb.read_text("utf-8").replace("Asia/Shanghai", "Asia/Beijing"), "utf-8")
    r = sopctl("run", "--once", str(pb), "--state-dir", str(tmp_path / "s"))
    assert r.returncode == 1
    assert f"{pb}:3:11: SOP013" in r.stderr and "Traceback" not in r.stderr


def test_unset_secret_is_a_clean_usage_error(tmp_path):
    pb = write_playbook(tmp_path / "pb.yaml", channel="wecom-robot",
                        extra=', key: "${SOPCTL_TEST_UNSET_KEY}"')
    r = sopctl("run", "--once", str(pb), "--state-dir", str(tmp_path / "s"), env=AT_0730)
    assert r.returncode == 2
    assert "SOPCTL_TEST_UNSET_KEY" in r.stderr and "Traceback" not in r.stderr
    # --channel console overrides every channel: a dry demo needs no key
    ok = sopctl("run", "--once", str(pb), "--state-dir", str(tmp_path / "s"), "--channel",
                "console", env=AT_0730)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.count("早上好 美肌福利群00") == 2


def test_bad_since_and_store(tmp_path):
    pb = write_playbook(tmp_path / "pb.yaml")
    r = sopctl("run", "--once", str(pb), "--since", "yesterday-ish")
    assert r.returncode == 2 and "--since" in r.stderr
    r = sopctl("history", "--store", "nosuchdb://x")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = sopctl("history", "--status", "delivered", "--state-dir", str(tmp_path / "s"))
    assert r.returncode == 2 and "unknown status" in r.stderr


def test_dry_run_and_status_and_history_table(tmp_path):
    pb = write_playbook(tmp_path / "pb.yaml", groups=2)
    st = str(tmp_path / "state")
    d = sopctl("run", str(pb), "--dry-run", "--state-dir", st, env=AT_0730)
    assert d.returncode == 0 and "due now: 2" in d.stdout
    assert sopctl("history", "--state-dir", st, "-f", "json").stdout == ""
    sopctl("run", "--once", str(pb), "--state-dir", st, env=AT_0730)
    t = sopctl("history", "--state-dir", st, "--group", "g002")
    assert "美肌测试" in t.stdout and "g002" in t.stdout and "g001" not in t.stdout
    s = sopctl("status", str(pb), "--state-dir", st, "--json",
               env={"SOPCTL_NOW": "2026-11-24T07:40:00+08:00"})
    doc = json.loads(s.stdout)
    assert doc["next"][0]["slot"] == "noon" and doc["next"][0]["local"].startswith(
        "2026-11-24T11:00")
    assert [r["status"] for r in doc["last_sends"]] == ["sent", "sent"]
    s2 = sopctl("status", str(pb), "--state-dir", st,
                env={"SOPCTL_NOW": "2026-11-24T07:40:00+08:00"})
    assert s2.returncode == 0 and "next occurrences" in s2.stdout and "11:00" in s2.stdout
    s3 = sopctl("status", str(pb), "--state-dir", st, "--format", "json",
                env={"SOPCTL_NOW": "2026-11-24T07:40:00+08:00"})
    assert json.loads(s3.stdout)["next"] == doc["next"]  # --json is short for --format json


@pytest.mark.postgres
def test_run_on_postgres_store(tmp_path, pg_schema_url):
    url = pg_schema_url()
    pb = write_playbook(tmp_path / "pb.yaml", groups=2)
    st = tmp_path / "state"
    for _ in range(2):
        r = sopctl("run", "--once", str(pb), "--store", url, "--state-dir", str(st),
                   env=AT_0730)
        assert r.returncode == 0, r.stderr
    assert len(outbox(st)) == 2
    h = sopctl("history", "--store", url, "-f", "json")
    assert [json.loads(x)["status"] for x in h.stdout.splitlines()] == ["sent", "sent"]


def test_readme_main_job_on_a_fresh_state_dir(tmp_path):
    r = sopctl("run", "--once", str(REPO / "playbooks" / "skincare.yaml"), "--since", "24h",
               env={"SOPCTL_STATE_DIR": str(tmp_path / ".sopctl"),
                    "SOPCTL_NOW": "2026-11-24T11:05:00+08:00"}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "sent" in r.stdout and "skipped" in r.stdout
    assert "美肌" in r.stdout  # CJK group names printed by the console channel
    assert (tmp_path / ".sopctl" / "ledger.db").exists()
    h = sopctl("history", "-f", "json", env={"SOPCTL_STATE_DIR": str(tmp_path / ".sopctl")})
    statuses = {json.loads(x)["status"] for x in h.stdout.splitlines()}
    assert {"sent", "skipped"} <= statuses


def test_remind_slot_tells_staff_instead_of_posting(tmp_path):
    pb = write_playbook(tmp_path / "pb.yaml", groups=1, channel="console", extra="")
    text = pb.read_text("utf-8").replace("    text: 午间护肤小知识\n",
                                         "    text: 午间护肤小知识\n    delivery: remind\n")
    pb.write_text(text.replace("opened: 2026-11-01}", "opened: 2026-11-01, owner: 小春}"),
                  "utf-8")
    r = sopctl("run", "--once", str(pb), "--state-dir", str(tmp_path / "s"),
               env={"SOPCTL_NOW": "2026-11-24T11:00:20+08:00"})
    assert r.returncode == 0, r.stderr
    assert "请在 11:00 于 美肌福利群001 发送: 午间护肤小知识" in r.stdout
    assert "@小春" in r.stdout
