"""The pure reactions: rules, ladder, replies, welcome batching, funnel, check-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sopctl.events import reactions as r
from sopctl.events.types import (
    CheckIn,
    MessagePosted,
    Purchase,
    event_from_dict,
    has_link,
)
from sopctl.playbook.model import NicknameRule

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def msg(text: str, i: int = 0, member: str = "u1", at: datetime = T0, nick: str = "北京-美妆-小丽"
        ) -> MessagePosted:
    return MessagePosted(f"e{i}", "g001", member, at, text=text, has_link=has_link(text),
                         nickname=nick)


def test_links_and_keywords_break_the_ad_rule(pb):
    w = r.FloodWindow()
    assert r.detect_violation(pb, msg("看这里 https://spam.example/x"), w).id == "no-ads"
    assert r.detect_violation(pb, msg("访问 shop.cn 领券"), w).id == "no-ads"
    assert r.detect_violation(pb, msg("有需要的加微信"), w).id == "no-ads"
    assert r.detect_violation(pb, msg("今天皮肤好多了"), w) is None


def test_flooding_n_messages_in_m_seconds(pb):
    w = r.FloodWindow()
    hits = [r.detect_violation(pb, msg("哈", i, at=T0 + timedelta(seconds=i)), w)
            for i in range(5)]
    assert [h.id if h else None for h in hits] == [None] * 4 + ["no-flood"]
    # slow talkers never flood: 5 messages spread over 50 s
    w2 = r.FloodWindow()
    slow = [r.detect_violation(pb, msg("哈", i, at=T0 + timedelta(seconds=12 * i)), w2)
            for i in range(5)]
    assert slow == [None] * 5


def test_nickname_format_is_derived_from_the_format():
    rx = r.nickname_regex(NicknameRule(format="城市-行业-昵称"))
    assert rx.match("北京-美妆-小丽")
    assert rx.match("上海_IT_阿强")
    assert not rx.match("小丽")
    assert not rx.match("北京-小丽")
    explicit = r.nickname_regex(NicknameRule(format="x", regex=r"^\d+$"))
    assert explicit.match("123") and not explicit.match("abc")


def test_wrong_nickname_is_a_violation(pb):
    assert r.detect_violation(pb, msg("大家好", nick="小丽"), r.FloodWindow()).id == "nick"


def test_ladder_warns_then_removes_then_blacklists(pb):
    ads = next(x for x in pb.rules.items if x.id == "no-ads")
    m = r.MemberState("u1", "g001", nickname="北京-美妆-小丽")
    ev = msg("加微信")
    m.violations = 1
    first = r.violation_actions(pb, ev, m, ads, can_remove=True)
    assert [a.kind for a in first] == ["post"]
    assert "第1次提醒" in first[0].text and "北京-美妆-小丽" in first[0].text
    m.violations = 2
    second = r.violation_actions(pb, ev, m, ads, can_remove=True)
    assert [a.kind for a in second] == ["remove", "post", "blacklist"]
    assert second[2].key == "blacklist/u1"
    no_api = r.violation_actions(pb, ev, m, ads, can_remove=False, admin="wang")
    assert no_api[0].kind == "remind" and no_api[0].data["to"] == "wang"


def test_per_rule_ladder_overrides_the_default(pb):
    flood = next(x for x in pb.rules.items if x.id == "no-flood")
    assert [r.next_rung(pb, flood, n) for n in (1, 2, 3, 4)] == ["warn", "warn", "remove",
                                                                 "remove"]
    ads = next(x for x in pb.rules.items if x.id == "no-ads")
    assert [r.next_rung(pb, ads, n) for n in (1, 2, 3)] == ["warn", "remove", "remove"]


def test_auto_reply_modes_and_cooldown(pb):
    fired: dict = {}
    hit = r.match_reply(pb, "这个多少钱?", "g001", T0, fired)
    assert hit and hit[1] == "price" and hit[2] == "多少钱"
    # same keyword, same group, within 5 minutes: silent
    assert r.match_reply(pb, "多少钱", "g001", T0 + timedelta(minutes=1), fired) is None
    # another group has its own cool-down; another keyword of the rule too
    assert r.match_reply(pb, "多少钱", "g002", T0 + timedelta(minutes=1), fired)
    assert r.match_reply(pb, "价格", "g001", T0 + timedelta(minutes=1), fired)
    assert r.match_reply(pb, "多少钱", "g001", T0 + timedelta(minutes=5), fired)
    assert r.match_reply(pb, "你好", "g001", T0, fired)[1] == "hi"
    assert r.match_reply(pb, "你好啊", "g001", T0, {}) is None  # exact
    assert r.match_reply(pb, "我的订单123没到", "g001", T0, {})[1] == "order"


def test_on_message_reply_renders_nickname(pb):
    m = r.MemberState("u1", "g001", nickname="北京-美妆-小丽")
    acts, bad = r.on_message(pb, msg("多少钱"), m, r.FloodWindow(), {}, can_remove=False)
    assert not bad and acts[0].slot == "reply:price"
    assert acts[0].text == "@北京-美妆-小丽 价格请看群公告"
    assert acts[0].key == "reply/g001/e0"


def test_welcome_renders_the_parts(pb):
    text = r.render_welcome(pb, "g001", ["北京-美妆-小丽"])
    assert text.startswith("欢迎 @北京-美妆-小丽 加入美肌福利群001! 我是王老师。本群分享")
    assert "1. 禁止任何形式的广告、外链" in text and "城市-行业-昵称" in text
    assert "本周三秒杀 9.9 元" in text


def test_a_shared_welcome_names_everyone_and_is_keyed_by_the_first_join(pb):
    people = [(f"j{i}", f"u{i}", nick) for i, nick in enumerate(["小丽", "阿强", "小美"])]
    welcome = r.welcome_action(pb, "g001", people)
    assert welcome.key == "welcome/g001/j0"
    assert welcome.mentions == ("u0", "u1", "u2")
    assert "@小丽 @阿强 @小美" in welcome.text


def test_purchase_promotes_when_entry_is_met(pb):
    m = r.MemberState("u1", "g001", nickname="小丽")
    m = r.apply_purchase(m, Purchase("p1", "g001", "u1", T0, amount=9.9, product="trial"))
    acts = r.promotion(pb, m, T0)
    assert acts[0].kind == "promote" and acts[0].data["to"] == "transit"
    assert acts[1].text == "@小丽 欢迎加入中转群"
    # spending past 500 goes straight on to core
    m = r.apply_purchase(m, Purchase("p2", "g001", "u1", T0, amount=600, product="x"))
    assert r.promotion(pb, m, T0)[0].data["to"] == "core"


def test_purchase_below_the_threshold_does_not_promote(pb):
    m = r.MemberState("u1", "t001", stage="transit")
    m = r.apply_purchase(m, Purchase("p1", "t001", "u1", T0, amount=100))
    assert r.promotion(pb, m, T0) == []


def test_unconverted_members_move_on_after_convert_days(pb):
    fresh = r.MemberState("u1", "g001", joined_at=T0 - timedelta(days=3))
    stale = r.MemberState("u2", "g001", joined_at=T0 - timedelta(days=14))
    moves = r.overdue_moves(pb, [fresh, stale], T0)
    assert [(a.member, a.data["to"]) for a in moves] == [("u2", "sales")]


def test_checkin_points_once_a_day(pb):
    m = r.MemberState("u1", "g001")
    ev = CheckIn("c1", "g001", "u1", T0)
    (a,) = r.on_checkin(pb, ev, m, "2026-11-24")
    assert a.data["points"] == 2
    m.last_checkin = "2026-11-24"
    assert r.on_checkin(pb, ev, m, "2026-11-24") == []


def test_generic_event_parsing():
    e = event_from_dict({"id": 7, "type": "message", "group": "g001", "member": "u1",
                         "at": "2026-11-24T10:00:00+08:00", "text": "www.x.com"})
    assert e.has_link and e.at == T0 and e.id == "7"
    for bad in ([], {"type": "nope"}, {"type": "join", "group": "g"},
                {"type": "purchase", "id": 1, "group": "g", "member": "u", "amount": "x"}):
        with pytest.raises(ValueError):
            event_from_dict(bad)
