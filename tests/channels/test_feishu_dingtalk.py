from __future__ import annotations

import time

from tests.channels.conftest import msg, send_all
from tests.fakes import DingTalkFake, FeishuFake

FS_TOKEN, FS_SECRET = "fs-hook-0a1b2c3d", "fs-sign-secret-9z"
DT_TOKEN, DT_SECRET = "dt-access-55aa66bb", "SECdingtalk-secret-77"
ENV = {"FS_TOKEN": FS_TOKEN, "FS_SECRET": FS_SECRET, "DT_TOKEN": DT_TOKEN,
       "DT_SECRET": DT_SECRET, "WRONG": "not-the-secret"}


def feishu(build, fake, secret="${FS_SECRET}", **cfg):
    return build("feishu", env=ENV, token="${FS_TOKEN}", secret=secret, base_url=fake.url, **cfg)


def dingtalk(build, fake, secret="${DT_SECRET}", **cfg):
    return build("dingtalk", env=ENV, token="${DT_TOKEN}", secret=secret, base_url=fake.url,
                 **cfg)


def test_feishu_signed_text_with_at_all(build, start_fake, vclock):
    fake = start_fake(FeishuFake, token=FS_TOKEN, secret=FS_SECRET, clock=vclock)
    [res] = send_all(feishu(build, fake), [msg(mention="all")])
    assert res.status == "sent", res.reason
    p = fake.accepted[0].payload
    assert p["msg_type"] == "text" and p["content"]["text"].startswith('<at user_id="all">')
    assert p["timestamp"] and p["sign"]


def test_feishu_wrong_secret_and_skewed_clock_fail_19021(build, start_fake, vclock):
    fake = start_fake(FeishuFake, token=FS_TOKEN, secret=FS_SECRET, clock=vclock)
    [res] = send_all(feishu(build, fake, secret="${WRONG}"), [msg()])
    assert res.status == "failed" and "19021" in res.reason and res.attempts == 1
    assert "not-the-secret" not in res.reason
    vclock.advance(2 * 3600)  # the fake's clock runs two hours ahead of the signer's
    skewed = type(vclock)(vclock.time() - 2 * 3600)
    from sopctl.run.delivery import DeliveryContext

    [res] = send_all(feishu(build, fake, ctx=DeliveryContext(clock=skewed)), [msg()])
    assert res.status == "failed" and "19021" in res.reason and not fake.accepted


def test_feishu_rates_5_per_second_100_per_minute_and_jitter(build, start_fake, vclock):
    vclock.advance(-(vclock.time() % 60))  # start exactly on :00
    fake = start_fake(FeishuFake, token=FS_TOKEN, secret=FS_SECRET, clock=vclock)
    res = send_all(feishu(build, fake), [msg(n=i) for i in range(130)])
    assert all(r.status == "sent" for r in res)
    assert fake.max_in_window(1.0) <= 5 and fake.max_in_window(60.0) <= 100
    assert fake.refusals(11232) == 0


def test_feishu_never_posts_on_the_hot_seconds(build, start_fake, vclock):
    # One sender at a time: with many, the shared virtual clock also moves by the others'
    # waits while a request is on its way, which real time does not.
    vclock.advance(-(vclock.time() % 60))  # start exactly on :00
    fake = start_fake(FeishuFake, token=FS_TOKEN, secret=FS_SECRET, clock=vclock)
    res = send_all(feishu(build, fake), [msg(n=i) for i in range(12)], concurrent=False)
    assert all(r.status == "sent" for r in res)
    assert all(a.t % 30 >= 2.0 for a in fake.accepted)  # never at :00/:30


def test_feishu_throttle_11232_is_retried(build, start_fake, vclock):
    fake = start_fake(FeishuFake, token=FS_TOKEN, secret=FS_SECRET, clock=vclock)
    res = send_all(feishu(build, fake, rate_per_minute=1000), [msg(n=i) for i in range(12)])
    assert [r.status for r in res] == ["sent"] * 12 and len(fake.accepted) == 12
    assert fake.refusals(11232) > 0 and fake.max_in_window(1.0) <= 5


def test_feishu_body_over_20kb_is_split(build, start_fake, vclock):
    fake = start_fake(FeishuFake, token=FS_TOKEN, clock=vclock)
    text = "\n".join(f"第{i}天：\"晒单\"领红包，记得@群主" for i in range(2500))
    [res] = send_all(feishu(build, fake, secret=None), [msg(text)])
    assert res.status == "sent" and res.parts == len(fake.accepted) >= 3
    assert all(len(r.body) <= 20 * 1024 for r in fake.requests)
    assert "".join(a.payload["content"]["text"] for a in fake.accepted) == text


def test_dingtalk_signed_markdown_with_mentions(build, start_fake, vclock):
    fake = start_fake(DingTalkFake, token=DT_TOKEN, secret=DT_SECRET, clock=vclock)
    m = msg("## 今日课程\n第3课：防晒", format="markdown", mention="all",
            mentions=("13800000000", "manager01"))
    [res] = send_all(dingtalk(build, fake), [m])
    assert res.status == "sent", res.reason
    p = fake.accepted[0].payload
    assert p["msgtype"] == "markdown" and p["markdown"]["title"] == "## 今日课程"
    assert p["at"] == {"atMobiles": ["13800000000"], "atUserIds": ["manager01"], "isAtAll": True}
    assert "@13800000000" in p["markdown"]["text"]


def test_dingtalk_bad_signature_is_final(build, start_fake, vclock):
    fake = start_fake(DingTalkFake, token=DT_TOKEN, secret=DT_SECRET, clock=vclock)
    [res] = send_all(dingtalk(build, fake, secret="${WRONG}"), [msg()])
    assert res.status == "failed" and "310000" in res.reason and res.attempts == 1
    assert DT_TOKEN not in res.reason + str(res.response)


def test_dingtalk_default_rate_never_triggers_the_lockout(build, start_fake, vclock):
    fake = start_fake(DingTalkFake, token=DT_TOKEN, secret=DT_SECRET, clock=vclock)
    res = send_all(dingtalk(build, fake), [msg(n=i) for i in range(30)])
    assert all(r.status == "sent" for r in res)
    assert fake.max_in_window(60.0) <= 20 and fake.refusals(130101) == 0


def test_dingtalk_130101_waits_ten_minutes_on_a_virtual_clock(build, start_fake, vclock):
    fake = start_fake(DingTalkFake, token=DT_TOKEN, secret=DT_SECRET, clock=vclock)
    t0, real0 = vclock.time(), time.monotonic()
    res = send_all(dingtalk(build, fake, rate_per_minute=60), [msg(n=i) for i in range(24)])
    assert [r.status for r in res] == ["sent"] * 24 and len(fake.accepted) == 24
    assert fake.refusals(130101) >= 1  # the lockout happened...
    assert vclock.time() - t0 >= 600  # ...and was waited out in virtual time
    assert time.monotonic() - real0 < 30
    after = [a.t for a in fake.accepted if a.t >= fake.locked_until]
    assert len(after) == 4  # nothing accepted during the lockout; the 4 waited for it


def test_dingtalk_lockout_longer_than_grace_fails(build, start_fake, vclock):
    fake = start_fake(DingTalkFake, token=DT_TOKEN, secret=DT_SECRET, clock=vclock)
    res = send_all(dingtalk(build, fake, rate_per_minute=60), [msg(n=i) for i in range(22)],
                   deadline=vclock.monotonic() + 300)
    assert sum(r.status == "sent" for r in res) == 20
    failed = [r for r in res if r.status == "failed"]
    assert len(failed) == 2 and all("deadline" in r.reason for r in failed)
