"""The group commit in a process of its own.

In one interpreter the HTTP loop (parse, authenticate, answer) and the writer (store,
react, claim) share one core through the GIL, and every hand-off between them waits for
it: a saturated ``serve`` used 0.85 of a core while the other sat idle. Here the writer
runs in a child process with an engine of its own on the same store (and the parent's
runner id, so the rows it claims are the parent's to send). The parent's writer thread
hands each batch over a pipe and answers the batch's requests when the child has
committed it; the rows the child claimed come back and go to the parent's sender.

The child runs every reaction of its serve process, so the in-memory windows (flood, the
auto-reply's cool-down) see all of its events. It ignores SIGINT and SIGTERM (a terminal's
Ctrl-C reaches the whole process group): it ends when the parent closes the pipe, after
the batch in hand is committed, or when the parent dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import Connection
from typing import Any

from ..i18n import _
from .types import Action, Event

log = logging.getLogger("sopctl.events")
READY = "ready"


class CommitFailed(RuntimeError):
    """The child could not commit a batch, and its error could not be carried over as is."""


class CommitProcess:
    """Parent side: :meth:`commit_batch` as :meth:`EventEngine.commit_batch`, run in the
    child. One caller at a time (the writer thread)."""

    def __init__(self, engine: Any, *, start_timeout: float = 60.0) -> None:
        # a fresh interpreter (no fork: the parent holds threads and sockets), started
        # directly rather than through multiprocessing, which would add a helper process
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"from sopctl.events.committer import child_main; "
             f"child_main({theirs.fileno()})"],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env)
        theirs.close()
        self._conn = Connection(ours.detach())
        self._lock = threading.Lock()
        spec = {"playbook": engine.pb, "url": engine.ledger.url, "name": engine.name,
                "runner_id": engine.ledger.runner_id, "can_remove": engine.can_remove,
                "lease_s": engine.lease_s, "lang": _current_lang(),
                "log_level": logging.getLogger().level, "tz": engine.pb.timezone}
        got: Any = None
        try:
            self._conn.send(spec)
            if self._conn.poll(start_timeout):
                got = self._conn.recv()
        except (EOFError, OSError):
            pass
        if got != READY:
            self.close(timeout=5)
            raise CommitFailed(_("the commit process did not start: {why}").format(
                why=got[1] if isinstance(got, tuple) else _("it exited")))

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def fileno(self) -> int:
        """Readable when the child has answered."""
        return self._conn.fileno()

    def send(self, events: list[Event]) -> None:
        try:
            self._conn.send(events)
        except (OSError, ValueError) as exc:
            raise self._gone(exc) from None

    def receive(self) -> tuple[Any, ...]:
        """("ok", actions per event, claimed rows) or ("error", exception)."""
        try:
            return self._conn.recv()
        except (EOFError, OSError, ValueError) as exc:
            raise self._gone(exc) from None

    def _gone(self, exc: BaseException) -> CommitFailed:
        return CommitFailed(_("the commit process is gone ({why})").format(
            why=str(exc) or type(exc).__name__))

    def commit_batch(self, events: list[Event]) -> tuple[list[list[Action]], list[Any]]:
        """Blocking, as :meth:`EventEngine.commit_batch`."""
        with self._lock:
            self.send(events)
            kind, *rest = self.receive()
        if kind == "ok":
            return rest[0], rest[1]
        raise rest[0]

    def close(self, timeout: float = 30.0) -> int | None:
        """Close the pipe: the child commits what it holds and ends. Its exit code."""
        with contextlib.suppress(OSError):
            self._conn.close()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(5)


class ProcessWriter:
    """The receiver's writer with the group commit in a :class:`CommitProcess`, driven
    from the event loop itself: requests queue their events; whenever the child is idle,
    everything queued goes over as one batch; its answer (read when the pipe is readable,
    no thread in between) settles the batch's requests and starts the next batch."""

    def __init__(self, engine: Any, *, metrics: Any = None, max_batch: int = 256) -> None:
        self.engine = engine
        self.metrics = metrics
        self.max_batch = max_batch
        self.proc = CommitProcess(engine)
        self._pending: deque[tuple[list[Event], asyncio.Future[Any]]] = deque()
        self._inflight: list[tuple[list[Event], asyncio.Future[Any]]] | None = None
        self._alone = 0  # after a failed batch: send this many jobs one by one
        self._loop: asyncio.AbstractEventLoop | None = None
        self._t0 = 0.0

    async def submit_async(self, events: list[Event]) -> list[list[Action]]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._attach(loop)
        fut: asyncio.Future[list[list[Action]]] = loop.create_future()
        self._pending.append((events, fut))
        if self._inflight is None:
            self._send()
        return await fut

    def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self.proc.fileno())
        self._loop = loop
        loop.add_reader(self.proc.fileno(), self._answered)

    def _send(self) -> None:
        jobs: list[tuple[list[Event], asyncio.Future[Any]]] = []
        n = 0
        while self._pending and (not jobs or (n < self.max_batch and not self._alone)):
            job = self._pending.popleft()
            if job[1].done():  # cancelled before it was sent: the client is gone
                continue
            jobs.append(job)
            n += len(job[0])
        if not jobs:
            return
        self._alone = max(0, self._alone - 1)
        self._inflight = jobs
        self._t0 = time.perf_counter()
        try:
            self.proc.send([ev for events, _f in jobs for ev in events])
        except CommitFailed as exc:
            self._settle_error(exc)

    def _answered(self) -> None:
        jobs, self._inflight = self._inflight, None
        try:
            kind, *rest = self.proc.receive()
        except CommitFailed as exc:
            self._inflight = jobs
            self._settle_error(exc)
            return
        if jobs is None:
            return
        if kind == "ok":
            if self.metrics is not None:
                self.metrics.claim_latency(time.perf_counter() - self._t0)
            res, recorded = rest
            self.engine.notify(recorded)
            for events, fut in jobs:
                mine, res = res[:len(events)], res[len(events):]
                if not fut.done():
                    fut.set_result(mine)
        elif len(jobs) > 1:  # isolate the failing request: each job again, alone
            self._pending.extendleft(reversed(jobs))
            self._alone = len(jobs)
        else:
            if not jobs[0][1].done():
                jobs[0][1].set_exception(rest[0])
        if self._pending:
            self._send()

    def _settle_error(self, exc: BaseException) -> None:
        """The child is gone: fail what it held (unanswered, so the platform retries) and
        start another for what comes next."""
        jobs, self._inflight = self._inflight or [], None
        for _events, fut in jobs:
            if not fut.done():
                fut.set_exception(exc)
        log.error(_("the commit process ended unexpectedly ({why}); starting another")
                  .format(why=exc))
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self.proc.fileno())
        self.proc.close(timeout=1)
        self.proc = CommitProcess(self.engine)
        if self._loop is not None:
            self._loop.add_reader(self.proc.fileno(), self._answered)
        if self._pending:
            self._send()

    def stop(self, timeout: float = 30) -> None:
        """After the server stopped (nothing in flight): the child commits and ends."""
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self.proc.fileno())
        self.proc.close(timeout)


