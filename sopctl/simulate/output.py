"""The forecast on a terminal (rich table, sparklines), as JSON, as CSV, and compared."""

from __future__ import annotations

import csv
import io
import json

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
    if isinstance(v, float):
        return f"{v:,.2f}" if not v.is_integer() else f"{int(v):,}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def print_table(result: dict, title: str) -> None:
    from rich.table import Table

    from ..console import console

    con = console()
    days = result["days"]
    targets = {f["stage"] for f in result["summary"]["funnel"] if f.get("target")}
    stages = [s for s in (days[0]["conversions"] if days else {}) if s in targets]
    t = Table(title=title, show_edge=False, header_style="bold", title_justify="left",
              pad_edge=False, padding=(0, 1))
    for col in ("day", "date", "members", "joins", "leaves", "active", "ops",
                *(f"→{s}" for s in stages), "revenue", "groups"):
        t.add_column(col, justify="left" if col == "date" else "right", no_wrap=True)
    banded = "bands" in days[0] if days else False
    for d in days:
        active = f"{_fmt(d['active'])} {d['active_rate']:.0%}"
        members = _fmt(d["members"])
        if banded:
            lo, hi = d["bands"]["members"]
            members += f" [dim]{lo:,.0f}–{hi:,.0f}[/]"
        t.add_row(str(d["day"]), d["date"][5:], members, _fmt(d["joins"]), _fmt(d["leaves"]),
                  active, _fmt(d["ops_messages"]),
                  *(_fmt(d["conversions"][s]) for s in stages), f"{d['revenue']:,.0f}",
                  _fmt(d["groups_open"]))
    if con.is_terminal:
        con.print(t)
    else:  # piped or redirected: no terminal width to respect, keep rows whole
        from rich.console import Console

        Console(width=max(con.width, 140), highlight=False, file=con.file).print(t)
    con.print()
    for label, key in (("members", "members"), ("active", "active_rate"),
                       ("ops msgs", "ops_messages"), ("revenue", "revenue")):
        series = [float(d[key]) for d in days]
        con.print(f"  {label:<9} {sparkline(series)}  [dim]{_fmt(series[0]) if key != 'active_rate' else f'{series[0]:.0%}'}"  # noqa: E501
                  f" → {_fmt(series[-1]) if key != 'active_rate' else f'{series[-1]:.0%}'}[/]")
    print_summary(result)


def print_summary(result: dict) -> None:
    from rich.table import Table

    from ..console import console

    con = console()
    s = result["summary"]
    con.print()
    runs = f", median of {s['runs']} runs" if s["runs"] > 1 else ""
    con.print(f"[bold]Funnel[/] ({s['start']} → {s['end']}{runs})")
    ft = Table(show_edge=False, header_style="bold")
    for col in ("stage", "name", "converted in", "moved in", "members at end"):
        ft.add_column(col, justify="left" if col in ("stage", "name") else "right")
    for f in s["funnel"]:
        ft.add_row(f["stage"], f["name"], _fmt(f["converted_in"]), _fmt(f["moved_in"]),
                   _fmt(f["members_end"]))
    con.print(ft)
    stay = s["median_stay_unconverted"]
    con.print(f"  members {_fmt(s['members_start'])} → {_fmt(s['members_end'])}, "
              f"joins {_fmt(s['joins'])}, leaves {_fmt(s['leaves'])} "
              f"(removed {_fmt(s['removed'])}), active last week "
              f"{s['active_rate_last_week']:.1%}, revenue {_fmt(s['revenue'])}, "
              f"groups {s['groups_start']} → {_fmt(s['groups_end'])}"
              + (f", median stay of unconverted leavers {_fmt(stay)} days"
                 if stay is not None else ""))
    if result["warnings"]:
        con.print()
        con.print("[bold yellow]Warnings[/]")
        for w in result["warnings"]:
            con.print(f"  [yellow]![/] {w}")


COMPARE_KEYS = ("members_end", "joins", "leaves", "removed", "messages", "ops_messages",
                "active_rate_last_week", "revenue", "groups_end")


def compare(a: dict, b: dict) -> dict:
    """Summary figures of both forecasts and B - A."""
    rows = {}
    for k in COMPARE_KEYS:
        rows[k] = [a["summary"][k], b["summary"][k], _delta(a["summary"][k], b["summary"][k])]
    fa = {f["stage"]: f["converted_in"] for f in a["summary"]["funnel"]}
    fb = {f["stage"]: f["converted_in"] for f in b["summary"]["funnel"]}
    for s in dict.fromkeys([*fa, *fb]):
        va, vb = fa.get(s, 0), fb.get(s, 0)
        rows[f"converted_in:{s}"] = [va, vb, _delta(va, vb)]
    return rows


def _delta(a: float, b: float) -> int | float:
    d = b - a
    return round(d, 4) if isinstance(d, float) else d


def print_compare(rows: dict, name_a: str, name_b: str) -> None:
    from rich.table import Table

    from ..console import console

    t = Table(title="Forecast comparison (same seed)", show_edge=False, header_style="bold",
              title_justify="left")
    t.add_column("figure")
    for col in (name_a, name_b, "delta"):
        t.add_column(col, justify="right")
    for k, (va, vb, d) in rows.items():
        if k == "active_rate_last_week":
            cells = (f"{va:.1%}", f"{vb:.1%}", f"{d * 100:+.1f} pt")
        else:
            sign = "+" if d > 0 else ""
            cells = (_fmt(va), _fmt(vb), f"{sign}{_fmt(d)}")
        t.add_row(k, *cells)
    console().print(t)
