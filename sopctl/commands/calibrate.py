"""`sopctl calibrate`: fit the forecast to the brand's own groups, and backtest it."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from ._common import STATE_DIR_OPTION, STORE_OPTION


class CalibrateFormat(StrEnum):
    table = "table"
    json = "json"


def calibrate(
    playbook: str = typer.Argument(None, help="The playbook (default: the one found here)."),
    source: str = typer.Option(..., "--from", help="wecom (the API, through the playbook's "
                               "wecom-customer-group channel), store (what `sopctl serve` "
                               "recorded in the ledger's database) or a CSV/XLSX export of "
                               "WeCom's customer-group statistics (客户群统计)."),
    since: str = typer.Option(None, "--since", help="First day to use, YYYY-MM-DD (default: "
                              "all the data; WeCom keeps 180 days)."),
    until: str = typer.Option(None, "--until", help="Last day to use, YYYY-MM-DD (default: the "
                              "last day of the data; for WeCom, yesterday)."),
    holdout: int = typer.Option(None, "--holdout", min=1, help="Backtest: fit on all but the "
                                "last N days, forecast them, and compare with two baselines."),
    write: bool = typer.Option(False, "--write", help="Write the fitted values into the "
                               "playbook's simulation: block (other lines are kept)."),
    report: Path = typer.Option(None, "--report", help="With --holdout: write the backtest "
                                "as an HTML page with actual-vs-forecast charts."),
    channel: str = typer.Option(None, "--channel", help="With --from wecom: the channel whose "
                                "corp credentials to use (default: the playbook's only "
                                "wecom-customer-group channel)."),
    owner: list[str] = typer.Option(None, "--owner", help="With --from wecom: only these group "
                                    "owners' groups (userid, repeatable; default: every owner "
                                    "the app sees)."),
    runs: int = typer.Option(2, "--runs", min=1, max=20, help="Simulated histories averaged "
                             "per evaluation (more: slower, less simulation noise)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulated histories."),
    fmt: CalibrateFormat = typer.Option(CalibrateFormat.table, "--format", "-f",
                                        help="table or json."),
    store: str = STORE_OPTION,
    state_dir: Path = STATE_DIR_OPTION,
) -> None:
    """Fit the forecast's parameters to your own groups' history."""
    from ..calibrate.cli import run_calibrate

    run_calibrate(playbook, source=source, since=since, until=until, holdout=holdout,
                  write=write, report=report, channel=channel, owners=list(owner or []),
                  runs=runs, seed=seed, fmt=fmt.value, store=store, state_dir=state_dir)
