"""Reactions go out through the runner's channels, against the loopback platform fakes."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from sopctl.errors import UsageError
from sopctl.events.engine import EventEngine
from sopctl.events.server import ServeConfig
from sopctl.main import app
from sopctl.playbook.loader import load_playbook
from sopctl.run.ledger import Ledger
from tests.events.conftest import serving, unique
from tests.fakes import TelegramFake, WeComRobotFake

TOKEN = "123456:TELEGRAM-bot-token"
CHAT = "-100200300"
TG_SECRET = "tg-hook-secret"

TELEGRAM_PB = """\
version: 1
name: 护肤交流群
timezone: Asia/Shanghai
positioning:
  {{type: product, purpose: 护肤交流, name_pattern: "护肤群{{n:03}}", platform: telegram}}
roles:
  owner: {{name: 王老师, userid: "42"}}
welcome:
  template: "欢迎 {{newcomers}} 加入{{group_name}}!"
  batch_window: 0s
rules:
  items:
    - id: no-ads
      text: 禁止广告和外链
      detect: {{links: true}}
timetable:
  - {{id: morning, kind: good-morning, at: "07:30", text: 早上好}}
channels:
  tg: {{type: telegram, token: "${{TG_TOKEN}}", base_url: "{base}"}}
channel: tg
groups:
  - {{id: g001, name: 护肤群001, opened: 2026-11-01, chat_id: "{chat}"}}
"""

WECOM_PB = """\
version: 1
name: 美肌福利群
timezone: Asia/Shanghai
positioning: {{type: product, purpose: 护肤, name_pattern: "美肌福利群{{n:03}}", platform: wecom}}
roles:
  owner: {{name: 王老师, userid: wang}}
  admins: [{{name: 小李, userid: lee}}]
welcome:
  template: "欢迎 {{newcomers}} 加入{{group_name}}!"
  batch_window: 3m
rules:
  items:
    - id: no-ads
      text: 禁止广告和外链
      detect: {{links: true}}
timetable:
  - {{id: morning, kind: good-morning, at: "07:30", text: 早上好}}
channels:
  robot: {{type: wecom-robot, key: "${{ROBOT_KEY}}", base_url: "{base}"}}
channel: robot
groups:
  - {{id: g001, name: 美肌福利群001, opened: 2026-11-01, chat_id: wrOg001}}
