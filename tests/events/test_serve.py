"""`sopctl serve` end to end on 127.0.0.1: generic JSON, WeCom callbacks, Telegram."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx
import pytest

from sopctl.events.engine import EventEngine
from sopctl.events.server import ServeConfig, sign
from sopctl.events.wecom_crypto import WeComCrypto, signature
from sopctl.run.ledger import Ledger
from tests.events.conftest import serving, unique

SECRET = "s3cret"
TG = "tg-secret-token"
CRYPTO = WeComCrypto("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")


@pytest.fixture(params=["thread", "process"])
def srv(pb, store, request):
    """The receiver with its group commit on a thread, and in a child process (serve's)."""
    ledger = Ledger(store)
    engine = EventEngine(pb, ledger, name=unique(pb.name))
    cfg = ServeConfig(secret=SECRET, wecom=CRYPTO, telegram_secret=TG, max_body=64 * 1024)
    with serving(engine, cfg, process=request.param == "process") as (server, base), \
            httpx.Client(base_url=base, timeout=5) as client:
        yield server.receiver, engine, client
    ledger.close()


def post_events(client, payload, ts=None, secret=SECRET):
    body = json.dumps(payload, ensure_ascii=False).encode()
    ts = str(int(time.time())) if ts is None else ts
    return client.post("/events", content=body, headers={
        "X-Sopctl-Timestamp": ts, "X-Sopctl-Signature": sign(secret, ts, body),
        "Content-Type": "application/json"})


def test_generic_events_reach_store_and_ledger(srv):
    _server, engine, client = srv
    ev = {"id": "m-1", "type": "message", "group": "g001", "member": "u1",
          "nickname": "北京-美妆-小丽", "text": "请问多少钱"}
    r = post_events(client, ev)
    assert r.status_code == 200 and r.json() == {"accepted": 1, "actions": 1}
    assert engine.ledger_status("reply/g001/m-1") == "claimed"
    assert engine.store.get("g001", "u1")["nickname"] == "北京-美妆-小丽"
    # redelivery: accepted, nothing new
    assert post_events(client, ev).json()["actions"] == 0


def test_bad_requests_are_refused_and_change_nothing(srv):
    server, engine, client = srv
    ev = {"id": "x-1", "type": "join", "group": "g001", "member": "u9"}
    assert post_events(client, ev, secret="wrong").status_code == 401
    old = str(int(time.time()) - 301)
    assert post_events(client, ev, ts=old).status_code == 401  # replay
    ts = str(int(time.time()))
    body = b"{not json"
    r = client.post("/events", content=body, headers={
        "X-Sopctl-Timestamp": ts, "X-Sopctl-Signature": sign(SECRET, ts, body)})
    assert r.status_code == 400
    assert post_events(client, {**ev, "group": "nowhere"}).status_code == 422
    assert post_events(client, {"id": "y", "type": "bogus"}).status_code == 400
    big = b"x" * (65 * 1024)
    assert client.post("/events", content=big, headers={"X-Sopctl-Timestamp": ts}
                       ).status_code == 413
    assert engine.store.get("g001", "u9") is None and not engine.store.seen("x-1")
    assert server.rejected >= 6
    # and it is still serving
    assert client.get("/healthz").json() == {"ok": True}
    assert post_events(client, ev).status_code == 200


def _wecom_post(client, xml, ts=None, nonce="n1", tamper=False):
    ts = str(int(time.time())) if ts is None else ts
    env = CRYPTO.encrypt_msg(xml, ts, nonce)
    enc = env.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    sig = signature(CRYPTO.token, ts, nonce, enc)
    if tamper:
        sig = "0" * 40
    return client.post("/wecom", params={"msg_signature": sig, "timestamp": ts, "nonce": nonce},
                       content=env.encode())


def test_wecom_url_verification(srv):
    _s, _e, client = srv
    ts, nonce = str(int(time.time())), "123"
    echo = CRYPTO.encrypt("8899776655")
    sig = signature(CRYPTO.token, ts, nonce, echo)
    r = client.get("/wecom", params={"msg_signature": sig, "timestamp": ts, "nonce": nonce,
                                     "echostr": echo})
    assert r.status_code == 200 and r.text == "8899776655"
    bad = client.get("/wecom", params={"msg_signature": "0" * 40, "timestamp": ts,
                                       "nonce": nonce, "echostr": echo})
    assert bad.status_code == 401


def test_wecom_change_external_chat_add_and_del_member(srv):
    _s, engine, client = srv
    now = int(time.time())
    add = (f"<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><FromUserName>"
           f"<![CDATA[sys]]></FromUserName><CreateTime>{now}</CreateTime><MsgType><![CDATA["
           "event]]></MsgType><Event><![CDATA[change_external_chat]]></Event><ChatId><![CDATA["
           "wrOgAAA001]]></ChatId><ChangeType><![CDATA[update]]></ChangeType><UpdateDetail>"
           "<![CDATA[add_member]]></UpdateDetail><JoinScene>3</JoinScene><MemChangeCnt>2"
           "</MemChangeCnt><MemChangeList><Item><![CDATA[wmA]]></Item><Item><![CDATA[wmB]]>"
           "</Item></MemChangeList><CurMemVer>v2</CurMemVer></xml>")
    r = _wecom_post(client, add)
    assert r.status_code == 200 and r.text == "success"
    assert engine.store.get("g001", "wmA")["joined_at"] is not None
    assert engine.pending_welcomes()["g001"] == ["wmA", "wmB"]
    assert _wecom_post(client, add, nonce="again").status_code == 200  # redelivered
    assert engine.pending_welcomes()["g001"] == ["wmA", "wmB"]
    (w,) = engine.tick(datetime.now(UTC), force=True)
    assert engine.ledger_status(w.key) == "claimed" and w.mentions == ("wmA", "wmB")
    gone = add.replace("add_member", "del_member").replace("<Item><![CDATA[wmA]]></Item>", "")
    assert _wecom_post(client, gone).status_code == 200
    assert engine.store.get("g001", "wmB")["left_at"] is not None
    assert _wecom_post(client, add, tamper=True).status_code == 401
    assert _wecom_post(client, add, ts=str(now - 600)).status_code == 401
    unknown = add.replace("wrOgAAA001", "wrOgUNKNOWN").replace("v2", "v3")
    assert _wecom_post(client, unknown).status_code == 422


def test_telegram_updates(srv):
    _s, engine, client = srv
    now = int(time.time())
    join = {"update_id": 1, "message": {"message_id": 10, "date": now, "chat": {"id": -100200},
                                        "new_chat_members": [{"id": 42, "first_name": "Ann"}]}}
    h = {"X-Telegram-Bot-Api-Secret-Token": TG}
    assert client.post("/telegram", json=join, headers=h).json()["accepted"] == 1
    assert engine.store.get("g002", "42")["nickname"] == "Ann"
    spam = {"update_id": 2, "message": {"message_id": 11, "date": now, "chat": {"id": -100200},
                                        "from": {"id": 42, "first_name": "Ann"},
                                        "text": "see t.me/spam",
                                        "entities": [{"type": "url", "offset": 4, "length": 9}]}}
    assert client.post("/telegram", json=spam, headers=h).json()["actions"] == 1
    assert engine.store.get("g002", "42")["violations"] == 1
    assert client.post("/telegram", json=spam, headers={"X-Telegram-Bot-Api-Secret-Token": "no"}
                       ).status_code == 401
    assert client.post("/telegram", content=b"[", headers=h).status_code == 400


def test_nan_timestamp_and_non_ascii_signature_are_401(srv):
    """"nan" compares false with everything, so it must not pass the replay window; a
    signature header with a non-ASCII byte is a bad signature, not an internal error."""
    _server, engine, client = srv
    ev = {"id": "m-nan", "type": "message", "group": "g001", "member": "u1", "text": "hi"}
    r = post_events(client, ev, ts="nan")
    assert r.status_code == 401 and "timestamp" in r.json()["error"]
    body = json.dumps(ev).encode()
    r = client.post("/events", content=body, headers={
        "X-Sopctl-Timestamp": str(int(time.time())), "X-Sopctl-Signature": b"sha256=\xe9"})
    assert r.status_code == 401 and r.json() == {"error": "bad signature"}
    assert engine.store.get("g001", "u1") is None
