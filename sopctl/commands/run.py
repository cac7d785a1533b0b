"""`sopctl run`: carry out playbooks on a cron host (a daemon, or `--once` per timer tick)."""

from __future__ import annotations

import os
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..errors import EXIT_FINDINGS, PlaybookError, UsageError
from ..i18n import _, ngettext
from ._common import STATE_DIR_OPTION, STORE_OPTION, port_option

if TYPE_CHECKING:
    from ..run.runner import Summary


class LogFormat(StrEnum):
    rich = "rich"
    json = "json"


def parse_since(value: str | None, now: datetime, tz: str | None = None) -> datetime | None:
    """'24h', '90m', '2d' (before now), a date, or an ISO 8601 date-time; one without an
    offset is a wall time in ``tz`` (the playbook's timezone; UTC when None)."""
    from ..timefmt import parse_instant

    return parse_instant(value, tz=tz, now=now, option="--since")


def state_dir_of(state_dir: Path | None) -> Path:
    from ..run.ledger import default_state_dir

    return Path(state_dir) if state_dir else default_state_dir()


def open_ledger(store: str | None, state_dir: Path | None, tick_id: str | None = None) -> Any:
    from ..run.ledger import Ledger, store_url

    return Ledger(store_url(store, state_dir_of(state_dir)), tick_id=tick_id)


def load_books(paths: list[str] | None, env: dict[str, str]) -> list[Any]:
    """Playbooks as the runner holds them; any error finding refuses them all."""
    from ..console import err_console
    from ..playbook.discover import find_playbook
    from ..run.reload import check_playbook
    from ..run.runner import Book

    targets = list(paths or [find_playbook()])
    books, bad = [], []
    from ._common import check_path

    for p in targets:
        if p == "-":
            raise UsageError(_("run needs playbook files: standard input cannot be watched "
                               "for changes"), hint=_("save it to a file and name that"))
        check_path(p)
        checked = check_playbook(p)
        if checked.playbook is None:
            bad.extend(checked.errors or checked.findings)
        else:
            books.append(Book(checked))
    if bad:
        for f in bad:
            err_console().print(f.short(), highlight=False, markup=False)
        raise PlaybookError(ngettext("{n} error in the playbook; nothing was run (fix it, "
                                     "`sopctl lint` shows details)",
                                     "{n} errors in the playbook; nothing was run (fix them, "
                                     "`sopctl lint` shows details)", len(bad))
                            .format(n=len(bad)), bad)
    names = [b.name for b in books]
    if len(set(names)) != len(names):
        raise UsageError(_("two playbooks share a name; the ledger tells them apart by name"))
    return books


def run(
    playbooks: list[str] = typer.Argument(None, help="Playbook files (default: the one here)."),
    once: bool = typer.Option(False, "--once", help="Process what is due since the last tick, "
                              "then exit (for cron or a systemd timer)."),
    store: str = STORE_OPTION,
    state_dir: Path = STATE_DIR_OPTION,
    resend_uncertain: bool = typer.Option(False, "--resend-uncertain",
                                          help="Send again what a crash left uncertain "
                                          "(if still inside its grace)."),
    since: str = typer.Option(None, "--since", help="Catch up from here: 24h, 90m, a date or "
                              "a date-time, read in the playbook's timezone unless it has an "
                              "offset (default: the last tick, else now minus the largest "
                              "grace)."),
    channel: str = typer.Option(None, "--channel", help="Send everything through this channel "
                                "(a name from the playbook, or a type such as console)."),
    log_format: LogFormat = typer.Option(LogFormat.rich, "--log-format",
                                         help="rich console lines or one JSON object a line."),
    metrics_port: int = port_option("--metrics-port",
                                    help="Serve Prometheus metrics on 127.0.0.1:PORT."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what is due; claim and send "
                                 "nothing."),
    shard: str = typer.Option(None, "--shard", envvar="SOPCTL_SHARD",
                              help="I/N: handle only the groups of shard I of N (stable hash); "
                              "see docs/scaling.md."),
    lease: float = typer.Option(60.0, "--lease", envvar="SOPCTL_LEASE", min=1.0,
                                help="Seconds a claim stays ours without a heartbeat; another "
                                "runner takes over after that."),
    rehearse: bool = typer.Option(False, "--rehearse", help="Replay today's timetable on the "
                                  "console in seconds, with a throwaway ledger: real sends, "
                                  "real records, no real channel or ledger touched. Works at "
                                  "any hour; try it first."),
) -> None:
    """Run playbooks: claim each due message in the ledger, send it, record the result."""
    import asyncio

    from ..run.clock import default_clock
    from ..run.hostlimit import host_context
    from ..run.metrics import EventLog, Metrics, serve_metrics
    from ..run.runner import Runner, RunOptions, parse_shard

    try:
        shard_t = parse_shard(shard)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    env = dict(os.environ)
    clock = default_clock()
    if rehearse:
        _refuse_with_rehearse(once=once, since=since, dry_run=dry_run, shard=shard,
                              resend_uncertain=resend_uncertain, metrics_port=metrics_port,
                              channel=channel)
        _rehearse(load_books(playbooks, env), clock.now(), env, log_format.value)
        return
    sd = state_dir_of(state_dir)
    books = load_books(playbooks, env)
    from ..timefmt import shared_zone

    tz = shared_zone({b.name: b.playbook.timezone for b in books})
    opts = RunOptions(once=once, since=parse_since(since, clock.now(), tz),
                      resend_uncertain=resend_uncertain, channel=channel, dry_run=dry_run,
                      state_dir=sd, lease_s=lease, shard=shard_t)
    ledger = open_ledger(store, state_dir, f"shard {shard_t[0]}/{shard_t[1]}" if shard_t else None)
    log = EventLog(log_format.value, tz=tz)
    metrics = Metrics()
    try:
        server = serve_metrics(metrics, metrics_port) if metrics_port else None
    except OSError as exc:
        from ..i18n.thirdparty import os_reason

        raise UsageError(f"--metrics-port {metrics_port}: {os_reason(exc)}") from None

    async def main() -> Summary:
        import signal

        from ..run.channelset import ChannelSet
        from ..run.delivery import make_client

        client = make_client(concurrency=200)
        channels = ChannelSet(override=channel, env=env, state_dir=sd, ctx=host_context(sd),
                              client=client)
        metrics.watch(channels.ctx.limiter)  # sopctl_rate_limit_wait_seconds_total
        channels.refresh([b.playbook for b in books],
                         where={i: f"{b.path}: " for i, b in enumerate(books)})
        runner = Runner(books, ledger, clock, opts, channels=channels.channels,
                        channel_set=channels, log=log, metrics=metrics, env=env)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, runner.stop)
        try:
            if once or dry_run:
                return await runner.run_once()
            log("start", f"running {', '.join(b.name for b in books)}; ledger "
                f"{ledger._safe_url()}", playbooks=[b.path for b in books])
            return await runner.run_forever()
        finally:
            await channels.aclose()
            await client.aclose()

    try:
        summary = asyncio.run(main())
    finally:
        ledger.close()
        if server is not None:
            server.shutdown()
    if dry_run:
        _print_dry(summary)
    else:
        _print_summary(summary, log_format.value)


