from __future__ import annotations

from tests.channels.conftest import msg, send_all
from tests.fakes import DiscordFake, SlackFake, TelegramFake

SLACK_PATH = "/services/T0001/B0002/slacksecret123"
DISCORD = "424242/discord-token-abcdef"
TG_TOKEN = "987654:telegram-token-XYZ"
ENV = {"SLACK_URL": f"https://hooks.slack.com{SLACK_PATH}",
       "DISCORD_URL": f"https://discord.com/api/webhooks/{DISCORD}", "TG_TOKEN": TG_TOKEN}


def slack(build, fake, **cfg):
    return build("slack", env=ENV, url="${SLACK_URL}", base_url=fake.url, **cfg)


def discord(build, fake, **cfg):
    return build("discord", env=ENV, url="${DISCORD_URL}", base_url=fake.url, **cfg)


def telegram(build, fake, **cfg):
    return build("telegram", env=ENV, token="${TG_TOKEN}", base_url=fake.url, **cfg)


def test_slack_one_per_second_and_channel_mention(build, start_fake, vclock):
    fake = start_fake(SlackFake, path=SLACK_PATH, clock=vclock)
    res = send_all(slack(build, fake), [msg(n=i, mention="all") for i in range(5)])
    assert all(r.status == "sent" for r in res) and fake.refusals(429) == 0
    assert fake.max_in_window(1.0) <= 1
    assert fake.accepted[0].payload["text"].startswith("<!channel> ")


def test_slack_429_retry_after_is_honoured(build, start_fake, vclock):
    fake = start_fake(SlackFake, path=SLACK_PATH, clock=vclock)
    res = send_all(slack(build, fake, rate_per_minute=600), [msg(n=i) for i in range(4)])
    assert [r.status for r in res] == ["sent"] * 4 and fake.refusals(429) > 0
    assert fake.max_in_window(1.0) <= 1
    waits = [s for s in vclock.sleeps if s >= 1.0]
    assert waits  # slept at least the Retry-After


def test_slack_error_body_fails_and_url_is_redacted(build, start_fake, vclock):
    fake = start_fake(SlackFake, path="/services/other", clock=vclock)
    [res] = send_all(slack(build, fake), [msg()])
    assert res.status == "failed" and "404" in res.reason
    assert "slacksecret123" not in res.reason + str(res.response)


def test_discord_split_mentions_and_wait_true(build, start_fake, vclock):
    fake = start_fake(DiscordFake, webhook=DISCORD, clock=vclock)
    text = "\n".join(f"第{i}条：今日秒杀 🎉" for i in range(400))
    [res] = send_all(discord(build, fake), [msg(text, mention="all", mentions=("1234",))])
    assert res.status == "sent" and res.parts == len(fake.accepted) >= 3
    assert all(r.query.get("wait") == "true" for r in fake.requests)
    first = fake.accepted[0].payload
    assert first["content"].startswith("@everyone <@1234> ")
    assert first["allowed_mentions"] == {"parse": ["everyone"], "users": ["1234"]}
    assert all(len(a.payload["content"]) <= 2000 for a in fake.accepted)
    assert res.response["id"]


def test_discord_429_retry_after_float(build, start_fake, vclock):
    fake = start_fake(DiscordFake, webhook=DISCORD, clock=vclock)
    res = send_all(discord(build, fake, rate_per_minute=6000), [msg(n=i) for i in range(9)])
    assert all(r.status == "sent" for r in res) and fake.refusals(429) > 0
    assert fake.max_in_window(2.0) <= 5 and len(fake.accepted) == 9


def test_discord_404_stops_using_the_webhook(build, start_fake, vclock):
    fake = start_fake(DiscordFake, webhook=DISCORD, clock=vclock)
    fake.deleted = True
    res = send_all(discord(build, fake), [msg(n=i) for i in range(3)], concurrent=False)
    assert all(r.status == "failed" and "404" in r.reason for r in res)
    assert len(fake.requests) == 1
    assert "discord-token" not in str([r.reason for r in res])


def test_telegram_split_in_utf16_units(build, start_fake, vclock):
    fake = start_fake(TelegramFake, token=TG_TOKEN, clock=vclock)
    text = "😀" * 3000  # 6000 UTF-16 units
    [res] = send_all(telegram(build, fake, chat_id="-100200300"), [msg(text)])
    assert res.status == "sent" and res.parts == 2
    assert "".join(a.payload["text"] for a in fake.accepted) == text


def test_telegram_migration_resends_and_reports_the_new_id(build, start_fake, vclock):
    fake = start_fake(TelegramFake, token=TG_TOKEN, chats={"-100999"},
                      migrations={"-555": -100999}, clock=vclock)
    ch = telegram(build, fake)
    res = send_all(ch, [msg(chat_id="-555", n=1), msg(chat_id="-555", n=2)], concurrent=False)
    assert [r.status for r in res] == ["sent", "sent"]
    assert res[0].response["migrated_to_chat_id"] == -100999
    assert [a.payload["chat_id"] for a in fake.accepted] == [-100999, -100999]
    assert len(fake.requests) == 3  # the second message went straight to the new id


def test_telegram_429_parameters_retry_after(build, start_fake, vclock):
    fake = start_fake(TelegramFake, token=TG_TOKEN, clock=vclock)
    res = send_all(telegram(build, fake, chat_id="-100200300", rate_per_minute=600),
                   [msg(n=i) for i in range(3)])
    assert all(r.status == "sent" for r in res) and fake.refusals(429) > 0
    assert any(s >= 3 for s in vclock.sleeps) and fake.max_in_window(1.0) <= 1


def test_telegram_ok_false_fails_with_description(build, start_fake, vclock):
    fake = start_fake(TelegramFake, token=TG_TOKEN, clock=vclock)
    [res] = send_all(telegram(build, fake, chat_id="-1"), [msg()])
    assert res.status == "failed" and "chat not found" in res.reason
    assert TG_TOKEN not in res.reason + str(res.response)


def test_telegram_default_limits_per_chat(build, start_fake, vclock):
    fake = start_fake(TelegramFake, token=TG_TOKEN, chats={"-1", "-2"}, clock=vclock)
    ms = [msg(n=i, chat_id=str(-(i % 2) - 1)) for i in range(50)]
    res = send_all(telegram(build, fake), ms)
    assert all(r.status == "sent" for r in res) and fake.refusals(429) == 0
    for chat in ("-1", "-2"):
        assert fake.max_in_window(1.0, chat) <= 1 and fake.max_in_window(60.0, chat) <= 20
