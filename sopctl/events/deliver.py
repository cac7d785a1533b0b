"""Sending what the engine claimed: a background thread that finishes ledger rows.

The same path as the runner's: the engine commits the claim with the event; here the
rows are flipped to ``sending`` (committed) before any request leaves, sent, and their
results recorded with the ledger's ``finish``. A row whose flip did not come back ours
(taken over meanwhile) is not sent.

The console and file channels are handled here directly; every other channel goes
through ``sender`` (:class:`~sopctl.events.outbound.ChannelSender`: the runner's channel
plugins and dispatcher, run on this thread's event loop) or a plain ``send`` function.
Without either, the row is finished ``failed`` with the reason, never left ``claimed``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..i18n import _, ngettext
from ..run.ledger import Ledger, Outcome
from .engine import Recorded

log = logging.getLogger("sopctl.events")
SendFn = Callable[[Recorded], Outcome]


class Deliverer:
    def __init__(self, ledger: Ledger, playbook: str, channels: dict, *,
                 send: SendFn | None = None, sender: Any = None, out: Any = None,
                 lease_s: float = 600.0):
        self.ledger = ledger
        self.playbook = playbook
        self.channels = channels  # name -> playbook Channel
        self.send = send
        self.sender = sender  # ChannelSender, or None
        self.out = out or sys.stdout
        self.lease_s = lease_s
        self.q: queue.Queue[list[Recorded] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="sopctl-deliver", daemon=True)
        self.done = 0
        self.idle = threading.Event()  # set when everything handed in has been recorded
        self.idle.set()
        self._pending = 0
        self._plock = threading.Lock()

    def start(self) -> Deliverer:
        self.thread.start()
        return self

    def __call__(self, recorded: list[Recorded]) -> None:
        with self._plock:
            self._pending += 1
            self.idle.clear()
        self.q.put(list(recorded))

    def stop(self, timeout: float = 30) -> None:
        self.q.put(None)
        self.thread.join(timeout)

    def _loop(self) -> None:
        loop = asyncio.new_event_loop() if self.sender is not None else None
        try:
            while True:
                batch = self.q.get()
                if batch is None:
                    return
                taken = 1
                while True:  # drain: one flip and one ledger update for everything waiting
                    try:
                        more = self.q.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self.q.put(None)
                        break
                    batch.extend(more)
                    taken += 1
                try:
                    self._deliver(batch, loop)
                finally:
                    with self._plock:
                        self._pending -= taken
                        if self._pending <= 0:
                            self.idle.set()
        finally:
            if loop is not None:
                try:
                    loop.run_until_complete(self.sender.aclose())
                finally:
                    loop.close()

    def _deliver(self, batch: list[Recorded], loop: asyncio.AbstractEventLoop | None) -> None:
        try:  # committed before any request leaves, as in the runner
            go = set(self.ledger.start_sending(self.playbook, [x.action.key for x in batch],
                                               now=datetime.now(UTC), lease_s=self.lease_s))
        except Exception as exc:  # nothing sent: the rows stay claimed, a restart judges them
            log.error(ngettext("could not start sending {n} reaction: {why}",
                               "could not start sending {n} reactions: {why}", len(batch))
                      .format(n=len(batch), why=exc))
            return
        batch = [x for x in batch if x.action.key in go]
        local = [x for x in batch if self._local(x)]
        remote = [x for x in batch if not self._local(x)]
        outcomes = [self._one(x) for x in local]
        if remote and self.sender is not None and loop is not None:
            try:
                outcomes += loop.run_until_complete(self.sender.send_many(remote))
            except Exception as exc:  # a bug must not leave rows hanging
                outcomes += [Outcome(x.action.key, "uncertain", f"internal error: "
                                     f"{type(exc).__name__}: {exc}") for x in remote]
        else:
            outcomes += [self._call(x) for x in remote]
        for o in outcomes:
            if o.status not in ("sent", "pending-confirmation"):
                log.warning("%s %s: %s", o.status, o.key, o.reason)
        try:
            self.ledger.finish(self.playbook, outcomes, now=datetime.now(UTC))
            self.done += len(outcomes)
        except Exception as exc:  # the rows stay sending and turn uncertain on restart
            log.error(ngettext("could not record {n} result: {why}",
                               "could not record {n} results: {why}", len(outcomes))
                      .format(n=len(outcomes), why=exc))

    def _local(self, x: Recorded) -> bool:
        ch = self.channels.get(x.channel)
        return ch is not None and x.action.kind != "remove" and (
            ch.type == "console" or (ch.type == "file" and bool(ch.path)))

    def _one(self, x: Recorded) -> Outcome:
        a = x.action
        ch = self.channels[x.channel]
        try:
            if ch.type == "console":
                # a reminder goes to the admin role's person; without one, to whoever
                # watches the console (never "-> None")
                to = (f" -> {a.data.get('to') or _('admin')}" if a.kind == "remind" else "")
                print(f"[{a.group}] {a.slot}{to}: {a.text}", file=self.out, flush=True)
                return Outcome(a.key, "sent")
            line = {"key": a.key, "group": a.group, "kind": a.kind, "slot": a.slot,
                    "text": a.text, "mentions": list(a.mentions), "member": a.member,
                    "at": x.at.isoformat()}
            with Path(ch.path).open("a", encoding="utf-8") as f:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
            return Outcome(a.key, "sent")
        except Exception as exc:
            return Outcome(a.key, "failed", f"{type(exc).__name__}: {exc}")

    def _call(self, x: Recorded) -> Outcome:
        a = x.action
        if self.send is not None:
            try:
                return self.send(x)
            except Exception as exc:
                return Outcome(a.key, "failed", f"{type(exc).__name__}: {exc}")
        ch = self.channels.get(x.channel)
        kind = ch.type if ch is not None else f"unknown channel {x.channel!r}"
        return Outcome(a.key, "failed", f"{a.kind} through {kind} is not available to the "
                       "event receiver")
