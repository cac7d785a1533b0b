"""Sending what the engine claimed: the runner's path, on a delivery thread.

The engine commits each claim (the ledger's own ``claim_in``) with its event; here the
rows are flipped to ``sending`` (committed, ``Ledger.start_sending``) before any request
leaves, sent through :class:`~sopctl.events.outbound.ChannelSender` (the runner's channel
plugins and dispatcher), and their results recorded with ``Ledger.finish``. A row whose
flip did not come back ours (taken over meanwhile) is not sent.

Leases are the runner's too: the thread renews what it holds, and takes over (``take_over``)
claims of this playbook whose holder died or whose lease ran out, sending them from the
outbox the engine wrote with the claim. ``recover`` judges abandoned ``sending`` rows
``uncertain``, never sent twice blindly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..i18n import _, ngettext
from ..run.ledger import Ledger, Outcome, deliveries
from .engine import Recorded
from .store import outbox

log = logging.getLogger("sopctl.events")


class Deliverer:
    def __init__(self, ledger: Ledger, playbook: str, sender: Any, *, metrics: Any = None,
                 lease_s: float = 600.0, renew_s: float = 60.0):
        self.ledger = ledger
        self.playbook = playbook
        self.sender = sender  # ChannelSender
        self.metrics = metrics
        self.lease_s = lease_s
        self.renew_s = renew_s
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="sopctl-deliver", daemon=True)
        self.done = 0
        self.idle = threading.Event()  # set when everything handed in has been recorded
        self.idle.set()
        self._pending = 0
        self._plock = threading.Lock()
        self._q: asyncio.Queue[list[Recorded] | None] | None = None
        self._ready = threading.Event()
        self._mine: set[str] = set()  # keys handed to a send task and not yet finished
        if metrics is not None and getattr(sender, "ctx", None) is not None:
            metrics.watch(sender.ctx.limiter)

    @classmethod
    def build(cls, engine: Any, ledger: Ledger, *, env: Any, state_dir: Path,
              metrics: Any = None) -> Deliverer:
        """With the channels every group's reactions use. Raises SopctlError when one
        cannot be built (a missing secret, an unknown type)."""
        from .outbound import ChannelSender

        names = {engine.channel_of(g) for g in engine.groups} - {""}
        sender = ChannelSender.build(engine.pb, names, env=env, state_dir=state_dir)
        return cls(ledger, engine.name, sender, metrics=metrics, lease_s=engine.lease_s)

    # ------------------------------------------------------------------ control
    def start(self) -> Deliverer:
        self.thread.start()
        self._ready.wait(10)
        return self

    def __call__(self, recorded: list[Recorded]) -> None:
        with self._plock:
            self._pending += 1
            self.idle.clear()
        self.loop.call_soon_threadsafe(self._put, list(recorded))

    def _put(self, item: list[Recorded] | None) -> None:
        assert self._q is not None
        self._q.put_nowait(item)

    def stop(self, timeout: float = 30) -> None:
        """Send and record everything handed in, then end the thread."""
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self._put, None)
            self.thread.join(timeout)

    def call(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        """Run ``coro`` on the delivery loop (where the channels' clients live)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def names(self) -> Any:
        """A WeCom member-name lookup through a customer-group channel, or None."""
        from .names import WeComNames

        for ch in self.sender.channels.values():
            if getattr(ch, "type", "") == "wecom-customer-group":
                return WeComNames(ch, self.call)
        return None

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        finally:
            self.loop.close()

    async def _main(self) -> None:
        self._q = asyncio.Queue()
        self._ready.set()
        tasks: set[asyncio.Task[None]] = set()
        keeper = asyncio.create_task(self._keep_leases())
        try:
            await self._resume()
            while True:
                batch = await self._q.get()
                if batch is None:
                    break
                taken = 1
                while not self._q.empty():  # one flip and one update for all waiting
                    more = self._q.get_nowait()
                    if more is None:
                        self._q.put_nowait(None)
                        break
                    batch.extend(more)
                    taken += 1
                t = asyncio.create_task(self._deliver(batch))
                tasks.add(t)
                t.add_done_callback(lambda t, n=taken: self._settled(t, n, tasks))
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            keeper.cancel()
            try:
                await self.sender.aclose()
            except Exception as exc:
                log.warning(_("closing the channels: {why}").format(why=exc))

    def _settled(self, t: asyncio.Task[None], taken: int, tasks: set) -> None:
        tasks.discard(t)
        with self._plock:
            self._pending -= taken
            if self._pending <= 0:
                self.idle.set()

    async def _keep_leases(self) -> None:
        """Renew this process's leases and take over claims whose holder is gone."""
        while True:
            await asyncio.sleep(self.renew_s)
            try:
                await asyncio.to_thread(self.ledger.renew, now=datetime.now(UTC),
                                        lease_s=self.lease_s)
                await self._resume()
            except Exception as exc:  # the database is away: next round
                log.error(_("lease renewal failed: {why}").format(why=exc))

    async def _resume(self) -> None:
        """Claims in the outbox that nobody is finishing: ours from before a failed flip,
        or another process's that died (taken over). Rows already final are dropped."""
        try:
            todo = await asyncio.to_thread(self._orphans)
        except Exception as exc:
            log.error(_("could not look for unfinished reactions: {why}").format(why=exc))
            return
        if todo:
            log.info(ngettext("sending {n} reaction claimed before and never finished",
                              "sending {n} reactions claimed before and never finished",
                              len(todo)).format(n=len(todo)))
            await self._deliver(todo)

    def _orphans(self) -> list[Recorded]:
        now = datetime.now(UTC)
        self.ledger.recover(now=now)
        o, d = outbox.c, deliveries.c
        with self.ledger.engine.begin() as conn:
            rows = conn.execute(sa.select(o.key, o.channel, o.action, o.at, d.status,
                                          d.claimed_by).select_from(outbox.outerjoin(
                                              deliveries, sa.and_(d.playbook == o.playbook,
                                                                  d.key == o.key)))
                                .where(o.playbook == self.playbook)).mappings().all()
            final = [r["key"] for r in rows if r["status"] not in ("claimed", "sending")]
            if final:
                conn.execute(outbox.delete().where(o.playbook == self.playbook,
                                                   o.key.in_(final)))
        me = self.ledger.runner_id
        ours = {r["key"] for r in rows if r["status"] == "claimed" and r["claimed_by"] == me
                and r["key"] not in self._mine}
        theirs = [r["key"] for r in rows if r["status"] == "claimed" and r["claimed_by"] != me]
        won = set(self.ledger.take_over(self.playbook, theirs, now=now,
                                        lease_s=self.lease_s)) if theirs else set()
        return [Recorded.from_row(r) for r in rows if r["key"] in ours or r["key"] in won]

    async def _deliver(self, batch: list[Recorded]) -> None:
        keys = [x.action.key for x in batch]
        self._mine.update(keys)
        try:
            await self._send(batch)
        finally:
            self._mine.difference_update(keys)

    async def _send(self, batch: list[Recorded]) -> None:
        try:  # committed before any request leaves, as in the runner
            go = set(await asyncio.to_thread(
                self.ledger.start_sending, self.playbook, [x.action.key for x in batch],
                now=datetime.now(UTC), lease_s=self.lease_s))
        except Exception as exc:  # nothing sent: the rows stay claimed, retried later
            log.error(ngettext("could not start sending {n} reaction: {why}",
                               "could not start sending {n} reactions: {why}", len(batch))
                      .format(n=len(batch), why=exc))
            return
        batch = [x for x in batch if x.action.key in go]
        if not batch:
            return
        if self.metrics is not None:
            self.metrics.queue_depth += len(batch)
        try:
            outcomes = await self.sender.send_many(batch)
        except Exception as exc:  # a bug must not leave rows hanging
            outcomes = [Outcome(x.action.key, "uncertain", f"internal error: "
                                f"{type(exc).__name__}: {exc}") for x in batch]
        finally:
            if self.metrics is not None:
                self.metrics.queue_depth -= len(batch)
        channel = {x.action.key: x.channel for x in batch}
        for o in outcomes:
            if o.status not in ("sent", "pending-confirmation"):
                log.warning("%s %s: %s", o.status, o.key, o.reason)
            if self.metrics is not None:
                self.metrics.sent(o.status, channel.get(o.key, ""))
        try:
            await asyncio.to_thread(self._record, outcomes)
            self.done += len(outcomes)
        except Exception as exc:  # the rows stay sending and turn uncertain later
            log.error(ngettext("could not record {n} result: {why}",
                               "could not record {n} results: {why}", len(outcomes))
                      .format(n=len(outcomes), why=exc))

    def _record(self, outcomes: list[Outcome]) -> None:
        self.ledger.finish(self.playbook, outcomes, now=datetime.now(UTC))
        o = outbox.c
        with self.ledger.engine.begin() as conn:
            conn.execute(outbox.delete().where(o.playbook == self.playbook,
                                               o.key.in_([x.key for x in outcomes])))
