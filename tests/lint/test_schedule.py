"""The rules' shared schedule (one bitmask of firing days per slot) agrees with the plan's
own calendar, ``fires_on``, day by day: the weekday shortcut must not change a bit."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sopctl.lint.context import Context
from sopctl.lint.rules._shared import schedule
from sopctl.plan.calendar import fires_on
from sopctl.playbook.loader import load_playbook

WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

days_spec = st.one_of(
    st.sampled_from(["daily", "weekdays", "weekends"]),
    st.lists(st.sampled_from(WEEK), min_size=1, max_size=4, unique=True).map(
        lambda d: "[" + ", ".join(d) + "]"))
life_spec = st.one_of(st.none(), st.tuples(st.integers(1, 40), st.integers(0, 30)).map(
    lambda t: f'"{t[0]}-{t[0] + t[1]}"'), st.integers(1, 40).map(lambda n: f'"{n}-"'))
slot_spec = st.fixed_dictionaries({
    "days": days_spec, "life": life_spec,
    "every": st.one_of(st.none(), st.integers(1, 4)),
    "course": st.integers(0, 5)})


def playbook_text(slots: list[dict], openings: list[date], planned: int) -> str:
    out = ["version: 1", "name: 日历", "timezone: Asia/Shanghai",
           f"positioning: {{type: product, purpose: 测试, name_pattern: \"测试群{{{{n}}}}\", "
           f"planned_days: {planned}}}",
           "timetable:"]
    for i, s in enumerate(slots):
        line = f"  - {{id: s{i}, kind: knowledge, at: \"09:{i:02d}\", days: {s['days']}"
        if s["life"]:
            line += f", life_days: {s['life']}"
        if s["every"]:
            line += f", every_days: {s['every']}"
        if s["course"]:
            line += ", course: [" + ", ".join(f"第{n + 1}课" for n in range(s["course"])) + "]"
        else:
            line += ", text: 早上好"
        out.append(line + "}")
    out.append("groups:")
    out += [f"  - {{id: g{i}, opened: {d.isoformat()}}}" for i, d in enumerate(openings)]
    return "\n".join(out) + "\n"


@settings(max_examples=60, deadline=None)
@given(slots=st.lists(slot_spec, min_size=1, max_size=6),
       offsets=st.lists(st.integers(0, 60), min_size=1, max_size=5),
       planned=st.integers(10, 120))
def test_schedule_masks_match_fires_on_day_by_day(tmp_path_factory, slots, offsets, planned):
    openings = [date(2026, 3, 1) + timedelta(days=o) for o in offsets]
    path = tmp_path_factory.mktemp("pb") / "pb.yaml"
    path.write_text(playbook_text(slots, openings, planned), encoding="utf-8")
    loaded = load_playbook(str(path))
    assert loaded.ok, loaded.findings
    sched = schedule(Context(loaded, {}))
    pb = loaded.playbook
    for plan in sched.plans:
        slot = pb.timetable[plan.index]
        want = 0
        for k, opened in enumerate(sched.openings):
            for day in range(sched.horizon):
                if fires_on(slot, opened + timedelta(days=day), opened, pb.funnel):
                    want |= 1 << (k * sched.horizon + day)
        assert plan.mask == want, (slot, sched.openings)
