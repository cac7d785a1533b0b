"""The ladder's platform steps and WeCom joiners' names, against loopback servers that
follow each platform's protocol (tests/fakes/platforms.py)."""

from __future__ import annotations

import time

import httpx
import pytest

from sopctl.events.engine import EventEngine
from sopctl.events.server import ServeConfig
from sopctl.events.wecom_crypto import WeComCrypto, signature
from sopctl.run.ledger import Ledger
from tests.events.conftest import serving
from tests.events.test_outbound import (
    CHAT,
    TELEGRAM_PB,
    TG_SECRET,
    TOKEN,
    _load,
    _statuses,
    _update,
    _wait,
    telegram_bot,
)
from tests.fakes import TelegramFake, WeComApiFake

LADDER_PB = TELEGRAM_PB.replace("detect: {{links: true}}",
                                "detect: {{links: true}}\n      ladder: [warn, mute, remove]")


def test_telegram_mute_then_ban(tmp_path, monkeypatch, store):
    h = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    bot = telegram_bot(tmp_path, monkeypatch, store, LADDER_PB)
    with bot as (fake, engine, _ledger, deliverer), \
            serving(engine, ServeConfig(telegram_secret=TG_SECRET)) as (_s, base), \
            httpx.Client(base_url=base) as c:
        for i in range(3):
            r = c.post("/telegram", json=_update(10 + i, 70 + i, 777, "t.me/spam", url=True),
                       headers=h)
            assert r.status_code == 200
        _wait(lambda: deliverer.idle.is_set() and len(fake.bans) == 1)
    # second offence: restrictChatMember, every send right off, for a day
    (chat, user, perms, until) = fake.mutes[0]
    assert (chat, user) == (CHAT, 777) and len(fake.mutes) == 1
    assert perms["can_send_messages"] is False and not any(perms.values())
    assert abs(until - (time.time() + 86400)) < 120
    assert fake.bans == [(CHAT, 777)]  # third: banChatMember
    rows = _statuses(Ledger(store), engine.name)
    assert rows[f"mute/g001/tg/{CHAT}/71"][0] == "sent"
    assert rows[f"remove/g001/tg/{CHAT}/72"][0] == "sent"


CRYPTO = WeComCrypto("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")
CG_PB = """\
version: 1
name: 美肌福利群
timezone: Asia/Shanghai
positioning: {{type: product, purpose: 护肤, name_pattern: "美肌福利群{{n:03}}", platform: wecom}}
roles:
  owner: {{name: 王老师, userid: wang}}
welcome:
  template: "欢迎 {{newcomers}} 加入{{group_name}}!"
  batch_window: 3m
timetable:
  - {{id: morning, kind: good-morning, at: "07:30", text: 早上好}}
channels:
  cg: {{type: wecom-customer-group, corp_id: ww-corp, corp_secret: "${{CORP_SECRET}}",
        sender: wang, base_url: "{base}"}}
channel: cg
groups:
  - {{id: g001, name: 美肌福利群001, opened: 2026-11-01, chat_id: wrOg001}}
"""


