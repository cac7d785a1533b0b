"""Runs of the engine turned into the forecast: per-day records, bands, summary, warnings.

The result is plain data (what `--format json` prints), built deterministically from the
seed: run r draws from ``PCG64(seed)`` jumped r times.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import numpy as np

from ..i18n import _, ngettext
from ..playbook.model import Playbook
from .engine import RunResult, run
from .model import World, build_world
from .ops import OpsBook, shared_book
from .params import KIND_WEIGHTS, resolve

BAND_FIELDS = ("members", "joins", "leaves", "active", "messages", "ops_messages", "revenue",
               "groups_open")
LOW_ACTIVE = 0.05  # below this share of members speaking a day, a group is going quiet


def forecast(playbook: Playbook, *, start: date, days: int = 14, groups: int | None = None,
             seed: int = 0, runs: int = 1, params: dict[str, float] | None = None,
             on_day: Callable[[], None] | None = None) -> dict:
    """Simulate ``runs`` times and summarise; the returned dict is the JSON output."""
    p = resolve(playbook.simulation, params)
    ops = shared_book(playbook, start, days, p)
    results: list[RunResult] = []
    stage_ids: list[str] = []
    first_world = None
    for r in range(runs):
        world = build_world(playbook, start, days, groups, params, ops)
        first_world = first_world or world
        stage_ids = world.stages.ids
        rng = np.random.Generator(np.random.PCG64(seed).jumped(r))
        results.append(run(world, rng, on_day))
    assert first_world is not None
    names = {s.id: (s.name or s.id) for s in (playbook.funnel.stages if playbook.funnel else [])}
    days_out = _days(results, start, stage_ids)
    summary = _summary(results, days_out, stage_ids, names, first_world, runs, seed, start, days)
    warnings = _warnings(playbook, results[0], days_out, first_world, ops, p)
    return {"days": days_out, "summary": summary, "warnings": warnings,
            "params": {**{k: p[k] for k in sorted(p)}, "kind_weights": dict(KIND_WEIGHTS)}}


def _num(x: float) -> int | float:
    x = float(x)
    return int(x) if x.is_integer() else round(x, 2)


def _days(results: list[RunResult], start: date, stage_ids: list[str]) -> list[dict]:
    stack = {f: np.stack([r.series[f] for r in results]) for f in BAND_FIELDS}
    conv = np.stack([r.conversions for r in results])  # runs, stages, days
    q = {f: np.quantile(v, [0.1, 0.5, 0.9], axis=0) for f, v in stack.items()}
    qr = {f: np.round(v, 2).tolist() for f, v in q.items()}  # as round() per value, at once
    conv50 = np.quantile(conv, 0.5, axis=0).tolist()
    out = []
    for t in range(stack["members"].shape[1]):
        members, active = q["members"][1, t], q["active"][1, t]
        rec: dict = {"day": t + 1, "date": (start + timedelta(days=t)).isoformat()}
        for f in BAND_FIELDS:
            rec[f] = _num(qr[f][1][t])
        rec["active_rate"] = round(float(active / members), 4) if members else 0.0
        rec["conversions"] = {s: _num(conv50[i][t]) for i, s in enumerate(stage_ids)}
        if len(results) > 1:
            rec["bands"] = {f: [_num(qr[f][0][t]), _num(qr[f][2][t])] for f in BAND_FIELDS}
        out.append(rec)
    return out


def _summary(results: list[RunResult], days_out: list[dict], stage_ids: list[str],
             names: dict[str, str], world: World, runs: int, seed: int,
             start: date, days: int) -> dict:
    def med(values: list[float]) -> int | float:
        return _num(round(float(np.median(values)), 2))

    last = days_out[-7:]
    conv_tot = np.stack([r.conversions.sum(axis=1) for r in results])
    moved_tot = np.stack([r.moved.sum(axis=1) for r in results])
    end_members = np.stack([r.stage_members for r in results])
    stays = np.concatenate([r.stays for r in results if r.stays is not None])
    funnel = [{"stage": s, "name": names.get(s, s), "converted_in": med(conv_tot[:, i]),
               "moved_in": med(moved_tot[:, i]), "members_end": med(end_members[:, i]),
               "target": i in world.stages.next}
              for i, s in enumerate(stage_ids)]
    return {
        "start": start.isoformat(),
        "end": (start + timedelta(days=days - 1)).isoformat(),
        "days": days, "runs": runs, "seed": seed,
        "groups_start": len(world.initial),
        "groups_end": days_out[-1]["groups_open"],
        "members_start": int(sum(world.initial)),
        "members_end": days_out[-1]["members"],
        "joins": med([r.series["joins"].sum() for r in results]),
        "leaves": med([r.series["leaves"].sum() for r in results]),
        "removed": med([r.series["removed"].sum() for r in results]),
        "messages": med([r.series["messages"].sum() for r in results]),
        "ops_messages": med([r.series["ops_messages"].sum() for r in results]),
        "revenue": med([r.series["revenue"].sum() for r in results]),
        "active_rate_last_week": round(float(np.mean([d["active_rate"] for d in last])), 4),
        "active_rate": round(float(np.mean([d["active_rate"] for d in days_out])), 4),
        "median_stay_unconverted": _num(np.median(stays)) if len(stays) else None,
        "member_days": int(np.median([r.member_days for r in results])),
        "funnel": funnel,
    }


def _ranges(days: list[int]) -> str:
    parts, i = [], 0
    while i < len(days):
        j = i
        while j + 1 < len(days) and days[j + 1] == days[j] + 1:
            j += 1
        parts.append(f"{days[i]}" if i == j else f"{days[i]}–{days[j]}")
        i = j + 1
    return ", ".join(parts)


def _timetable_warnings(ops: OpsBook, opened: date, p: dict[str, float],
                        tolerated: int) -> list[str]:
    out = []
    for lo, hi in ops.quiet_runs(opened, int(p["quiet_warn_days"])):
        out.append(_("day {n} has no operation: the group will go quiet").format(n=lo)
                   if lo == hi else _("days {span} have no operation: the group will go "
                                      "quiet").format(span=f"{lo}–{hi}"))
    row = ops.get(opened)
    dropped = [i + 1 for i in np.flatnonzero(row.dropped)]
    if dropped:
        n = int(row.dropped.sum())
        out.append(ngettext("days {days}: {n} planned message is dropped by caps or quiet hours",
                            "days {days}: {n} planned messages are dropped by caps or quiet "
                            "hours", n).format(days=_ranges(dropped), n=f"{n:,}"))
    loud = [i + 1 for i in np.flatnonzero(row.posts > tolerated)]
    if loud:
        out.append(_("days {days}: more than {n} posts a day annoy members: they stop "
                     "reading, mute the group and leave").format(days=_ranges(loud),
                                                                 n=tolerated))
    return out


def _warnings(playbook: Playbook, first: RunResult, days_out: list[dict], world: World,
              ops: OpsBook, p: dict[str, float]) -> list[str]:
    out: list[str] = []
    cap = playbook.positioning.capacity
    ev = first.full_events
    for day, full, nxt in ev[:3]:
        out.append(_("{group} reaches {cap} on day {day}: prepare {next}").format(
            group=full, cap=cap, day=day, next=nxt))
    if len(ev) > 3:
        more = len(ev) - 3
        out.append(ngettext("… and {n} more group fills up (the last on day {day})",
                            "… and {n} more groups fill up (the last on day {day})", more)
                   .format(n=f"{more:,}", day=ev[-1][0]))
    openings = sorted({g.opened for g in world.groups[: len(world.initial)]})
    found: dict[str, list[str]] = {}  # message -> opening dates it applies to
    for opened in openings:
        for msg in _timetable_warnings(ops, opened, p, world.cap_per_day):
            found.setdefault(msg, []).append(opened.isoformat())
    for msg, dates in found.items():
        if len(openings) > 1:
            who = _("every group") if len(dates) == len(openings) else \
                _("groups opened {dates}").format(dates=", ".join(dates))
            msg = _("{who}: {warning}").format(who=who, warning=msg)
        out.append(msg)
    quiet = [d["day"] for d in days_out if d["day"] > 3 and d["active_rate"] < LOW_ACTIVE]
    if quiet and days_out[-1]["members"]:
        out.append(_("from day {day} fewer than {share} of members speak a day (8–10 % is "
                     "normal): the group is going quiet").format(day=quiet[0],
                                                                 share=f"{LOW_ACTIVE:.0%}"))
    if not playbook.welcome:
        out.append(_("no welcome: newcomers leave faster in their first week"))
    return out
