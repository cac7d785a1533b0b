"""Chaos suite plumbing: a fresh PostgreSQL database per test (dropped afterwards) or a
throwaway PostgreSQL cluster of the test's own, generated burst playbooks, `sopctl run`
processes whose clocks agree (``SOPCTL_NOW`` shifted by the real time elapsed, so a restarted
runner reads the same time as the survivors), and the verdict: the receiving server's own
log against the ledger."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
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
                   extra_channels: str = "", group_channel: dict[str, str] | None = None,
                   out_extra: str = "") -> Path:
    """``slots``: (at, grace). Every group on the webhook channel ``out`` (``url`` may be
    ``${HOOK_URL}``, set per runner; ``out_extra`` adds settings such as
    ``, rate_per_minute: 20``) unless ``group_channel`` says otherwise."""
    sl = "".join(f"  - {{id: s{i}, kind: knowledge, at: \"{at}\", grace: {grace}, "
                 f"text: \"第{i}条 {{group_name}} 早上好\"}}\n"
                 for i, (at, grace) in enumerate(slots))
    ch = f"  out: {{type: webhook, url: \"{url}\"{out_extra}}}\n" + extra_channels
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

    def launch(self, i: int, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        self.starts += 1
        log = open(self.tmp / f"runner{i}.{self.starts}.log", "w")  # noqa: SIM115
        env = {**self.env, **(env or {}), "SOPCTL_NOW": self.now().isoformat()}
        p = subprocess.Popen([*SOPCTL, "run", str(self.playbook), "--store", self.store,
                              "--state-dir", str(self.tmp / f"state{i}"), "--log-format",
                              self.log_format, *self.extra, *args], env=env, stdout=log,
                             stderr=subprocess.STDOUT)
        self.procs[i] = p
        self._launch_no[i] = self.starts
        return p

    def term(self, i: int, timeout: float = 60) -> int | None:
        """SIGTERM runner ``i`` (once it can handle it) and wait for it to exit."""
        wait_for(lambda: self.started(i), 60, 0.05)
        p = self.procs[i]
        p.send_signal(signal.SIGTERM)
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            return None

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


def status_counts(store: str) -> Counter:
    """Rows by status (an empty Counter before the first runner made the tables)."""
    from sqlalchemy.exc import SQLAlchemyError

    from sopctl.run.ledger import Ledger

    try:
        led = Ledger(store, create=False)
    except Exception:
        return Counter()
    try:
        return Counter(led.counts())
    except SQLAlchemyError:
        return Counter()
    finally:
        led.close()


def held_by(store: str, pid: int) -> Counter:
    """Rows by status that the runner process ``pid`` holds (its runner id names the pid)."""
    return Counter(r["status"] for r in ledger_rows(store)
                   if (r["claimed_by"] or "").split(":")[1:2] == [str(pid)])


def wait_settled(store: str, total: int, timeout: float) -> float | None:
    """Seconds until the ledger holds ``total`` rows, all final; None if not by ``timeout``."""
    from sopctl.run.ledger import FINAL

    t = time.monotonic()

    def done() -> bool:
        c = status_counts(store)
        return sum(c.values()) == total and not set(c) - set(FINAL)

    return time.monotonic() - t if wait_for(done, timeout, 0.2) else None


@dataclass
class Verdict:
    """The receiving server's own log against the ledger."""

    by_status: Counter
    received: Counter  # key -> times the platform received it
    twice: set  # keys received more than once
    unrecorded: set  # received, but the ledger says neither sent nor uncertain
    lost: set  # sent per the ledger but never received, or no row, or not final
    uncertain_arrived: int  # uncertain rows the platform did receive

    def line(self) -> str:
        return (f"ledger {dict(self.by_status)}; received {sum(self.received.values())} "
                f"requests for {len(self.received)} keys; twice {len(self.twice)}; lost "
                f"{len(self.lost)}; uncertain {self.by_status['uncertain']} (arrived "
                f"{self.uncertain_arrived})")


def verdict(store: str, received: list[tuple[float, str]], expected: int) -> Verdict:
    rows = ledger_rows(store)
    status = {r["key"]: r["status"] for r in rows}
    got = Counter(k for _, k in received)
    twice = {k for k, n in got.items() if n > 1}
    unrecorded = {k for k in got if status.get(k) not in ("sent", "uncertain")}
    lost = {k for k, s in status.items() if s == "sent" and got[k] != 1}
    lost |= {k for k, s in status.items() if s not in ("sent", "uncertain")}
    lost |= {f"missing row {i}" for i in range(max(0, expected - len(rows)))}
    return Verdict(Counter(status.values()), got, twice, unrecorded, lost,
                   sum(1 for k, s in status.items() if s == "uncertain" and got[k]))


def assert_delivered(v: Verdict, *, uncertain_max: int) -> None:
    """0 lost, 0 received twice (nothing was re-sent on request), nothing received that the
    ledger does not show as sent or uncertain, and at most ``uncertain_max`` uncertain."""
    assert not v.lost, (sorted(v.lost)[:10], v.line())
    assert not v.twice, (sorted(v.twice)[:10], v.line())
    assert not v.unrecorded, (sorted(v.unrecorded)[:10], v.line())
    assert v.by_status["uncertain"] <= uncertain_max, v.line()


def pg_bin() -> str | None:
    """The newest PostgreSQL server binaries on this machine (Debian layout)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return str(Path(found[-1]).parent) if found else (
        str(Path(shutil.which("initdb")).parent) if shutil.which("initdb") else None)


class Cluster:
    """A PostgreSQL cluster of the test's own (``initdb`` + ``pg_ctl`` on a free port, in a
    temporary directory), so a test may restart it without touching a shared server. As
    root, the server runs as the ``postgres`` user."""

    def __init__(self) -> None:
        from .sink import free_port

        bin_ = pg_bin()
        if bin_ is None:
            pytest.skip("no PostgreSQL server binaries (initdb) on this machine")
        self.bin = Path(bin_)
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="sopctl-pg-"))
        self.data = self.dir / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            import pwd

            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str, timeout: float = 120) -> None:
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data),
                        "-l", str(self.dir / "server.log"), *args], check=True,
                       timeout=timeout, capture_output=True)

    def start(self) -> Cluster:
        subprocess.run([*self.as_user, str(self.bin / "initdb"), "-D", str(self.data), "-A",
                        "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"], check=True,
                       timeout=120, capture_output=True)
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                "-c max_connections=200")
        self._ctl("-o", opts, "-w", "start")
        return self

    def restart(self) -> float:
        """Restart (fast mode: connections cut); returns how long it was away."""
        t = time.monotonic()
        self._ctl("-m", "fast", "-w", "restart")
        return time.monotonic() - t

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._ctl("-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def own_pg() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster, stopped and deleted afterwards."""
    c = Cluster()
    try:
        c.start()
    except (subprocess.CalledProcessError, OSError) as exc:
        c.stop()
        pytest.skip(f"cannot start a throwaway PostgreSQL cluster: {exc}")
    try:
        yield c
    finally:
        c.stop()


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
