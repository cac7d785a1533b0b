"""Tables that fit the terminal without losing anything.

A table never drops a column nor cuts a name to fit: at its natural width it is printed
as is; when that is too wide, free-text columns (a message's text, a reason) fold onto
several lines; when still too wide, secondary columns stack under a companion column (UTC
under the local time, the channel under the group) with both headers shown; and when even
that does not fit, each row is printed as a block of ``header  value`` lines. Widths are
terminal cells, so a Chinese character counts two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

Cell = Any  # str, (text, rich style), or a rich Text (styled in parts)
GAP = 3  # " │ " between two columns (no outer edge, no outer padding)


@dataclass(frozen=True, slots=True)
class Col:
    """A column: ``wrap`` for free text that may fold; ``under`` names the column this one
    stacks beneath when the table is too wide."""

    header: str
    wrap: bool = False
    under: str | None = None
    justify: str = "left"
    style: str | None = None
    min_width: int = 12  # narrowest a folding column gets before the layout changes


def _text(c: Cell) -> str:
    if isinstance(c, tuple):
        return c[0]
    return c if isinstance(c, str) else c.plain


def _style(c: Cell) -> str | None:
    return c[1] if isinstance(c, tuple) else None


def _lines_len(s: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(x) for x in s.split("\n")), default=0)


@dataclass(slots=True)
class Layout:
    """How a table will be printed: ``vertical``, or these columns at these widths."""

    vertical: bool
    groups: list[list[int]]  # each printed column: indices of the source columns stacked
    widths: list[int]


def plan(cols: Sequence[Col], rows: Sequence[Sequence[Cell]], width: int) -> Layout:
    """Choose the layout of ``rows`` under ``cols`` for a terminal ``width`` cells wide."""
    natural = [max(_lines_len(c.header), *(_lines_len(_text(r[i])) for r in rows))
               if rows else _lines_len(c.header) for i, c in enumerate(cols)]
    index = {c.header: i for i, c in enumerate(cols)}

    def attempt(groups: list[list[int]]) -> Layout | None:
        nat = [max(natural[i] for i in g) for g in groups]
        wrap = [all(cols[i].wrap for i in g) for g in groups]
        total = sum(nat) + GAP * (len(groups) - 1)
        if total <= width:
            return Layout(False, groups, nat)
        fixed = sum(w for w, f in zip(nat, wrap, strict=True) if not f)
        flex = [k for k, f in enumerate(wrap) if f]
        room = width - fixed - GAP * (len(groups) - 1)
        if not flex:
            return None
        mins = [min(nat[k], max(cols[i].min_width for i in groups[k])) for k in flex]
        if room < sum(mins):
            return None
        widths = list(nat)
        spare = room - sum(mins)  # shared out in proportion to what each would like more
        want = [nat[k] - m for k, m in zip(flex, mins, strict=True)]
        for k, m, w in zip(flex, mins, want, strict=True):
            widths[k] = m + (spare * w // max(1, sum(want)))
        return Layout(False, groups, widths)

    flat = [[i] for i in range(len(cols))]
    got = attempt(flat)
    if got is not None:
        return got
    stacked: list[list[int]] = []
    for i, c in enumerate(cols):
        if c.under is not None and c.under in index:
            continue
        stacked.append([i])
    for i, c in enumerate(cols):
        if c.under is not None and c.under in index:
            host = index[c.under]
            next(g for g in stacked if host in g).append(i)
    got = attempt(stacked)
    if got is not None:
        return got
    return Layout(True, flat, natural)


def render(out: Console, cols: Sequence[Col], rows: Sequence[Sequence[Cell]],
           title: str | None = None, width: int | None = None) -> Layout:
    """Print ``rows`` on ``out`` in the layout that fits; returns the layout chosen."""
    from rich.table import Table
    from rich.text import Text

    layout = plan(cols, rows, width or out.width)
    if layout.vertical:
        if title:
            out.print(Text(title, style="bold"))
        key_w = max(_lines_len(c.header) for c in cols)
        for n, r in enumerate(rows):
            grid = Table.grid(padding=(0, 2))
            grid.add_column(width=key_w, no_wrap=True, style="dim")
            grid.add_column(overflow="fold")
            for c, cell in zip(cols, r, strict=True):
                value = cell if isinstance(cell, Text) else Text(
                    _text(cell), style=_style(cell) or c.style or "")
                grid.add_row(c.header, value)
            if n:
                out.print()
            out.print(grid)
        return layout
    t = Table(title=title, title_justify="left", show_edge=False, pad_edge=False,
              header_style="bold", expand=False)
    for g, w in zip(layout.groups, layout.widths, strict=True):
        head = "\n".join(cols[i].header for i in g)
        folds = all(cols[i].wrap for i in g)
        t.add_column(head, width=w, no_wrap=not folds, overflow="fold",
                     justify=cols[g[0]].justify)  # type: ignore[arg-type]
    for r in rows:
        cells: list[Any] = []
        for g in layout.groups:
            text = Text()
            for k, i in enumerate(g):
                if k:
                    text.append("\n")
                if isinstance(r[i], Text):
                    text.append_text(r[i])
                    continue
                style = _style(r[i]) or cols[i].style or ("dim" if k else "")
                text.append(_text(r[i]), style=style)
            cells.append(text)
        t.add_row(*cells)
    out.print(t)
    return layout


BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only when it starts with this
