"""Over-posting: members stop reading the extra posts, mute the group, then drift away."""

from __future__ import annotations

import numpy as np

from sopctl.simulate.model import read_units

from ._sim import load, one_group, simulate_once

SEEDS = range(4)


def _active_share(pb, days: int, params: dict[str, float], weeks: slice) -> float:
    rates = []
    for seed in SEEDS:
        r = simulate_once(pb, days, seed, params=params)
        rates.append(np.mean(r.series["active"][weeks] / r.series["members"][weeks]))
    return float(np.mean(rates))


def test_posts_past_the_tolerated_number_add_no_stimulus() -> None:
    units, posts = np.array([4.0, 4.0, 0.0]), np.array([4, 16, 0])
    assert list(read_units(units, posts, 8)) == [4.0, 2.0, 0.0]


def test_a_member_who_muted_the_group_is_as_quiet_as_a_group_without_operation() -> None:
    pb = one_group(load())
    # annoyed on day 1 (members tolerate 3 posts), and every one mutes at once
    muted = _active_share(pb, 21, {"tolerated_posts": 3, "annoyance_mute": 100.0,
                                   "annoyance_churn": 0.0}, slice(14, 21))
    silent = _active_share(pb.model_copy(update={"timetable": []}), 21,
                           {"neglect_mute": 0.0}, slice(14, 21))  # no stimulus, no muting
    normal = _active_share(pb, 21, {}, slice(14, 21))
    assert muted < 0.01 and abs(muted - silent) < 0.005 and normal > 0.08


def test_annoyance_silences_and_drives_members_out() -> None:
    pb = one_group(load())
    annoyed = {"tolerated_posts": 3}
    calm, loud = (_active_share(pb, 28, p, slice(14, 28)) for p in ({}, annoyed))
    assert loud < 0.8 * calm
    left = [simulate_once(pb, 28, s, params=annoyed).series["leaves"].sum() for s in SEEDS]
    stayed = [simulate_once(pb, 28, s).series["leaves"].sum() for s in SEEDS]
    assert sum(left) > 1.5 * sum(stayed)
    muted = [simulate_once(pb, 28, s, params=annoyed).muted_group for s in SEEDS]
    assert min(muted) > 20  # most who stay have muted the group
    # without muting, annoyance would only thin the group: the survivors would talk on
    no_mute = _active_share(pb, 28, {**annoyed, "annoyance_mute": 0.0}, slice(14, 28))
    assert no_mute > loud


def test_a_week_without_operation_leaves_the_group_quieter_for_good() -> None:
    # seed 000: a group left one week without operation goes quiet; here it resumes on
    # day 15, and three weeks later it is still quieter than a group never left alone
    from sopctl.simulate.whatif import BY_ID, Window, edited_data, load_data, load_edited

    from ._sim import STANDARD, START

    data = edited_data(load_data(str(STANDARD)), BY_ID["unattended-week"], Window(START, 42))
    paused = one_group(load_edited(str(STANDARD), data[0]))
    kept = one_group(load())
    late = slice(35, 42)
    assert _active_share(paused, 42, {}, late) < 0.9 * _active_share(kept, 42, {}, late)
    # without neglect muting the pause would be forgotten within days
    forgotten = _active_share(paused, 42, {"neglect_mute": 0.0}, late)
    assert forgotten > 0.95 * _active_share(kept, 42, {}, late)
