"""Platform faults under two runners sharing PostgreSQL (sharded, one process per shard as on
two hosts): 30 % HTTP 5xx and timeouts on a webhook, 45009 / 130101 / 429 storms on WeCom,
DingTalk and Slack. Platform windows are never exceeded (the fakes' own receipt times, and
no refusal but the injected ones); every message ends sent, failed with its reason, or
uncertain when a request timed out after it left."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sopctl.run.channels import make_channels
from sopctl.run.clock import FakeClock
from sopctl.run.delivery import DeliveryContext, make_client
from sopctl.run.ledger import Ledger
from sopctl.run.metrics import Metrics
from sopctl.run.reload import check_playbook
from sopctl.run.runner import Book, Runner, RunOptions, shard_of
from tests.fakes import (
    DingTalkFake,
    Response,
    SlackFake,
    VirtualClock,
    WebhookFake,
    WeComRobotFake,
)

from .harness import write_playbook

pytestmark = pytest.mark.postgres
SH = ZoneInfo("Asia/Shanghai")
GROUPS = 160
STORMS = {"wc": 5, "ding": 3, "slack": 5}


class SharedClock(VirtualClock):
    """Virtual time for many concurrent sleepers: a sleep moves time to its own wake-up
    instant (the latest one wins), not forward by its length once per sleeper."""

    async def sleep(self, seconds: float) -> None:
        target = self.time() + max(0.0, seconds)
        self.sleeps.append(seconds)
        await asyncio.sleep(0)
        with self._lock:
            self._t = max(self._t, target)


def test_platform_faults_with_two_sharded_runners(tmp_path, pg_db):
    vclock = SharedClock()
    hook = WebhookFake(clock=vclock).start()
    hook.error_ratio = 0.3  # 503: the platform says it did not post; retried
    hook.hang_next(3, 1.5)  # posted, but answered after the client's 0.5 s timeout
    wc = WeComRobotFake(keys={"robot-1"}, clock=vclock).start()
    wc.respond_next(STORMS["wc"], Response(200, {"errcode": 45009,
                                                 "errmsg": "api freq out of limit"}))
    ding = DingTalkFake(token="ding-1", clock=vclock).start()
    ding.respond_next(STORMS["ding"], Response(200, {"errcode": 130101,
                                                     "errmsg": "send too fast"}))
    slack = SlackFake(clock=vclock).start()
    slack.respond_next(STORMS["slack"], Response(429, "rate_limited", {"Retry-After": "2"}))
    fakes = {"hook": hook, "wc": wc, "ding": ding, "slack": slack}
    try:
        # an endpoint belongs to one shard: each runner's limiter then sees all its traffic
        per = {1: ["wc"] * 30 + ["slack"] * 15, 2: ["ding"] * 25}
        chan = {}
        for i in range(GROUPS):
            gid = f"g{i:05d}"
            todo = per[shard_of(gid, 2)]
            chan[gid] = todo.pop(0) if todo else "out"
        extra = "".join(f"  {n}: {{type: {t}, {f}: \"${{{v}}}\", base_url: \"{u}\"}}\n"
                        for n, t, f, v, u in [
                            ("wc", "wecom-robot", "key", "WC_KEY", wc.url),
                            ("ding", "dingtalk", "token", "DING_TOKEN", ding.url),
                            ("slack", "slack", "url", "SLACK_URL", slack.url)])
        pb = write_playbook(tmp_path / "pb.yaml", groups=GROUPS, url=hook.url + "/hook",
                            slots=[("07:30", "6h")], extra_channels=extra,
                            group_channel=chan)
        pb.write_text(pb.read_text(encoding="utf-8").replace(
            "  out: {type: webhook, url:", "  out: {type: webhook, timeout: 0.5, url:"),
            encoding="utf-8")
        checked = check_playbook(str(pb))
        assert checked.playbook is not None, [f.short() for f in checked.errors]
        env = {"WC_KEY": "robot-1", "DING_TOKEN": "ding-1",
               "SLACK_URL": "https://hooks.slack.com/services/T000/B000/XXXXSECRET"}
        clock = FakeClock(datetime(2026, 11, 24, 7, 30, 5, tzinfo=SH))

        async def host(i: int) -> Counter:
            client = make_client(concurrency=50)
            ctx = DeliveryContext(clock=vclock)  # one limiter per process, as on a host
            chans = make_channels(checked.playbook.channels, env=env, client=client,
                                  state_dir=tmp_path, ctx=ctx)
            r = Runner([Book(checked)], Ledger(pg_db), clock, RunOptions(shard=(i, 2)),
                       channels=chans, metrics=Metrics(), delivery_clock=vclock)
            try:
                return (await r.run_once()).counts
            finally:
                for c in chans.values():
                    await c.aclose()
                await client.aclose()
                r.ledger.close()

        async def both():
            return await asyncio.gather(host(1), host(2))

        asyncio.run(both())
    finally:
        for f in fakes.values():
            f.stop()
    led = Ledger(pg_db)
    rows = led.rows()
    led.close()
    assert len(rows) == GROUPS
    by = Counter(r["status"] for r in rows)
    assert set(by) <= {"sent", "failed", "uncertain"}, by
    for r in rows:
        if r["status"] != "sent":
            assert r["reason"], r
        if r["status"] == "uncertain":  # only a request that left and got no answer
            assert r["channel"] == "out" and "outcome unknown" in r["reason"], r
    # the platforms' own windows: never more than documented, no refusal but the storms
    assert wc.max_in_window(60.0, "robot-1") <= 20 and wc.refusals(45009) == STORMS["wc"]
    assert ding.max_in_window(60.0, "ding-1") <= 20
    assert ding.refusals(130101) == STORMS["ding"]
    assert slack.max_in_window(1.0) <= 1 and slack.refusals(429) == STORMS["slack"]
    # every accepted message is in the ledger as sent (or uncertain), and only once
    got: Counter = Counter()
    for name, f in fakes.items():
        for a in f.accepted:
            p = a.payload
            text = (p.get("text") or {}).get("content") if name in ("wc", "ding") else \
                p.get("text")
            gid = "g" + text.split("测试群")[1][:5]
            got[gid] += 1
    status = {r["group_id"]: r["status"] for r in rows}
    assert all(n == 1 for n in got.values()), [g for g, n in got.items() if n > 1]
    assert {g for g, s in status.items() if s == "sent"} <= set(got)
    assert all(status[g] in ("sent", "uncertain") for g in got)
    assert by["sent"] >= GROUPS * 0.8, by  # faults are retried, not given up at once
    print(f"\nplatform faults: {GROUPS} groups, 2 sharded runners; ledger {dict(by)}; "
          f"injected 503s {hook.refusals(503)}, 45009 x{STORMS['wc']}, "
          f"130101 x{STORMS['ding']}, 429 x{STORMS['slack']}; virtual time "
          f"{vclock.time() - 1_795_000_000:.0f} s")
