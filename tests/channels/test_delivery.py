from __future__ import annotations

import asyncio
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sopctl.playbook.model import Channel as ChannelCfg
from sopctl.run.channels import make_channels
from sopctl.run.delivery import DeliveryContext, Dispatcher, Job, split_text
from sopctl.run.ratelimit import DeadlineExceeded, Limit, RateLimiter
from tests.channels.conftest import msg
from tests.fakes import SlackFake, VirtualClock, WeComRobotFake


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("群主a \n😀é")), max_size=400),
       st.integers(min_value=4, max_value=60), st.sampled_from(["bytes", "chars", "utf16"]))
def test_split_is_lossless_and_within_the_limit(text, limit, unit):
    parts = split_text(text, limit, unit)
    assert "".join(parts) == text
    size = {"bytes": lambda s: len(s.encode()), "chars": len,
            "utf16": lambda s: len(s.encode("utf-16-le")) // 2}[unit]
    assert all(size(p) <= limit for p in parts)
    assert all(p for p in parts) or text == ""


def test_split_prefers_line_ends():
    text = "第一行内容\n第二行内容\n第三行内容"
    assert split_text(text, 20, "bytes") == ["第一行内容\n", "第二行内容\n", "第三行内容"]


def test_limiter_window_counts_from_completion_and_penalty():
    clock = VirtualClock()
    lim = RateLimiter(clock)
    limits = [Limit("k", 3, 60.0)]

    async def main():
        times = []
        for _ in range(7):
            lease = await lim.acquire(limits)
            times.append(clock.monotonic())
            clock.advance(0.5)  # request latency
            lease.release()
        lim.penalize("k", 600)
        t = clock.monotonic()
        try:
            await lim.acquire(limits, deadline=t + 100)
            raise AssertionError("should not get a token inside the penalty")
        except DeadlineExceeded:
            pass
        (await lim.acquire(limits)).release()
        return times, clock.monotonic() - t

    times, waited = asyncio.run(main())
    t0 = times[0]
    assert [round(x - t0, 1) for x in times] == [0, 0.5, 1.0, 60.5, 61.0, 61.5, 121.0]
    assert waited >= 600


class RecordingGate:
    """A gate that keeps what a ledger would see: when each message began (its first request
    about to be written) and ended, and how many were in flight at once."""

    def __init__(self, clock, end_delay: float = 0.0) -> None:
        self.clock, self.end_delay = clock, end_delay
        self.began: dict[str, float] = {}
        self.ended: dict[str, object] = {}
        self.open = 0
        self.most_open = 0
        self.on_begin = lambda n: None

    async def begin(self, job) -> bool:
        self.began[job.msg.key] = self.clock.monotonic()
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        self.on_begin(len(self.began))
        return True

    async def end(self, job, result) -> None:
        assert job.msg.key not in self.ended, "ended twice"
        if job.msg.key in self.began:
            await asyncio.sleep(self.end_delay)  # a commit takes a while
            self.open -= 1
        self.ended[job.msg.key] = result


async def collect(d: Dispatcher, jobs) -> list:
    return [item async for item in d.stream(jobs)]


def test_dispatcher_streams_every_result_once_across_channels(start_fake, tmp_path):
    clock = VirtualClock()
    fakes = [start_fake(WeComRobotFake, keys={f"key{i}"}, clock=clock) for i in range(3)]
    env = {f"K{i}": f"key{i}" for i in range(3)}
    cfgs = {f"robot{i}": ChannelCfg(type="wecom-robot", key=f"${{K{i}}}", base_url=f.url)
            for i, f in enumerate(fakes)}
    cfgs["outbox"] = ChannelCfg(type="file", path="o.jsonl")
    ctx = DeliveryContext(clock=clock, rng=random.Random(1))
    jobs = [Job(f"robot{i % 3}" if i % 4 else "outbox", msg(f"第{i}条", n=i)) for i in range(90)]
    jobs.append(Job("nope", msg(n=999)))

    async def main():
        chans = make_channels(cfgs, env=env, client=None, state_dir=tmp_path, ctx=ctx)
        d = Dispatcher(chans, concurrency=16, clock=clock)
        got = [(job.msg.key, res.status) for job, res in await collect(d, jobs)]
        await d.aclose()
        return got

    got = asyncio.run(main())
    keys = [k for k, _ in got]
    assert sorted(keys) == sorted(j.msg.key for j in jobs) and len(set(keys)) == len(keys)
    assert dict(got)[msg(n=999).key] == "failed"
    assert sum(s == "sent" for _, s in got) == 90
    for i, f in enumerate(fakes):
        assert f.max_in_window(60.0) <= 20 and f.refusals(45009) == 0
        texts = [a.payload["text"]["content"] for a in f.accepted]
        assert len(set(texts)) == len(texts)  # nothing posted twice
        assert len(texts) == sum(j.channel == f"robot{i}" for j in jobs)


def test_a_message_begins_only_when_its_request_is_about_to_be_written(start_fake, tmp_path):
    """30 messages for one 20/min robot: the last 10 wait a window for their tokens, and
    the gate hears of them (the runner flips the row to `sending`) only after that wait;
    with commits that take a while, no more than `concurrency` are ever in flight."""
    clock = VirtualClock()
    fake = start_fake(WeComRobotFake, keys={"k"}, clock=clock)
    cfgs = {"r": ChannelCfg(type="wecom-robot", key="${K}", base_url=fake.url),
            "o": ChannelCfg(type="file", path="o.jsonl")}
    gate = RecordingGate(clock, end_delay=0.01)
    jobs = [Job("r", msg(f"第{i}条", n=i), budget_s=600) for i in range(30)]
    jobs += [Job("o", msg(f"第{i}条", n=i)) for i in range(100, 160)]

    async def main():
        chans = make_channels(cfgs, env={"K": "k"}, client=None, state_dir=tmp_path,
                              ctx=DeliveryContext(clock=clock))
        d = Dispatcher(chans, concurrency=4, clock=clock, gate=gate)
        t0 = clock.monotonic()
        got = await collect(d, jobs)
        await d.aclose()
        return t0, got

    t0, got = asyncio.run(main())
    assert len(got) == 90 and all(r.status == "sent" for _, r in got)
    robot = sorted(gate.began[j.msg.key] - t0 for j in jobs[:30])
    assert max(robot[:20]) < 60 <= min(robot[20:])  # the waiting ten began after the window
    assert gate.most_open <= 4
    assert set(gate.ended) == {j.msg.key for j in jobs}


def test_dispatcher_budget_and_stop(start_fake, tmp_path):
    clock = VirtualClock()
    fake = start_fake(WeComRobotFake, keys={"k"}, clock=clock)
    cfgs = {"r": ChannelCfg(type="wecom-robot", key="${K}", base_url=fake.url)}

    async def main():
        chans = make_channels(cfgs, env={"K": "k"}, client=None, state_dir=tmp_path,
                              ctx=DeliveryContext(clock=clock))
        d = Dispatcher(chans, concurrency=4, clock=clock)
        # 30 messages for one robot within a 10-minute grace: 20 now, 10 after a minute
        res = await collect(d, [Job("r", msg(n=i), budget_s=30) for i in range(30)])
        gate = RecordingGate(clock)
        d2 = Dispatcher(chans, concurrency=2, clock=clock, gate=gate)
        gate.on_begin = lambda n: d2.stop() if n == 2 else None  # SIGTERM, two in flight
        seen = [item async for item in d2.stream(Job("r", msg(n=100 + i)) for i in range(50))]
        await d.aclose()
        return res, seen, gate

    res, seen, gate = asyncio.run(main())
    st_ = [r.status for _, r in res]
    assert st_.count("sent") == 20 and st_.count("failed") == 10
    assert all("deadline" in r.reason for _, r in res if r.status == "failed")
    # stopped with two in flight and two more taken (max_pending: 2 x concurrency): the two
    # finished and were yielded; the others were dropped unsent (the gate heard None), and
    # only the two reached the platform
    assert len(seen) == 2 and all(r.status == "sent" for _, r in seen)
    assert {j.msg.key for j, _ in seen} == set(gate.began)
    assert len(gate.ended) == 4 and [r for r in gate.ended.values() if r is None] == [None] * 2
    assert len(fake.accepted) == 20 + len(seen)


def test_a_throttled_endpoint_does_not_hold_up_other_channels(start_fake, tmp_path):
    # real time, Slack's 1/s: with 2 connections, 4 Slack posts take 3 s; the outbox
    # messages queued behind them must not wait for that
    fake = start_fake(SlackFake, path="/s/x")
    cfgs = {"s": ChannelCfg(type="slack", url="${U}", base_url=fake.url),
            "o": ChannelCfg(type="file", path="o.jsonl")}
    jobs = [Job("s", msg(n=i)) for i in range(4)] + [Job("o", msg(n=100 + i)) for i in range(3)]

    async def main():
        chans = make_channels(cfgs, env={"U": "https://hooks.slack.com/s/x"}, client=None,
                              state_dir=tmp_path, ctx=DeliveryContext())
        d = Dispatcher(chans, concurrency=2)
        order = [job.channel async for job, _ in d.stream(jobs)]
        await d.aclose()
        return order

    order = asyncio.run(main())
    second_slack = [i for i, c in enumerate(order) if c == "s"][1]
    assert max(i for i, c in enumerate(order) if c == "o") < second_slack
    assert order.count("s") == 4
    assert fake.max_in_window(1.0) <= 1 and fake.refusals(429) == 0


def test_an_unexpected_channel_error_is_uncertain_and_never_shows_the_secret(tmp_path):
    """A bug inside a channel (here: an exception quoting the webhook URL with its key)
    must not lose the other results, and must not write the key into the ledger."""
    cfgs = {"r": ChannelCfg(type="wecom-robot", key="${K}", base_url="http://127.0.0.1:9")}

    async def main():
        chans = make_channels(cfgs, env={"K": "s3cr3t-robot-key"}, client=None,
                              state_dir=tmp_path)
        ch = chans["r"]

        async def boom(m, *, deadline=None):
            key = ch.secret("key")
            ch.secret("key")  # resolved again: remembered once
            raise RuntimeError(f"bad state for https://qyapi.example/send?key={key}")

        ch.send = boom
        d = Dispatcher(chans, concurrency=2)
        res = await collect(d, [Job("r", msg(n=i)) for i in range(3)])
        await d.aclose()
        return res, ch

    res, ch = asyncio.run(main())
    assert [r.status for _, r in res] == ["uncertain"] * 3
    assert all("internal error: RuntimeError" in r.reason for _, r in res)
    assert not any("s3cr3t-robot-key" in r.reason for _, r in res)
    assert ch._secrets.count("s3cr3t-robot-key") == 1
