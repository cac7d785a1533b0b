"""`sopctl agenda`: what will be sent, when, to which group, through which channel."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..errors import UsageError
from ..i18n import _, ngettext
from ._common import BOM_OPTION

if TYPE_CHECKING:
    from ..playbook.loader import Loaded


class AgendaFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    ics = "ics"


def agenda(
    playbook: str = typer.Argument(None, help="The playbook; default: the one in this "
                                   "directory (sopctl.yaml, playbook.yaml, or the only one)."),
    from_: str = typer.Option(None, "--from", help="First local day, YYYY-MM-DD "
                              "(default: today in the playbook's timezone)."),
    days: int = typer.Option(7, "--days", "-n", min=1, max=3660, help="How many days."),
    group: list[str] = typer.Option(None, "--group", "-g",
                                    help="Only this group (id or name); repeatable."),
    fmt: AgendaFormat = typer.Option(AgendaFormat.table, "--format", "-f"),
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file."),
    bom: bool = BOM_OPTION,
) -> None:
    """List the planned messages: local time, UTC, group, slot, kind, channel and text."""
    from datetime import timedelta

    from ..plan.build import build_plan
    from ..plan.groups import group_display_name, playbook_groups
    from ..plan.timing import LocalClock
    from ._common import first_day, load_or_exit, with_bom, write_output

    path, loaded = load_or_exit(playbook)
    pb = loaded.playbook
    _warn_if_run_would_refuse(path, loaded)
    first = first_day(from_, "--from", pb.timezone, days)
    groups = playbook_groups(pb)
    if group:
        wanted = set(group)
        picked = [g for g in groups if g.id in wanted or (g.name and g.name in wanted)]
        found = {g.id for g in picked} | {g.name for g in picked if g.name}
        missing = [w for w in group if w not in found]
        if missing:
            known = ", ".join(g.id for g in groups[:20]) or _("none")
            raise UsageError(_("no group {names} in {path}").format(
                names=", ".join(repr(m) for m in missing), path=path),
                hint=_("groups: {known}").format(known=known))
        groups = picked
    clock = LocalClock(pb.timezone)
    start, end = clock.day_start(first), clock.day_start(first + timedelta(days=days))
    occs = build_plan(pb, start, end, groups=groups)
    names = {g.id: group_display_name(pb, g) for g in groups}

    if fmt is AgendaFormat.table:
        if output is not None:
            raise UsageError(_("--output needs --format json, csv or ics"))
        _table(occs, names, pb.timezone, first, days)
        return
    from ..plan import export

    if fmt is AgendaFormat.json:
        text = export.to_json(occs) + "\n"
    elif fmt is AgendaFormat.csv:
        text = with_bom(export.to_csv(occs), bom, to_file=output is not None)
    else:
        text = export.to_ics(occs, calendar_name=pb.name, group_names=names)
    if output is not None:
        write_output(output, text)
        typer.echo(ngettext("wrote {n} occurrence to {path}", "wrote {n} occurrences to {path}",
                            len(occs)).format(n=f"{len(occs):,}", path=output), err=True)
    else:
        typer.echo(text, nl=False)


def _warn_if_run_would_refuse(path: str, loaded: Loaded) -> None:
    """The agenda shows what the plan says; `run` sends only a playbook without lint errors,
    so say so rather than list messages that would never go out as shown."""
    from ..run.reload import run_refusals

    errors = run_refusals(loaded)
    if errors:
        typer.echo(ngettext(
            "warning: {path} has {n} lint error: sopctl run refuses it until it is fixed "
            "(sopctl lint {path})",
            "warning: {path} has {n} lint errors: sopctl run refuses it until they are fixed "
            "(sopctl lint {path})", errors).format(path=path, n=errors), err=True)


def _table(occs: list, names: dict[str, str], tz: str, first: object, days: int) -> None:
    from ..console import console
    from ..i18n import current
    from ..plan.planner import WEEKDAYS_ZH
    from ..tables import Col, render

    out = console()
    n_days = ngettext("{n} day", "{n} days", days).format(n=days)
    if not occs:
        out.print(_("Nothing planned for {days} from {first} ({tz}).").format(
            days=n_days, first=first, tz=tz), markup=False)
        return
    title = ngettext("{n} message, {days} from {first} ({tz})",
                     "{n} messages, {days} from {first} ({tz})", len(occs)).format(
        n=f"{len(occs):,}", days=n_days, first=first, tz=tz)
    week = WEEKDAYS_ZH if current() == "zh-CN" else ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
                                                      "Sun")
    rows = []
    for o in occs:
        lines = o.text.splitlines()
        text = lines[0] + (" …" if len(lines) > 1 else "") if lines else ""
        if o.notes:
            text += f"  ({'; '.join(o.notes)})"
        rows.append((f"{o.local:%m-%d} {week[o.local.weekday()]} {o.local:%H:%M}",
                     (f"{o.at_utc:%m-%d %H:%M}Z", "dim"), names.get(o.group, o.group),
                     o.slot if o.seq == 0 else f"{o.slot}#{o.seq}", o.kind, o.channel, text))
    # the time column is headed by its zone: every time in it is local to the playbook
    cols = [Col(tz), Col("UTC", under=tz), Col(_("group")), Col(_("slot")),
            Col(_("kind"), under=_("slot")), Col(_("channel"), under=_("group")),
            Col(_("text"), wrap=True, min_width=20)]
    render(out, cols, rows, title=title)
