"""What reaches a customer, over every shipped playbook and example.

One renderer: the texts `sopctl agenda` shows are exactly what `sopctl run` hands its
channel, key for key. Every rendered text — timetable, welcome, auto-replies, warnings,
announcements, invitations — has no unresolved placeholder, no Python repr, no empty
welcome part, and fits its channel (in one post, or split by the channel's own rule;
a channel that refuses instead of splitting must not be handed it). And a text the
template language refuses is never sent, even when lint was skipped.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sopctl.main import app
from sopctl.plan.render import ALL_BUILTINS
from sopctl.plan.timing import LocalClock
from sopctl.run.clock import FakeClock
from sopctl.run.ledger import Ledger
from sopctl.run.reload import _EveryVar, check_playbook
from sopctl.run.runner import Book, Runner, RunOptions

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p for p in [*ROOT.glob("playbooks/*.yaml"), *ROOT.glob("examples/*.yaml")]
                 if not p.name.endswith("-groups.yaml"))
CHECKED = {p: check_playbook(str(p)) for p in SHIPPED}
REPR = ("None", "<class", "{'", "object at 0x", "[]", "{}")
SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
NICK = st.text(st.characters(whitelist_categories=("Lu", "Ll", "Lo", "Nd")), min_size=1,
               max_size=12)


def test_every_shipped_playbook_is_usable() -> None:
    for checked in CHECKED.values():
        assert checked.playbook is not None, [f.short() for f in checked.errors]


def _clean(text: str, names: set[str], where: str) -> None:
    for bad in REPR:
        assert bad not in text, f"{where}: {bad!r} in {text!r}"
    for name in re.findall(r"\{([^\W\d]\w*)[^{}]*\}", text):
        assert name not in names, f"{where}: unresolved {{{name}}} in {text!r}"


class _Recorder:
    type = "recording"

    def __init__(self) -> None:
        self.sent: dict[str, str] = {}

    async def send(self, msg, *, deadline=None):  # type: ignore[no-untyped-def]
        from sopctl.run.channels.base import SendResult

        self.sent[msg.key] = msg.text
        return SendResult("sent")

    async def aclose(self) -> None:
        pass


def _agenda(path: Path, day: date) -> list[dict]:
    r = CliRunner().invoke(app, ["--lang", "en", "agenda", str(path), "--from", day.isoformat(),
                                 "--days", "1", "--format", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def _run(path: Path, day: date, due: list[datetime]) -> tuple[dict[str, str], list[dict]]:
    """Ticks a real runner (fake clock, real SQLite ledger) at each due instant of ``day``;
    returns what it handed the channel and the ledger rows."""
    checked = CHECKED[path]
    pb = checked.playbook
    assert pb is not None
    start = LocalClock(pb.timezone).day_start(day)
    rec = _Recorder()
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(f"sqlite:///{tmp}/ledger.db")
        clock = FakeClock(start)
        runner = Runner([Book(checked)], ledger, clock,
                        RunOptions(since=start, channel="out", state_dir=Path(tmp)),
                        channels={"out": rec})

        async def ticks() -> None:
            for t in sorted(set(due)):
                clock.set(t + timedelta(seconds=1))
                await runner.tick(clock.now())

        asyncio.run(ticks())
        rows = ledger.rows()
    return rec.sent, rows


def _compare(path: Path, day: date) -> int:
    """agenda == run for one playbook and day; returns how many posts were compared."""
    pb = CHECKED[path].playbook
    assert pb is not None
    shown = _agenda(path, day)
    names = set(ALL_BUILTINS) | set(pb.variables)
    for o in shown:
        assert o["text"] or o["attachments"], o["key"]
        _clean(o["text"], names, f"{path.name} {o['key']}")
        assert not any(n.startswith("refused") for n in o["notes"]), o
    due = [datetime.fromisoformat(o["at_utc"].replace("Z", "+00:00")) for o in shown]
    sent, rows = _run(path, day, due)
    posts = {o["key"]: o["text"] for o in shown if o["delivery"] == "post"}
    assert {k: v for k, v in sent.items() if k in posts} == posts
    assert {o["key"] for o in shown} <= {r["key"] for r in rows}
    return len(posts)


@SETTINGS
@given(path=st.sampled_from(SHIPPED),
       day=st.dates(min_value=date(2026, 11, 1), max_value=date(2027, 4, 30)))
def test_agenda_shows_exactly_what_run_sends(path: Path, day: date) -> None:
    _compare(path, day)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_agenda_equals_run_on_a_busy_day(path: Path) -> None:
    pb = CHECKED[path].playbook
    assert pb is not None
    from sopctl.plan import build_plan

    start = LocalClock(pb.timezone).day_start(date(2026, 11, 23))
    posts = [o for o in build_plan(pb, start, start + timedelta(days=14))
             if o.delivery == "post"]
    if not posts:  # remind-only playbooks: run and agenda still agree on the keys
        assert _compare(path, date(2026, 11, 24)) == 0
        return
    # the busiest day of the fortnight
    days = [o.local.date() for o in posts]
    assert _compare(path, max(set(days), key=days.count)) > 0


def _limits_ok(path: Path, channel: str, text: str, fmt: str) -> None:
    """The channel accepts ``text`` (in one post or split by its own rule): building the
    parts must not refuse it."""
    from sopctl.run.channels import make_channels
    from sopctl.run.channels.base import OutMessage

    pb = CHECKED[path].playbook
    assert pb is not None
    if channel not in pb.channels:
        return  # the console
    with tempfile.TemporaryDirectory() as tmp:
        cfg = pb.channels[channel]
        files = {f: "${SECRET}" for f in ("key", "token", "secret", "corp_secret")
                 if str(getattr(cfg, f) or "").startswith("file:")}  # no such files here
        chans = make_channels({channel: cfg.model_copy(update=files)}, env=_EveryVar(),
                              client=None, state_dir=Path(tmp))
        ch = chans[channel]
        parts = getattr(ch, "parts", None)
        if parts is None:
            return
        msg = OutMessage("k", "g001", "群", "chat-1", text, fmt)
        assert parts(msg), (path.name, channel)


@SETTINGS
@given(path=st.sampled_from(SHIPPED), nicks=st.lists(NICK, min_size=1, max_size=4))
def test_reaction_texts_are_clean_and_fit(path: Path, nicks: list[str]) -> None:
    from sopctl.events.reactions import DEFAULT_INVITE, render_welcome, reply_text, rules_summary
    from sopctl.plan.groups import group_channel, playbook_groups
    from sopctl.plan.render import WELCOME_PARTS, render, rule_text

    pb = CHECKED[path].playbook
    assert pb is not None
    names = set(ALL_BUILTINS) | set(pb.variables)
    groups = playbook_groups(pb)
    for g in groups or [None]:
        gid = g.id if g else "g001"
        if pb.welcome is not None:
            text = render_welcome(pb, gid, nicks)
            _clean(text, names, f"{path.name} welcome")
            assert not re.search(r"[:：,，][ \t]*[,，]", text), text  # "禁止: , 第一次"
            for part in WELCOME_PARTS:
                if pb.welcome.template and "{" + part + "}" in pb.welcome.template:
                    assert getattr(pb.welcome, part), part
            _limits_ok(path, pb.welcome.channel or group_channel(pb, g), text,
                       pb.welcome.format)
        for ar in pb.auto_replies:
            text = reply_text(pb, ar, nicks[0], gid)
            _clean(text, names, f"{path.name} reply")
            _limits_ok(path, group_channel(pb, g), text, "text")
        for r in pb.rules.items:
            values = {**pb.variables, "nickname": nicks[0], "rule": rule_text(pb, r),
                      "count": 2}
            for tmpl in (pb.rules.warn_text, pb.rules.remove_text):
                if tmpl:
                    _clean(render(tmpl, values), names, f"{path.name} ladder")
        _clean(rules_summary(pb), names, f"{path.name} rules")
        if pb.funnel is not None:
            for s in pb.funnel.stages:
                text = render(s.invite or DEFAULT_INVITE,
                              {**pb.variables, "nickname": nicks[0], "stage": s.name or s.id})
                _clean(text, names, f"{path.name} invite")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_planned_texts_fit_their_channel(path: Path) -> None:
    from sopctl.plan import build_plan

    pb = CHECKED[path].playbook
    assert pb is not None
    clock = LocalClock(pb.timezone)
    start = clock.day_start(date(2026, 11, 23))
    seen: set[tuple[str, str, str]] = set()
    for o in build_plan(pb, start, start + timedelta(days=14)):
        if (o.channel, o.text, o.format) not in seen:
            seen.add((o.channel, o.text, o.format))
            _limits_ok(path, o.channel, o.text, o.format)


# ----------------------------------------------------------------------------- lint skipped

BROKEN = """\
name: 测试
timezone: Asia/Shanghai
positioning: {type: product, purpose: 测试, name_pattern: "测试群{n:03}"}
channels: {out: {type: console}}
timetable:
  - {id: ok, kind: k, at: "08:00", text: "早安 {group_name}"}
  - {id: bad, kind: k, at: "08:00", text: "早安 {group_name.__class__.__mro__}"}
  - {id: jinja, kind: k, at: "08:00", text: "早安 {{group_name}}"}
