"""Delivery: retries, splitting and a concurrent dispatcher (rate limits: ``ratelimit``).

Contract for the runner (and the event receiver)
------------------------------------------------
Build the channels once, with one shared HTTP client and one delivery context, and give the
dispatcher a :class:`Gate`, the ledger's side of each message (``burst.LedgerGate``)::

    client = make_client(concurrency=200)
    ctx = DeliveryContext()                  # system clock, shared rate limiter
    channels = make_channels(playbook.channels, env=os.environ, client=client,
                             state_dir=state_dir, ctx=ctx)   # sopctl.run.channels
    dispatcher = Dispatcher(channels, concurrency=200, gate=gate)
    async for job, result in dispatcher.stream(jobs):        # Job(channel, msg, budget_s)
        ...                                                  # already recorded by the gate
    await dispatcher.aclose()                                # closes channels, not the client
    await client.aclose()

A message is *in flight* from the moment its first request is about to be written until
its result is recorded: the gate's ``begin`` runs right then (after every rate-limit wait),
its ``end`` before the message frees its slot, and at most ``concurrency`` messages are in
flight. So a message waiting for a rate-limit window has not begun, and a crash can leave
unrecorded at most ``concurrency`` messages, all of which had a request written.

``result.status`` is final: ``sent`` | ``failed`` | ``pending-confirmation`` | ``uncertain``
(never ``retry``). ``uncertain`` means a request left and its outcome is unknown (a timeout
after sending); it is not retried unless the channel is idempotent. ``result.parts`` is how
many parts were posted (a split message can fail half way), ``result.attempts`` counts HTTP
attempts. ``budget_s`` is how long the message may still take (the occurrence's remaining
grace): retries and rate-limit waits that would pass it give up with ``failed``.
``dispatcher.stop()`` takes no new jobs and drops the ones that have not begun (the gate
hears ``end(job, None)``: nothing was sent); messages in flight finish (for SIGTERM).
A message with ``delivery="remind"`` (or ``remind_to``) is never posted: the staff member
gets a reminder through the channel's ``remind`` channel, else the console.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from . import reasons as R
from .channels.base import Channel, OutMessage, SendResult
from .clock import Clock, SystemClock
from .ratelimit import DeadlineExceeded, RateLimiter, Slots

if TYPE_CHECKING:
    import httpx


# ----------------------------------------------------------------------------- splitting

def _measure(unit: str | Callable[[str], int]) -> Callable[[str], int]:
    if callable(unit):
        return unit
    if unit == "bytes":
        return lambda s: len(s.encode("utf-8"))
    if unit == "utf16":
        return lambda s: len(s.encode("utf-16-le")) // 2
    return len


def split_text(text: str, limit: int, unit: str | Callable[[str], int] = "chars") -> list[str]:
    """Split ``text`` into parts of at most ``limit`` units ("bytes" of UTF-8, "utf16" code
    units, "chars", or a measuring function), preferring line breaks, then spaces; never
    inside a character. The parts joined give back the text exactly."""
    size = _measure(unit)
    if size(text) <= limit:
        return [text]
    parts: list[str] = []
    rest = text
    while rest:
        if size(rest) <= limit:
            parts.append(rest)
            break
        lo, hi = 1, min(len(rest), limit)  # the longest prefix that fits
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if size(rest[:mid]) <= limit:
                lo = mid
            else:
                hi = mid - 1
        cut = lo
        for sep in ("\n", " "):
            i = rest.rfind(sep, 0, cut)
            if i >= cut // 3:  # don't make a tiny part just to keep a line whole
                cut = i + 1
                break
        parts.append(rest[:cut])
        rest = rest[cut:]
    return parts


# ----------------------------------------------------------------------------- retries

@dataclass(slots=True)
class RetryPolicy:
    max_attempts: int = 6
    base: float = 1.0  # first backoff ceiling, seconds
    cap: float = 60.0  # backoff ceiling
    max_wait: float = 900.0  # longest single wait honoured (DingTalk's lockout is 600)

    def backoff(self, attempt: int, rng: random.Random, retry_after: float | None) -> float:
        """Full jitter, but never sooner than the platform asked."""
        jitter = rng.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))
        if retry_after is not None:
            return retry_after + rng.uniform(0, min(1.0, retry_after * 0.1))
        return jitter


@dataclass(slots=True)
class DeliveryContext:
    """What every channel shares: the clock, the rate limiter, the retry policy."""

    clock: Clock = field(default_factory=SystemClock)
    limiter: RateLimiter | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.limiter is None:
            self.limiter = RateLimiter(self.clock)


class Gate(Protocol):
    """The bookkeeping side of a dispatcher: told when a message begins and how it ended."""

    async def begin(self, job: Job) -> bool:
        """Right before the message's first request is written; False: do not send it."""
        ...

    async def end(self, job: Job, result: SendResult | None) -> None:
        """The message is over (``None``: it never began, nothing was sent); returns once
        the result is safely recorded, and only then is the message's slot free."""
        ...


