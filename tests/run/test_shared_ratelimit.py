"""The host-wide rate limiter: the in-memory limiter's rules, kept in a store that every
process opens (files under flock, or SQLite). Clock-driven: minutes of platform time in
milliseconds; separate limiters on one store stand for separate processes, and real child
processes show what the kernel does with a killed one's lock."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import os
import random
import subprocess
import sys

import pytest

from sopctl.playbook.model import Channel as ChannelCfg
from sopctl.run.channels import make_channels
from sopctl.run.delivery import DeliveryContext, Dispatcher, Job
from sopctl.run.hostlimit import HostRateLimiter, host_limiter, open_store
from sopctl.run.hoststore import MAX_FLIGHT_S, FileStore, boot_id, hash_key, pack
from sopctl.run.ratelimit import DeadlineExceeded, Limit, RateLimiter
from tests.channels.conftest import msg
from tests.fakes import VirtualClock, WeComRobotFake
from tests.fakes.fixtures import start_fake  # noqa: F401


@pytest.fixture(params=["files", "sqlite"])
def where(request, tmp_path):
    return tmp_path / ("rl" if request.param == "files" else "rl.db")


def pair(where, clock):
    """Two limiters on one store: two processes, as far as the store can tell."""
    return HostRateLimiter(open_store(where), clock), HostRateLimiter(open_store(where), clock)


def test_the_in_memory_rules_hold_across_two_limiters(where):
    """The in-memory test's scenario, split over two limiters: same grant times."""
    clock = VirtualClock()
    a, b = pair(where, clock)
    limits = [Limit("k", 3, 60.0)]

    async def main():
        times = []
        for i in range(7):
            lease = await (a if i % 2 else b).acquire(limits)
            times.append(clock.monotonic())
            clock.advance(0.5)  # request latency: tokens come back after the completion
            lease.release()
        a.penalize("k", 600)  # a lockout seen by one blocks the other
        t = clock.monotonic()
        with pytest.raises(DeadlineExceeded):
            await b.acquire(limits, deadline=t + 100)
        (await b.acquire(limits)).release()
        return times, clock.monotonic() - t

    times, waited = asyncio.run(main())
    t0 = times[0]
    assert [round(x - t0, 1) for x in times] == [0, 0.5, 1.0, 60.5, 61.0, 61.5, 121.0]
    assert waited >= 600


def test_no_window_ever_sees_more_than_its_quota(where):
    """Concurrent senders on two limiters with random latencies on Telegram's windows (one
    chat key with two windows, plus the bot's): whenever a token is granted, fewer than
    ``count`` requests of that key are in flight or completed less than a period ago."""
    clock = VirtualClock()
    lims = pair(where, clock)
    rng = random.Random(5)
    spans: dict[str, list[list[float | None]]] = {}  # key -> [granted, completed]
    windows = {"bot": [(30, 1.0)]}

    async def one(i: int, chat: int, lat: float) -> None:
        windows[f"c{chat}"] = [(1, 1.0), (20, 60.0)]
        limits = [Limit(f"c{chat}", 1, 1.0), Limit(f"c{chat}", 20, 60.0),
                  Limit("bot", 30, 1.0)]
        lease = await lims[i % 2].acquire(limits)
        g = clock.monotonic()
        for key in (f"c{chat}", "bot"):
            for count, period in windows[key]:
                busy = sum(1 for a, b in spans.get(key, ()) if b is None or b + period > g)
                assert busy < count, (key, count, period, g)
        mine = [g, None]
        spans.setdefault(f"c{chat}", []).append(mine)
        spans.setdefault("bot", []).append(mine2 := [g, None])
        await clock.sleep(lat)
        lease.release()
        mine[1] = mine2[1] = clock.monotonic()

    async def main():
        await asyncio.gather(*(one(i, rng.randrange(3), rng.uniform(0.05, 2.0))
                               for i in range(80)))

    asyncio.run(main())
    assert sum(len(v) for k, v in spans.items() if k != "bot") == 80


def test_a_restarted_limiter_remembers_what_was_just_sent(where):
    clock = VirtualClock()
    limits = [Limit("dingtalk:robot", 20, 60.0)]

    async def first():
        lim = HostRateLimiter(open_store(where), clock)
        for _ in range(20):
            (await lim.acquire(limits)).release()
            clock.advance(0.1)

    asyncio.run(first())
    t = clock.monotonic()

    async def second():  # a new limiter on the same store: a restarted runner
        lim = HostRateLimiter(open_store(where), clock)
        with pytest.raises(DeadlineExceeded):
            await lim.acquire(limits, deadline=t + 30)
        (await lim.acquire(limits)).release()

    asyncio.run(second())
    assert clock.monotonic() - t >= 60 - 20 * 0.1 - 1e-6  # the first token came back


