"""Parsing of the small time languages playbooks use: clock times, windows, durations.

Pure functions, no imports beyond the standard library. The model's validators call them
once per value as a playbook loads (and hold the result); they are memoized because a
timetable repeats the same few strings ("30m", "daily", "1-2m") across many slots, and
the model both checks a field and keeps its typed value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import time
from functools import lru_cache, wraps
from typing import TypeVar

from ..i18n import _

_CLOCK = re.compile(r"^\s*([01]?\d|2[0-3])\s*[:：]\s*([0-5]\d)\s*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$")
_DURATION_RANGE = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*[-~–]\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$"
)
_UNIT = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ALIASES = {
    **{d: i for i, d in enumerate(DAY_NAMES)},
    **{full: i for i, full in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))},
    **{zh: i for i, zh in enumerate(("周一", "周二", "周三", "周四", "周五", "周六", "周日"))},
    "周天": 6, "星期日": 6, "星期天": 6,
    **{f"星期{c}": i for i, c in enumerate("一二三四五六")},
}


_R = TypeVar("_R")


def memoized(fn: Callable[..., _R]) -> Callable[..., _R]:
    """``fn`` memoized on hashable values (by type too: 1, 1.0 and True differ). Only
    results are kept: a refusal is raised again, in the language of the moment."""
    cached = lru_cache(maxsize=1 << 14, typed=True)(fn)

    @wraps(fn)
    def call(value: object, **kw: str) -> _R:
        try:
            hash(value)
        except TypeError:  # a list or mapping where a scalar belongs: refused by fn
            return fn(value, **kw)
        return cached(value, **kw)

    call.cache_info = cached.cache_info  # type: ignore[attr-defined]
    call.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return call


@memoized
def parse_clock(value: object) -> time:
    """'07:30' or '7:30' -> time(7, 30). Integers are refused with the fix spelled out,
    because YAML 1.1 tools turn an unquoted 7:30 into 450."""
    if isinstance(value, time):
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        if isinstance(value, int):
            if 0 < value < 1440:
                raise ValueError(_(
                    "{value} is a number, not a clock time; write the time quoted, e.g. "
                    "\"07:30\" (a YAML 1.1 reader turns 7:30 into {value}; did you mean "
                    "\"{hhmm}\"?)").format(value=value,
                                           hhmm=f"{value // 60:02d}:{value % 60:02d}"))
            raise ValueError(_("{value} is a number, not a clock time; write the time quoted, "
                               "e.g. \"07:30\"").format(value=value))
        raise ValueError(_("expected a clock time like \"07:30\", got {type}").format(
            type=type(value).__name__))
    m = _CLOCK.match(value)
    if not m:
        raise ValueError(_("'{value}' is not a clock time; use HH:MM from 00:00 to "
                           "23:59").format(value=value))
    return time(int(m.group(1)), int(m.group(2)))


@memoized
def parse_window(value: object) -> tuple[time, time]:
    """'13:00-16:00' -> (13:00, 16:00). A window may not cross midnight."""
    if not isinstance(value, str) or not any(sep in value for sep in "-~–"):
        start = parse_clock(value)
        return start, start
    parts = re.split(r"\s*[-~–]\s*", value.strip(), maxsplit=1)
    start, end = parse_clock(parts[0]), parse_clock(parts[1])
    if end < start:
        raise ValueError(_("window '{value}' ends before it starts; split it at "
                           "midnight").format(value=value))
    return start, end


@memoized
def parse_duration(value: object, *, default_unit: str = "m") -> int:
    """'30m', '2h', '1d', '90s' or a bare number (in ``default_unit``) -> seconds."""
    if isinstance(value, bool):
        raise ValueError(_("expected a duration like \"30m\""))
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(_("a duration cannot be negative"))
        return int(value * _UNIT[default_unit])
    if not isinstance(value, str):
        raise ValueError(_("expected a duration like \"30m\", \"2h\" or \"1d\""))
    m = _DURATION.match(value)
    if not m:
        raise ValueError(_("'{value}' is not a duration; write e.g. 90s, 30m, 2h or "
                           "1d").format(value=value))
    return int(float(m.group(1)) * _UNIT[m.group(2) or default_unit])


@memoized
def parse_duration_range(value: object, *, default_unit: str = "m") -> tuple[int, int]:
    """'1-2m' -> (60, 120) seconds; a single duration gives (d, d)."""
    if isinstance(value, str):
        m = _DURATION_RANGE.match(value)
        if m:
            unit_hi = m.group(4) or m.group(2) or default_unit
            unit_lo = m.group(2) or unit_hi
            lo = int(float(m.group(1)) * _UNIT[unit_lo])
            hi = int(float(m.group(3)) * _UNIT[unit_hi])
            if hi < lo:
                raise ValueError(_("range '{value}' is reversed; write the smaller bound "
                                   "first").format(value=value))
            return lo, hi
    d = parse_duration(value, default_unit=default_unit)
    return d, d


@memoized
def parse_weekday(value: object) -> int:
    """'wed', 'Wednesday', '周三' or 0-6 (Monday=0) -> 0-6."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    if isinstance(value, str):
        key = value.strip().lower()
        if key in _DAY_ALIASES:
            return _DAY_ALIASES[key]
    raise ValueError(_("'{value}' is not a day of the week; use mon, tue, wed, thu, fri, sat, "
                       "sun").format(value=value))


@memoized
def parse_day_range(value: object) -> tuple[int, int | None]:
    """'1-14' -> (1, 14); '15-' or '15+' -> (15, None); 7 -> (7, 7). Days count from 1."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(_("days count from 1 (the day the group opens)"))
        return value, value
    if isinstance(value, str):
        m = re.match(r"^\s*(\d+)\s*(?:[-~–]\s*(\d*)|\+)?\s*$", value)
        if m:
            lo = int(m.group(1))
            hi_raw = m.group(2)
            if "-" not in value and "~" not in value and "–" not in value and "+" not in value:
                hi: int | None = lo
            else:
                hi = int(hi_raw) if hi_raw else None
            if lo < 1 or (hi is not None and hi < lo):
                raise ValueError(_bad_day_range(value))
            return lo, hi
    raise ValueError(_bad_day_range(value))


def _bad_day_range(value: object) -> str:
    return _("'{value}' is not a day range; write e.g. \"1-14\" or \"15-\"").format(value=value)

