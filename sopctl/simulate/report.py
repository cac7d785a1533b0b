"""A self-contained HTML report: inline SVG charts and tables, no script, no external file."""

from __future__ import annotations

from html import escape

from ..i18n import N_, _, current, ngettext

_W, _H, _PAD = 640, 220, 44
_COLORS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea")


def _scale(values: list[float], lo: float, hi: float, height: int) -> list[float]:
    span = (hi - lo) or 1.0
    return [height - _PAD / 2 - (v - lo) / span * (height - _PAD) for v in values]


def svg_chart(title: str, series: dict[str, list[float]],
              band: tuple[list[float], list[float]] | None = None, percent: bool = False) -> str:
    """A line chart: one polyline per series, an optional p10-p90 band under the first."""
    all_v = [v for s in series.values() for v in s] + (band[0] + band[1] if band else [])
    n = max(len(s) for s in series.values())
    lo, hi = min(0.0, min(all_v, default=0.0)), max(all_v, default=1.0) or 1.0
    x = [_PAD + i * (_W - 1.5 * _PAD) / max(1, n - 1) for i in range(n)]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}" '
             f'height="{_H}" role="img" aria-label="{escape(title)}">',
             f'<text x="{_PAD}" y="14" font-size="13" font-weight="bold">{escape(title)}</text>']
    for frac in (0.0, 0.5, 1.0):
        v = lo + frac * (hi - lo)
        y = _scale([v], lo, hi, _H)[0]
        label = f"{v:.0%}" if percent else f"{v:,.0f}"
        parts.append(f'<line x1="{_PAD}" x2="{_W - _PAD / 2}" y1="{y:.1f}" y2="{y:.1f}" '
                     'stroke="#e5e7eb"/>')
        parts.append(f'<text x="{_PAD - 4}" y="{y + 4:.1f}" font-size="10" '
                     f'text-anchor="end">{label}</text>')
    if band is not None:
        top = _scale(band[1], lo, hi, _H)
        bot = _scale(band[0], lo, hi, _H)
        pts = [f"{a:.1f},{b:.1f}" for a, b in zip(x, top, strict=False)]
        pts += [f"{a:.1f},{b:.1f}" for a, b in reversed(list(zip(x, bot, strict=False)))]
        parts.append(f'<polygon class="band" points="{" ".join(pts)}" fill="{_COLORS[0]}" '
                     'fill-opacity="0.15"/>')
    for i, (name, vals) in enumerate(series.items()):
        ys = _scale(vals, lo, hi, _H)
        pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, ys, strict=False))
        color = _COLORS[i % len(_COLORS)]
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" '
                     'stroke-width="2"/>')
        parts.append(f'<text x="{_W - _PAD / 2 - 110 * i}" y="14" font-size="11" '
                     f'text-anchor="end" fill="{color}">— {escape(name)}</text>')
    first, last = (escape(_("day {n}").format(n=d)) for d in (1, n))
    parts.append(f'<text x="{_PAD}" y="{_H - 4}" font-size="10">{first}</text>')
    parts.append(f'<text x="{_W - _PAD / 2}" y="{_H - 4}" font-size="10" '
                 f'text-anchor="end">{last}</text></svg>')
    return "".join(parts)


