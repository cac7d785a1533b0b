"""Day matching against a table of known answers, worked out from Vixie cron's source.

entry.c sets DOM_STAR / DOW_STAR when a day field's *first character* is ``*`` (before the
field is parsed), and makes day-of-week 0 and 7 the same Sunday; cron.c then matches::

    ((e->flags & DOM_STAR) || (e->flags & DOW_STAR))
        ? (bit_test(e->dow, dow) && bit_test(e->dom, dom))
        : (bit_test(e->dow, dow) || bit_test(e->dom, dom))

November 2026: the 1st is a Sunday; Mondays 2 9 16 23 30; Fridays 6 13 20 27;
Saturdays 7 14 21 28; Sundays 1 8 15 22 29; Tuesdays 3 10 17 24; Thursdays 5 12 19 26.
"""

from __future__ import annotations

from datetime import date

import pytest

from sopctl.plan.cron import parse_cron

from ._pb import make, plan

ALL = list(range(1, 31))
ODD = list(range(1, 31, 2))

# expression -> the days of November 2026 it fires on (reasoned from the rule above)
KNOWN: dict[str, list[int]] = {
    "0 12 */2 * 1": [9, 23],  # DOM_STAR: odd days AND Mondays
    "0 0 1 * *": [1],  # DOW_STAR: the 1st only
    "* * 1-31 * 0-6": ALL,  # both restricted: OR of two full sets
    "0 0 * * 7": [1, 8, 15, 22, 29],  # 7 is Sunday
    "0 0 * * 0,7": [1, 8, 15, 22, 29],
    "0 0 1,15 * 5": [1, 6, 13, 15, 20, 27],  # both restricted: the 1st, the 15th OR Fridays
    "0 0 */1 * 1": [2, 9, 16, 23, 30],  # "*/1" starts with "*": Mondays only
    "0 0 * * *": ALL,
    "0 0 1-7 * 1": [1, 2, 3, 4, 5, 6, 7, 9, 16, 23, 30],  # OR
    "0 0 *,15 * 1": [2, 9, 16, 23, 30],  # first character "*": DOM_STAR, AND
    "0 0 15,* * 1": ALL,  # first character "1": restricted, OR with every day
    "0 0 1 * */2": [1],  # DOW_STAR (Sun Tue Thu Sat) AND the 1st (a Sunday)
    "0 0 13 * 5": [6, 13, 20, 27],  # OR: the 13th is itself a Friday
    "0 0 31 * *": [],  # November has no 31st
    "0 0 * * 5-7": [1, 6, 7, 8, 13, 14, 15, 20, 21, 22, 27, 28, 29],
    "0 0 1-31/2 * 1": sorted(set(ODD) | {2, 16, 30}),  # no "*": OR
    "0 0 */2 * */2": [1, 3, 5, 7, 15, 17, 19, 21, 29],  # both stars: AND
    "0 0 1 12 *": [],  # December only
    "0 0 * * sun": [1, 8, 15, 22, 29],
    "0 0 * * mon-wed": [2, 3, 4, 9, 10, 11, 16, 17, 18, 23, 24, 25, 30],
    "@weekly": [1, 8, 15, 22, 29],  # Vixie: "0 0 * * 0" with DOM_STAR
    "@monthly": [1],
}


@pytest.mark.parametrize("expr", list(KNOWN))
def test_day_matching_follows_vixie(expr: str) -> None:
    spec = parse_cron(expr)
    got = [d for d in range(1, 31) if spec.matches_day(date(2026, 11, d))]
    assert got == KNOWN[expr]


@pytest.mark.parametrize("expr", ["0 0 5/2 * *", "0 0 * * 1/2", "5/15 * * * *"])
def test_a_step_after_a_single_value_is_refused(expr: str) -> None:
    with pytest.raises(ValueError, match="write a range"):
        parse_cron(expr)


def test_the_plan_uses_the_same_rule() -> None:
    pb = make([{"id": "c", "kind": "k", "cron": "0 12 */2 * 1", "text": "x"}],
              groups=[{"id": "g001", "opened": "2026-10-01"}])
    occs = plan(pb, date(2026, 11, 1), 30)
    assert [o.local.day for o in occs] == [9, 23]
    assert all(o.local.hour == 12 for o in occs)