class NotStarted(Exception):
    """The gate refused a message at its first request: nothing was sent."""


class _Flight:
    """One message as the dispatcher tracks it: waiting (no slot), beginning, started."""

    __slots__ = ("gate", "holds_slot", "job", "slots", "state")

    def __init__(self, job: Job, gate: Gate | None, slots: Slots) -> None:
        self.job, self.gate, self.slots = job, gate, slots
        self.state = "waiting"
        self.holds_slot = False

    async def begin(self) -> bool:
        """Called holding a slot, right before the first request."""
        self.holds_slot = True
        self.state = "beginning"
        ok = self.gate is None or await self.gate.begin(self.job)
        self.state = "started" if ok else "refused"
        return ok


# the message a dispatcher task is delivering, seen by the delivery loop below
FLIGHT: ContextVar[_Flight | None] = ContextVar("sopctl_flight", default=None)


async def _deliver_part(ch: Channel, part: Any, ctx: DeliveryContext,
                        deadline: float | None) -> SendResult:
    clock, pol, limiter = ctx.clock, ctx.policy, ctx.limiter
    assert limiter is not None
    limits = ch.limits(part)
    attempt = 0
    while True:
        attempt += 1
        flight = FLIGHT.get()
        first = flight is not None and flight.state == "waiting"
        try:  # a message's first request takes its slot with its tokens, in one step
            lease = await limiter.acquire(limits, deadline, flight.slots if first else None)
        except DeadlineExceeded as e:
            return SendResult("failed", R.WAIT_PAST_GRACE.format(s=f"{e.args[0]:.0f}"),
                              attempts=attempt - 1)
        if first and not await flight.begin():  # type: ignore[union-attr]
            lease.cancel()
            raise NotStarted
        try:
            res = await ch.attempt(part)
        finally:
            lease.release()
        res.attempts = attempt
        retry = res.status == "retry" or (res.status == "uncertain" and ch.idempotent)
        if not retry:
            return res
        if res.retry_after is not None and limits:
            limiter.penalize(limits[0].key, res.retry_after)
        wait = pol.backoff(attempt, ctx.rng, res.retry_after)
        final = "uncertain" if res.status == "uncertain" else "failed"
        if attempt >= pol.max_attempts:
            return SendResult(final, R.GAVE_UP.format(n=attempt, reason=res.reason),
                              res.response, attempts=attempt)
        if wait > pol.max_wait or (deadline is not None and clock.monotonic() + wait > deadline):
            return SendResult(final, R.RETRY_PAST_GRACE.format(s=f"{wait:.0f}", reason=res.reason),
                              res.response, attempts=attempt)
        await clock.sleep(wait)


async def deliver(ch: Channel, msg: OutMessage, ctx: DeliveryContext,
                  deadline: float | None = None) -> SendResult:
    """Send every part of ``msg`` in order; stop at the first part that does not go out."""
    try:
        parts = ch.parts(msg)
    except ValueError as e:
        return SendResult("failed", str(e), parts=0, attempts=0)
    responses: list[dict[str, Any]] = []
    attempts, status = 0, "sent"
    for i, part in enumerate(parts):
        res = await _deliver_part(ch, part, ctx, deadline)
        attempts += res.attempts
        if res.status in ("sent", "pending-confirmation"):
            if res.status == "pending-confirmation":
                status = res.status
            responses.append(res.response)
            continue
        reason = (R.PART.format(i=i + 1, n=len(parts), posted=i, reason=res.reason)
                  if len(parts) > 1 else res.reason)
        resp = dict(res.response)
        if responses:
            resp["posted_parts"] = responses
        return SendResult(res.status, reason, resp, res.retry_after, i, attempts)
    response = dict(responses[-1]) if responses else {}
    if len(responses) > 1:
        response["parts"] = responses
    return SendResult(status, "", response, None, len(parts), attempts)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- dispatcher

@dataclass(frozen=True, slots=True)
class Job:
    channel: str  # a name from the channels mapping
    msg: OutMessage
    budget_s: float | None = None  # remaining grace; None: bounded by attempts only


def make_client(concurrency: int = 200, timeout: float = 10.0) -> httpx.AsyncClient:
    """One client for every channel: ``concurrency`` connections in small pools (see
    channels/_transport.py), enough for thousands of groups at 07:30."""
    import logging

    import httpx

    # httpx logs each request URL at INFO, and several platforms put the key in the URL
    logging.getLogger("httpx").setLevel(logging.WARNING)

    from .channels._transport import ShardedTransport

    return httpx.AsyncClient(transport=ShardedTransport(concurrency),
                             timeout=httpx.Timeout(timeout, connect=5.0), follow_redirects=False)