def _table(head: list[str], rows: list[list[object]]) -> str:
    h = "".join(f"<th>{escape(str(c))}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


# The summary's figures as a person reads them (the JSON keeps the keys).
SUMMARY_LABELS = {
    "start": N_("first day"), "end": N_("last day"), "days": N_("days"), "runs": N_("runs"),
    "seed": N_("seed"), "groups_start": N_("groups at the start"),
    "groups_end": N_("groups at the end"), "members_start": N_("members at the start"),
    "members_end": N_("members at the end"), "joins": N_("joins"), "leaves": N_("leaves"),
    "removed": N_("removed by the rules"), "messages": N_("messages in the groups"),
    "ops_messages": N_("messages sent by operations"), "revenue": N_("revenue"),
    "active_rate_last_week": N_("active last week"), "active_rate": N_("active, average day"),
    "median_stay_unconverted": N_("median stay of unconverted leavers (days)"),
    "member_days": N_("member-days"),
}


def _value(key: str, v: object) -> str:
    if v is None:
        return "—"
    if key in ("active_rate_last_week", "active_rate"):
        return f"{float(v):.1%}"  # type: ignore[arg-type]
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    if key == "seed":
        return str(v)
    return f"{v:,.2f}" if isinstance(v, float) and not v.is_integer() else f"{int(v):,}"


def render_html(result: dict, title: str) -> str:
    days = result["days"]
    s = result["summary"]
    col = {k: [float(d[k]) for d in days] for k in
           ("members", "joins", "leaves", "active_rate", "ops_messages", "revenue")}
    cum, total = [], 0.0
    for v in col["revenue"]:
        total += v
        cum.append(total)
    band = None
    if days and "bands" in days[0]:
        band = ([float(d["bands"]["members"][0]) for d in days],
                [float(d["bands"]["members"][1]) for d in days])
    members = _("members (p50)") if band else _("members")
    charts = [
        svg_chart(_("Members"), {members: col["members"]}, band),
        svg_chart(_("Members who speak a day"), {_("active"): col["active_rate"]}, percent=True),
        svg_chart(_("Joins and leaves"), {_("joins"): col["joins"], _("leaves"): col["leaves"]}),
        svg_chart(_("Messages sent by operations"), {_("ops messages"): col["ops_messages"]}),
        svg_chart(_("Revenue, cumulative"), {_("revenue"): cum}),
    ]
    stages = list(days[0]["conversions"]) if days else []
    day_rows = [[d["day"], d["date"], _value("", d["members"]), _value("", d["joins"]),
                 _value("", d["leaves"]), _value("", d["active"]), f"{d['active_rate']:.1%}",
                 _value("", d["ops_messages"]),
                 *(_value("", d["conversions"][st]) for st in stages),
                 _value("", d["revenue"]), d["groups_open"]]
                for d in days]
    funnel = _table([_("stage"), _("name"), _("converted in"), _("moved in"),
                     _("members at end")],
                    [[f["stage"], f["name"], _value("", f["converted_in"]),
                      _value("", f["moved_in"]), _value("", f["members_end"])]
                     for f in s["funnel"]])
    summary = _table([_("figure"), _("value")],
                     [[_(SUMMARY_LABELS[k]) if k in SUMMARY_LABELS else k, _value(k, v)]
                      for k, v in s.items() if k != "funnel"])
    warn = ("".join(f"<li>{escape(w)}</li>" for w in result["warnings"])
            or "<li>" + escape(_("none")) + "</li>")
    intro = ngettext("Forecast {start} → {end}, {n} run, seed {seed}.",
                     "Forecast {start} → {end}, {n} runs, seed {seed}.", s["runs"]).format(
        start=s["start"], end=s["end"], n=f"{s['runs']:,}", seed=s["seed"])
    per_day = _table([_("day"), _("date"), _("members"), _("joins"), _("leaves"), _("active"),
                      _("active %"), _("ops msgs"), *(f"→{st}" for st in stages), _("revenue"),
                      _("groups")], day_rows)
    h = {k: escape(v) for k, v in (("warnings", _("Warnings")), ("charts", _("Charts")),
                                    ("funnel", _("Funnel")), ("summary", _("Summary")),
                                    ("per_day", _("Per day")))}
    return f"""<!DOCTYPE html>
<html lang="{current()}"><head><meta charset="utf-8">
<title>{escape(title)}</title>
<style>
body{{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:2em;color:#111}}
table{{border-collapse:collapse;margin:1em 0;font-size:13px}}
td,th{{border:1px solid #ddd;padding:3px 8px;text-align:right}}
th{{background:#f3f4f6}} .charts svg{{display:block;margin:1em 0}}
</style></head><body>
<h1>{escape(title)}</h1>
<p>{escape(intro)}</p>
<h2>{h["warnings"]}</h2><ul class="warnings">{warn}</ul>
<h2>{h["charts"]}</h2><div class="charts">{''.join(charts)}</div>
<h2>{h["funnel"]}</h2>{funnel}
<h2>{h["summary"]}</h2>{summary}
<h2>{h["per_day"]}</h2>{per_day}
</body></html>
"""
