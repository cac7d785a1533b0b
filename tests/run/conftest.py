"""Shared pieces for the runner tests: playbooks on disk, ledgers on SQLite and PostgreSQL,
and a channel that records what it was asked to send."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sopctl.run.channels.base import OutMessage, SendResult

SH = ZoneInfo("Asia/Shanghai")
PG_URL = os.environ.get("SOPCTL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

PLAYBOOK = """\
version: 1
name: {name}
timezone: Asia/Shanghai
positioning:
  type: product
  purpose: 跟着我一起变美
  name_pattern: "美肌福利群{{n:03}}"
welcome:
  theme: 本群为美肌护肤交流群
  services: 每晚19:30 王老师在线讲解护肤知识
  prohibited: 禁止广告、外链、私加好友
  penalty: 第一次提醒, 第二次移出群聊
  rewarded: 晒单分享
  reward: 红包一个
rules:
  nickname: {{format: 城市-行业-昵称}}
  items:
    - id: no-ads
      text: 禁止任何形式的广告、外链
      detect: {{links: true, keywords: [加微信, 代购]}}
timetable:
  - id: morning
    kind: good-morning
    at: "07:30"
    grace: 30m
    text: {morning}
  - id: noon
    kind: knowledge
    at: "11:00"
    grace: 30m
    text: 午间护肤小知识
  - id: evening
    kind: course
    at: "19:30"
    grace: 1h
    text: 今晚课程开始啦
channels:
  out: {{type: {channel}{extra}}}
channel: out
groups:
{groups}"""


def write_playbook(path: Path, *, groups: int = 2, name: str = "美肌测试", channel: str = "file",
                   morning: str = "早上好 {group_name} 的朋友们!", extra: str = "") -> Path:
    if channel == "file" and not extra:
        extra = ", path: outbox.jsonl"
    gl = "".join(f"  - {{id: g{i:03d}, name: 美肌福利群{i:03d}, opened: 2026-11-01}}\n"
                 for i in range(1, groups + 1))
    path.write_text(PLAYBOOK.format(name=name, groups=gl, channel=channel, extra=extra,
                                    morning=morning), encoding="utf-8")
    return path


def sh(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=SH)


class RecordingChannel:
    """A real channel object that keeps every message it was asked to post."""

    type = "recording"

    def __init__(self, name: str = "out", status: str = "sent"):
        self.name = name
        self.status = status
        self.sent: list[OutMessage] = []

    async def send(self, msg: OutMessage, *, deadline: float | None = None) -> SendResult:
        self.sent.append(msg)
        return SendResult(self.status, "" if self.status == "sent" else "platform said no")

    async def aclose(self) -> None:
        pass


def _pg_reachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("postgresql://", "postgresql://", 1),
                             connect_timeout=3):
            return None
    except Exception as exc:  # the reason is shown in the skip message
        return f"PostgreSQL not reachable at {PG_URL}: {exc}"


@pytest.fixture(scope="session")
def pg_schema_url():
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    why = _pg_reachable()
    if why:
        pytest.skip(why)
    import psycopg

    made: list[str] = []

    def make() -> str:
        schema = f"sopctl_t_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_URL, autocommit=True) as c:
            c.execute(f'CREATE SCHEMA "{schema}"')
        made.append(schema)
        return f"{PG_URL}?options=-csearch_path%3D{schema}"

    yield make
    with psycopg.connect(PG_URL, autocommit=True) as c:
        for s in made:
            c.execute(f'DROP SCHEMA IF EXISTS "{s}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return request.getfixturevalue("pg_schema_url")()


def at_once(fn: Callable[[], object], n: int) -> list[BaseException]:
    """``fn`` in ``n`` threads released together (a race of openers); what they raised."""
    gate, errors = threading.Barrier(n), []

    def go() -> None:
        gate.wait()
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    ts = [threading.Thread(target=go) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors
