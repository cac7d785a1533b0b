"""`sopctl status`: what comes next, what went out last, what failed, what waited."""

from __future__ import annotations

from datetime import datetime, timedelta
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
    zones: dict[str, str] = {}
    labels: dict[tuple[str, str], str] = {}  # (playbook, group id) -> the group's name
    upcoming = _upcoming(playbooks, now, next_n, zones, labels)
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

        from ..timefmt import local

        def row(r: dict[str, Any]) -> dict[str, Any]:
            out = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()}
            tz = zones.get(r["playbook"])
            out["scheduled_local"] = local(r["scheduled_utc"], tz).isoformat()
            out["timezone"] = tz or "UTC"
            return out

        typer.echo(json.dumps({
            "now": now.isoformat(), "last_24h": counts,
            "next": [{"playbook": n, "at_utc": o.at_utc.isoformat(), "local": o.local.isoformat(),
                      "group": o.group, "slot": o.slot, "channel": o.channel}
                     for n, o in upcoming],
            "last_sends": [row(r) for r in last], "failures": [row(r) for r in failures],
            "rate_limited_or_retried": len(retried)}, ensure_ascii=False))
        return
    _render(now, counts, upcoming, last, failures, retried, zones, labels)


def _upcoming(paths: list[str] | None, now: datetime, n: int, zones: dict[str, str],
              labels: dict[tuple[str, str], str]) -> list[tuple[str, Any]]:
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
        zones[loaded.playbook.name] = loaded.playbook.timezone
        from ..timefmt import group_labels

        labels.update(group_labels({loaded.playbook.name: loaded.playbook}))
        for i, o in enumerate(iter_plan(loaded.playbook, now, now + timedelta(days=8))):
            if i >= n:
                break
            out.append((loaded.playbook.name, o))
    out.sort(key=lambda x: x[1].at_utc)
    return out[:n]


def _render(now: datetime, counts: dict[str, int], upcoming: list, last: list, failures: list,
            retried: list, zones: dict[str, str],
            labels: dict[tuple[str, str], str] | None = None) -> None:
    from rich.markup import escape

    from ..console import console
    from ..i18n import _
    from ..run.reasons import show as reason_text
    from ..run.reasons import status_text
    from ..tables import Col, render
    from ..timefmt import shared_zone, stamp, zone_label

    c = console()
    one = shared_zone(zones)
    # one playbook clock: it heads the time columns; several: each time names its zone
    head = zone_label(one) if one or not zones else _("time")

    def when(t: datetime, name: str) -> str:
        return stamp(t, zones.get(name), year=False, label=head == _("time"))

    summary = ", ".join(f"{status_text(k)} {v:,}" for k, v in sorted(counts.items())) \
        or _("nothing recorded")
    c.print("[bold]" + escape(_("last 24 h:")) + f"[/] {escape(summary)}")
    if upcoming:
        rows = []
        for name, o in upcoming:
            mins = int((o.at_utc - now).total_seconds() // 60)
            group = (labels or {}).get((name, o.group), o.group)
            rows.append((when(o.at_utc, name), f"{mins // 60}h{mins % 60:02d}m", name, group,
                         o.slot, o.channel))
        cols = [Col(head), Col(_("in"), under=head), Col(_("playbook"), under=_("group")),
                Col(_("group")), Col(_("slot")), Col(_("channel"), under=_("slot"))]
        render(c, cols, rows, title=_("next occurrences"))
    for title, got in ((_("last sends"), last), (_("failures and uncertain (24 h)"), failures)):
        if not got:
            continue
        cols = [Col(head), Col(_("group")), Col(_("slot")), Col(_("status"), under=head),
                Col(_("reason"), wrap=True)]
        render(c, cols, [(when(r["scheduled_utc"], r["playbook"]),
                          (labels or {}).get((r["playbook"], r["group_id"]), r["group_id"]),
                          r["slot"],
                          status_text(r["status"]), reason_text(r["reason"])) for r in got],
               title=title)
    latest = ("; " + _("latest: {reason}").format(
        reason=reason_text(retried[0]["reason"]) or _("retried"))
              if retried else "")
    c.print(escape(_("rate-limit waits and retries (24 h): {n}").format(n=f"{len(retried):,}")
                   + latest))
