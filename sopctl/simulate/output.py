"""The forecast on a terminal (rich table, sparklines), as JSON, as CSV, and compared."""

from __future__ import annotations

import csv
import io
import json

from ..i18n import _, ngettext
from .outcomes import OUTCOMES, TOTAL, relative
from .outcomes import label as outcome_label

_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    """Unicode blocks, scaled between the series' min and max."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    if hi == lo:
        return _BLOCKS[0 if hi == 0 else 3] * len(values)
    return "".join(_BLOCKS[min(7, int((v - lo) / (hi - lo) * 7.999))] for v in values)


def to_json(result: dict) -> str:
    return json.dumps(result, ensure_ascii=False, indent=2)


def csv_columns(result: dict) -> list[str]:
    stages = list(result["days"][0]["conversions"]) if result["days"] else []
    return ["day", "date", "members", "joins", "leaves", "active", "active_rate", "messages",
            "ops_messages", *(f"conversions_{s}" for s in stages), "revenue", "groups_open"]


def to_csv(result: dict) -> str:
    buf = io.StringIO()
    cols = csv_columns(result)
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for d in result["days"]:
        flat = {**d, **{f"conversions_{k}": v for k, v in d["conversions"].items()}}
        w.writerow([flat[c] for c in cols])
    return buf.getvalue()


def _fmt(v: object) -> str:
    """A figure with thousands separators (the same in both languages)."""
    if isinstance(v, float):
        return f"{v:,.2f}" if not v.is_integer() else f"{int(v):,}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def print_table(result: dict, title: str) -> None:
    from ..console import console

    con = console()
    days = result["days"]
    targets = {f["stage"] for f in result["summary"]["funnel"] if f.get("target")}
    stages = [s for s in (days[0]["conversions"] if days else {}) if s in targets]
    from rich.text import Text

    from ..tables import Col, render

    # too wide for the terminal: the date stacks under the day, leaves under joins, the
    # groups under the revenue (tables.render), and nothing is cut
    day, joins, revenue = _("day"), _("joins"), _("revenue")
    cols = [Col(day, justify="right"), Col(_("date"), under=day), Col(_("members"),
            justify="right"), Col(joins, justify="right"),
            Col(_("leaves"), justify="right", under=joins), Col(_("active"), justify="right"),
            Col(_("ops"), justify="right"),
            *(Col(f"→{s}", justify="right") for s in stages), Col(revenue, justify="right"),
            Col(_("groups"), justify="right", under=revenue)]
    banded = "bands" in days[0] if days else False
    rows = []
    for d in days:
        active = f"{_fmt(d['active'])} {d['active_rate']:.0%}"
        members = Text(_fmt(d["members"]))
        if banded:
            lo, hi = d["bands"]["members"]
            members.append(f" {lo:,.0f}–{hi:,.0f}", style="dim")
        rows.append((_fmt(d["day"]), d["date"][5:], members, _fmt(d["joins"]),
                     _fmt(d["leaves"]), active, _fmt(d["ops_messages"]),
                     *(_fmt(d["conversions"][s]) for s in stages), f"{d['revenue']:,.0f}",
                     _fmt(d["groups_open"])))
    out = con
    if not con.is_terminal:  # piped or redirected: no terminal width to respect, keep rows whole
        from rich.console import Console

        out = Console(width=max(con.width, 140), highlight=False, file=con.file)
    render(out, cols, rows, title=title)
    con.print()
    from rich.cells import cell_len

    lines = [(_("members"), "members"), (_("active"), "active_rate"),
             (_("ops msgs"), "ops_messages"), (_("revenue"), "revenue")]
    pad = max(cell_len(label) for label, _key in lines) + 1
    for label, key in lines:
        series = [float(d[key]) for d in days]
        first, last = ((f"{series[0]:.0%}", f"{series[-1]:.0%}") if key == "active_rate"
                       else (_fmt(series[0]), _fmt(series[-1])))
        con.print(f"  {label}{' ' * (pad - cell_len(label))}{sparkline(series)}  "
                  f"[dim]{first} → {last}[/]")
    print_summary(result)


def print_summary(result: dict) -> None:
    from rich.markup import escape

    from ..console import console
    from ..tables import Col, render

    con = console()
    s = result["summary"]
    con.print()
    span = f"{s['start']} → {s['end']}"
    if s["runs"] > 1:
        span += ngettext(", median of {n} run", ", median of {n} runs", s["runs"]).format(
            n=_fmt(s["runs"]))
    con.print("[bold]" + _("Funnel") + f"[/] ({span})")
    # a long stage name folds onto the next line, never cut to "核心群(消费 …"
    name, moved = _("name"), _("moved in")
    render(con, [Col(_("stage")), Col(name, wrap=True, min_width=8),
                 Col(_("converted in"), justify="right"),
                 Col(moved, justify="right"),
                 Col(_("members at end"), justify="right", under=moved)],
           [(f["stage"], f["name"], _fmt(f["converted_in"]), _fmt(f["moved_in"]),
             _fmt(f["members_end"])) for f in s["funnel"]])
    stay = s["median_stay_unconverted"]
    line = _("members {start} → {end}, joins {joins}, leaves {leaves} (removed {removed}), "
             "active last week {active}, revenue {revenue}, groups {g0} → {g1}").format(
        start=_fmt(s["members_start"]), end=_fmt(s["members_end"]), joins=_fmt(s["joins"]),
        leaves=_fmt(s["leaves"]), removed=_fmt(s["removed"]),
        active=f"{s['active_rate_last_week']:.1%}", revenue=_fmt(s["revenue"]),
        g0=_fmt(s["groups_start"]), g1=_fmt(s["groups_end"]))
    if stay is not None:
        line += ngettext(", median stay of unconverted leavers {n} day",
                         ", median stay of unconverted leavers {n} days",
                         int(stay) if float(stay).is_integer() else 2).format(n=_fmt(stay))
    con.print(f"  {escape(line)}")
    if result["warnings"]:
        con.print()
        con.print("[bold yellow]" + _("Warnings") + "[/]")
        for w in result["warnings"]:
            con.print(f"  [yellow]![/] {escape(w)}")


# The figures and what a person reads for each: the names of docs/simulation.md's what-if
# table (simulate/outcomes.py); JSON keeps the keys.
COMPARE_KEYS = tuple(OUTCOMES)


def compare(a: dict, b: dict) -> dict:
    """Summary figures of both forecasts and B - A: the totals, all conversions, then the
    conversions into each stage a member can convert into (in either playbook)."""
    rows = {}
    for k in COMPARE_KEYS:
        rows[k] = [a["summary"][k], b["summary"][k], _delta(a["summary"][k], b["summary"][k])]
    fa = {f["stage"]: f for f in a["summary"]["funnel"]}
    fb = {f["stage"]: f for f in b["summary"]["funnel"]}
    ta = sum(f["converted_in"] for f in fa.values())
    tb = sum(f["converted_in"] for f in fb.values())
    rows[TOTAL] = [ta, tb, _delta(ta, tb)]
    for s in dict.fromkeys([*fa, *fb]):
        if not (fa.get(s, {}).get("target") or fb.get(s, {}).get("target")):
            continue  # nobody converts into an entry stage: its 0 says nothing
        va, vb = fa.get(s, {}).get("converted_in", 0), fb.get(s, {}).get("converted_in", 0)
        rows[f"converted_in:{s}"] = [va, vb, _delta(va, vb)]
    return rows


def compare_label(key: str, a: dict, b: dict) -> str:
    """The row label a person reads for the ``compare`` key ``key``."""
    names = {f["stage"]: f["name"] for f in (*b["summary"]["funnel"], *a["summary"]["funnel"])}
    return outcome_label(key, names)


def _delta(a: float, b: float) -> int | float:
    d = b - a
    return round(d, 4) if isinstance(d, float) else d


def print_compare(rows: dict, name_a: str, name_b: str, a: dict | None = None,
                  b: dict | None = None) -> None:
    from ..console import console
    from ..tables import Col, render

    empty: dict = {"summary": {"funnel": []}}
    delta = _("delta")
    # a long stage name folds onto the next line; on a narrow terminal the relative change
    # stacks under the delta, then each figure becomes a block (tables.render)
    cols = [Col(_("figure"), wrap=True, min_width=10), Col(name_a, justify="right"),
            Col(name_b, justify="right"), Col(delta, justify="right"),
            Col(_("change"), justify="right", under=delta)]
    cells = []
    for k, (va, vb, d) in rows.items():
        if k.startswith("active_rate"):
            values = (f"{va:.1%}", f"{vb:.1%}", _("{n} pt").format(n=f"{d * 100:+.1f}"))
        else:
            sign = "+" if d > 0 else ""
            values = (_fmt(va), _fmt(vb), f"{sign}{_fmt(d)}")
        rel = relative(va, vb)  # the size the what-if table of docs/simulation.md reports
        cells.append((compare_label(k, a or empty, b or empty), *values,
                      "" if rel is None else f"{rel:+.0%}"))
    render(console(), cols, cells, title=_("Forecast comparison (same seed)"))
