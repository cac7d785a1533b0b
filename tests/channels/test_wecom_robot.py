from __future__ import annotations

import base64
import hashlib
import logging

import pytest

from sopctl.errors import SopctlError
from tests.channels.conftest import msg, send_all
from tests.fakes import WeComRobotFake

KEY = "robot-key-7f3a9c"
ENV = {"WECOM_KEY": KEY}


def robot(build, fake, **cfg):
    return build("wecom-robot", env=ENV, key="${WECOM_KEY}", base_url=fake.url, **cfg)


def test_text_with_mentions_reaches_the_robot(build, start_fake, vclock):
    fake = start_fake(WeComRobotFake, keys={KEY}, clock=vclock)
    ch = robot(build, fake)
    [res] = send_all(ch, [msg(mention="all", mentions=("zhangsan",))])
    assert res.status == "sent", res.reason
    [acc] = fake.accepted
    assert acc.payload == {"msgtype": "text", "text": {
        "content": "早上好！今天也要元气满满 ☀️", "mentioned_list": ["zhangsan", "@all"]}}


def test_markdown_image_and_news(build, start_fake, vclock, tmp_path):
    fake = start_fake(WeComRobotFake, keys={KEY}, clock=vclock)
    img = tmp_path / "poster.png"
    img.write_bytes(b"\x89PNG\r\n" + bytes(range(256)) * 10)
    ch = robot(build, fake)
    m = msg("**今日秒杀** 19:30 开抢", format="markdown", attachments=(
        {"kind": "image", "path": str(img)},
        {"kind": "link", "url": "https://example.com/a", "title": "活动详情"}))
    [res] = send_all(ch, [m])
    assert res.status == "sent" and res.parts == 3
    types = [a.payload["msgtype"] for a in fake.accepted]
    assert types == ["markdown", "image", "news"]
    image = fake.accepted[1].payload["image"]
    assert base64.b64decode(image["base64"]) == img.read_bytes()
    assert image["md5"] == hashlib.md5(img.read_bytes()).hexdigest()


@pytest.mark.parametrize("n_bytes,parts", [(2048, 1), (2049, 2), (6000, 3)])
def test_text_split_byte_exact_never_breaks_a_character(build, start_fake, vclock, n_bytes,
                                                        parts):
    fake = start_fake(WeComRobotFake, keys={KEY}, clock=vclock)
    # 3-byte CJK characters plus a 1- or 2-byte tail, so the limit lands mid-character
    text = "群" * (n_bytes // 3) + "a" * (n_bytes % 3)
    assert len(text.encode()) == n_bytes
    [res] = send_all(robot(build, fake), [msg(text)])
    assert res.status == "sent" and res.parts == parts
    got = [a.payload["text"]["content"] for a in fake.accepted]
    assert "".join(got) == text
    assert all(len(g.encode()) <= 2048 for g in got)


def test_markdown_split_at_4096_bytes_on_lines(build, start_fake, vclock):
    fake = start_fake(WeComRobotFake, keys={KEY}, clock=vclock)
    text = "\n".join(f"第{i}课：肌肤护理要点，保湿与防晒" for i in range(300))
    [res] = send_all(robot(build, fake), [msg(text, format="markdown")])
    got = [a.payload["markdown"]["content"] for a in fake.accepted]
    assert res.status == "sent" and res.parts == len(got) > 1
    assert "".join(got) == text and all(len(g.encode()) <= 4096 for g in got)
    assert all(g.endswith("\n") for g in got[:-1])  # cut at line ends


def test_rate_20_per_minute_is_never_exceeded(build, start_fake, vclock):
    fake = start_fake(WeComRobotFake, keys={KEY}, clock=vclock)
    res = send_all(robot(build, fake), [msg(n=i) for i in range(45)])
    assert [r.status for r in res] == ["sent"] * 45
    assert fake.max_in_window(60.0) <= 20
    assert fake.refusals(45009) == 0  # never throttled


def test_throttled_45009_is_retried_later(build, start_fake, vclock):
    # a mis-set playbook rate lets the platform throttle: the retry waits, nothing is lost
    fake = start_fake(WeComRobotFake, keys={KEY}, clock=vclock)
    t0 = vclock.time()
    res = send_all(robot(build, fake, rate_per_minute=100), [msg(n=i) for i in range(25)])
    assert [r.status for r in res] == ["sent"] * 25
    assert len(fake.accepted) == 25 and fake.max_in_window(60.0) <= 20
    assert any(r.attempts > 1 for r in res) and fake.refusals(45009) > 0
    assert vclock.time() - t0 >= 60


def test_bad_key_fails_with_reason_and_no_secret_anywhere(build, start_fake, vclock, caplog):
    caplog.set_level(logging.DEBUG)
    fake = start_fake(WeComRobotFake, keys={"another-key"}, clock=vclock)
    [res] = send_all(robot(build, fake), [msg()])
    assert res.status == "failed" and "93000" in res.reason
    assert res.attempts == 1
    assert KEY not in res.reason and KEY not in str(res.response) and KEY not in caplog.text


def test_missing_env_names_channel_and_variable(build):
    with pytest.raises(SopctlError, match=r"channel 'ch'.*\$\{WECOM_KEY\}"):
        build("wecom-robot", key="${WECOM_KEY}")
    with pytest.raises(SopctlError, match="inline"):
        build("wecom-robot", key="literal-key-in-playbook")


def test_key_from_file(build, start_fake, vclock, tmp_path):
    fake = start_fake(WeComRobotFake, keys={KEY}, clock=vclock)
    (tmp_path / "key").write_text(KEY + "\n")
    ch = build("wecom-robot", key=f"file:{tmp_path / 'key'}", base_url=fake.url)
    assert send_all(ch, [msg()])[0].status == "sent"


def test_timeout_after_receipt_is_uncertain_and_not_resent(build, start_fake, vclock):
    fake = start_fake(WeComRobotFake, keys={KEY}, clock=vclock)
    fake.hang_next(1, seconds=1.0)
    [res] = send_all(robot(build, fake, timeout=0.3), [msg()])
    assert res.status == "uncertain", res.reason
    assert len(fake.accepted) == 1 and len(fake.requests) == 1


def test_server_errors_are_retried_and_posted_once(build, start_fake, vclock):
    fake = start_fake(WeComRobotFake, keys={KEY}, clock=vclock)
    fake.fail_next(3, status=503)
    [res] = send_all(robot(build, fake), [msg()])
    assert res.status == "sent" and res.attempts == 4
    assert len(fake.accepted) == 1


def test_gateway_error_is_uncertain(build, start_fake, vclock):
    fake = start_fake(WeComRobotFake, keys={KEY}, clock=vclock)
    fake.fail_next(1, status=504)
    [res] = send_all(robot(build, fake), [msg()])
    assert res.status == "uncertain" and len(fake.requests) == 1


def test_retries_stop_at_the_grace_deadline(build, start_fake, vclock):
    fake = start_fake(WeComRobotFake, keys={KEY}, clock=vclock)
    fake.fail_next(50, status=503)
    deadline = vclock.monotonic() + 5
    [res] = send_all(robot(build, fake), [msg()], deadline=deadline)
    assert res.status == "failed" and "deadline" in res.reason
    assert not fake.accepted and vclock.monotonic() <= deadline and 1 < res.attempts < 8