groups: [{id: g001, opened: 2026-11-01}]
"""


def test_the_runner_refuses_a_broken_template_even_without_lint(tmp_path: Path) -> None:
    from sopctl.playbook.loader import load_playbook
    from sopctl.run.reload import Checked

    p = tmp_path / "pb.yaml"
    p.write_text(BROKEN, encoding="utf-8")
    loaded = load_playbook(str(p))
    assert loaded.playbook is not None  # it loads; only lint would have stopped it
    rec = _Recorder()
    start = LocalClock("Asia/Shanghai").day_start(date(2026, 11, 24))
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    clock = FakeClock(start + timedelta(hours=8, seconds=5))
    runner = Runner([Book(Checked(str(p), loaded.playbook))], ledger, clock,
                    RunOptions(since=start, state_dir=tmp_path), channels={"out": rec})
    asyncio.run(runner.tick(clock.now()))
    rows = {r["slot"]: r for r in ledger.rows()}
    assert list(rec.sent.values()) == ["早安 测试群001"]
    for slot in ("bad", "jinja"):
        assert rows[slot]["status"] == "failed"
        assert rows[slot]["reason"].startswith("refused: ")
    assert "attribute" in rows["bad"]["reason"] and "single braces" in rows["jinja"]["reason"]


def test_reactions_refuse_rather_than_send_a_gap_or_braces() -> None:
    from sopctl.events.reactions import welcome_action
    from sopctl.playbook.model import Playbook

    base = {"name": "测试", "timezone": "Asia/Shanghai",
            "positioning": {"type": "product", "purpose": "测试", "name_pattern": "测试群{n:03}"},
            "groups": [{"id": "g001", "opened": "2026-11-01"}]}
    gap = Playbook.model_validate({**base, "welcome": {
        "template": "欢迎 {nickname}! 群内禁止: {prohibited}, {penalty}", "penalty": "第一次提醒"}})
    a = welcome_action(gap, "g001", [("e1", "m1", "小美")])
    assert a.text == "" and a.data["refused"] == "refused: {prohibited} is empty here: the text " \
        "would show a gap"
    jinja = Playbook.model_validate({**base, "welcome": {"template": "欢迎 {{nickname}}"}})
    a = welcome_action(jinja, "g001", [("e1", "m1", "小美")])
    assert a.text == "" and "single braces" in a.data["refused"]
    ok = Playbook.model_validate({**base, "variables": {"coupon": "0520"}, "welcome": {
        "template": "欢迎 {newcomers} 来到{group_name}, 券码{coupon}", "theme": "{group_name}"}})
    a = welcome_action(ok, "g001", [("e1", "m1", "小美")])
    assert a.text == "欢迎 @小美 来到测试群001, 券码0520" and "refused" not in a.data
