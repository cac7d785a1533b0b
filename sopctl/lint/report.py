"""Render findings: text (ruff-like, with the source line and a caret), json, sarif, github."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

import typer

from ..findings import Finding

_COLOURS = {"error": "red", "warning": "yellow", "info": "blue"}


def render(findings: Sequence[Finding], nfiles: int, fmt: str, *, statistics: bool = False,
           strict: bool = False) -> None:
    if fmt == "json":
        typer.echo(json.dumps([f.as_dict() for f in findings], ensure_ascii=False, indent=2))
    elif fmt == "sarif":
        from .sarif import to_sarif

        typer.echo(json.dumps(to_sarif(findings), ensure_ascii=False, indent=2))
    elif fmt == "github":
        for f in findings:
            level = {"error": "error", "warning": "warning"}.get(f.severity, "notice")
            msg = f.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            typer.echo(f"::{level} file={f.path},line={f.line},col={f.column},"
                       f"title={f.code} {f.slug}::{msg}")
    else:
        _text(findings, nfiles)
    if statistics:
        _statistics(findings)


def _text(findings: Sequence[Finding], nfiles: int) -> None:
    from rich.markup import escape

    from ..console import console

    out = console()
    texts: dict[str, list[str]] = {}
    for f in findings:
        colour = _COLOURS.get(f.severity, "white")
        out.print(f"[bold]{escape(f.path)}[/]:{f.line}:{f.column}: "
                  f"[bold {colour}]{f.code}[/] {escape(f.message)} [dim]\\[{f.slug}][/]")
        line = _source_line(f.path, f.line, texts)
        if line is not None:
            out.print(f"  [dim]{f.line:>4} |[/] {escape(line)}")
            out.print(f"  [dim]     |[/] {' ' * _display_width(line[: f.column - 1])}"
                      f"[bold {colour}]^[/]")
        if f.hint:
            out.print(f"  [dim]= hint:[/] {escape(f.hint)}")
    counts = Counter(f.severity for f in findings)
    if findings:
        parts = [f"{counts[s]} {s}{'s' if counts[s] != 1 else ''}"
                 for s in ("error", "warning", "info") if counts[s]]
        out.print(f"Found {', '.join(parts)} in {nfiles} file{'s' if nfiles != 1 else ''}.")
    else:
        out.print(f"[green]All checks passed[/] ({nfiles} file{'s' if nfiles != 1 else ''}).")


def _display_width(s: str) -> int:
    from rich.cells import cell_len

    return cell_len(s.replace("\t", " "))


def _source_line(path: str, line: int, cache: dict[str, list[str]]) -> str | None:
    if path not in cache:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                cache[path] = fh.read().splitlines()
        except OSError:
            cache[path] = []
    lines = cache[path]
    return lines[line - 1] if 0 < line <= len(lines) else None


def _statistics(findings: Sequence[Finding]) -> None:
    counts = Counter((f.code, f.slug, f.severity) for f in findings)
    for (code, slug, sev), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        typer.echo(f"{n:>5}  {code}  {sev:<7}  {slug}")
