"""Render findings: text (ruff-like, with the source line and a caret), json, sarif, github.

Text is coloured only on a terminal (rich decides; NO_COLOR and FORCE_COLOR are honoured),
so a pipe or a file gets plain lines. Playbooks are Chinese: carets are placed by terminal
cell width (rich's tables), a long source line is cut around the caret, and output that is
not a terminal is always written as UTF-8. Messages, hints and the summary are in the
selected language; codes, slugs and JSON keys never change.
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from ..findings import Finding
from ..i18n import _, ngettext
from .sarif import message_with_hint

_COLOURS = {"error": "red", "warning": "yellow", "info": "blue"}
_SEVERITIES = ("error", "warning", "info")
# C0/C1 controls (but not tab) would let a hostile file drive the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# The line breaks YAML counts (str.splitlines also splits on \f, \v and \x1c-\x1e).
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def render(findings: Sequence[Finding], nfiles: int, fmt: str, *, statistics: bool = False,
           strict: bool = False, out: TextIO | None = None) -> None:
    """Write ``findings`` to ``out`` (stdout) in ``fmt``; ``--statistics`` replaces the
    list with counts per rule (as JSON for ``json``, on stderr for sarif/github)."""
    stream = out if out is not None else ensure_utf8(sys.stdout)
    if statistics and fmt in ("text", "json"):
        if fmt == "json":
            _write(stream, _json(statistics_rows(findings)))
        else:
            _write(stream, format_statistics(findings))
            _write(stream, summary_line(findings, nfiles, strict=strict))
        return
    if fmt == "json":
        _write(stream, to_json(findings))
    elif fmt == "sarif":
        from .sarif import to_sarif

        _write(stream, _json(to_sarif(findings)))
    elif fmt == "github":
        _write(stream, to_github(findings))
    else:
        _text(findings, nfiles, strict=strict, stream=out)
    if statistics:
        _write(ensure_utf8(sys.stderr), format_statistics(findings))


def ensure_utf8(stream: TextIO) -> TextIO:
    """Never die on CJK: pipes and files get UTF-8, a terminal its own encoding with
    replacement for what it cannot show."""
    enc = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    reconfigure = getattr(stream, "reconfigure", None)
    if enc != "utf8" and reconfigure is not None:
        try:
            if stream.isatty():
                reconfigure(errors="replace")
            else:
                reconfigure(encoding="utf-8")
        except (OSError, ValueError):  # detached or already written to in another encoding
            pass
    return stream


def _write(stream: TextIO, text: str) -> None:
    if text:
        stream.write(text if text.endswith("\n") else text + "\n")
    stream.flush()


def to_json(findings: Sequence[Finding]) -> str:
    return _json([f.as_dict() for f in findings])


def _json(data: object) -> str:
    import json  # text output, the common case, does not pay for it

    return json.dumps(data, ensure_ascii=False, indent=2)


def _gh_property(value: str) -> str:
    return (value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            .replace(":", "%3A").replace(",", "%2C"))


def _gh_message(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def to_github(findings: Sequence[Finding]) -> str:
    """GitHub Actions workflow commands: one annotation per finding."""
    lines = []
    for f in findings:
        level = {"error": "error", "warning": "warning"}.get(f.severity, "notice")
        msg = message_with_hint(f)
        title = f"{f.code} {f.slug}".strip()
        lines.append(f"::{level} file={_gh_property(f.path)},line={f.line},col={f.column},"
                     f"title={_gh_property(title)}::{_gh_message(msg)}")
    return "\n".join(lines)


def _count(severity: str, n: int) -> str:
    if severity == "error":
        return ngettext("{n} error", "{n} errors", n).format(n=n)
    if severity == "warning":
        return ngettext("{n} warning", "{n} warnings", n).format(n=n)
    return ngettext("{n} info", "{n} infos", n).format(n=n)


def summary_line(findings: Sequence[Finding], nfiles: int, *, strict: bool = False) -> str:
    counts = Counter(f.severity for f in findings)
    files = ngettext("{n} file", "{n} files", nfiles).format(n=nfiles)
    if not findings:
        return _("All checks passed ({files}).").format(files=files)
    # TRANSLATORS: separates the counts in "Found 2 errors, 1 warning in 3 files."
    parts = _(", ").join(_count(s, counts[s]) for s in _SEVERITIES if counts[s])
    failing = counts["error"] + (counts["warning"] if strict else 0)
    if failing:
        return _("Found {counts} in {files}.").format(counts=parts, files=files)
    return _("Found {counts} in {files} (none fail the check).").format(counts=parts,
                                                                         files=files)


def statistics_rows(findings: Sequence[Finding]) -> list[dict[str, object]]:
    counts = Counter((f.code, f.slug, f.severity) for f in findings)
    return [{"code": code, "slug": slug, "severity": sev, "count": n}
            for (code, slug, sev), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def format_statistics(findings: Sequence[Finding]) -> str:
    from .registry import severity_label

    labels = {s: severity_label(s) for s in _SEVERITIES}
    width = max(display_width(v) for v in labels.values())
    lines = []
    for r in statistics_rows(findings):
        label = labels.get(str(r["severity"]), str(r["severity"]))
        pad = " " * max(width - display_width(label), 0)
        lines.append(f"{r['count']:>5}  {r['code']}  {label}{pad}  {r['slug']}")
    return "\n".join(lines)


def clean(text: str) -> str:
    """Text from a playbook, safe to print on a terminal."""
    return _CONTROL.sub("\N{REPLACEMENT CHARACTER}", text)


def display_width(s: str) -> int:
    """Terminal cells taken by ``s`` (CJK and fullwidth characters take two, combining
    marks none), by rich's cell tables; plain ASCII needs no table."""
    if s.isascii():
        return len(s)
    from rich.cells import cell_len

    return cell_len(s)


