from __future__ import annotations

import asyncio

from tests.channels.conftest import msg
from tests.fakes import WeComApiFake

CORP, SECRET = "ww1234567890", "corp-secret-Qm9vYmFy"
ENV = {"CORP_SECRET": SECRET}


def chan(build, fake, **cfg):
    return build("wecom-customer-group", env=ENV, corp_id=CORP, corp_secret="${CORP_SECRET}",
                 sender="zhangsan", base_url=fake.url, **cfg)


def run(ch, steps):
    async def main():
        try:
            return await steps()
        finally:
            await ch.aclose()

    return asyncio.run(main())


def test_pending_confirmation_and_token_cached(build, start_fake, vclock):
    fake = start_fake(WeComApiFake, corp_id=CORP, corp_secret=SECRET, clock=vclock)
    ch = chan(build, fake)

    async def steps():
        return [await ch.send(msg(n=i, chat_id=f"wrOgQh{i}", attachments=(
            {"kind": "link", "url": "https://example.com/c", "title": "领券"},))) for i in range(3)]

    res = run(ch, steps)
    assert [r.status for r in res] == ["pending-confirmation"] * 3
    assert all(r.response["msgid"].startswith("msg") for r in res)
    assert ch.token_fetches == 1
    p = fake.accepted[0].payload
    assert p["chat_type"] == "group" and p["sender"] == "zhangsan"
    assert p["chat_id_list"] == ["wrOgQh0"] and p["text"]["content"].startswith("早上好")
    assert p["attachments"][0]["msgtype"] == "link"
    assert all(tok not in str(r.response) for r in res for tok in fake.tokens)


def test_token_refreshed_on_expiry_and_on_42001(build, start_fake, vclock):
    fake = start_fake(WeComApiFake, corp_id=CORP, corp_secret=SECRET, ttl=7200, clock=vclock)
    ch = chan(build, fake)

    async def steps():
        out = [await ch.send(msg(chat_id="c1"))]
        vclock.advance(7200)  # past expires_in: fetched again before posting
        out.append(await ch.send(msg(chat_id="c2")))
        fake.expire_tokens()  # revoked early: 42001 → refresh once, then post
        out.append(await ch.send(msg(chat_id="c3")))
        return out

    res = run(ch, steps)
    assert [r.status for r in res] == ["pending-confirmation"] * 3
    assert ch.token_fetches == 3 and fake.refusals(42001) == 1
    assert len(fake.accepted) == 3


def test_wrong_corp_secret_fails_without_leaking_it(build, start_fake, vclock):
    fake = start_fake(WeComApiFake, corp_id=CORP, corp_secret="other", clock=vclock)
    ch = chan(build, fake)
    res = run(ch, lambda: ch.send(msg(chat_id="c1")))
    assert res.status == "failed" and "40001" in res.reason and SECRET not in res.reason


def test_too_long_is_refused_not_split(build, start_fake, vclock):
    fake = start_fake(WeComApiFake, corp_id=CORP, corp_secret=SECRET, clock=vclock)
    ch = chan(build, fake)
    res = run(ch, lambda: ch.send(msg("护" * 1400, chat_id="c1")))
    assert res.status == "failed" and "4000" in res.reason and not fake.requests