"""


def _load(tmp_path: Path, text: str):
    p = tmp_path / "pb.yaml"
    p.write_text(text, encoding="utf-8")
    loaded = load_playbook(str(p))
    assert loaded.ok, [f.short() for f in loaded.findings]
    return p, loaded.playbook


def _wait(cond, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def _statuses(ledger: Ledger, name: str) -> dict[str, tuple[str, str]]:
    return {r["key"]: (r["status"], r["reason"]) for r in
            (dict(x) for x in ledger.rows()) if r["playbook"] == name}


@contextlib.contextmanager
def telegram_bot(tmp_path, monkeypatch, store, text: str = TELEGRAM_PB):
    """A Telegram fake, the playbook ``text`` posting to it, its ledger, engine and
    deliverer; on leaving, the deliverer stopped, the ledger closed, the fake shut."""
    from sopctl.commands.serve import open_deliverer

    fake = TelegramFake(token=TOKEN, chats={CHAT}).start()
    monkeypatch.setenv("TG_TOKEN", TOKEN)
    _p, pb = _load(tmp_path, text.format(base=fake.url, chat=CHAT))
    ledger = Ledger(store)
    engine = EventEngine(pb, ledger, name=unique(pb.name))
    deliverer = open_deliverer(engine, ledger, tmp_path)
    engine.listeners.append(deliverer)
    try:
        yield fake, engine, ledger, deliverer
    finally:
        deliverer.stop()
        ledger.close()
        fake.stop()


@pytest.fixture
def telegram(tmp_path, monkeypatch, store):
    with telegram_bot(tmp_path, monkeypatch, store) as (fake, engine, ledger, deliverer), \
            serving(engine, ServeConfig(telegram_secret=TG_SECRET)) as (_server, base), \
            httpx.Client(base_url=base, timeout=10) as client:
        yield fake, engine, ledger, deliverer, client


def _update(uid: int, msg_id: int, user: int, text: str, url: bool) -> dict:
    ents = [{"type": "url", "offset": 0, "length": len(text)}] if url else []
    return {"update_id": uid, "message": {
        "message_id": msg_id, "date": int(time.time()), "chat": {"id": int(CHAT),
                                                                   "type": "supergroup"},
        "from": {"id": user, "first_name": "小王"}, "text": text, "entities": ents}}


def _post(client, update):
    r = client.post("/telegram", content=json.dumps(update).encode(),
                    headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    assert r.status_code == 200, r.text
    return r.json()


def test_telegram_link_spam_warned_then_banned(telegram):
    fake, engine, ledger, deliverer, client = telegram
    _post(client, _update(1, 11, 777, "https://spam.example 便宜代购", url=True))
    _wait(lambda: deliverer.idle.is_set() and len(fake.accepted) >= 1)
    warn = [a for a in fake.accepted if a.endpoint == CHAT]
    assert len(warn) == 1 and "禁止广告和外链" in warn[0].payload["text"]
    assert fake.bans == []
    key = f"warn/g001/tg/{CHAT}/11"
    assert engine.ledger_status(key) == "sent"

    _post(client, _update(2, 12, 777, "www.spam.cn 加我", url=False))
    _wait(lambda: deliverer.idle.is_set() and len(fake.bans) == 1)
    assert fake.bans == [(CHAT, 777)]
    # the announcement goes out too (after the platform's 1/s per chat window)
    _wait(lambda: len([a for a in fake.accepted if a.endpoint == CHAT]) == 2)
    announce = [a for a in fake.accepted if a.endpoint == CHAT][1]
    assert "已移出本群" in announce.payload["text"]
    rows = _statuses(ledger, engine.name)
    assert rows[f"remove/g001/tg/{CHAT}/12"][0] == "sent"
    _wait(lambda: engine.ledger_status(f"announce/g001/tg/{CHAT}/12") == "sent")
    assert _outbox_keys(ledger, engine.name) == []
    # a redelivered update claims nothing, and only what is claimed is ever sent
    rows_before, done_before = _statuses(ledger, engine.name), deliverer.done
    assert _post(client, _update(2, 12, 777, "www.spam.cn 加我", url=False))["actions"] == 0
    deliverer.stop()  # drains: anything handed in would be sent and recorded by now
    assert _statuses(ledger, engine.name) == rows_before and deliverer.done == done_before
    assert fake.bans == [(CHAT, 777)]


def test_telegram_welcome_posted_and_failure_recorded(telegram):
    fake, engine, ledger, deliverer, client = telegram
    upd = {"update_id": 5, "message": {"message_id": 50, "date": int(time.time()),
                                       "chat": {"id": int(CHAT), "type": "supergroup"},
                                       "new_chat_members": [{"id": 901, "first_name": "小丽"}]}}
    _post(client, upd)
    _wait(lambda: deliverer.idle.is_set() and len(fake.accepted) == 1)
    assert fake.accepted[0].payload["text"].startswith("欢迎 @小丽 加入护肤群001")
    # the platform refusing is recorded with its reason, not left claimed
    fake.chats.clear()
    upd2 = {"update_id": 6, "message": {"message_id": 51, "date": int(time.time()),
                                        "chat": {"id": int(CHAT), "type": "supergroup"},
                                        "new_chat_members": [{"id": 902, "first_name": "阿强"}]}}
    _post(client, upd2)
    _wait(lambda: deliverer.idle.is_set()
          and engine.ledger_status("welcome/g001/tg/6/join/902") == "failed")
    _status, reason = _statuses(ledger, engine.name)["welcome/g001/tg/6/join/902"]
    assert "chat not found" in reason and TOKEN not in reason
    # every outbox entry is gone once its row is final (it goes in the same transaction)
    assert _outbox_keys(ledger, engine.name) == []


def _outbox_keys(ledger: Ledger, name: str) -> list[str]:
    from sopctl.events.store import outbox

    with ledger.engine.connect() as conn:
        return list(conn.execute(sa.select(outbox.c.key).where(outbox.c.playbook == name))
                    .scalars())


def test_wecom_robot_welcome_and_admin_reminder_via_cli(tmp_path, monkeypatch):
    with WeComRobotFake(keys={"robot-key-1"}) as fake:
        path, _pb = _load(tmp_path, WECOM_PB.format(base=fake.url))
        inbox = tmp_path / "events.jsonl"
        ago = int(time.time()) - 600  # the welcome's batch window has closed
        lines = [
            {"id": "j1", "type": "join", "group": "g001", "member": "u1", "nickname": "小丽",
             "at": ago},
            {"id": "j2", "type": "join", "group": "g001", "member": "u2", "nickname": "阿强",
             "at": ago + 30},
            {"id": "m1", "type": "message", "group": "g001", "member": "u3",
             "text": "加我 www.ads.cn"},
            {"id": "m2", "type": "message", "group": "g001", "member": "u3",
             "text": "http://ads.cn"},
        ]
        inbox.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines),
                         encoding="utf-8")
        env = {"ROBOT_KEY": "robot-key-1", "SOPCTL_STATE_DIR": str(tmp_path / "st")}
        r = CliRunner().invoke(app, ["serve", str(path), "--inbox", str(inbox), "--once",
                                     "--state-dir", str(tmp_path / "st")], env=env)
        assert r.exit_code == 0, r.output
        texts = [a.payload["text"]["content"] for a in fake.accepted]
        welcome = [t for t in texts if t.startswith("欢迎")]
        assert welcome == ["欢迎 @小丽 @阿强 加入美肌福利群001!"]  # one shared welcome
        wmsg = next(a.payload for a in fake.accepted if a.payload["text"]["content"] == welcome[0])
        assert wmsg["text"]["mentioned_list"] == ["u1", "u2"]
        assert any("请遵守群规" in t for t in texts)  # the warning
        # no removal API for WeCom groups: the admin is reminded (console, the robot's
        # channel has no `remind` channel), and the removal is announced in the group
        assert "请将 u3 移出群聊" in r.output
        assert any("已移出本群" in t for t in texts)
        ledger = Ledger(f"sqlite:///{tmp_path / 'st' / 'ledger.db'}")
        rows = _statuses(ledger, "美肌福利群")
        ledger.close()
        assert rows and all(s == "sent" for s, _ in rows.values()), rows


def test_missing_channel_secret_is_a_usage_error(tmp_path):
    path, _pb = _load(tmp_path, WECOM_PB.format(base="http://127.0.0.1:9"))
    inbox = tmp_path / "e.jsonl"
    inbox.write_text("", encoding="utf-8")
    r = CliRunner().invoke(app, ["serve", str(path), "--inbox", str(inbox), "--once",
                                 "--state-dir", str(tmp_path / "st")], env={"ROBOT_KEY": ""})
    assert isinstance(r.exception, UsageError), r.output  # exit 2 through sopctl.main
    assert "ROBOT_KEY" in str(r.exception)
