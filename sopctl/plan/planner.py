"""The per-day engine behind build_plan: one local day of every group at a time.

Work that does not depend on the group (cron times, fixed spacings, message templates
of a lesson, wall-time -> UTC conversions, rendered texts without group variables) is
done once per slot and day and shared, so a day of 10,000 groups plans in well under
a second.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from ..playbook.model import ContentItem, Group, Playbook, Slot
from .calendar import fires_on, sequence_offsets, stable_fraction
from .groups import group_channel, group_display_name, group_number
from .render import render, rules_summary
from .template import TemplateError, parse
from .timing import LocalClock, hhmm, quiet_of
from .types import Occurrence

WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_MISSING = object()
Dropped = tuple[Occurrence, str]
# (start wall second, slot id, nth start of the day, start minute, slot, message offsets,
#  quiet-hours note)
_Firing = tuple[int, str, int, int, "_SlotInfo", list[int], str | None]


class _SlotInfo:
    __slots__ = ("cap_kind", "cron_minutes", "every", "fixed_offsets", "grace_s", "hi", "id",
                 "idx", "latest", "lo", "multi", "per_day", "rotates", "simple", "slot",
                 "weekdays")

    def __init__(self, idx: int, slot: Slot, pb: Playbook):
        self.idx, self.slot, self.id = idx, slot, slot.id
        self.grace_s = slot.grace_s
        self.cron_minutes: list[int] | None = None
        self.lo = self.hi = 0
        cron, window = slot.cron_spec, slot.window
        if cron is not None:
            self.cron_minutes = [h * 60 + m for h, m in cron.times()]
        elif window is not None:
            self.lo, self.hi = window
        self.per_day = len(self.cron_minutes) if self.cron_minutes is not None else 1
        self.multi = self.per_day > 1  # keys then carry the time of day
        self.weekdays = slot.weekdays
        self.every = slot.every_days
        self.simple = not (slot.dates or slot.life_days is not None or slot.phases
                           or slot.course or slot.cron is not None)
        self.fixed_offsets: list[int] | None = None
        if len(slot.sequence) <= 1:
            self.fixed_offsets = [0]
        elif (all(m.wait is not None for m in slot.sequence[1:])
              or slot.spacing_s[0] == slot.spacing_s[1]):
            self.fixed_offsets = sequence_offsets(slot, "", date(2000, 1, 1))
        refs = [m.content for m in slot.sequence] + list(slot.course) + [slot.content]
        self.rotates = any(len(_pool(pb.content[r])) > 1 for r in refs if r in pb.content)
        self.cap_kind = slot.target


def _pool(item: ContentItem) -> list[str]:
    """The texts an item rotates through: its text first, then each variant."""
    pool = ([item.text] if item.text else []) + list(item.variants)
    return pool or [item.title or item.url or item.description or ""]


def _attachment(item: ContentItem) -> tuple[dict, ...]:
    if item.kind in ("text", "markdown"):
        return ()
    d = {"kind": item.kind, "title": item.title, "url": item.url, "path": item.path,
         "description": item.description}
    return ({k: v for k, v in d.items() if v is not None},)


class _GroupInfo:
    __slots__ = ("channels", "deliveries", "g", "id", "opened", "values")

    def __init__(self, g: Group, pb: Playbook, slots: list[_SlotInfo], base: dict,
                 chans: dict[str | None, tuple[list[str], list[str]]]):
        self.g, self.id, self.opened = g, g.id, g.opened
        hit = chans.get(g.channel)  # groups share their channel setup: compute it once
        if hit is None:
            names = [group_channel(pb, g, s.slot) for s in slots]
            deliveries = []
            for s, ch in zip(slots, names, strict=True):
                c = pb.channels.get(ch)
                deliveries.append(s.slot.delivery or (c.mode if c is not None else "post"))
            hit = chans[g.channel] = (names, deliveries)
        self.channels, self.deliveries = hit
        n = group_number(g)
        self.values = {**base, "group_name": group_display_name(pb, g),
                       "group_no": n if n is not None else ""}
        if not self.values.get("owner") and g.owner:
            self.values["owner"] = g.owner


class Planner:
    """Plans one local day at a time; keeps caches that are valid across days."""

    def __init__(self, playbook: Playbook, groups: Sequence[Group]):
        self.pb = playbook
        self.clock = LocalClock(playbook.timezone)
        self.quiet = quiet_of(playbook.quiet_hours)
        self.slots = [_SlotInfo(i, s, playbook)
                      for i, s in enumerate(s for s in playbook.timetable if s.enabled)]
        owner = playbook.roles.owner.name if playbook.roles.owner else ""
        base: dict[str, object] = {**playbook.variables, "owner": owner}
        # a rule text that cannot be rendered leaves {rules_summary} unfilled: refused
        with contextlib.suppress(TemplateError):
            base["rules_summary"] = rules_summary(playbook)
        chans: dict[str | None, tuple[list[str], list[str]]] = {}
        self.groups = sorted((_GroupInfo(g, playbook, self.slots, base, chans) for g in groups),
                             key=lambda gi: gi.id)
        caps = playbook.caps
        self.caps = {"group": caps.per_group_per_day, "members": caps.per_member_per_day,
                     "moments": caps.moments_per_day}
        self._names: dict[str, tuple[str, ...] | None] = {}
        self._count_memo: dict[tuple[int, date], tuple[date, int]] = {}
        self.max_span_s = max((max(_offsets_hint(s)) for s in self.slots), default=0)
        # The latest wall second (from the day's midnight) anything of a day can land on.
        last_start = max(((max(s.cron_minutes) if s.cron_minutes else s.hi) * 60
                          for s in self.slots), default=0)
        if self.quiet is not None and self.quiet.crosses:
            last_start = max(last_start, 86400 + self.quiet.end)
        self.latest_wall = last_start + self.max_span_s
        for si in self.slots:
            span = max(_offsets_hint(si))
            si.latest = (max(si.cron_minutes) if si.cron_minutes else si.hi) * 60 + span
            q = self.quiet
            if q is not None and q.crosses and si.slot.quiet == "defer" and si.latest >= q.start:
                si.latest = 86400 + q.end + span  # deferred past midnight
        self.all_group = all(s.cap_kind == "group" for s in self.slots)
        self.cap_any = min(self.caps.values())
        self.caps_never_bind = (
            self.all_group and sum(s.per_day for s in self.slots) <= self.caps["group"])

    # ------------------------------------------------------------------ content
    def _messages(self, si: _SlotInfo, day: int, k: int) -> list[tuple[str, str, tuple]]:
        """(template, format, attachments) per message of one firing."""
        slot, content = si.slot, self.pb.content

        def from_ref(ref: str | None, text: str | None, fmt: str | None):
            if ref is not None and ref in content:
                item = content[ref]
                pool = _pool(item)
                f = fmt or ("markdown" if item.kind == "markdown" else slot.format)
                return pool[k % len(pool)], f, _attachment(item)
            return text or "", fmt or slot.format, ()

        if slot.sequence:
            return [from_ref(m.content, m.text if m.text is not None else slot.text, m.format)
                    for m in slot.sequence]
        if slot.course:
            entry = slot.course[day - 1]
            return [from_ref(entry, entry, None)]
        return [from_ref(slot.content, slot.text, None)]

    def _names_of(self, template: str) -> tuple[str, ...] | None:
        """The names a template uses; None when it has no brace at all (sent as is)."""
        names = self._names.get(template, _MISSING)
        if names is _MISSING:
            names = parse(template).names if "{" in template or "}" in template else None
            self._names[template] = names
        return names  # type: ignore[return-value]

    def _render(self, template: str, values: dict, cache: dict) -> tuple[str, str]:
        """(text, "") or ("", why it is refused): a text with a template problem is never
        sent half-filled (plan.render; lint reports the same problem)."""
        names = self._names_of(template) or ()
        key = (template, *(values.get(n) for n in names))
        out = cache.get(key)
        if out is None:
            try:
                out = (render(template, values), "")
            except TemplateError as exc:
                out = ("", "refused: " + str(exc))
            cache[key] = out
        return out

    # ------------------------------------------------------------------ rotation
    def _count_before(self, si: _SlotInfo, opened: date, d: date) -> int:
        """How many days before ``d`` the slot fired for a group opened on ``opened``."""
        n = (d - opened).days
        if n <= 0:
            return 0
        if si.simple:
            if si.every is None:
                full, rem = divmod(n, 7)
                wd0 = opened.weekday()
                return full * len(si.weekdays) + sum(
                    1 for i in range(rem) if (wd0 + i) % 7 in si.weekdays)
            if len(si.weekdays) == 7:
                return (n - 1) // si.every + 1
        key = (si.idx, opened)
        upto, count = self._count_memo.get(key, (opened, 0))
        if upto > d:
            upto, count = opened, 0
        funnel, slot = self.pb.funnel, si.slot
        while upto < d:
            count += fires_on(slot, upto, opened, funnel)
            upto += timedelta(days=1)
        self._count_memo[key] = (d, count)
        return count

    def _quiet(self, si: _SlotInfo, t0: int, offs: list[int]) -> tuple[int, str | None]:
        """(start, note) of a firing after quiet hours: deferred, or marked dropped."""
        quiet = self.quiet
        assert quiet is not None
        bad = next((t0 + o for o in offs if quiet.inside(t0 + o)), None)
        if bad is None:
            return t0, None
        if si.slot.quiet == "drop":
            return t0, f"dropped: {hhmm(t0)} is in quiet hours {quiet.label}"
        orig = t0
        for _ in range(3):  # a sequence may reach into the next quiet period; retry a little
            t0 = quiet.end_after(bad)
            bad = next((t0 + o for o in offs if quiet.inside(t0 + o)), None)
            if bad is None:
                break
        return t0, f"deferred from {hhmm(orig)} (quiet hours {quiet.label})"

    # ------------------------------------------------------------------ one day
    def day(self, d: date, lo: float = -1e18, hi: float = 1e18
            ) -> tuple[list[Occurrence], list[Dropped]]:
        """Every occurrence planned for local day ``d`` (any instant: deferral may push it
        to the next day), caps applied, unsorted; and what was dropped, with why.

        Caps always count the whole day; only firings whose wall time (seconds from local
        midnight of ``d``) may fall within [lo, hi] are turned into occurrences."""
        out: list[Occurrence] = []
        dropped: list[Dropped] = []
        if not self.slots or lo > self.latest_wall + 60:
            return out, dropped
        # When caps cannot bind, slots that cannot reach the window need no work at all.
        today = _Day(d, lo, hi, lo if self.caps_never_bind and lo > 0 else None)
        for gi in self.groups:
            if gi.opened > d:
                continue
            firings = self._firings(gi, today)
            if firings:
                keep, drops = self._capped(firings)
                self._emit(gi, today, keep, out.append)
                if drops:
                    self._emit(gi, today, drops, dropped.append, dropped=True)
        return out, dropped

    def _firings(self, gi: _GroupInfo, today: _Day) -> list[_Firing]:
        """The group's firings today: when each starts (after quiet hours), its messages'
        offsets, and a quiet-hours note (deferred, or dropped) if any."""
        active = today.fires.get(gi.opened)
        if active is None:  # which slots fire depends on the opening date only
            late, d, funnel = today.late, today.d, self.pb.funnel
            active = today.fires[gi.opened] = [
                si for si in self.slots if fires_on(si.slot, d, gi.opened, funnel)
                and (late is None or si.latest >= late)]
        quiet = self.quiet
        firings: list[_Firing] = []
        for si in active:
            if si.cap_kind == "moments":
                # A Moments post goes out from a staff account, not into a group: once per
                # account (the group's owner) and day, carried by the first of its groups.
                account = (gi.g.owner or "", si.idx)
                if account in today.moments_seen:
                    continue
                today.moments_seen.add(account)
            if si.cron_minutes is not None:
                minutes = si.cron_minutes
            elif si.hi == si.lo:
                minutes = [si.lo]
            else:  # a window: one minute in it, stable per group, slot and day
                frac = stable_fraction(gi.id, si.id, today.dstr)
                minutes = [si.lo + int(frac * (si.hi - si.lo + 1))]
            fixed = si.fixed_offsets
            offs = fixed or sequence_offsets(si.slot, gi.id, today.d)
            for j, m in enumerate(minutes):
                if quiet is None:
                    t0, note = m * 60, None
                elif fixed is not None:  # same answer for every group: ask once
                    qk = (si.idx, m)
                    qr = today.quiet.get(qk)
                    if qr is None:
                        qr = today.quiet[qk] = self._quiet(si, m * 60, offs)
                    t0, note = qr
                else:
                    t0, note = self._quiet(si, m * 60, offs)
                firings.append((t0, si.id, j, m, si, offs, note))
        return firings

    def _capped(self, firings: list[_Firing]) -> tuple[list[_Firing], list[_Firing]]:
        """(kept, dropped) firings of one group's day: those quiet hours drop, then, in
        time order, those over the day's caps (with why)."""
        keep, drops = firings, []
        if self.quiet is not None:
            drops = [f for f in firings if f[6] is not None and f[6].startswith("dropped")]
            if drops:
                keep = [f for f in firings if f not in drops]
        caps = self.caps
        if len(keep) > self.cap_any and (len(keep) > caps["group"] or not self.all_group):
            keep.sort(key=lambda f: (f[0], f[1], f[2]))
            used = {"group": 0, "members": 0, "moments": 0}
            kept = []
            for f in keep:
                kind = f[4].cap_kind
                used[kind] += 1
                if used[kind] > caps[kind]:
                    drops.append((*f[:6], f"dropped: over the cap of {caps[kind]} "
                                  f"{_CAP_NAMES[kind]} a day"))
                else:
                    kept.append(f)
            keep = kept
        return keep, drops

    def _emit(self, gi: _GroupInfo, today: _Day, firings: list[_Firing],
              sink: Callable[[Any], None], dropped: bool = False) -> None:
        """Turn a group's firings that may reach [lo, hi] into occurrences, one per
        message, for ``sink``; a dropped one goes with its reason."""
        d, dstr, lo, hi, clock = today.d, today.dstr, today.lo, today.hi, self.clock
        life = (d - gi.opened).days + 1
        values = None
        for t0, sid, j, m, si, offs, note in firings:
            if t0 + offs[-1] < lo or t0 > hi:
                continue
            idx = si.idx
            k = self._count_before(si, gi.opened, d) * si.per_day + j if si.rotates else 0
            mk = (idx, life, k)
            msgs = today.msgs.get(mk)
            if msgs is None:
                msgs = today.msgs[mk] = [(t, f, a, self._names_of(t))
                                         for t, f, a in self._messages(si, life, k)]
            if values is None:
                values = {**gi.values, **today.day_values, "day": life, "lesson": life}
            at = today.at_of.get(t0)
            if at is None:
                at = today.at_of[t0] = clock.at(d, t0)
            utc0, local0, dst_note = at
            if note is None:
                notes = (dst_note,) if dst_note else ()
            else:
                notes = (note, dst_note) if dst_note else (note,)
            slot = si.slot
            who = _account_key(gi.g.owner) if si.cap_kind == "moments" else gi.id
            prefix = (f"{who}/{sid}/{dstr}T{m // 60:02d}{m % 60:02d}/" if si.multi
                      else f"{who}/{sid}/{dstr}/")
            channel, delivery = gi.channels[idx], gi.deliveries[idx]
            for seq, (off, (tmpl, fmt, att, names)) in enumerate(zip(offs, msgs, strict=False)):
                if off:
                    utc = utc0 + timedelta(seconds=off)
                    local = today.local_of.get(utc)
                    if local is None:
                        local = today.local_of[utc] = utc.astimezone(clock.tz)
                else:
                    utc, local = utc0, local0
                text, refused = (tmpl, "") if names is None else self._render(
                    tmpl, values, today.renders)
                occ = Occurrence(
                    prefix + str(seq), gi.id, sid, seq, utc, local, channel, slot.kind,
                    text, fmt, slot.mention, slot.target, delivery, si.grace_s, att, life,
                    (*notes, refused) if refused else notes, refused)
                sink((occ, note or "") if dropped else occ)


