"""A small 5-field cron parser (minute hour day-of-month month day-of-week).

Ours rather than APScheduler's so that `sopctl lint` can validate cron expressions
without importing the scheduler. Semantics follow Vixie cron (entry.c, cron.c) exactly:

* a day field whose text starts with ``*`` (``*``, ``*/2``) sets DOM_STAR / DOW_STAR;
  when either flag is set a day must match both fields, otherwise (both restricted)
  either field: ``0 12 */2 * 1`` is "odd days that are Mondays", ``0 0 1,15 * 5`` is
  "the 1st, the 15th and every Friday";
* day of week 0 and 7 are both Sunday;
* a step needs a range: ``*/5`` and ``10-50/5``; Vixie refuses ``5/10`` (4.x) or ignores
  its step (3.x), so it is an error here rather than a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..i18n import N_, _

_MONTHS = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DOWS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_FIELDS = ((N_("minute"), 0, 59, {}), (N_("hour"), 0, 23, {}), (N_("day of month"), 1, 31, {}),
           (N_("month"), 1, 12, _MONTHS), (N_("day of week"), 0, 7, _DOWS))
_MACROS = {"@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
           "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
           "@annually": "0 0 1 1 *"}


@dataclass(frozen=True, slots=True)
class CronSpec:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday, as cron counts
    days_any: bool  # Vixie's DOM_STAR: the field's text starts with "*"
    weekdays_any: bool  # DOW_STAR

    def matches_day(self, d: date) -> bool:
        if d.month not in self.months:
            return False
        dom = d.day in self.days
        dow = (d.isoweekday() % 7) in self.weekdays
        # cron.c: (DOM_STAR || DOW_STAR) ? (dom && dow) : (dom || dow)
        if self.days_any or self.weekdays_any:
            return dom and dow
        return dom or dow

    def times(self) -> list[tuple[int, int]]:
        """(hour, minute) pairs in a day, sorted."""
        return sorted((h, m) for h in self.hours for m in self.minutes)


def _value(token: str, lo: int, hi: int, names: dict[str, int], label: str) -> int:
    key = token.lower()
    if key in names:
        return names[key]
    if not token.isdigit():
        raise ValueError(_("'{token}' is not a valid {field}").format(token=token,
                                                                       field=_(label)))
    v = int(token)
    if not lo <= v <= hi:
        raise ValueError(_("{field} {value} is out of range {lo}-{hi}").format(
            field=_(label), value=v, lo=lo, hi=hi))
    return v


def _field(text: str, lo: int, hi: int, names: dict[str, int], label: str) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ValueError(_("empty item in {field} field '{text}'").format(
                field=_(label), text=text))
        base, _sep, step_s = part.partition("/")
        step = 1
        if step_s:
            if not step_s.isdigit() or int(step_s) == 0:
                raise ValueError(_("bad step '/{step}' in {field} field").format(
                    step=step_s, field=_(label)))
            step = int(step_s)
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = _value(a, lo, hi, names, label), _value(b, lo, hi, names, label)
            if end < start:
                raise ValueError(_("range {range} in {field} field is reversed").format(
                    range=base, field=_(label)))
        else:
            if step_s:
                raise ValueError(_("step '/{step}' after a single {field} '{value}'; write a "
                                   "range, e.g. '{value}-{hi}/{step}'").format(
                    step=step_s, field=_(label), value=base, hi=hi))
            start = end = _value(base, lo, hi, names, label)
        out.update(range(start, end + 1, step))
    return out


def parse_cron(expr: str) -> CronSpec:
    """Parse '30 7 * * 1-5' style expressions; raises ValueError with a precise reason."""
    text = _MACROS.get(expr.strip().lower(), expr)
    parts = text.split()
    if len(parts) != 5:
        raise ValueError(_(
            "cron expression '{expr}' has {n} fields; write 5: minute hour day-of-month "
            "month day-of-week").format(expr=expr, n=len(parts)))
    sets = [_field(p, lo, hi, names, label)
            for p, (label, lo, hi, names) in zip(parts, _FIELDS, strict=True)]
    weekdays = {0 if d == 7 else d for d in sets[4]}
    return CronSpec(frozenset(sets[0]), frozenset(sets[1]), frozenset(sets[2]),
                    frozenset(sets[3]), frozenset(weekdays),
                    days_any=parts[2].startswith("*"), weekdays_any=parts[4].startswith("*"))