def caret_pad(line: str, column: int) -> str:
    """The blanks that put a caret under ``column`` (1-based, in characters) of ``line``.
    Tabs are kept as tabs so the terminal lines them up the same way as the source."""
    head = line[: max(column - 1, 0)]
    return "\t".join(" " * display_width(part) for part in head.split("\t")) + \
        " " * max(column - 1 - len(head), 0)


SNIPPET_CELLS = 120  # a longer source line is cut to about this many cells
_SNIPPET_LEFT = 50  # cells kept before the caret when cutting
_CUT = "..."


def snippet(line: str, column: int) -> tuple[str, int]:
    """The part of ``line`` to show and the caret's column in it: a long line (a 5 KB
    message on one line) is cut around ``column``, with ``...`` where it was cut."""
    if len(line) <= SNIPPET_CELLS // 2 or display_width(line) <= SNIPPET_CELLS:
        return line, column
    col = min(max(column, 1), len(line) + 1)
    start, used = col - 1, 0
    while start > 0:
        w = display_width(line[start - 1])
        if used + w > _SNIPPET_LEFT:
            break
        start, used = start - 1, used + w
    end = col - 1
    budget = SNIPPET_CELLS - used
    while end < len(line):
        w = display_width(line[end])
        if budget - w < 0:
            break
        end, budget = end + 1, budget - w
    head = _CUT if start > 0 else ""
    tail = _CUT if end < len(line) else ""
    return head + line[start:end] + tail, column - start + len(head)


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal; NO_COLOR and FORCE_COLOR (no-color.org) decide first."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


# SGR codes; written by hand because importing rich's console would double the
# cost of printing a short report.
_SGR = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34"}


def _text(findings: Sequence[Finding], nfiles: int, *, strict: bool,
          stream: TextIO | None) -> None:
    out = stream if stream is not None else ensure_utf8(sys.stdout)
    colour = use_colour(out)

    def paint(text: str, *styles: str) -> str:
        if not colour or not styles:
            return text
        return f"\x1b[{';'.join(_SGR[s] for s in styles)}m{text}\x1b[0m"

    texts: dict[str, list[str]] = {}
    lines: list[str] = []
    hint_label = _("hint:")
    gap = "" if hint_label.endswith("：") else " "  # a full-width colon has its own space
    for f in findings:
        sev = _COLOURS.get(f.severity, "red")
        slug = " " + paint(f"[{f.slug}]", "dim") if f.slug else ""
        lines.append(f"{paint(clean(f.path), 'bold')}:{f.line}:{f.column}: "
                     f"{paint(f.code, 'bold', sev)} {clean(f.message)}{slug}")
        line = _source_line(f.path, f.line, texts)
        if line is not None and line.strip():
            line, column = snippet(clean(line), f.column)
            gutter = " " * len(str(f.line))
            lines.append(f"  {paint(f'{f.line} |', 'blue')} {line}")
            lines.append(f"  {paint(f'{gutter} |', 'blue')} {caret_pad(line, column)}"
                         f"{paint('^', 'bold', sev)}")
        if f.hint:
            lines.append(f"  {paint('=', 'blue')} {paint(hint_label, 'bold')}{gap}{clean(f.hint)}")
    summary = summary_line(findings, nfiles, strict=strict)
    lines.append(paint(summary, "bold") if findings else paint(summary, "green"))
    _write(out, "\n".join(lines))


def _source_line(path: str, line: int, cache: dict[str, list[str]]) -> str | None:
    if path not in cache:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                cache[path] = _LINE_BREAK.split(fh.read(8 * 1024 * 1024))
        except OSError:
            cache[path] = []
    lines = cache[path]
    return lines[line - 1] if 0 < line <= len(lines) else None