def test_tokens_in_flight_elsewhere_are_busy_until_released(where):
    clock = VirtualClock()
    a, b = pair(where, clock)
    limits = [Limit("slack:x", 1, 1.0)]

    async def main():
        held = await a.acquire(limits)
        waiter = asyncio.create_task(b.acquire(limits))
        await asyncio.sleep(0.2)  # b polls the store: still in flight
        assert not waiter.done()
        clock.advance(30)  # a slow answer
        held.release()
        lease = await asyncio.wait_for(waiter, 5)
        assert clock.monotonic() >= 31  # one period after the completion, not the start
        lease.cancel()
        (await a.acquire(limits)).release()  # a cancelled lease gives its token back at once

    asyncio.run(main())


def _take_and_die(where: str, key: str, q) -> None:
    """A child: takes a token (a request in flight), says so, and waits to be killed."""
    from sopctl.run.clock import SystemClock

    async def main():
        lim = HostRateLimiter(open_store(where), SystemClock())
        await lim.acquire([Limit(key, 1, 0.5)])
        q.put("taken")
        await asyncio.sleep(60)

    asyncio.run(main())


def test_a_killed_process_s_request_in_flight_counts_as_completed_when_noticed(where):
    from sopctl.run.clock import SystemClock

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_take_and_die, args=(str(where), "k", q))
    p.start()
    assert q.get(timeout=60) == "taken"
    clock = SystemClock()
    lim = HostRateLimiter(open_store(where), clock)

    async def main():
        task = asyncio.create_task(lim.acquire([Limit("k", 1, 0.5)]))
        await asyncio.sleep(0.3)
        assert not task.done()  # the child's request is in flight
        p.kill()
        p.join()
        t = clock.monotonic()
        (await asyncio.wait_for(task, 10)).release()
        return clock.monotonic() - t

    waited = asyncio.run(main())
    assert 0.3 <= waited < 5  # completed when noticed, then one window of 0.5 s


def test_a_process_killed_while_holding_the_lock_frees_it(tmp_path):
    """flock belongs to the open file: the kernel drops it with the killed process."""
    where = tmp_path / "rl"
    shard = int(hash_key("k")[:4], 16) % 64
    code = ("import fcntl, os, sys, time\n"
            f"os.makedirs({str(where)!r}, exist_ok=True)\n"
            f"fd = os.open({str(where / f'{shard:02d}.rl')!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "locked"
        p.kill()
        p.wait(10)
    finally:
        p.kill()
    lim = HostRateLimiter(FileStore(where), VirtualClock())
    asyncio.run(asyncio.wait_for(lim.acquire([Limit("k", 1, 1.0)]), 10))


def test_stale_entries_go(tmp_path):
    """A request in flight of a process that is gone, one older than MAX_FLIGHT_S, a torn
    file and a file from before the last boot: none holds anything up."""
    where = tmp_path / "rl"
    clock = VirtualClock()
    store = FileStore(where)
    hk = hash_key("k")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    now = clock.monotonic()
    with store.locked([hk], now) as recs:
        recs[hk]["f"] = {"x1": [f"{gone}:ab", now], "x2": [f"{os.getppid()}:cd",
                                                           now - MAX_FLIGHT_S - 30]}
        recs[hk]["k"] = 60.0
    lim = HostRateLimiter(store, clock)
    limits = [Limit("k", 3, 60.0)]

    async def main():
        (await lim.acquire(limits, deadline=now)).release()  # two were completed: one left

    asyncio.run(main())
    lim.flush()  # its own release, written with its next look otherwise
    with store.locked([hk], clock.monotonic()) as recs:
        assert sorted(recs[hk]["d"]) == [now - 30, now, now]  # MAX_FLIGHT_S after start
        assert not recs[hk]["f"]
    path = next(where.glob("*.rl"))
    held = {hk: {"u": clock.monotonic() + 600}}
    path.write_bytes(pack({"boot": "an earlier boot", "eps": held}))
    with store.locked([hk], clock.monotonic()) as recs:
        assert recs[hk] == {}
    path.write_bytes(pack({"boot": boot_id(), "eps": held})[:-3])  # torn
    with store.locked([hk], clock.monotonic()) as recs:
        assert recs[hk] == {}
    path.write_bytes(pack({"boot": boot_id(), "eps": held}) + b"left over")
    with store.locked([hk], clock.monotonic()) as recs:
        assert recs[hk] == held[hk]


def test_the_store_never_shows_an_endpoint_key(where):
    clock = VirtualClock()
    lim = HostRateLimiter(open_store(where), clock)
    secret = "webhook:https://hooks.example/T0/B0/SECRET-TOKEN"

    async def main():
        (await lim.acquire([Limit(secret, 5, 60.0)])).release()

    asyncio.run(main())
    files = [where] if where.suffix == ".db" else list(where.iterdir())
    assert files and all(b"SECRET-TOKEN" not in f.read_bytes() for f in files)


def test_host_limiter_location_and_off_switch(tmp_path, caplog):
    sd = tmp_path / "state"
    lim = host_limiter(sd, VirtualClock(), env={})
    assert isinstance(lim, HostRateLimiter) and (sd / "ratelimit").is_dir()
    db = host_limiter(sd, env={"SOPCTL_RATE_STATE": str(tmp_path / "x" / "rl.db")})
    assert isinstance(db, HostRateLimiter) and (tmp_path / "x" / "rl.db").exists()
    assert type(host_limiter(sd, env={"SOPCTL_RATE_STATE": "off"})) is RateLimiter
    blocker = tmp_path / "file"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING, logger="sopctl.run"):
        own = host_limiter(sd, env={"SOPCTL_RATE_STATE": str(blocker / "rl")})
    assert type(own) is RateLimiter and "rl" in caplog.text


