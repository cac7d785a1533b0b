"""What `sopctl calibrate` does once its arguments are parsed: read, fit, show, write."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..i18n import N_, _
from .observed import Observed

MOMENT_TITLES = {"joins": N_("joins a day"), "leave_rate": N_("daily leave rate"),
                 "active_rate": N_("share of members who speak"),
                 "messages_per_active": N_("messages per speaking member"),
                 "conversion_rate": N_("daily conversion rate")}


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(_("{option} '{value}' is not a date").format(option=option, value=value),
                         hint=_("write it as YYYY-MM-DD, e.g. 2026-11-24")) from None


def read_source(pb: Any, path: str, source: str, *, since: date | None, until: date | None,
                channel: str | None, owners: list[str], store: str | None,
                state_dir: Path | None) -> Observed:
    if source == "wecom":
        from .wecom import fetch

        return fetch(_wecom_channel(pb, path, channel), since=since, until=until,
                     owners=owners)
    if source == "store":
        from .store import read_store

        return read_store(pb, store=store, state_dir=state_dir, since=since, until=until)
    from .observed import read_table

    obs = read_table(Path(source), since)
    if until is not None:
        cut = (until - obs.start).days + 1
        if cut < 14:
            raise UsageError(_("--until {day} leaves fewer than 14 days").format(day=until))
        obs = obs.head(min(cut, obs.days))
    return obs


def _wecom_channel(pb: Any, path: str, name: str | None) -> Any:
    from ..run.channels import make_channel
    from ..run.ledger import default_state_dir

    found = {n: c for n, c in pb.channels.items() if c.type == "wecom-customer-group"}
    if name is not None:
        if name not in found:
            raise UsageError(_("{path}: no wecom-customer-group channel named '{name}'").format(
                path=path, name=name), hint=_("one of: {names}").format(
                    names=", ".join(sorted(found)) or "-"))
        found = {name: found[name]}
    if len(found) != 1:
        raise UsageError(
            _("{path}: --from wecom needs one wecom-customer-group channel; it has {n}").format(
                path=path, n=len(found)),
            hint=_("name it with --channel") if found else
            _("add a channel of type wecom-customer-group with corp_id and corp_secret"))
    (n, cfg), = found.items()
    return make_channel(n, cfg, env=os.environ, client=None,
                        state_dir=default_state_dir())


def run_calibrate(playbook: str | None, *, source: str, since: str | None, until: str | None,
                  holdout: int | None, write: bool, report: Path | None,
                  channel: str | None, owners: list[str], runs: int, seed: int,
                  fmt: str, store: str | None = None, state_dir: Path | None = None) -> None:
    from ..commands._common import load_or_exit, write_output
    from ..console import console, err_console

    if report is not None and holdout is None:
        raise UsageError(_("--report needs --holdout"),
                         hint=_("the report shows a backtest: add --holdout 14"))
    path, loaded = load_or_exit(playbook)
    pb = loaded.playbook
    obs = read_source(pb, path, source, since=_day(since, "--since"),
                      until=_day(until, "--until"), channel=channel, owners=owners,
                      store=store, state_dir=state_dir)
    for note in obs.notes:
        err_console().print(_("note: {text}").format(text=note), highlight=False)
    if holdout is not None:
        from .backtest import backtest

        bt = backtest(pb, obs, holdout, runs=runs, seed=seed)
        result = bt.fit
    else:
        from .fit import fit

        bt, result = None, fit(pb, obs, runs=runs, seed=seed)
    label = source if source in ("wecom", "store") else Path(source).name
    span = f"{obs.start} – {obs.dates()[-1]}"
    if write:
        from .writeback import block, merge

        text = Path(path).read_text(encoding="utf-8")
        write_output(Path(path), merge(text, block(result, f"{label}, {span}")))
    if fmt == "json":
        console().print_json(json.dumps(_as_json(result, bt, obs, label)))
    else:
        _print_tables(result, bt, obs, label, span)
        if write:
            console().print(_("simulation: block written to {path}").format(path=path))
    if report is not None and bt is not None:
        from .report import render

        write_output(report, render(bt, pb.name))
        err_console().print(_("report written to {path}").format(path=report), highlight=False)


def _as_json(result: Any, bt: Any, obs: Observed, label: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "source": label, "start": obs.start.isoformat(), "days": obs.days,
        "parameters": [{"name": e.name, "value": e.value, "stderr": e.se,
                        "default": e.default, "identified": e.se is not None,
                        "moment": e.moment} for e in result.estimates],
        "simulation": result.params,
        "moments": {"observed": result.moments_observed, "fitted": result.moments_fitted},
        "evaluations": result.evaluations, "converged": result.converged,
    }
    if bt is not None:
        out["backtest"] = {"holdout": bt.holdout, "mape": bt.errors}
    return out


def _print_tables(result: Any, bt: Any, obs: Observed, label: str, span: str) -> None:
    from ..console import console
    from ..tables import Col, render

    out = console()
    default = _("default")
    rows = []
    for e in result.estimates:
        if e.se is None:
            rows.append((e.name, "—", "", f"{e.default:.4g}", _("not identified: kept")))
        else:
            rows.append((e.name, f"{e.value:.4g}", f"{e.se:.2g}", f"{e.default:.4g}",
                         _(MOMENT_TITLES.get(e.moment, e.moment))))
    render(out, [Col(_("parameter")), Col(_("fitted"), justify="right"),
                 Col(_("±"), justify="right"), Col(default, justify="right"),
                 Col(_("from"), wrap=True, under=default)], rows,
           title=_("Fitted on {source}, {span} ({n} days)").format(
               source=label, span=span, n=obs.days))
    out.print()
    render(out, [Col(_("moment"), wrap=True), Col(_("observed"), justify="right"),
                 Col(_("fitted"), justify="right")],
           [(_(MOMENT_TITLES.get(k, k)), f"{v:.4g}", f"{result.moments_fitted[k]:.4g}")
            for k, v in result.moments_observed.items()],
           title=_("Moments: your groups and the fitted forecast"))
    if bt is not None:
        from .report import TITLES

        out.print()
        render(out, [Col(_("series"), wrap=True), Col(_("calibrated"), justify="right"),
                     Col(_("last value"), justify="right"),
                     Col(_("defaults"), justify="right")],
               [(_(TITLES[k]), f"{e['calibrated']:.1%}", f"{e['last_value']:.1%}",
                 f"{e['defaults']:.1%}") for k, e in bt.errors.items()],
               title=_("Backtest: the last {n} days, mean absolute percentage error").format(
                   n=bt.holdout))
