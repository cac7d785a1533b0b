"""When: timezones and DST, windows, quiet hours — against hand-computed instants."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest

from sopctl.plan import build_plan, iter_plan
from sopctl.plan.calendar import slot_minutes

from ._pb import detailed, make, plan, utc, window

NY = "America/New_York"


def test_shanghai_is_utc_plus_8_all_year() -> None:
    pb = make([{"id": "m", "kind": "good-morning", "at": "07:30", "text": "早"}],
              groups=[{"id": "g001", "opened": "2026-01-01"}])
    for day in (date(2026, 1, 15), date(2026, 7, 15), date(2026, 11, 24)):
        (o,) = plan(pb, day)
        assert o.at_utc == utc(day.year, day.month, day.day, 7, 30) - timedelta(hours=8)
        assert (o.local.hour, o.local.minute, o.local.utcoffset()) == (7, 30, timedelta(hours=8))
        assert o.key == f"g001/m/{day.isoformat()}/0"
        assert o.life_day == (day - date(2026, 1, 1)).days + 1


def test_spring_forward_gap_moves_to_first_valid_instant() -> None:
    # 2026-03-08 02:00 EST -> 03:00 EDT in New York; 02:30 does not exist that day.
    pb = make([{"id": "a", "kind": "k", "at": "02:30", "text": "x"},
               {"id": "b", "kind": "k", "at": "03:00", "text": "y"}],
              tz=NY, groups=[{"id": "g1", "opened": "2026-03-01"}])
    occs = plan(pb, date(2026, 3, 7), 3)
    got = [(o.slot, o.at_utc) for o in occs]
    assert got == [
        ("a", utc(2026, 3, 7, 7, 30)), ("b", utc(2026, 3, 7, 8, 0)),  # EST, UTC-5
        ("a", utc(2026, 3, 8, 7, 0)), ("b", utc(2026, 3, 8, 7, 0)),  # gap: both at 03:00 EDT
        ("a", utc(2026, 3, 9, 6, 30)), ("b", utc(2026, 3, 9, 7, 0)),  # EDT, UTC-4
    ]
    moved = occs[2]
    assert (moved.local.hour, moved.local.minute) == (3, 0)
    assert moved.key == "g1/a/2026-03-08/0"  # the key keeps the planned day
    assert any("does not exist" in n for n in moved.notes)
    assert not occs[3].notes


def test_fall_back_repeated_time_fires_once_at_first_instance() -> None:
    # 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 happens twice; it fires once, in EDT.
    pb = make([{"id": "a", "kind": "k", "at": "01:30", "text": "x"},
               {"id": "c", "kind": "k", "cron": "*/30 1 * * *", "text": "z"}],
              tz=NY, groups=[{"id": "g1", "opened": "2026-10-01"}])
    occs = plan(pb, date(2026, 11, 1), 2)
    a = [o for o in occs if o.slot == "a"]
    assert [o.at_utc for o in a] == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
    assert a[0].local.utcoffset() == timedelta(hours=-4)
    assert any("twice" in n for n in a[0].notes)
    c = [o for o in occs if o.slot == "c" and o.local.date() == date(2026, 11, 1)]
    assert [o.at_utc for o in c] == [utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 5, 30)]
    assert [o.key for o in c] == ["g1/c/2026-11-01T0100/0", "g1/c/2026-11-01T0130/0"]


def test_window_bounds_any_timezone_half_open() -> None:
    pb = make([{"id": "m", "kind": "k", "at": "07:30", "text": "x"}])
    t = utc(2026, 11, 23, 23, 30)  # 07:30 Shanghai on the 24th
    assert len(build_plan(pb, t, t + timedelta(seconds=1))) == 1
    assert build_plan(pb, t - timedelta(hours=1), t) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        build_plan(pb, t.replace(tzinfo=None), t + timedelta(days=1))


def test_window_minute_is_inside_stable_and_spread() -> None:
    pb = make([{"id": "w", "kind": "interaction", "at": "13:00-16:00", "text": "晒单"}],
              groups=[{"id": f"g{i:03d}", "opened": "2026-11-01"} for i in range(1, 31)])
    occs = plan(pb, date(2026, 11, 10), 5)
    assert len(occs) == 150
    slot = pb.timetable[0]
    for o in occs:
        minute = o.local.hour * 60 + o.local.minute
        assert 13 * 60 <= minute <= 16 * 60
        assert slot_minutes(slot, o.group, o.local.date()) == [minute]
    assert occs == plan(pb, date(2026, 11, 10), 5)  # reproducible
    assert len({(o.local.hour, o.local.minute) for o in occs}) > 30  # groups spread out
    # The same group gets a different minute on different days (not one fixed minute).
    assert len({o.local.time() for o in occs if o.group == "g001"}) > 1


QUIET = {"start": "22:00", "end": "07:00"}


def test_quiet_hours_defer_across_midnight() -> None:
    pb = make([{"id": "late", "kind": "k", "at": "23:00", "text": "x"},
               {"id": "early", "kind": "k", "at": "06:00", "text": "y"},
               {"id": "noon", "kind": "k", "at": "12:00", "text": "z"}], quiet_hours=QUIET)
    occs = plan(pb, date(2026, 11, 10), 2)
    got = [(o.key, o.local.strftime("%d %H:%M")) for o in occs]
    assert got == [
        ("g001/early/2026-11-10/0", "10 07:00"),
        ("g001/late/2026-11-09/0", "10 07:00"),  # yesterday's 23:00, carried into the window
        ("g001/noon/2026-11-10/0", "10 12:00"),
        ("g001/early/2026-11-11/0", "11 07:00"),
        ("g001/late/2026-11-10/0", "11 07:00"),
        ("g001/noon/2026-11-11/0", "11 12:00"),
    ]
    late = occs[1]
    assert late.notes == ("deferred from 23:00 (quiet hours 22:00-07:00)",)
    assert late.at_utc == utc(2026, 11, 9, 23, 0)


def test_quiet_hours_drop_is_reported() -> None:
    pb = make([{"id": "late", "kind": "k", "at": "23:30", "text": "x", "quiet": "drop"},
               {"id": "noon", "kind": "k", "at": "12:00", "text": "z"}], quiet_hours=QUIET)
    res = detailed(pb, date(2026, 11, 10), 1)
    assert [o.slot for o in res.occurrences] == ["noon"]
    ((o, why),) = res.dropped
    assert o.key == "g001/late/2026-11-10/0" and "quiet hours 22:00-07:00" in why


def test_quiet_hours_same_day_and_sequence_tail() -> None:
    pb = make([{"id": "lunch", "kind": "k", "at": "13:00", "text": "x"},
               {"id": "quiz", "kind": "k", "at": "11:58", "spacing": "1m",
                "sequence": [{"text": "1"}, {"text": "2"}, {"text": "3"}]}],
              quiet_hours={"start": "12:00", "end": "14:00"})
    occs = plan(pb, date(2026, 11, 10))
    times = [(o.slot, o.seq, o.local.strftime("%H:%M")) for o in occs]
    # The quiz's third message would land at 12:00: the whole sequence waits for 14:00.
    assert times == [("lunch", 0, "14:00"), ("quiz", 0, "14:00"), ("quiz", 1, "14:01"),
                     ("quiz", 2, "14:02")]


def test_iter_plan_is_ordered_and_equals_build_plan() -> None:
    pb = make([{"id": "late", "kind": "k", "at": "23:00", "text": "x"},
               {"id": "w", "kind": "k", "at": "08:00-20:00", "text": "y"}],
              quiet_hours=QUIET,
              groups=[{"id": f"g{i}", "opened": "2026-11-01"} for i in range(5)])
    start, end = window(pb, date(2026, 11, 5), 4)
    occs = list(iter_plan(pb, start, end))
    assert occs == build_plan(pb, start, end)
    keys = [(o.at_utc, o.group, o.slot, o.seq) for o in occs]
    assert keys == sorted(keys)
    assert all(start <= o.at_utc < end for o in occs)


def test_slices_of_a_plan_equal_the_plan() -> None:
    # Caps, quiet-hour deferral and rotation must not depend on where a window starts.
    pb = make([{"id": f"s{h}", "kind": "k", "at": f"{h:02d}:00-{h:02d}:50", "content": "v"}
               for h in (6, 9, 12, 18, 23)],
              content={"v": {"variants": ["a", "b", "c"]}}, quiet_hours=QUIET,
              caps={"per_group_per_day": 3},
              groups=[{"id": f"g{i}", "opened": f"2026-11-0{i}"} for i in range(1, 5)])
    start, end = window(pb, date(2026, 11, 3), 6)
    whole = build_plan(pb, start, end)
    cuts = [start + timedelta(hours=h) for h in range(0, 6 * 24 + 1, 17)] + [end]
    pieces = [o for a, b in pairwise(cuts) for o in build_plan(pb, a, b)]
    assert pieces == whole and len(whole) > 40
