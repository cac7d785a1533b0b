from __future__ import annotations

import io
import json
from datetime import datetime

from rich.console import Console

from tests.channels.conftest import msg, send_all
from tests.fakes import WebhookFake, WeComRobotFake

KEY = "robot-key-remind"


def test_console_prints_group_and_cjk(build):
    ch = build("console")
    buf = io.StringIO()
    ch.out = Console(file=buf, width=80, color_system=None)
    [res] = send_all(ch, [msg(mention="all")])
    out = buf.getvalue()
    assert res.status == "sent" and "美肌福利群000" in out and "早上好！" in out and "@all" in out


def test_file_outbox_json_lines_once_per_key(build, tmp_path):
    ch = build("file", path="out/outbox.jsonl")
    res = send_all(ch, [msg(n=1), msg(n=2), msg(n=1)], concurrent=False)
    assert [r.status for r in res] == ["sent"] * 3 and res[2].response["duplicate"]
    lines = (tmp_path / "out/outbox.jsonl").read_text(encoding="utf-8").splitlines()
    recs = [json.loads(line) for line in lines]
    assert [r["group_id"] for r in recs] == ["g001", "g002"]
    assert recs[0]["text"] == "早上好！今天也要元气满满 ☀️"
    # a new process reads the outbox and still refuses the duplicate
    again = build("file", path="out/outbox.jsonl")
    assert send_all(again, [msg(n=2)])[0].response["duplicate"]


def test_webhook_is_signed_and_the_receiver_checks(build, start_fake, vclock):
    fake = start_fake(WebhookFake, secret="hook-secret-1", clock=vclock)
    env = {"HOOK_SECRET": "hook-secret-1", "BAD": "nope-nope"}
    [ok] = send_all(build("webhook", env=env, url=fake.url + "/sop", secret="${HOOK_SECRET}"),
                    [msg()])
    [bad] = send_all(build("webhook", env=env, url=fake.url + "/sop", secret="${BAD}"), [msg()])
    assert ok.status == "sent" and bad.status == "failed" and "401" in bad.reason
    [acc] = fake.accepted
    assert acc.payload["group_id"] == "g000" and acc.headers["idempotency-key"] == msg().key
    assert acc.headers["x-sopctl-signature"].startswith("sha256=")


def test_webhook_base_url_override(build, start_fake, vclock):
    fake = start_fake(WebhookFake, clock=vclock)
    ch = build("webhook", url="https://hooks.example.com/sop/in", base_url=fake.url)
    assert send_all(ch, [msg()])[0].status == "sent"
    assert fake.accepted[0].endpoint == "/sop/in"


def test_remind_mode_sends_staff_the_text_and_time(build, tmp_path):
    staff = build("file", name="staff", path="staff.jsonl")
    ch = build("wecom-customer-group", mode="remind", remind="staff", corp_id="c",
               corp_secret="${S}", env={"S": "x" * 8}, channels={"staff": staff})
    due = datetime(2026, 11, 24, 7, 30)
    [res] = send_all(ch, [msg(remind_to="wangwu", due=due)])
    assert res.status == "sent" and res.response["mode"] == "remind"
    rec = json.loads((tmp_path / "staff.jsonl").read_text(encoding="utf-8"))
    assert rec["text"] == "请在 07:30 于 美肌福利群000 发送: 早上好！今天也要元气满满 ☀️"
    assert rec["mentions"] == ["wangwu"]


def test_remind_to_on_a_posting_channel_goes_to_its_remind_channel(build, start_fake, vclock):
    fake = start_fake(WeComRobotFake, keys={KEY}, clock=vclock)
    staff = start_fake(WeComRobotFake, keys={"staff-key"}, clock=vclock)
    env = {"K": KEY, "SK": "staff-key"}
    staff_ch = build("wecom-robot", name="staff", env=env, key="${SK}", base_url=staff.url)
    ch = build("wecom-robot", env=env, key="${K}", base_url=fake.url, remind="staff",
               channels={"staff": staff_ch})
    [res] = send_all(ch, [msg(remind_to="lisi", due=datetime(2026, 11, 24, 19, 30))])
    assert res.status == "sent" and not fake.accepted
    p = staff.accepted[0].payload["text"]
    assert p["content"].startswith("请在 19:30 于 美肌福利群000 发送: ")
    assert p["mentioned_list"] == ["lisi"]


def test_remind_slot_without_a_named_person_still_does_not_post(build, start_fake, vclock):
    fake = start_fake(WeComRobotFake, keys={KEY}, clock=vclock)
    ch = build("wecom-robot", env={"K": KEY}, key="${K}", base_url=fake.url)
    buf = io.StringIO()
    ch.reminder.target.out = Console(file=buf, width=120, color_system=None)
    [res] = send_all(ch, [msg(delivery="remind", due=datetime(2026, 11, 24, 11, 0))])
    assert res.status == "sent" and res.response["via"] == "ch:remind"
    assert not fake.requests and "请在 11:00 于 美肌福利群000 发送" in buf.getvalue()
