"""No secret ever shows up in a reason, a recorded response or a log line."""

from __future__ import annotations

import logging

import pytest

from sopctl.errors import SopctlError
from sopctl.run.secrets import redact, resolve_secret
from tests.channels.conftest import msg, send_all
from tests.fakes import DingTalkFake, DiscordFake, FeishuFake, TelegramFake, WeComRobotFake

SECRET = "s3cr3t-Token/with+chars="
ENV = {"X": SECRET}

CASES = [
    (WeComRobotFake, {}, dict(type_="wecom-robot", key="${X}")),
    (FeishuFake, {}, dict(type_="feishu", token="${X}", secret="${X}")),
    (DingTalkFake, {"secret": "other"}, dict(type_="dingtalk", token="${X}", secret="${X}")),
    (TelegramFake, {}, dict(type_="telegram", token="${X}", chat_id="-1")),
    (DiscordFake, {}, dict(type_="discord", url="https://discord.com/api/webhooks/1/${X}")),
]


@pytest.mark.parametrize("fake_cls,fake_kw,cfg", CASES, ids=[c[2]["type_"] for c in CASES])
def test_refused_send_leaks_no_secret(build, start_fake, vclock, caplog, fake_cls, fake_kw, cfg):
    caplog.set_level(logging.DEBUG)
    fake = start_fake(fake_cls, clock=vclock, **fake_kw)
    cfg = dict(cfg)
    type_ = cfg.pop("type_")
    if type_ == "discord":
        env2 = {"X": f"https://discord.com/api/webhooks/1/{SECRET}"}
        ch = build(type_, env=env2, url="${X}", base_url=fake.url)
    else:
        ch = build(type_, env=ENV, base_url=fake.url, **cfg)
    [res] = send_all(ch, [msg()])
    assert res.status == "failed", res.reason
    blob = res.reason + repr(res.response) + caplog.text
    assert SECRET not in blob and "s3cr3t" not in blob


def test_resolve_secret_forms(tmp_path):
    f = tmp_path / "s"
    f.write_text("from-file\n")
    assert resolve_secret("${A}", {"A": "x1"}) == "x1"
    assert resolve_secret(f"file:{f}", {}) == "from-file"
    with pytest.raises(SopctlError, match=r"channel 'robot': `key` refers to \$\{NOPE\}"):
        resolve_secret("${NOPE}", {}, channel="robot", field="key")
    with pytest.raises(SopctlError, match="cannot read"):
        resolve_secret(f"file:{tmp_path / 'missing'}", {}, channel="robot", field="key")
    assert redact("url?key=ab%2Fcd and ab/cd", ["ab/cd"]) == "url?key=*** and ***"