class _Day:
    """One local day being planned: its window and the caches its groups share."""

    __slots__ = ("at_of", "d", "day_values", "dstr", "fires", "hi", "late", "lo", "local_of",
                 "moments_seen", "msgs", "quiet", "renders")

    def __init__(self, d: date, lo: float, hi: float, late: float | None):
        self.d, self.lo, self.hi = d, lo, hi
        self.late = late  # a slot whose latest wall second is before this is skipped
        self.dstr = d.isoformat()
        self.day_values = {"date": self.dstr, "weekday": WEEKDAYS_ZH[d.weekday()]}
        self.fires: dict[date, list[_SlotInfo]] = {}  # opening date -> slots firing
        self.msgs: dict[tuple[int, int, int], list] = {}  # (slot, life day, rotation)
        self.renders: dict = {}
        self.local_of: dict[datetime, datetime] = {}
        self.quiet: dict[tuple[int, int], tuple[int, str | None]] = {}
        self.at_of: dict[int, tuple[datetime, datetime, str | None]] = {}
        self.moments_seen: set[tuple[str, int]] = set()

def _account_key(owner: str | None) -> str:
    """An ASCII key part for a staff account (ledger keys travel in HTTP headers)."""
    if not owner:
        return "moments-all"
    import hashlib

    return "moments-" + hashlib.blake2b(owner.encode(), digest_size=4).hexdigest()


_CAP_NAMES = {"group": "posts per group", "members": "1:1 messages per member",
              "moments": "Moments posts"}


def _offsets_hint(si: _SlotInfo) -> list[int]:
    """Longest possible sequence span of a slot, for how far back a window must look."""
    if si.fixed_offsets is not None:
        return si.fixed_offsets
    hi = si.slot.spacing_s[1]
    waits = [hi if m.wait_s is None else m.wait_s for m in si.slot.sequence[1:]]
    return [sum(waits)]
