"""`sopctl status`: what comes next, what went out last, what failed, what waited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from ._common import STATE_DIR_OPTION, STORE_OPTION


class StatusFormat(StrEnum):
    table = "table"
    json = "json"


def status(
    playbooks: list[str] = typer.Argument(None, help="Playbooks whose plan to show (default: "
                                          "the one here, if any)."),
    next_n: int = typer.Option(10, "--next", min=0, max=10_000,
                               help="How many upcoming occurrences to show."),
    store: str = STORE_OPTION,
    state_dir: Path = STATE_DIR_OPTION,
    fmt: StatusFormat = typer.Option(StatusFormat.table, "--format", "-f",
                                     help="table, or json (one JSON document)."),
    as_json: bool = typer.Option(False, "--json", help="Same as --format json."),
) -> None:
    """Next occurrences from the plan, and the ledger's last sends, failures and waits."""
    from ..run.clock import default_clock
    from .run import open_ledger

    now = default_clock().now()
    upcoming = _upcoming(playbooks, now, next_n)
    ledger = open_ledger(store, state_dir)
    try:
        day = now - timedelta(hours=24)
        counts = ledger.counts(since=day)
        last = ledger.rows(statuses=["sent", "pending-confirmation"], limit=5,
                           newest_first=True)
        failures = ledger.rows(since=day, statuses=["failed", "uncertain"], limit=10,
                               newest_first=True)
        retried = [r for r in ledger.rows(since=day, limit=2000, newest_first=True)
                   if r["attempts"] > 1 or "rate" in (r["reason"] or "").lower()]
    finally:
        ledger.close()
    if as_json or fmt is StatusFormat.json:
        import json

        def row(r: dict[str, Any]) -> dict[str, Any]:
            return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()}

        typer.echo(json.dumps({
            "now": now.isoformat(), "last_24h": counts,
            "next": [{"playbook": n, "at_utc": o.at_utc.isoformat(), "local": o.local.isoformat(),
                      "group": o.group, "slot": o.slot, "channel": o.channel}
                     for n, o in upcoming],
            "last_sends": [row(r) for r in last], "failures": [row(r) for r in failures],
            "rate_limited_or_retried": len(retried)}, ensure_ascii=False))
        return
    _render(now, counts, upcoming, last, failures, retried)


def _upcoming(paths: list[str] | None, now: datetime, n: int) -> list[tuple[str, Any]]:
    from ..plan import iter_plan
    from ..playbook.discover import find_playbook
    from ._common import load_or_exit

    targets = list(paths or [])
    if not targets:
        found = find_playbook(required=False)
        targets = [found] if found else []
    out: list[tuple[str, Any]] = []
    for p in targets:
        # a named playbook that is missing or broken says so, never vanishes from the list
        loaded = load_or_exit(p)[1]
        for i, o in enumerate(iter_plan(loaded.playbook, now, now + timedelta(days=8))):
            if i >= n:
                break
            out.append((loaded.playbook.name, o))
    out.sort(key=lambda x: x[1].at_utc)
    return out[:n]


def _render(now: datetime, counts: dict[str, int], upcoming: list, last: list, failures: list,
            retried: list) -> None:
    from rich.markup import escape
    from rich.table import Table

    from ..console import console

    c = console()
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing recorded"
    c.print(f"[bold]last 24 h:[/] {escape(summary)}")
    if upcoming:
        t = Table(title="next occurrences", title_justify="left")
        for col in ("local time", "in", "playbook", "group", "slot", "channel"):
            t.add_column(col)
        for name, o in upcoming:
            mins = int((o.at_utc - now).total_seconds() // 60)
            t.add_row(o.local.strftime("%m-%d %H:%M"), f"{mins // 60}h{mins % 60:02d}m",
                      escape(name), escape(o.group), escape(o.slot), escape(o.channel))
        c.print(t)
    for title, rows in (("last sends", last), ("failures and uncertain (24 h)", failures)):
        if not rows:
            continue
        t = Table(title=title, title_justify="left")
        for col in ("scheduled (UTC)", "group", "slot", "status", "reason"):
            t.add_column(col, overflow="fold")
        for r in rows:
            t.add_row(r["scheduled_utc"].astimezone(UTC).strftime("%m-%d %H:%M"),
                      escape(r["group_id"]), escape(r["slot"]), r["status"],
                      escape(r["reason"] or ""))
        c.print(t)
    c.print(f"rate-limit waits and retries (24 h): {len(retried)}"
            + (f"; latest: {escape(retried[0]['reason'] or 'retried')}" if retried else ""))
