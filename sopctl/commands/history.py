"""`sopctl history`: what the ledger says was sent, skipped, failed or left uncertain."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from ..i18n import _
from ..run.reasons import show as reason_text
from ..run.reasons import status_text
from ._common import BOM_OPTION, STATE_DIR_OPTION, STORE_OPTION, with_bom


class HistoryFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


COLUMNS = ("scheduled_utc", "playbook", "group_id", "slot", "seq", "channel", "status",
           "attempts", "reason", "key", "finished_at")
# appended after the stable columns: the same instant on the playbook's clock, for people
LOCAL_COLUMNS = ("scheduled_local", "timezone")

def history(
    since: str = typer.Option(None, "--since", help="24h, 7d, today, a date or a date-time; "
                              "without an offset it is read in the playbook's timezone "
                              "(UTC when no playbook is known). Default: everything."),
    group: str = typer.Option(None, "--group", "-g", help="Only this group id."),
    status: list[str] = typer.Option(None, "--status", help="Only these statuses (repeatable): "
                                     "sent failed skipped uncertain pending-confirmation "
                                     "claimed sending."),
    uncertain: bool = typer.Option(False, "--uncertain", help="Only uncertain deliveries (a "
                                   "crash between claim and result)."),
    playbook: str = typer.Option(None, "--playbook", help="Only this playbook: its name, or "
                                 "its file (whose timezone then shows the times; default: the "
                                 "playbook found here, else UTC)."),
    limit: int = typer.Option(None, "--limit", min=1, help="At most this many rows (newest)."),
    fmt: HistoryFormat = typer.Option(HistoryFormat.table, "--format", "-f",
                                      help="table, json (one object per line, as logs "
                                      "are read) or csv."),
    store: str = STORE_OPTION,
    state_dir: Path = STATE_DIR_OPTION,
    output: Path = typer.Option(None, "--output", "-o", help="Write json or csv to this file."),
    bom: bool = BOM_OPTION,
) -> None:
    """List deliveries from the ledger, oldest first."""
    from ..errors import UsageError
    from ..run.ledger import STATUSES
    from ..timefmt import group_labels, parse_instant, shared_zone
    from .run import open_ledger

    statuses = list(status or [])
    if uncertain:
        statuses.append("uncertain")
    for s in statuses:
        if s not in STATUSES:
            raise UsageError(_("--status {status}: unknown status").format(status=s),
                             hint=", ".join(STATUSES))
    books, name = _books(playbook)
    zones = {n: pb.timezone for n, pb in books.items()}
    tz = zones.get(name) if name else shared_zone(zones)
    start = parse_instant(since, tz=tz, now=datetime.now(UTC), option="--since")
    if output is not None and fmt is HistoryFormat.table:
        raise UsageError(_("--output needs --format json or csv"))
    ledger = open_ledger(store, state_dir)
    try:
        rows = ledger.rows(since=start, group=group,
                           statuses=statuses or None, playbook=name, limit=limit,
                           newest_first=bool(limit))
    finally:
        ledger.close()
    if limit:
        rows.reverse()
    if output is None:
        if fmt is HistoryFormat.csv:
            sys.stdout.write(with_bom("", bom, to_file=False))
        render_rows(rows, fmt.value, zones, labels=group_labels(books))
        return
    import io

    from ._common import write_output

    buf = io.StringIO()
    render_rows(rows, fmt.value, zones, out=buf)
    text = buf.getvalue()
    if fmt is HistoryFormat.csv:
        text = with_bom(text, bom, to_file=True)
    write_output(output, text)


def _books(playbook: str | None) -> tuple[dict[str, Any], str | None]:
    """(playbook name -> Playbook, the name to filter on). ``--playbook`` is a name or a
    file; without it the playbook found here, if any, lends its timezone and group names."""
    from ..timefmt import known_playbooks

    if playbook and (playbook.endswith((".yaml", ".yml")) or Path(playbook).is_file()):
        from ._common import load_or_exit

        pb = load_or_exit(playbook)[1].playbook
        return {pb.name: pb}, pb.name
    return known_playbooks(), playbook


def _cell(v: Any) -> str:
    if isinstance(v, datetime):
        return v.isoformat(timespec="seconds")
    return "" if v is None else str(v)


def _local(r: dict[str, Any], zones: dict[str, str]) -> tuple[str, str]:
    """(local ISO time, zone) of a row's scheduled instant; UTC when its playbook's zone is
    not known here."""
    from ..timefmt import local, zone_label

    tz = zones.get(r["playbook"])
    return local(r["scheduled_utc"], tz).isoformat(timespec="seconds"), zone_label(tz)


def render_rows(rows: list[dict[str, Any]], fmt: str, zones: dict[str, str] | None = None,
                out: Any = None, labels: dict[tuple[str, str], str] | None = None) -> None:
    """Print ledger rows as a table, JSON lines or CSV. Times in the table are on each row's
    playbook clock (``zones``: name -> timezone), labelled; JSON and CSV keep UTC and add the
    local time after the stable fields."""
    import sys

    zones = zones or {}
    stream = out or sys.stdout
    if fmt == "json":
        import json

        for r in rows:
            rec = {k: (_cell(v) if isinstance(v, datetime) else v) for k, v in r.items()}
            rec["scheduled_local"], rec["timezone"] = _local(r, zones)
            stream.write(json.dumps(rec, ensure_ascii=False) + "\n")
        return
    if fmt == "csv":
        import csv

        w = csv.writer(stream, lineterminator="\n")
        w.writerow(COLUMNS + LOCAL_COLUMNS)
        for r in rows:
            w.writerow([_cell(r.get(c)) for c in COLUMNS] + list(_local(r, zones)))
        return
    _table(rows, zones, labels or {})


def _table(rows: list[dict[str, Any]], zones: dict[str, str],
           labels: dict[tuple[str, str], str]) -> None:
    from ..console import console
    from ..i18n import ngettext
    from ..tables import Col, render
    from ..timefmt import shared_zone, stamp, zone_label

    if not rows:
        console().print(_("no deliveries match"))
        return
    style = {"sent": "green", "failed": "red", "uncertain": "magenta", "skipped": "yellow",
             "pending-confirmation": "cyan", "claimed": "blue"}
    one = shared_zone(zones, sorted({r["playbook"] for r in rows}))
    # one zone for all rows: it heads the time column; several: each time names its own
    head = zone_label(one) if one or not zones else _("scheduled")
    cells = [(stamp(r["scheduled_utc"], zones.get(r["playbook"]), label=head == _("scheduled")),
              r["playbook"], labels.get((r["playbook"], r["group_id"]), r["group_id"]),
              f"{r['slot']}#{r['seq']}" if r["seq"] else r["slot"],
              r["channel"], (status_text(r["status"]), style.get(r["status"], "")),
              str(r["attempts"]),
              reason_text(r["reason"])) for r in rows]
    cols = [Col(head), Col(_("playbook"), under=_("group")), Col(_("group")), Col(_("slot")),
            Col(_("channel"), under=_("slot")), Col(_("status"), under=head),
            Col(_("tries"), justify="right"), Col(_("reason"), wrap=True)]
    title = ngettext("{n} delivery", "{n} deliveries", len(rows)).format(n=f"{len(rows):,}")
    render(console(), cols, cells, title=title)