def _print_summary(s: Summary, fmt: str) -> None:
    import json

    order = ("sent", "pending-confirmation", "failed", "uncertain", "skipped")
    counts = {k: s.counts.get(k, 0) for k in order}
    if fmt == "json":
        typer.echo(json.dumps({"summary": {**counts, "already_handled": s.already}}))
        return
    from ..console import console
    from ..run.reasons import status_text
    from ..tables import Col, render

    cols = [Col(status_text(k), justify="right") for k in order]
    render(console(), [*cols, Col(_("already handled"), justify="right")],
           [(*(f"{counts[k]:,}" for k in order), f"{s.already:,}")], title="sopctl run")


def _print_dry(s: Summary) -> None:
    from ..console import console
    from ..tables import Col, render
    from ..timefmt import stamp

    if not s.dry:
        console().print(_("due now: nothing (dry run, nothing claimed or sent)"))
        return
    # each time on its playbook's clock, labelled (o.local carries the playbook's zone)
    rows = [(name, stamp(o.at_utc, getattr(o.local.tzinfo, "key", None), year=False), o.group,
             o.slot, o.channel, o.text[:40].replace("\n", " ")) for name, o in s.dry[:200]]
    cols = [Col(_("playbook"), under=_("group")), Col(_("due (local time)")), Col(_("group")),
            Col(_("slot")), Col(_("channel"), under=_("slot")), Col(_("text"), wrap=True)]
    render(console(), cols, rows, title=_("due now: {n} (dry run, nothing claimed or sent)")
           .format(n=f"{len(s.dry):,}"))


def _refuse_with_rehearse(**given: Any) -> None:
    """A rehearsal has its own ledger, channel and clock: options about the real ones are
    refused rather than silently ignored."""
    from ..i18n import _

    clash = [k for k, v in given.items() if v and not (k == "channel" and v == "console")]
    if clash:
        names = ", ".join("--" + k.replace("_", "-") for k in clash)
        raise UsageError(_("--rehearse cannot be combined with {options}").format(options=names),
                         hint=_("a rehearsal replays today on the console with a throwaway "
                                "ledger; drop --rehearse to run for real"))


def _rehearse(books: list[Any], now: datetime, env: dict[str, str], fmt: str) -> None:
    import asyncio

    from ..console import console
    from ..run.metrics import EventLog
    from ..run.rehearse import banner, rehearsal_day, rehearse_book, summary
    from ..timefmt import local

    out = console()
    results = []
    for book in books:
        day, _occs = rehearsal_day(book, now)
        banner(book, day, local(now, book.playbook.timezone).date(), out)
        log = EventLog(fmt, tz=book.playbook.timezone)
        results.append(asyncio.run(rehearse_book(book, now, out, env=env, log=log)))
    summary(results, out)


__all__ = ["EXIT_FINDINGS", "run"]
