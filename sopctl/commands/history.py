"""`sopctl history`: what the ledger says was sent, skipped, failed or left uncertain."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from ._common import STATE_DIR_OPTION, STORE_OPTION


class HistoryFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


COLUMNS = ("scheduled_utc", "playbook", "group_id", "slot", "seq", "channel", "status",
           "attempts", "reason", "key", "finished_at")


def history(
    since: str = typer.Option(None, "--since", help="24h, 7d or an ISO date-time "
                              "(default: everything)."),
    group: str = typer.Option(None, "--group", "-g", help="Only this group id."),
    status: list[str] = typer.Option(None, "--status", help="Only these statuses (repeatable): "
                                     "sent failed skipped uncertain pending-confirmation "
                                     "claimed sending."),
    uncertain: bool = typer.Option(False, "--uncertain", help="Only uncertain deliveries (a "
                                   "crash between claim and result)."),
    playbook: str = typer.Option(None, "--playbook", help="Only this playbook (by name)."),
    limit: int = typer.Option(None, "--limit", min=1, help="At most this many rows (newest)."),
    fmt: HistoryFormat = typer.Option(HistoryFormat.table, "--format", "-f",
                                      help="table, json (one object per line, as logs "
                                      "are read) or csv."),
    store: str = STORE_OPTION,
    state_dir: Path = STATE_DIR_OPTION,
) -> None:
    """List deliveries from the ledger, oldest first."""
    from ..errors import UsageError
    from ..run.ledger import STATUSES
    from .run import open_ledger, parse_since

    statuses = list(status or [])
    if uncertain:
        statuses.append("uncertain")
    for s in statuses:
        if s not in STATUSES:
            raise UsageError(f"--status {s}: unknown status", hint=", ".join(STATUSES))
    ledger = open_ledger(store, state_dir)
    try:
        rows = ledger.rows(since=parse_since(since, datetime.now(UTC)), group=group,
                           statuses=statuses or None, playbook=playbook, limit=limit,
                           newest_first=bool(limit))
    finally:
        ledger.close()
    if limit:
        rows.reverse()
    render_rows(rows, fmt.value)


def _cell(v: Any) -> str:
    if isinstance(v, datetime):
        return v.isoformat(timespec="seconds")
    return "" if v is None else str(v)


def render_rows(rows: list[dict[str, Any]], fmt: str) -> None:
    import sys

    if fmt == "json":
        import json

        for r in rows:
            sys.stdout.write(json.dumps({k: (_cell(v) if isinstance(v, datetime) else v)
                                         for k, v in r.items()}, ensure_ascii=False) + "\n")
        return
    if fmt == "csv":
        import csv

        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([_cell(r.get(c)) for c in COLUMNS])
        return
    from rich.cells import cell_len
    from rich.markup import escape
    from rich.table import Table

    from ..console import console

    if not rows:
        console().print("no deliveries match")
        return
    style = {"sent": "green", "failed": "red", "uncertain": "magenta", "skipped": "yellow",
             "pending-confirmation": "cyan", "claimed": "blue"}
    headers = ("scheduled (UTC)", "playbook", "group", "slot", "channel", "status", "tries",
               "reason")
    cells = [(r["scheduled_utc"].strftime("%Y-%m-%d %H:%M"), r["playbook"], r["group_id"],
              f"{r['slot']}#{r['seq']}" if r["seq"] else r["slot"], r["channel"], r["status"],
              str(r["attempts"]), r["reason"] or "") for r in rows]
    # Widths from the content (CJK counts double). Only the reason folds; on a narrow
    # terminal the names give way first, never below their header, so no column is
    # squeezed under one CJK character (which would then vanish).
    widths = [max(cell_len(h), *(cell_len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    width = console().width
    keep = list(range(len(headers)))

    def short() -> int:  # cells missing for a reason column of 20
        return 20 + sum(widths[i] + 3 for i in keep[:-1]) - width

    for i in (1, 3, 4, 2):
        if short() > 0:
            widths[i] = max(cell_len(headers[i]), widths[i] - short())
    for i in (6, 4):  # then tries, then channel, go
        if short() > 0:
            keep.remove(i)
    widths[-1] = max(6, min(widths[-1], width - sum(widths[i] + 3 for i in keep[:-1])))
    t = Table(title=f"{len(rows)} deliveries", title_justify="left", show_edge=False,
              pad_edge=False)
    for i in keep:
        t.add_column(headers[i], width=widths[i], no_wrap=i != 7,
                     overflow="fold" if i == 7 else "ellipsis")
    for c in cells:
        t.add_row(*(f"[{style.get(c[5], '')}]{c[5]}[/]" if i == 5 else escape(c[i])
                    for i in keep))
    console().print(t)