def test_two_dispatchers_share_a_robot_s_quota(start_fake, tmp_path, where):  # noqa: F811
    """Two dispatchers (a runner and serve, say) on one WeCom robot: 60 messages, never more
    than 20 a minute at the fake, never a 45009."""
    clock = VirtualClock()
    fake = start_fake(WeComRobotFake, keys={"key0"}, clock=clock)
    cfgs = {"robot": ChannelCfg(type="wecom-robot", key="${K}", base_url=fake.url)}

    async def side(n0: int):
        ctx = DeliveryContext(clock=clock, limiter=HostRateLimiter(open_store(where), clock),
                              rng=random.Random(n0))
        chans = make_channels(cfgs, env={"K": "key0"}, client=None, state_dir=tmp_path,
                              ctx=ctx)
        d = Dispatcher(chans, concurrency=8, clock=clock)
        got = [res.status async for _, res in d.stream(
            Job("robot", msg(f"第{i}条", n=i)) for i in range(n0, n0 + 30))]
        await d.aclose()
        return got

    async def main():
        return await asyncio.gather(side(0), side(100))

    got = [s for side_ in asyncio.run(main()) for s in side_]
    assert got.count("sent") == 60
    assert fake.max_in_window(60.0) <= 20 and fake.refusals(45009) == 0
    assert len(fake.accepted) == 60


def test_a_store_that_breaks_mid_run_leaves_the_process_its_own_limits(tmp_path, caplog):
    """A full disk or a directory gone: said once in the log, and the windows still hold
    inside the process (sending never stops for the limiter's sake)."""
    import shutil

    where = tmp_path / "rl"
    clock = VirtualClock()
    store = FileStore(where)
    lim = HostRateLimiter(store, clock)
    limits = [Limit("k", 2, 60.0)]

    async def main():
        (await lim.acquire(limits)).release()
        store.close()
        shutil.rmtree(where)
        where.write_text("not a directory")
        t = clock.monotonic()
        for _ in range(3):
            (await lim.acquire(limits)).release()
        lim.penalize("k", 5)
        return clock.monotonic() - t

    with caplog.at_level(logging.WARNING, logger="sopctl.run"):
        waited = asyncio.run(main())
    assert waited >= 60  # its own window: 2 a minute
    assert caplog.text.count("rate limits are this process's own") == 1


def test_two_openers_of_a_new_sqlite_store_at_the_same_moment_both_get_it(tmp_path):
    """Switching a new file to WAL needs it to itself and SQLite does not wait for that:
    two processes opening the store at once made one of them give up ("database is
    locked", about one pair in eight) and fall back to rate limits of its own."""
    from sopctl.run.hoststore import SqliteStore

    from .conftest import at_once

    errors: list[BaseException] = []
    for i in range(60):
        errors += at_once(lambda path=tmp_path / f"rl{i}.db": SqliteStore(path).check(), 2)
    assert errors == []
