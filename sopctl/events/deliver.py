"""Sending what the engine claimed: a background thread that finishes ledger rows.

The console and file channels are handled here directly; any other channel is reached
through ``send`` (the runner's channel dispatch can be passed in). Without one, the row is
finished ``failed`` with the reason, never left hanging as ``claimed``.
"""

from __future__ import annotations

import json
import logging
import queue
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ..run.ledger import Ledger, Outcome
from .engine import Recorded

log = logging.getLogger("sopctl.events")
SendFn = Callable[[Recorded], Outcome]


class Deliverer:
    def __init__(self, ledger: Ledger, playbook: str, channels: dict, *,
                 send: SendFn | None = None, out=None):
        self.ledger = ledger
        self.playbook = playbook
        self.channels = channels  # name -> playbook Channel
        self.send = send
        self.out = out or sys.stdout
        self.q: queue.Queue[list[Recorded] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="sopctl-deliver", daemon=True)
        self.done = 0

    def start(self) -> Deliverer:
        self.thread.start()
        return self

    def __call__(self, recorded: list[Recorded]) -> None:
        self.q.put(recorded)

    def stop(self, timeout: float = 10) -> None:
        self.q.put(None)
        self.thread.join(timeout)

    def _loop(self) -> None:
        while True:
            batch = self.q.get()
            if batch is None:
                return
            while True:  # drain: one ledger update for everything waiting
                try:
                    more = self.q.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self.q.put(None)
                    break
                batch.extend(more)
            outcomes = [self._one(x) for x in batch]
            try:
                self.ledger.finish(self.playbook, outcomes, now=datetime.now(UTC))
                self.done += len(outcomes)
            except Exception as exc:  # the rows stay claimed and turn uncertain on restart
                log.error("could not record %d results: %s", len(outcomes), exc)

    def _one(self, x: Recorded) -> Outcome:
        a = x.action
        ch = self.channels.get(x.channel)
        try:
            if ch is not None and ch.type == "console" and a.kind != "remove":
                to = f" -> {a.data.get('to')}" if a.kind == "remind" else ""
                print(f"[{a.group}] {a.slot}{to}: {a.text}", file=self.out, flush=True)
                return Outcome(a.key, "sent")
            if ch is not None and ch.type == "file" and ch.path and a.kind != "remove":
                line = {"key": a.key, "group": a.group, "kind": a.kind, "slot": a.slot,
                        "text": a.text, "mentions": list(a.mentions), "member": a.member,
                        "at": x.at.isoformat()}
                with Path(ch.path).open("a", encoding="utf-8") as f:
                    f.write(json.dumps(line, ensure_ascii=False) + "\n")
                return Outcome(a.key, "sent")
            if self.send is not None:
                return self.send(x)
        except Exception as exc:
            return Outcome(a.key, "failed", f"{type(exc).__name__}: {exc}")
        kind = ch.type if ch is not None else f"unknown channel {x.channel!r}"
        return Outcome(a.key, "failed", f"{a.kind} through {kind} is not available to the "
                       "event receiver")
