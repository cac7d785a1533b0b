"""`sopctl simulate`: the member-dynamics forecast of a playbook."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..errors import UsageError
from ..i18n import _, ngettext
from ._common import BOM_OPTION

if TYPE_CHECKING:
    from datetime import date

    from ..playbook.model import Playbook

_PROGRESS_MIN_WORK = 20_000_000  # member-days above which a progress bar is worth showing


class SimFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _load(path: str) -> Playbook:
    from ._common import load_or_exit

    return load_or_exit(path)[1].playbook


def simulate(
    playbook: str = typer.Argument(None, help="The playbook (default: the one found here)."),
    days: int = typer.Option(14, "--days", "-n", min=1, max=3660, help="Days to forecast."),
    seed: int = typer.Option(0, "--seed", min=0, help="Random seed: same seed, same output."),
    runs: int = typer.Option(1, "--runs", "-r", min=1, max=10_000,
                             help="Monte Carlo runs; more than one gives p10/p50/p90 bands."),
    groups: int = typer.Option(None, "--groups", min=1, max=100_000,
                               help="Groups run by this SOP (default: the playbook's, or 1)."),
    fmt: SimFormat = typer.Option(SimFormat.table, "--format", "-f"),
    report: Path = typer.Option(None, "--report", help="Write a self-contained HTML report."),
    output: Path = typer.Option(None, "--output", "-o", help="Write json or csv to this file."),
    bom: bool = BOM_OPTION,
    compare: str = typer.Option(None, "--compare",
                                help="Another playbook to forecast with the same seed."),
    start: str = typer.Option(None, "--start", "--from",
                              help="First day, YYYY-MM-DD (default: today)."),
    param: list[str] = typer.Option(None, "--param",
                                    help="Override a model parameter: name=value; repeatable."),
    what_if: str = typer.Option(None, "--what-if",
                                help="Compare with this playbook changed by a named what-if "
                                     "(e.g. no-welcome; docs/simulation.md lists them)."),
) -> None:
    """Forecast members, activity, conversions and revenue day by day."""
    from ..simulate.params import parse_cli_params
    from ._common import load_or_exit

    if output is not None and (fmt is SimFormat.table or compare or what_if):
        raise UsageError(_("--output needs --format json or csv, without --compare or "
                           "--what-if"))
    path, loaded = load_or_exit(playbook)
    pb = loaded.playbook
    cli = parse_cli_params(param)
    first = _start(start, pb.timezone, days)
    other = _load(compare) if compare else None
    other_name = Path(compare).name if compare else ""
    if what_if:
        if compare:
            raise UsageError(_("--what-if and --compare both name the second forecast: "
                               "use one"))
        from ..simulate.whatif import Window, edited_playbook

        other, other_name = edited_playbook(path, what_if, Window(first, days))

    from ..simulate.forecast import forecast
    from ..simulate.output import (
        compare as compare_results,
    )
    from ..simulate.output import (
        print_compare,
        print_table,
        to_csv,
        to_json,
    )

    def run_one(book: Playbook, label: str) -> dict:
        n_groups = groups or max(1, len(book.groups) if isinstance(book.groups, list) else 1)
        work = runs * days * n_groups * book.positioning.capacity
        if sys.stderr.isatty() and work >= _PROGRESS_MIN_WORK:
            from rich.progress import Progress

            from ..console import err_console

            with Progress(console=err_console(), transient=True) as bar:
                task = bar.add_task(_("simulating {name}").format(name=label), total=runs * days)
                return forecast(book, start=first, days=days, groups=groups, seed=seed,
                                runs=runs, params=cli, on_day=lambda: bar.advance(task))
        return forecast(book, start=first, days=days, groups=groups, seed=seed, runs=runs,
                        params=cli)

    result = run_one(pb, Path(path).name)
    if report is not None:
        from ..simulate.report import render_html

        try:
            report.write_text(render_html(result, _("{name} — forecast").format(name=pb.name)),
                              encoding="utf-8")
        except OSError as exc:
            from ..i18n.thirdparty import os_reason

            raise UsageError(_("cannot write {path}: {reason}").format(
                path=report, reason=os_reason(exc))) from None
    if other is not None:
        b = run_one(other, other_name)
        rows = compare_results(result, b)
        if fmt is SimFormat.json:
            import json

            typer.echo(json.dumps({"a": result["summary"], "b": b["summary"],
                                   "delta": {k: v[2] for k, v in rows.items()}},
                                  ensure_ascii=False, indent=2))
        else:
            print_compare(rows, Path(path).name, other_name, result, b)
        return
    if fmt is not SimFormat.table:
        from ._common import with_bom, write_output

        text = (to_json(result) + "\n" if fmt is SimFormat.json
                else with_bom(to_csv(result), bom, to_file=output is not None))
        if output is None:
            typer.echo(text, nl=False)
        else:
            write_output(output, text)
    else:
        print_table(result, ngettext("{name}: forecast of {n} day", "{name}: forecast of {n} days",
                                     days).format(name=pb.name, n=f"{days:,}"))
        if report is not None:
            from ..console import console

            console().print("\n" + _("report written to {path}").format(path=report),
                            markup=False)


def _start(value: str | None, tz: str, days: int = 0) -> date:
    from ._common import first_day

    return first_day(value, "--start", tz, days)