def _paced(ch: Any) -> bool:
    """True when ``ch`` sends through :func:`deliver`, which begins a message at its first
    request; for any other channel the dispatcher begins it before calling ``send``."""
    return bool(getattr(ch, "paced", False))  # channels/base.py: Channel.paced


class Dispatcher:
    """Sends many messages concurrently across channels and yields each result as soon as
    it is recorded (see the module docstring for ``gate`` and what "in flight" means)."""

    def __init__(self, channels: Mapping[str, Channel], *, concurrency: int = 200,
                 clock: Clock | None = None, max_pending: int | None = None,
                 gate: Gate | None = None) -> None:
        self.channels = channels
        self.concurrency = max(1, concurrency)
        self.max_pending = max_pending or 2 * self.concurrency
        self.clock = clock or SystemClock()
        self.gate = gate
        self._slots = Slots(self.concurrency)
        self._flights: dict[asyncio.Task[Any], _Flight] = {}
        self._stopping = False

    @property
    def in_flight(self) -> int:
        """Messages between their first request and their recorded result."""
        return self._slots.used

    def stop(self) -> None:
        """Take no new jobs and drop those that have not begun; messages in flight finish
        and are yielded."""
        self._stopping = True
        for t, f in self._flights.items():
            if f.state == "waiting":
                t.cancel()

    async def send_one(self, job: Job) -> SendResult | None:
        """Deliver ``job``; None when it never began (refused by the gate, or stopped)."""
        ch = self.channels.get(job.channel)
        if ch is None:
            return SendResult("failed", R.UNKNOWN_CHANNEL.format(name=job.channel), parts=0,
                              attempts=0)
        flight = FLIGHT.get()
        if flight is not None and not _paced(ch):  # begin here: its requests are its own
            await flight.slots.acquire()
            if not await flight.begin():
                return None
        deadline = None if job.budget_s is None else self.clock.monotonic() + job.budget_s
        try:
            return await ch.send(job.msg, deadline=deadline)  # type: ignore[call-arg]
        except NotStarted:
            return None
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug must not lose the result of the other jobs
            reason = R.INTERNAL.format(error=f"{type(e).__name__}: {e}")
            redact = getattr(ch, "redact", None)  # the message may quote a URL with a key
            return SendResult("uncertain", redact(reason) if redact else reason,
                              parts=0, attempts=0)

    async def _task(self, job: Job) -> tuple[Job, SendResult | None]:
        flight = _Flight(job, self.gate, self._slots)
        FLIGHT.set(flight)  # this task's own context
        task = asyncio.current_task()
        assert task is not None
        self._flights[task] = flight
        try:
            try:
                res = None if self._stopping else await self.send_one(job)
            except asyncio.CancelledError:
                if flight.state != "waiting":
                    raise
                res = None  # stopped before it began: nothing was sent
            if self.gate is not None:
                await self.gate.end(job, res)
            return job, res
        finally:
            del self._flights[task]
            if flight.holds_slot:
                self._slots.give()

    async def stream(self, jobs: Iterable[Job] | AsyncIterator[Job],
                     ) -> AsyncIterator[tuple[Job, SendResult]]:
        """Each message is its own task; at most ``concurrency`` are in flight, and at most
        ``max_pending`` are taken from ``jobs`` ahead of their results, so messages waiting
        for a throttled robot do not hold slots others could use. ``jobs`` may be an async
        iterator: its database work then need not block the loop that carries the requests
        in flight. A job that never began is not yielded (the gate heard of it)."""
        if isinstance(jobs, AsyncIterator):
            source = jobs

            def take() -> Awaitable[Job | None]:
                return anext(source, None)
        else:
            it = iter(jobs)

            async def take() -> Job | None:
                return next(it, None)
        tasks: set[asyncio.Task[tuple[Job, SendResult | None]]] = set()
        finished: asyncio.Queue[asyncio.Task[tuple[Job, SendResult | None]]] = asyncio.Queue()
        more = True
        try:
            while True:
                while more and not self._stopping and len(tasks) < self.max_pending:
                    job = await take()
                    if job is None:
                        more = False
                        break
                    t = asyncio.create_task(self._task(job))
                    t.add_done_callback(finished.put_nowait)
                    tasks.add(t)
                if not tasks:
                    break
                t = await finished.get()
                tasks.discard(t)
                job, res = t.result()
                if res is not None:
                    yield job, res
        finally:
            for t in tasks:
                t.cancel()

    async def aclose(self) -> None:
        for ch in self.channels.values():
            await ch.aclose()
