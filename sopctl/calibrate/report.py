"""The backtest as a self-contained HTML page: per series, what happened against what the
calibrated forecast said (median and p10–p90 band), the held-out days shaded."""

from __future__ import annotations

import html

import numpy as np

from ..i18n import N_, _, current
from .backtest import SCORED, Backtest

TITLES = {"members": N_("Members"), "joins": N_("Joins a day"),
          "active": N_("Members who spoke"), "messages": N_("Messages")}
W, H, PAD = 720, 220, 40


def _path(xs: np.ndarray, ys: np.ndarray) -> str:
    return " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in
                    enumerate(zip(xs, ys, strict=True)))


def _chart(bt: Backtest, key: str) -> str:
    actual, band = bt.actual[key], bt.bands[key]
    n, cut = len(actual), len(actual) - bt.holdout
    top = max(float(np.max(actual)), float(np.max(band[2]))) * 1.05 or 1.0
    xs = PAD + np.arange(n) * (W - 2 * PAD) / max(1, n - 1)

    def y(v: np.ndarray) -> np.ndarray:
        return H - PAD - (v / top) * (H - 2 * PAD)

    area = _path(xs, y(band[2])) + " " + _path(xs[::-1], y(band[0][::-1])).replace("M", "L", 1)
    shade_x = xs[cut] if cut < n else W - PAD
    return f"""<svg viewBox="0 0 {W} {H}" role="img" aria-label="{html.escape(_(TITLES[key]))}">
<rect x="{shade_x:.1f}" y="{PAD}" width="{W - PAD - shade_x:.1f}" height="{H - 2 * PAD}"
 fill="#f3f0e6"/>
<path d="{area} Z" fill="#9ecae1" opacity="0.55"/>
<path d="{_path(xs, y(band[1]))}" fill="none" stroke="#3182bd" stroke-width="1.5"/>
<path d="{_path(xs, y(actual))}" fill="none" stroke="#222" stroke-width="1.2"/>
<text x="{PAD}" y="{PAD - 10}" font-size="13">{html.escape(_(TITLES[key]))}</text>
<text x="{W - PAD}" y="{H - 12}" font-size="11" text-anchor="end">{int(top):,}</text>
</svg>"""


def render(bt: Backtest, playbook_name: str) -> str:
    esc = html.escape
    title = esc(_("Backtest of {name}").format(name=playbook_name))
    intro = esc(_("Fitted on all but the last {n} days, then forecast for those days (shaded). "
                  "Black: what happened; blue: the calibrated forecast, its median and "
                  "p10–p90 band.").format(n=bt.holdout))
    heads = "".join(f"<th>{esc(h)}</th>" for h in (
        _("series"), _("calibrated"), _("last value"), _("defaults")))
    note = esc(_("Mean absolute percentage error over the held-out days; lower is better."))
    rows = "".join(
        f"<tr><td>{esc(_(TITLES[k]))}</td>"
        + "".join(f"<td>{bt.errors[k][c]:.1%}</td>" for c in ("calibrated", "last_value",
                                                              "defaults"))
        + "</tr>" for k in SCORED)
    charts = "\n".join(_chart(bt, k) for k in SCORED)
    return f"""<!doctype html>
<html lang="{current()}"><head><meta charset="utf-8">
<title>{title}</title>
<style>body{{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;max-width:760px;
margin:2em auto;color:#222}}table{{border-collapse:collapse}}td,th{{padding:4px 10px;
border-bottom:1px solid #ddd;text-align:right}}td:first-child,th:first-child{{text-align:left}}
svg{{width:100%;height:auto;margin:1em 0}}</style></head><body>
<h1>{title}</h1>
<p>{intro}</p>
<table><tr>{heads}</tr>{rows}</table>
<p>{note}</p>
{charts}
</body></html>
"""
