"""A rehearsal: one day of a playbook's timetable replayed on the console, at any hour.

The real runner does the work — claims in a ledger, sends through a channel, records the
result — but every part that could reach the outside is replaced: the ledger is a SQLite
file in a temporary directory deleted afterwards, the only channel is a console channel
built here (never a playbook channel, whatever it is called), and the clock is a
:class:`FakeClock` stepped from one planned instant to the next, so a day is replayed in
seconds. Nothing here opens the real ledger or reads a secret; production ``run`` is
unchanged.

The day is today in the playbook's timezone; when today has nothing planned, the next day
(within a week) that has something.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..i18n import _

if TYPE_CHECKING:
    from rich.console import Console

    from .runner import Book

SEARCH_DAYS = 7  # how far ahead a rehearsal looks for a day with something planned
CONSOLE = "console"


@dataclass(slots=True)
class Rehearsal:
    """What one rehearsal did, read back from its throwaway ledger."""

    playbook: str
    timezone: str
    day: date
    planned: int = 0
    recorded: Counter = field(default_factory=Counter)  # status -> rows in the ledger
    times: int = 0  # distinct instants replayed


def rehearsal_day(book: Book, now: datetime) -> tuple[date, list[Any]]:
    """The local day to replay and its occurrences: today, else the next day with some."""
    from ..plan import build_plan
    from ..plan.timing import LocalClock

    pb = book.playbook
    clock = LocalClock(pb.timezone)
    today = now.astimezone(clock.tz).date()
    for i in range(SEARCH_DAYS + 1):
        day = today + timedelta(days=i)
        start, end = clock.day_start(day), clock.day_start(day + timedelta(days=1))
        occs = [o for o in build_plan(pb, start, end) if start <= o.at_utc < end]
        if occs:
            return day, sorted(occs, key=lambda o: (o.at_utc, o.key))
    return today, []


async def rehearse_book(book: Book, now: datetime, out: Console, *, env: dict[str, str],
                        log: Any = None) -> Rehearsal:
    """Replay one playbook's day on ``out`` through the runner; returns what was recorded."""
    from ..playbook.model import Channel as ChannelModel
    from ..timefmt import clock as fmt_clock
    from .channels import make_channels
    from .clock import FakeClock
    from .delivery import DeliveryContext
    from .ledger import Ledger
    from .runner import Runner, RunOptions

    pb = book.playbook
    day, occs = rehearsal_day(book, now)
    result = Rehearsal(pb.name, pb.timezone, day, planned=len(occs))
    if not occs:
        return result
    times = sorted({o.at_utc for o in occs})
    result.times = len(times)
    with tempfile.TemporaryDirectory(prefix="sopctl-rehearsal-") as tmp:
        state = Path(tmp)
        ledger = Ledger(f"sqlite:///{state / 'rehearsal.db'}")
        # one console channel, built from its type: a playbook channel named "console" with
        # another type is never used
        channels = make_channels({CONSOLE: ChannelModel(type=CONSOLE)}, env={}, client=None,
                                 state_dir=state, ctx=DeliveryContext())
        for ch in channels.values():
            ch.out = out
        fake = FakeClock(times[0])
        opts = RunOptions(once=True, since=times[0], channel=CONSOLE, state_dir=state)
        runner = Runner([book], ledger, fake, opts, channels=channels, log=log, env=env)
        try:
            for t in times:
                fake.set(t)
                out.rule(_("{time} · rehearsal").format(time=fmt_clock(t, pb.timezone)),
                         align="left", style="dim")
                await runner.tick(t)
            result.recorded.update(ledger.counts(playbook=pb.name))
        finally:
            for ch in channels.values():
                await ch.aclose()
            ledger.close()
    return result


def banner(book: Book, day: date, today: date, out: Console) -> None:
    """Say what is about to happen before the first message."""
    from rich.text import Text

    pb = book.playbook
    out.print(Text(_("Rehearsal of {name}: the timetable of {day} ({tz}) replayed on the "
                     "console, minutes compressed to moments.").format(
        name=pb.name, day=day.isoformat(), tz=pb.timezone), style="bold"))
    if day != today:
        out.print(_("Nothing is planned for today ({today}); rehearsing {day}, the next day "
                    "with messages.").format(today=today.isoformat(), day=day.isoformat()))
    out.print(Text(_("Throwaway ledger, console only: no real channel and no real ledger "
                     "is touched."), style="dim"))


def summary(results: list[Rehearsal], out: Console) -> None:
    """The closing table: planned, delivered and recorded, per playbook."""
    from ..i18n import ngettext
    from ..tables import Col, render

    rows = []
    for r in results:
        recorded = sum(r.recorded.values())
        rows.append((r.playbook, f"{r.day.isoformat()} {r.timezone}", str(r.planned),
                     str(r.recorded.get("sent", 0)), str(recorded),
                     ", ".join(f"{k} {v}" for k, v in sorted(r.recorded.items())
                               if k != "sent") or "-"))
    cols = [Col(_("playbook")), Col(_("day")), Col(_("planned"), justify="right"),
            Col(_("delivered"), justify="right"), Col(_("recorded"), justify="right"),
            Col(_("other"), wrap=True)]
    out.print()
    render(out, cols, rows, title=_("Rehearsal finished"))
    sent = sum(r.recorded.get("sent", 0) for r in results)
    out.print(ngettext("{n} message was delivered to the console and recorded in the "
                       "rehearsal's ledger, which is now deleted.",
                       "{n} messages were delivered to the console and recorded in the "
                       "rehearsal's ledger, which is now deleted.", sent).format(n=sent))
    out.print(_("Next: `sopctl agenda` shows the week ahead; `sopctl run --once` sends what is "
                "due now through the playbook's channels and records it in ./.sopctl."))
