"""Which days, what text, how many: cadences, courses, phases, caps, rotation, sequences."""

from __future__ import annotations

from datetime import date, timedelta

from sopctl.plan import group_channel, next_group, next_occurrence_after
from sopctl.playbook.model import Group

from ._pb import detailed, make, plan, utc

OPENED = "2026-11-01"  # a Sunday


def _days(occs) -> list[int]:
    return [o.life_day for o in occs]


def test_every_n_days_anchored_on_opening() -> None:
    pb = make([{"id": "rp", "kind": "red-packet", "at": "20:00", "every_days": 3, "text": "红包"}],
              groups=[{"id": "a", "opened": OPENED}, {"id": "b", "opened": "2026-11-02"}])
    occs = plan(pb, date(2026, 11, 1), 10)
    assert [(o.group, o.local.day) for o in occs] == [
        ("a", 1), ("b", 2), ("a", 4), ("b", 5), ("a", 7), ("b", 8), ("a", 10)]
    assert _days(occs) == [1, 1, 4, 4, 7, 7, 10]


def test_weekly_day_list() -> None:
    pb = make([{"id": "sale", "kind": "flash-sale", "at": "20:00", "days": ["wed"],
                "text": "秒杀"}])
    occs = plan(pb, date(2026, 11, 1), 21)
    assert [o.local.date() for o in occs] == [date(2026, 11, 4), date(2026, 11, 11),
                                             date(2026, 11, 18)]
    pb = make([{"id": "w", "kind": "k", "at": "09:00", "days": "weekends", "text": "x"}])
    assert [o.local.day for o in plan(pb, date(2026, 11, 1), 8)] == [1, 7, 8]


def test_course_lesson_n_on_day_n() -> None:
    pb = make([{"id": "course", "kind": "course", "at": "19:30",
                "course": ["第一课 皮肤类型", "lesson2", "第{lesson}课 防晒, 第{day}天"]}],
              content={"lesson2": {"text": "第二课 {group_name} 的保湿"}},
              groups=[{"id": "g007", "name": "测试群007", "opened": "2026-11-02"}])
    occs = plan(pb, date(2026, 11, 1), 7)
    assert [(o.local.date(), o.text) for o in occs] == [
        (date(2026, 11, 2), "第一课 皮肤类型"),
        (date(2026, 11, 3), "第二课 测试群007 的保湿"),
        (date(2026, 11, 4), "第3课 防晒, 第3天"),
    ]
    assert _days(occs) == [1, 2, 3]


def test_phases_from_the_funnel() -> None:
    funnel = {"stages": [{"id": "pond"}],
              "phases": [{"name": "early", "days": "1-7"}, {"name": "late", "days": "8-"}]}
    pb = make([{"id": "push", "kind": "offer", "at": "11:00", "phases": ["late"], "text": "x"},
               {"id": "hi", "kind": "k", "at": "09:00", "phases": ["early"], "text": "y"}],
              funnel=funnel)
    occs = plan(pb, date(2026, 11, 1), 10)
    assert _days([o for o in occs if o.slot == "hi"]) == list(range(1, 8))
    assert _days([o for o in occs if o.slot == "push"]) == [8, 9, 10]


def test_cron_slot_several_times_a_day() -> None:
    pb = make([{"id": "c", "kind": "k", "cron": "0 9,21 * * 1-5", "text": "x"}])
    occs = plan(pb, date(2026, 11, 6), 3)  # Friday, Saturday, Sunday
    assert [o.key for o in occs] == ["g001/c/2026-11-06T0900/0", "g001/c/2026-11-06T2100/0"]
    assert [o.at_utc for o in occs] == [utc(2026, 11, 6, 1), utc(2026, 11, 6, 13)]


def test_group_opened_later_plans_nothing_before() -> None:
    pb = make([{"id": "m", "kind": "k", "at": "08:00", "text": "第{day}天"}],
              groups=[{"id": "new", "opened": "2026-11-10"}])
    occs = plan(pb, date(2026, 11, 5), 8)
    assert [(o.local.date(), o.life_day, o.text) for o in occs] == [
        (date(2026, 11, 10), 1, "第1天"), (date(2026, 11, 11), 2, "第2天"),
        (date(2026, 11, 12), 3, "第3天")]


