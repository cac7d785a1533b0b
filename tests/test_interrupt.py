"""Ctrl-C, as a user presses it: real processes sent SIGINT.

Every command ends with exit 130 (128 + SIGINT) and one line, "interrupted", in the
selected language, without a traceback, whether it was working or waiting at a prompt.
End of input at a prompt is not an interrupt (exit 1). `sopctl run` takes SIGINT as a
graceful stop: messages in flight finish, the rest is handed back, the summary is printed.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOPCTL = [sys.executable, "-m", "sopctl"]
EVENTS_PLAYBOOK = ROOT / "tests" / "events" / "events_playbook.yaml"
MESSAGE = {"en": "interrupted\n", "zh-CN": "已中断\n"}

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def _env(lang: str = "en") -> dict[str, str]:
    env = {**os.environ, "SOPCTL_LANG": lang, "NO_COLOR": "1"}
    env.pop("SOPCTL_DEBUG", None)
    return env


def _start(args: list[str], cwd: Path, lang: str = "en",
           env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([*SOPCTL, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=cwd, env=env or _env(lang))


def _until_output(proc: subprocess.Popen, text: str, timeout: float = 60) -> str:
    """Read stdout until ``text`` shows (a prompt is written without a newline)."""
    seen, end = b"", time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while text.encode() not in seen:
        left = end - time.monotonic()
        assert left > 0 and proc.poll() is None, seen.decode(errors="replace")
        if select.select([fd], [], [], left)[0]:
            seen += os.read(fd, 4096)
    return seen.decode()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _interrupt(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    try:
        _out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err.decode()


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_ctrl_c_while_simulate_works_exits_130_with_one_line(tmp_path: Path, lang: str) -> None:
    """A forecast of a minute or more, interrupted once it is computing: numpy is loaded
    only by the forecast, and the process has spent CPU time beyond start-up."""
    proc = _start(["simulate", str(ROOT / "playbooks" / "fruit.yaml"), "--groups", "2000",
                   "--days", "1000", "--runs", "20", "--format", "json"], tmp_path, lang)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "it never got going"
            maps = Path(f"/proc/{proc.pid}/maps").read_text()
            if "_multiarray_umath" in maps and _cpu_seconds(proc.pid) > 2.5:
                break
            time.sleep(0.05)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    rc, err = _interrupt(proc)
    assert rc == 130
    assert err == MESSAGE[lang]  # one line: no traceback, no "Aborted!"


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_ctrl_c_at_an_init_prompt_exits_130_with_one_line(tmp_path: Path, lang: str) -> None:
    out = tmp_path / "p.yaml"
    proc = _start(["init", "-o", str(out)], tmp_path, lang)
    _until_output(proc, "(product, interest")
    rc, err = _interrupt(proc)
    assert (rc, err) == (130, MESSAGE[lang])
    assert not out.exists()


def test_end_of_input_at_an_init_prompt_exits_1_and_is_no_interrupt(tmp_path: Path) -> None:
    proc = subprocess.run([*SOPCTL, "init", "-o", str(tmp_path / "p.yaml")], input=b"",
                          capture_output=True, timeout=60, cwd=tmp_path, env=_env())
    assert proc.returncode == 1
    assert "interrupted" not in proc.stderr.decode()


def _member_held(tmp_path: Path) -> Path:
    inbox = tmp_path / "events.jsonl"
    inbox.write_text(json.dumps({"id": "j1", "type": "join", "group": "g001", "member": "wm1",
                                 "nickname": "小丽"}) + "\n", encoding="utf-8")
    state = tmp_path / "state"
    r = subprocess.run([*SOPCTL, "serve", str(EVENTS_PLAYBOOK), "--inbox", str(inbox), "--once",
                        "--state-dir", str(state)], capture_output=True, timeout=120,
                       env=_env())
    assert r.returncode == 0, r.stderr.decode()
    return state


def _groups_of(state: Path, member: str) -> list:
    r = subprocess.run([*SOPCTL, "members", "export", member, "--state-dir", str(state)],
                       capture_output=True, timeout=60, env=_env())
    return json.loads(r.stdout)["groups"]


def test_ctrl_c_at_the_forget_question_is_no_answer_but_an_interrupt(tmp_path: Path) -> None:
    """Before, Ctrl-C there read as "no" (exit 1, "nothing deleted")."""
    state = _member_held(tmp_path)
    proc = _start(["members", "forget", "wm1", "--state-dir", str(state)], tmp_path)
    _until_output(proc, "[y/N]")
    rc, err = _interrupt(proc)
    assert (rc, err) == (130, MESSAGE["en"])
    assert len(_groups_of(state, "wm1")) == 1  # nothing deleted
    # end of input still answers no
    r = subprocess.run([*SOPCTL, "members", "forget", "wm1", "--state-dir", str(state)],
                       input=b"", capture_output=True, timeout=60, env=_env())
    assert r.returncode == 1 and "nothing deleted" in r.stdout.decode()
    assert "interrupted" not in r.stderr.decode()


# ----------------------------------------------------------------------------- sopctl run

PLAYBOOK = """\
version: 1
name: 中断测试
timezone: Asia/Shanghai
positioning: {{type: product, purpose: 测试, name_pattern: "测试群{{n:03}}"}}
timetable:
  - {{id: morning, kind: good-morning, at: "07:30", grace: 30m, text: 早上好}}
channels:
  out: {{type: webhook, url: "{url}"}}
channel: out
groups:
{groups}"""


class _Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    received: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body)["key"])
        time.sleep(1.5)
        out = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a: object) -> None:
        pass


class _SlowServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def test_ctrl_c_stops_a_run_gracefully_as_before(tmp_path: Path) -> None:
    """SIGINT mid-burst is the run's own stop: in flight finishes, the rest is handed back,
    the summary is printed and the exit is 0, as for SIGTERM; no "interrupted"."""
    _Slow.received = []
    srv = _SlowServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/hook"
    groups = "".join(f"  - {{id: g{i:03d}, opened: 2026-11-01}}\n" for i in range(1, 21))
    pb = tmp_path / "pb.yaml"
    pb.write_text(PLAYBOOK.format(url=url, groups=groups), encoding="utf-8")
    state = tmp_path / "state"
    env = {**_env(), "SOPCTL_NOW": "2026-11-24T07:29:59+08:00"}
    proc = _start(["run", str(pb), "--state-dir", str(state), "--log-format", "json"],
                  tmp_path, env=env)
    try:
        deadline = time.monotonic() + 60
        while not _Slow.received and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        if not _Slow.received:
            proc.kill()
            pytest.fail("nothing was sent: " + proc.communicate()[1].decode()[-2000:])
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        srv.shutdown()
    err_text = err.decode()
    assert proc.returncode == 0, err_text
    assert "interrupted" not in err_text and "Traceback" not in err_text
    events = [json.loads(x)["event"] for x in err_text.splitlines() if x.startswith("{")]
    assert "stop" in events
    assert "summary" in json.loads(out.decode().splitlines()[-1])
    h = subprocess.run([*SOPCTL, "history", "--state-dir", str(state), "--format", "json"],
                       capture_output=True, timeout=60, env=_env())
    rows = [json.loads(x) for x in h.stdout.decode().splitlines()]
    # nothing left claimed or sending; what reached the server is recorded sent
    assert rows and not {r["status"] for r in rows} & {"claimed", "sending", "uncertain"}
    assert sorted(r["key"] for r in rows if r["status"] == "sent") == sorted(_Slow.received)
