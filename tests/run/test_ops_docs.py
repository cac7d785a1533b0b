"""The operations files in docs/ are real: each unit's ExecStart and the crontab command run
as written (paths swapped for temporary ones) and do what their comments say."""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from sopctl.plan.cron import parse_cron

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
SOPCTL_BIN = "/usr/local/bin/sopctl"


def unit(name: str) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    cp.optionxform = str  # systemd keys are case-sensitive
    cp.read_string((DOCS / name).read_text(encoding="utf-8"))
    return cp


def argv_of(exec_start: str) -> list[str]:
    argv = shlex.split(exec_start)
    assert argv[0] == SOPCTL_BIN
    return [sys.executable, "-m", "sopctl", *argv[1:]]


def env_of(cp: configparser.ConfigParser, state: Path) -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    for line in cp.get("Service", "Environment", fallback="").splitlines():
        k, _, v = line.partition("=")
        env[k] = v
    env["SOPCTL_STATE_DIR"] = str(state)  # instead of /var/lib/sopctl
    env["SOPCTL_NOW"] = "2026-11-24T11:05:00+08:00"  # the 11:00 slot is due
    return env


@contextlib.contextmanager
def started(argv: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """The unit's process, killed on the way out if a test failed before stopping it."""
    p = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        yield p
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()


def systemd_stop(p: subprocess.Popen) -> tuple[str, str]:
    """SIGTERM, as `systemctl stop` with KillSignal=SIGTERM; stdout and stderr once it ends."""
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    return out, err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_once_service_and_timer(tmp_path):
    timer = unit("sopctl-once.timer")
    assert timer.get("Timer", "OnCalendar") == "minutely"
    assert timer.get("Timer", "Persistent") == "true"
    assert timer.get("Timer", "Unit") == "sopctl-once.service"
    svc = unit("sopctl-once.service")
    assert svc.get("Service", "Type") == "oneshot"
    argv = argv_of(svc.get("Service", "ExecStart"))
    assert "--once" in argv
    env = env_of(svc, tmp_path / "state")
    runs = [subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
            for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
    first, second = (json.loads(r.stdout.splitlines()[-1])["summary"] for r in runs)
    assert first["sent"] > 0
    assert second["sent"] == 0  # the next tick of the timer sends nothing twice


def test_long_running_service_starts_serves_metrics_and_stops_on_sigterm(tmp_path):
    svc = unit("sopctl.service")
    assert svc.get("Service", "KillSignal") == "SIGTERM"
    argv = argv_of(svc.get("Service", "ExecStart"))
    assert "--once" not in argv
    port = free_port()
    argv[argv.index("--metrics-port") + 1] = str(port)
    with started(argv, env_of(svc, tmp_path / "state")) as p:
        body = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    body = r.read().decode()
                if 'status="sent"' in body:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert 'sopctl_sends_total{channel="console",status="sent"}' in body, body
        assert "sopctl_claim_latency_seconds_count" in body
        _out, err = systemd_stop(p)
    events = [json.loads(x)["event"] for x in err.splitlines() if x.startswith("{")]
    assert events[0] == "start" and "stop" in events


def test_crontab_line(tmp_path):
    lines = [ln for ln in (DOCS / "crontab").read_text(encoding="utf-8").splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    parse_cron(" ".join(fields[:5]))  # a schedule cron accepts
    assert fields[:5] == ["*"] * 5
    cmd = fields[5]
    state, log = tmp_path / "state", tmp_path / "run.log"
    cmd = (cmd.replace("/srv/sopctl", shlex.quote(str(REPO)))
           .replace("/var/lib/sopctl", shlex.quote(str(state)))
           .replace("/var/log/sopctl/run.log", shlex.quote(str(log)))
           .replace(SOPCTL_BIN, f"{shlex.quote(sys.executable)} -m sopctl"))
    env = {**os.environ, "SOPCTL_NOW": "2026-11-24T11:05:00+08:00", "NO_COLOR": "1"}
    env.pop("SOPCTL_STATE_DIR", None)
    for _ in range(2):
        subprocess.run(["/bin/sh", "-c", cmd], env=env, check=True, timeout=120)
    summaries = [json.loads(x)["summary"] for x in log.read_text("utf-8").splitlines()
                 if x.startswith('{"summary"')]
    assert len(summaries) == 2
    assert summaries[0]["sent"] > 0 and summaries[1]["sent"] == 0
    assert (state / "ledger.db").exists()


def test_event_receiver_service_answers_reacts_and_stops_on_sigterm(tmp_path):
    """The receiver's unit as written: a signed question is answered 200 and its auto-reply
    sent and recorded in the ledger the runner's unit uses; SIGTERM ends it with 0."""
    from sopctl.events.server import sign

    svc = unit("sopctl-serve.service")
    assert svc.get("Service", "KillSignal") == "SIGTERM"
    assert "KillMode" not in svc["Service"]  # control-group: the commit child is signalled too
    assert svc.get("Service", "Environment") == unit("sopctl.service").get(
        "Service", "Environment")  # one state directory, one ledger with the runner
    argv = argv_of(svc.get("Service", "ExecStart"))
    assert argv[3] == "serve"
    port = free_port()
    argv[argv.index("--port") + 1] = str(port)
    state = tmp_path / "state"
    env = {**env_of(svc, state), "SOPCTL_EVENTS_SECRET": "from-/etc/sopctl/env"}
    env.pop("SOPCTL_NOW")
    with started(argv, env) as p:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):
                    break
            except OSError:
                assert p.poll() is None and time.monotonic() < deadline, p.communicate()[1]
                time.sleep(0.2)
        body = json.dumps({"id": "ops-1", "type": "message", "group": "g001",
                           "member": "u-ops", "text": "我的快递到哪了"},
                          ensure_ascii=False).encode()
        ts = str(int(time.time()))
        req = urllib.request.Request(base + "/events", data=body, method="POST", headers={
            "Content-Type": "application/json", "X-Sopctl-Timestamp": ts,
            "X-Sopctl-Signature": sign(env["SOPCTL_EVENTS_SECRET"], ts, body)})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.loads(r.read()) == {"accepted": 1, "actions": 1}
        out, err = systemd_stop(p)
    assert "Traceback" not in err
    assert "下单后 48 小时内从杭州仓发货" in out  # the auto-reply, on the console channel
    hist = subprocess.run([sys.executable, "-m", "sopctl", "history", "--state-dir", str(state),
                           "--format", "json"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)
    rows = [json.loads(x) for x in hist.stdout.splitlines()]
    assert [(r["key"], r["status"]) for r in rows] == [("reply/g001/ops-1", "sent")], hist.stderr