def test_variants_rotate_by_firing_count_whatever_the_window() -> None:
    pb = make([{"id": "m", "kind": "good-morning", "at": "07:30", "content": "gm"},
               {"id": "rp", "kind": "red-packet", "at": "20:00", "every_days": 2,
                "content": "rp"},
               {"id": "wed", "kind": "k", "at": "10:00", "days": ["wed"], "content": "rp"}],
              content={"gm": {"text": "早安", "variants": ["早上好", "新的一天"]},
                       "rp": {"variants": ["A", "B"]}})
    occs = plan(pb, date(2026, 11, 1), 21)
    assert [o.text for o in occs if o.slot == "m"][:5] == [
        "早安", "早上好", "新的一天", "早安", "早上好"]
    # Every other day: consecutive firings alternate (not stuck on one variant).
    assert [o.text for o in occs if o.slot == "rp"][:4] == ["A", "B", "A", "B"]
    assert [o.text for o in occs if o.slot == "wed"] == ["A", "B", "A"]
    # A later window agrees with the long plan: rotation depends on the group's life only.
    later = plan(pb, date(2026, 11, 15), 3)
    assert later == [o for o in occs if date(2026, 11, 15) <= o.local.date() < date(2026, 11, 18)]


def test_sequence_spacing_and_waits() -> None:
    pb = make([{"id": "quiz", "kind": "interaction", "at": "15:00", "spacing": "1-2m",
                "sequence": [{"text": "题目"}, {"text": "提示"},
                             {"content": "ans", "wait": "30s"}]}],
              content={"ans": {"text": "答案: {group_name}"}},
              groups=[{"id": f"g{i}", "opened": OPENED} for i in range(1, 21)])
    occs = plan(pb, date(2026, 11, 5))
    assert len(occs) == 60
    for g in {o.group for o in occs}:
        seq = sorted((o for o in occs if o.group == g), key=lambda o: o.seq)
        assert [o.seq for o in seq] == [0, 1, 2]
        assert [o.key for o in seq] == [f"{g}/quiz/2026-11-05/{i}" for i in range(3)]
        assert seq[0].local.strftime("%H:%M:%S") == "15:00:00"
        gap1 = (seq[1].at_utc - seq[0].at_utc).total_seconds()
        assert 60 <= gap1 <= 120
        assert (seq[2].at_utc - seq[1].at_utc).total_seconds() == 30
        assert seq[2].text == f"答案: 测试群{int(g[1:]):03d}"


def test_caps_drop_the_latest_of_the_day_and_report_them() -> None:
    slots = [{"id": f"s{h}", "kind": "k", "at": f"{h:02d}:00", "text": str(h)} for h in (9, 10, 11)]
    slots.append({"id": "a-tie", "kind": "k", "at": "10:00", "text": "tie"})
    slots += [{"id": f"mo{h}", "kind": "moments", "at": f"{h:02d}:30", "target": "moments",
               "text": "朋友圈"} for h in (8, 12)]
    pb = make(slots, caps={"per_group_per_day": 2, "moments_per_day": 1})
    res = detailed(pb, date(2026, 11, 5))
    assert [o.slot for o in res.occurrences] == ["mo8", "s9", "a-tie"]
    assert sorted((o.slot, why) for o, why in res.dropped) == [
        ("mo12", "dropped: over the cap of 1 Moments posts a day"),
        ("s10", "dropped: over the cap of 2 posts per group a day"),
        ("s11", "dropped: over the cap of 2 posts per group a day")]


def test_moments_once_per_staff_account_not_per_group() -> None:
    slots = [{"id": "mo", "kind": "moments", "at": "08:30", "target": "moments", "text": "朋友圈"},
             {"id": "gm", "kind": "good-morning", "at": "07:30", "text": "早安"}]
    groups = [{"id": "g1", "opened": OPENED, "owner": "小春"},
              {"id": "g2", "opened": OPENED, "owner": "小春"},
              {"id": "g3", "opened": OPENED, "owner": "小敏"},
              {"id": "g4", "opened": OPENED}]
    occs = plan(make(slots, groups=groups), date(2026, 11, 5))
    assert sum(o.slot == "gm" for o in occs) == 4  # group posts: one per group
    moments = [o for o in occs if o.slot == "mo"]
    # one per account: 小春 (carried by g1), 小敏 (g3), and the unowned groups' account (g4)
    assert [o.group for o in moments] == ["g1", "g3", "g4"]
    assert all(o.key.isascii() and o.key.startswith("moments-") for o in moments)
    assert len({o.key for o in moments}) == 3


def test_keys_unique_and_stable() -> None:
    pb = make([{"id": "m", "kind": "k", "at": "07:30-08:30", "content": "gm"},
               {"id": "c", "kind": "k", "cron": "0 */4 * * *", "text": "c"},
               {"id": "q", "kind": "k", "at": "15:00", "sequence": [{"text": "1"}, {"text": "2"}]}],
              content={"gm": {"variants": ["a", "b", "c"]}},
              groups=[{"id": f"g{i}", "opened": OPENED} for i in range(3)])
    occs = plan(pb, date(2026, 11, 3), 5)
    keys = [o.key for o in occs]
    assert len(keys) == len(set(keys)) == 3 * 5 * (1 + 6 + 2)
    again = plan(pb, date(2026, 11, 3), 5)
    assert [o.key for o in again] == keys and again == occs
    day_two = plan(pb, date(2026, 11, 4))
    assert set(o.key for o in day_two) < set(keys)


