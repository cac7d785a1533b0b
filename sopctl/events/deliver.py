"""Sending what the engine claimed: the runner's path, on a delivery thread.

The engine commits each claim (the ledger's own ``claim_in``) with its event; here the
rows are sent through :class:`~sopctl.events.outbound.ChannelSender` (the runner's channel
plugins and dispatcher) with the runner's ``LedgerGate``: each row is flipped to
``sending`` (committed) right before its first request — a reaction waiting for a
rate-limit window stays ``claimed`` — and its result recorded with ``Ledger.finish``.
Member operations are flipped right before their request. A row whose flip did not come
back ours (taken over meanwhile) is not sent.

Leases are the runner's too: the thread renews what it holds, and takes over (``take_over``)
claims of this playbook whose holder died or whose lease ran out, or that a stop handed
back, sending them from the outbox the engine wrote with the claim. ``recover`` judges
abandoned ``sending`` rows ``uncertain``, never sent twice blindly.

A stop sends for a few seconds, then does what the runner's does: messages in flight finish
and are recorded; reactions that have not begun (waiting for a rate-limit window or a slot,
or not yet dispatched) are handed back (``released``, never sent), and the next serve on
the store takes them over and sends them.
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
from ..run.reasons import show, status_text
from .engine import Recorded
from .store import outbox

log = logging.getLogger("sopctl.events")
# reactions come a few per commit of the receiver, one commit every few milliseconds: a
# flip or a result waits this long for others to share its ledger transaction
LINGER_S = 0.02


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
        self._stopping = False
        self._gate: Any = None
        self._unsent: list[str] = []  # never begun because of the stop: handed back
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

    def stop(self, timeout: float = 30, *, grace: float = 5.0) -> None:
        """Send for up to ``grace`` seconds, then begin nothing more: what is in flight
        finishes and is recorded, what has not begun (waiting for a rate-limit window or a
        slot) is handed back (``released``) for the next serve; then end the thread."""
        if self.thread.is_alive():
            self.idle.wait(grace)
            self.loop.call_soon_threadsafe(self._halt)
            self.loop.call_soon_threadsafe(self._put, None)
            self.thread.join(timeout)

    def _halt(self) -> None:
        self._stopping = True
        if self._gate is not None:
            self._gate.refuse()
        self.sender.dispatcher.stop()  # drops the messages waiting for a window or a slot

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
        from ..run.burst import LedgerGate

        self._q = asyncio.Queue()
        tasks: set[asyncio.Task[None]] = set()
        keeper = asyncio.create_task(self._keep_leases())
        try:
            async with LedgerGate(self.ledger, self.playbook, now=lambda: datetime.now(UTC),
                                  lease_s=self.lease_s, log=_log,
                                  on_record=self._drop_outbox, linger=LINGER_S) as gate:
                self._gate = gate
                self.sender.use_gate(gate)
                self._ready.set()
                await self._resume()
                while True:
                    batch = await self._q.get()
                    if batch is None:
                        break
                    taken = 1
                    while not self._q.empty():  # one dispatch for everything waiting
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
            await self._hand_back(gate.unsent + self._unsent)
        finally:
            self._ready.set()
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

    async def _hand_back(self, keys: list[str]) -> None:
        """Rows never sent because of the stop become ``released`` (their outbox entries
        stay, for whoever takes them over)."""
        if not keys:
            return
        try:
            n = await asyncio.to_thread(self.ledger.release, self.playbook, keys,
                                        now=datetime.now(UTC))
        except Exception as exc:  # still claimed by this process: taken over once it is gone
            log.error(ngettext("could not record {n} result: {why}",
                               "could not record {n} results: {why}", len(keys))
                      .format(n=len(keys), why=exc))
            return
        log.info(ngettext(
            "{n} reaction of {playbook} handed back, never sent: the next serve sends it",
            "{n} reactions of {playbook} handed back, never sent: the next serve sends them",
            n).format(n=n, playbook=self.playbook))

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
            final = [r["key"] for r in rows
                     if r["status"] not in ("claimed", "sending", "released")]
            if final:
                conn.execute(outbox.delete().where(o.playbook == self.playbook,
                                                   o.key.in_(final)))
        me = self.ledger.runner_id
        ours = {r["key"] for r in rows if r["status"] == "claimed" and r["claimed_by"] == me
                and r["key"] not in self._mine}
        theirs = [r["key"] for r in rows if r["status"] == "released"
                  or (r["status"] == "claimed" and r["claimed_by"] != me)]
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
        """Posts and reminders through the dispatcher, whose gate flips each row to
        ``sending`` right before its first request and records its result; member
        operations flipped, called and recorded here; rows never to be sent recorded.
        A row's outbox entry goes in the transaction that records its result."""
        jobs, ops, final = self.sender.plan(batch)
        channel = {x.action.key: x.channel for x in batch}
        taken: set[str] = set()

        def feed() -> Any:  # what the dispatcher never took (a stop) was never sent
            for job in jobs:
                if self._stopping:
                    return
                taken.add(job.msg.key)
                yield job
        if self.metrics is not None:
            self.metrics.queue_depth += len(jobs) + len(ops)
        streamed = 0
        try:
            if final:
                await self._finish(final, channel)
            if ops:
                await self._member_ops(ops, channel)
            if ops and self.metrics is not None:
                self.metrics.queue_depth -= len(ops)
            async for job, res in self.sender.stream(feed()):
                streamed += 1
                if self.metrics is not None:
                    self.metrics.queue_depth -= 1
                    self.metrics.sent(res.status if res.status != "retry" else "failed",
                                      job.channel.removesuffix(":remind"))
                if res.status not in ("sent", "pending-confirmation"):
                    log.warning(_("{status} {key}: {reason}").format(
                        status=status_text(res.status), key=job.msg.key, reason=show(res.reason)))
                self.done += 1
        finally:
            self._unsent += [j.msg.key for j in jobs if j.msg.key not in taken]
            if self.metrics is not None:  # what never began (a stop) is no longer queued
                self.metrics.queue_depth -= len(jobs) - streamed

    async def _member_ops(self, ops: list[Recorded], channel: dict[str, str]) -> None:
        if self._stopping:
            self._unsent += [x.action.key for x in ops]
            return
        try:  # committed right before the requests leave, as the gate does for messages
            go = set(await asyncio.to_thread(
                self.ledger.start_sending, self.playbook, [x.action.key for x in ops],
                now=datetime.now(UTC), lease_s=self.lease_s))
        except Exception as exc:  # nothing sent: the rows stay claimed, retried later
            log.error(ngettext("could not start sending {n} reaction: {why}",
                               "could not start sending {n} reactions: {why}", len(ops))
                      .format(n=len(ops), why=exc))
            return
        outcomes = list(await asyncio.gather(*(self.sender.member_op(x) for x in ops
                                               if x.action.key in go)))
        await self._finish(outcomes, channel)

    async def _finish(self, outcomes: list[Outcome], channel: dict[str, str]) -> None:
        for o in outcomes:
            if o.status not in ("sent", "pending-confirmation"):
                log.warning(_("{status} {key}: {reason}").format(
                    status=status_text(o.status), key=o.key, reason=show(o.reason)))
            if self.metrics is not None:
                self.metrics.sent(o.status, channel.get(o.key, ""))
        try:
            await asyncio.to_thread(self.ledger.finish, self.playbook, outcomes,
                                    now=datetime.now(UTC), also=self._drop_outbox)
            self.done += len(outcomes)
        except Exception as exc:  # the rows stay sending and turn uncertain later
            log.error(ngettext("could not record {n} result: {why}",
                               "could not record {n} results: {why}", len(outcomes))
                      .format(n=len(outcomes), why=exc))

    def _drop_outbox(self, conn: Any, keys: list[str]) -> None:
        """In the transaction that records ``keys``' results: their rows are final."""
        o = outbox.c
        for i in range(0, len(keys), 500):
            conn.execute(outbox.delete().where(o.playbook == self.playbook,
                                               o.key.in_(keys[i:i + 500])))


def _log(event: str, message: str, level: str = "info", **_fields: Any) -> None:
    """The gate's log calls (the runner's EventLog signature) on this module's logger."""
    getattr(log, level if level in ("debug", "warning", "error") else "info")(message)