def _join_callback(members: list[str], ver: str) -> str:
    items = "".join(f"<Item><![CDATA[{m}]]></Item>" for m in members)
    return (f"<xml><ToUserName><![CDATA[ww-corp]]></ToUserName><FromUserName><![CDATA[sys]]>"
            f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA["
            "event]]></MsgType><Event><![CDATA[change_external_chat]]></Event><ChatId><![CDATA["
            "wrOg001]]></ChatId><ChangeType><![CDATA[update]]></ChangeType><UpdateDetail>"
            f"<![CDATA[add_member]]></UpdateDetail><JoinScene>3</JoinScene><MemChangeList>{items}"
            f"</MemChangeList><CurMemVer>{ver}</CurMemVer></xml>")


def _post(client: httpx.Client, xml: str) -> httpx.Response:
    ts, nonce = str(int(time.time())), "n1"
    env = CRYPTO.encrypt_msg(xml, ts, nonce)
    enc = env.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    return client.post("/wecom", content=env.encode(), params={
        "msg_signature": signature(CRYPTO.token, ts, nonce, enc), "timestamp": ts,
        "nonce": nonce})


@pytest.mark.parametrize("refuse", [False, True])
def test_wecom_joiners_are_named_through_groupchat_get(tmp_path, monkeypatch, refuse):
    from sopctl.commands.serve import open_deliverer

    api = WeComApiFake().start()
    api.group_chats["wrOg001"] = {"wmA": "小丽", "wmB": "阿强"}
    api.forbidden = refuse
    monkeypatch.setenv("CORP_SECRET", api.corp_secret)
    _p, pb = _load(tmp_path, CG_PB.format(base=api.url))
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    engine = EventEngine(pb, ledger)
    deliverer = open_deliverer(engine, ledger, tmp_path)
    engine.listeners.append(deliverer)
    try:
        with serving(engine, ServeConfig(wecom=CRYPTO), names=deliverer.names()) as (_s, base), \
                httpx.Client(base_url=base) as c:
            assert _post(c, _join_callback(["wmA", "wmB"], "v1")).text == "success"
            engine.tick(force=True)  # the batch window, closed now
            _wait(lambda: deliverer.idle.is_set() and len(api.accepted) == 1)
    finally:
        deliverer.stop()
        ledger.close()
        api.stop()
    text = api.accepted[0].payload["text"]["content"]
    assert api.lookups == 1  # one question for the whole callback
    if refuse:  # the API said no: the ids stay, as before
        assert text == "欢迎 @wmA @wmB 加入美肌福利群001!"
        assert engine.store.get("g001", "wmA")["nickname"] == ""
    else:
        assert text == "欢迎 @小丽 @阿强 加入美肌福利群001!"
        assert engine.store.get("g001", "wmB")["nickname"] == "阿强"


def test_a_reaction_waiting_for_a_rate_window_is_claimed_not_sending(tmp_path, monkeypatch):
    """Telegram takes one message a second per chat: of three welcomes to one chat, the
    ones waiting for their window stay `claimed` (never sent, safe to take over), and at
    most the one whose request is being written is `sending`."""
    from sopctl.commands.serve import open_deliverer

    fake = TelegramFake(token=TOKEN, chats={CHAT}).start()
    monkeypatch.setenv("TG_TOKEN", TOKEN)
    _p, pb = _load(tmp_path, TELEGRAM_PB.format(base=fake.url, chat=CHAT))
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    engine = EventEngine(pb, ledger)
    deliverer = open_deliverer(engine, ledger, tmp_path)
    engine.listeners.append(deliverer)
    h = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    seen: list[dict[str, str]] = []
    try:
        with serving(engine, ServeConfig(telegram_secret=TG_SECRET)) as (_s, base), \
                httpx.Client(base_url=base) as c:
            for i in range(3):
                upd = {"update_id": 40 + i, "message": {
                    "message_id": 90 + i, "date": int(time.time()), "chat": {"id": int(CHAT)},
                    "new_chat_members": [{"id": 600 + i, "first_name": f"m{i}"}]}}
                assert c.post("/telegram", json=upd, headers=h).status_code == 200
            end = time.monotonic() + 20
            while time.monotonic() < end:
                st = {k: v for k, (v, _r) in _statuses(ledger, engine.name).items()}
                seen.append(st)
                if len(st) == 3 and set(st.values()) == {"sent"}:
                    break
                time.sleep(0.05)
    finally:
        deliverer.stop()
        ledger.close()
        fake.stop()
    assert set(seen[-1].values()) == {"sent"} and len(fake.accepted) == 3
    assert max(list(s.values()).count("sending") for s in seen) <= 1
    assert any("claimed" in s.values() and "sent" in s.values() for s in seen)