def test_variables_rendered() -> None:
    pb = make([{"id": "m", "kind": "k", "at": "08:00",
                "text": "{group_name}|{group_no}|{owner}|{day}|{date}|{weekday}|{offer}|"
                        "{brand}|{rules_summary}"}],
              roles={"owner": {"name": "王老师"}},
              variables={"offer": "满199减50", "brand": "美肌"},
              rules={"items": [{"id": "a", "text": "禁止广告"}, {"id": "b", "text": "禁止外链"}]},
              groups=[{"id": "g003", "opened": OPENED, "number": 3}])
    (o,) = plan(pb, date(2026, 11, 4))
    assert o.text == ("测试群003|3|王老师|4|2026-11-04|周三|满199减50|美肌|"
                      "1. 禁止广告\n2. 禁止外链")
    assert not o.refused


def test_a_text_with_an_unknown_name_is_refused_not_half_filled() -> None:
    pb = make([{"id": "m", "kind": "k", "at": "08:00", "text": "{group_name} {nope}"},
               {"id": "x", "kind": "k", "at": "09:00", "text": "{group_name.__class__}"}],
              groups=[{"id": "g003", "opened": OPENED, "number": 3}])
    a, b = plan(pb, date(2026, 11, 4))
    assert a.text == b.text == ""
    assert a.refused == "refused: unknown variable {nope}" and a.refused in a.notes
    assert "attribute" in b.refused and "class" not in b.text


def test_channel_delivery_and_grace() -> None:
    pb = make([{"id": "a", "kind": "k", "at": "08:00", "text": "x", "grace": "10m"},
               {"id": "b", "kind": "k", "at": "09:00", "text": "y", "channel": "staff",
                "delivery": "post"}],
              channels={"bot": {"type": "console", "mode": "remind"},
                        "staff": {"type": "console"}},
              channel="bot", groups=[{"id": "g1", "opened": OPENED},
                                     {"id": "g2", "opened": OPENED, "channel": "staff"}])
    occs = {(o.group, o.slot): o for o in plan(pb, date(2026, 11, 4))}
    assert (occs["g1", "a"].channel, occs["g1", "a"].delivery, occs["g1", "a"].grace_s) == (
        "bot", "remind", 600)
    assert (occs["g2", "a"].channel, occs["g2", "a"].delivery) == ("staff", "post")
    assert occs["g1", "b"].channel == "staff"
    slot = pb.timetable[0]
    only = make([], channels={"wx": {"type": "console"}})
    assert group_channel(only, None, slot) == "wx"
    assert group_channel(make([], channels={}), None, slot) == "console"


def test_next_group_follows_the_pattern() -> None:
    pb = make([], groups=[{"id": "g001", "opened": OPENED, "stage": "pond"},
                          {"id": "g002", "name": "测试群002", "opened": "2026-11-05",
                           "stage": "pond"}])
    g = next_group(pb, pb.groups, opened=date(2026, 11, 9))
    assert (g.id, g.name, g.number, g.stage, g.opened) == (
        "g003", "测试群003", 3, "pond", date(2026, 11, 9))
    assert next_group(pb, [Group(id="grp-9", opened=date(2026, 1, 1))]).id == "grp-10"


def test_next_group_id_skips_ids_taken_by_other_stages() -> None:
    pb = make([], groups=[{"id": "g001", "name": "测试群001", "opened": OPENED, "stage": "pond"},
                          {"id": "g002", "name": "测试群002", "opened": OPENED, "stage": "pond"},
                          {"id": "g003", "name": "VIP群001", "opened": OPENED, "stage": "core"}])
    g = next_group(pb, pb.groups, opened=date(2026, 11, 9))
    # g003 is the VIP group (its own numbering): the third 测试群 takes the next free id
    assert (g.id, g.name, g.stage) == ("g004", "测试群003", "pond")


def test_next_occurrence_after() -> None:
    pb = make([{"id": "m", "kind": "k", "at": "08:00", "days": ["fri"], "text": "x"}])
    t = utc(2026, 11, 6, 0, 0)  # Friday 08:00 Shanghai
    assert next_occurrence_after(pb, t - timedelta(seconds=1)) == t
    assert next_occurrence_after(pb, t) == t + timedelta(days=7)
    assert next_occurrence_after(pb, t, horizon_days=3) is None