def _current_lang() -> str:
    from ..i18n import current

    return current()


def _carried(exc: BaseException) -> BaseException:
    """``exc`` if it survives the pipe (a pickle round trip), else its words."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return CommitFailed(f"{type(exc).__name__}: {exc}")


def child_main(fd: int) -> None:
    """The commit process: ``fd`` is its end of the socket pair."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    conn = Connection(fd)
    try:
        spec = conn.recv()
    except (EOFError, OSError):
        return
    from ..i18n import setup
    from ..run.metrics import ZoneFormatter

    setup(spec["lang"])
    handler = logging.StreamHandler()
    handler.setFormatter(ZoneFormatter(spec["tz"]))
    logging.basicConfig(level=spec["log_level"], handlers=[handler])
    try:
        from ..run.ledger import Ledger
        from .engine import EventEngine

        ledger = Ledger(spec["url"], runner_id=spec["runner_id"], create=False)
        engine = EventEngine(spec["playbook"], ledger, name=spec["name"],
                             can_remove=spec["can_remove"], lease_s=spec["lease_s"])
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(READY)
    while True:
        try:
            events = conn.recv()
        except (EOFError, OSError):
            break  # the parent closed the pipe (a stop) or died
        try:
            out, recorded = engine.commit_batch(events)
        except Exception as exc:
            reply: tuple[Any, ...] = ("error", _carried(exc))
        else:
            reply = ("ok", out, recorded)
        try:
            conn.send(reply)
        except OSError:
            break
    ledger.close()
