"""Chaos suite plumbing: a fresh PostgreSQL database per test (dropped afterwards), generated
burst playbooks, and `sopctl run` processes whose clocks agree (``SOPCTL_NOW`` shifted by the
real time elapsed, so a restarted runner reads the same time as the survivors)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

PG_URL = os.environ.get("SOPCTL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SOPCTL = [sys.executable, "-m", "sopctl"]

HEAD = """\
version: 1
name: {name}
timezone: {tz}
positioning: {{type: product, purpose: 压力测试, name_pattern: "测试群{{n:05}}"}}
caps: {{per_group_per_day: 24}}
timetable:
{slots}
channels:
{channels}
channel: {default}
groups:
"""


def write_playbook(path: Path, *, groups: int, url: str, slots: list[tuple[str, str]],
                   name: str = "混沌测试", tz: str = "Asia/Shanghai",
                   extra_channels: str = "", group_channel: dict[str, str] | None = None) -> Path:
    """``slots``: (at, grace). Every group on the webhook channel ``out`` unless
    ``group_channel`` says otherwise."""
    sl = "".join(f"  - {{id: s{i}, kind: knowledge, at: \"{at}\", grace: {grace}, "
                 f"text: \"第{i}条 {{group_name}} 早上好\"}}\n"
                 for i, (at, grace) in enumerate(slots))
    ch = f"  out: {{type: webhook, url: \"{url}\"}}\n" + extra_channels
    with path.open("w", encoding="utf-8") as f:
        f.write(HEAD.format(name=name, tz=tz, slots=sl, channels=ch, default="out"))
        for i in range(groups):
            gid = f"g{i:05d}"
            c = (group_channel or {}).get(gid)
            f.write(f"  - {{id: {gid}, opened: 2026-01-01"
                    + (f", channel: {c}" if c else "") + "}\n")
    return path


def _pg_reachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3):
            return None
    except Exception as exc:  # shown in the skip message
        return f"PostgreSQL not reachable at {PG_URL}: {exc}"


def admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as c:
        c.execute(sql)


@pytest.fixture
def pg_db() -> Iterator[str]:
    """The URL of a fresh database (``sopctl_chaos_<hex>``), dropped after the test."""
    why = _pg_reachable()
    if why:
        pytest.skip(why)
    name = f"sopctl_chaos_{uuid.uuid4().hex[:10]}"
    admin(f'CREATE DATABASE "{name}"')
    base = PG_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    for _ in range(30):  # PostgreSQL may still be coming back from a restart test
        try:
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            break
        except Exception:
            time.sleep(1)


class Fleet:
    """`sopctl run` daemons sharing one ledger, on one agreed clock."""

    def __init__(self, tmp: Path, playbook: Path, store: str, start: datetime,
                 extra: tuple[str, ...] = (), env: dict[str, str] | None = None,
                 log_format: str = "json") -> None:
        self.tmp, self.playbook, self.store, self.extra = tmp, playbook, store, extra
        self.start, self.t0 = start, time.monotonic()
        self.env = {**os.environ, "NO_COLOR": "1", **(env or {})}
        self.env.pop("SOPCTL_TEST_CRASH_AFTER_CLAIM", None)
        self.procs: dict[int, subprocess.Popen] = {}
        self._launch_no: dict[int, int] = {}
        self.log_format = log_format
        self.kills = 0
        self.starts = 0

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)

    def launch(self, i: int, *args: str) -> subprocess.Popen:
        self.starts += 1
        log = open(self.tmp / f"runner{i}.{self.starts}.log", "w")  # noqa: SIM115
        env = {**self.env, "SOPCTL_NOW": self.now().isoformat()}
        p = subprocess.Popen([*SOPCTL, "run", str(self.playbook), "--store", self.store,
                              "--state-dir", str(self.tmp / f"state{i}"), "--log-format",
                              self.log_format, *self.extra, *args], env=env, stdout=log,
                             stderr=subprocess.STDOUT)
        self.procs[i] = p
        self._launch_no[i] = self.starts
        return p

    def kill9(self, i: int) -> None:
        p = self.procs[i]
        if p.poll() is None:
            p.kill()
            p.wait(10)
            self.kills += 1

    def started(self, i: int) -> bool:
        """The runner logged `start` (its SIGTERM handler is installed) or has exited."""
        p = self.procs[i]
        log = self.tmp / f"runner{i}.{self._launch_no[i]}.log"
        # the `start` event: "running <playbooks>; ledger ..." in either log format
        return p.poll() is not None or "running " in log.read_text(errors="replace")

    def stop_all(self) -> list[int | None]:
        # SIGTERM before the handler exists kills a runner that is still loading its
        # playbook (harmless: it has claimed nothing) but would hide a real exit code
        for i in self.procs:
            wait_for(lambda i=i: self.started(i), 60, 0.1)
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = []
        for p in self.procs.values():
            try:
                codes.append(p.wait(30))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append(None)
        return codes

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(f.read_text(errors="replace")[-tail:]
                         for f in sorted(self.tmp.glob("runner*.log")))


def ledger_rows(store: str, playbook: str | None = None) -> list[dict]:
    from sopctl.run.ledger import Ledger

    led = Ledger(store)
    try:
        return led.rows(playbook=playbook)
    finally:
        led.close()


def wait_for(pred, timeout: float, every: float = 0.5) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(every)
    return pred()


class RecordingChannel:
    """A channel that keeps every message it was asked to post (for in-process runners)."""

    type = "recording"

    def __init__(self, name: str = "out") -> None:
        self.name = name
        self.sent: list = []

    async def send(self, msg, *, deadline: float | None = None):
        from sopctl.run.channels.base import SendResult

        self.sent.append(msg)
        return SendResult("sent")

    async def aclose(self) -> None:
        pass
