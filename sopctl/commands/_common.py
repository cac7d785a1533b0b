"""Shared by the commands that work on one playbook: find it, load it, or stop cleanly."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..errors import EXIT_FINDINGS, UsageError
from ..i18n import _

if TYPE_CHECKING:
    from datetime import date

    from ..playbook.loader import Loaded

# Where the ledger lives, the same for every command that reads or writes it: run, serve,
# status, history, members. (An OptionInfo is a declaration, so one may serve many.)
STORE_OPTION: str = typer.Option(
    None, "--store", envvar="SOPCTL_STORE",
    help="Ledger database URL (postgresql://...); default SQLite in the state directory.")
STATE_DIR_OPTION: Path = typer.Option(
    None, "--state-dir", envvar="SOPCTL_STATE_DIR",
    help="Where the SQLite ledger lives (default ./.sopctl).")
# Excel on Chinese Windows reads a CSV as UTF-8 only when it starts with a byte order mark;
# a pipe into another program wants none: hence on for a file, off for standard output.
BOM_OPTION: bool = typer.Option(
    None, "--bom/--no-bom", help="Start CSV with a UTF-8 byte order mark, so Excel reads "
    "Chinese right (default: on for a file, off for standard output).")


def with_bom(text: str, bom: bool | None, *, to_file: bool) -> str:
    """CSV text with the byte order mark ``--bom/--no-bom`` (or its default) asks for."""
    from ..tables import BOM

    return (BOM if (to_file if bom is None else bom) else "") + text


def _port(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 65535:
        from ..i18n import _

        raise typer.BadParameter(
            _("{port} is not a port; use a number from 1 to 65535").format(port=value))
    return value


def port_option(*decls: str, help: str) -> Any:
    """A TCP port, checked as the command line is parsed: out of range is a usage error
    naming the option (exit 2), not an OverflowError from bind()."""
    return typer.Option(None, *decls, callback=_port, help=help)


def check_path(path: str) -> None:
    """A usage error (exit 2) for a path that is missing or a directory; '-' is stdin."""
    if path == "-":
        return
    p = Path(path)
    if p.is_dir():
        raise UsageError(_("{path}: is a directory; name a playbook file").format(path=path),
                         hint=_("name one of the .yaml files in it (`sopctl lint` takes "
                                "directories)"))
    if not p.exists():
        raise UsageError(_("{path}: no such file or directory").format(path=path))


def load_or_exit(path: str | None) -> tuple[str, Loaded]:
    """``path`` (default: the playbook found here) loaded; if it has errors, they are
    printed located, as `sopctl lint` prints them, and the command exits 1."""
    from ..playbook.discover import find_playbook
    from ..playbook.loader import load_playbook

    path = path or find_playbook()
    assert path is not None  # find_playbook() raises when there is none
    check_path(path)
    loaded = load_playbook(path)
    errors = [f for f in loaded.findings if f.severity == "error"]
    if errors or loaded.playbook is None:
        import sys

        from ..lint.report import ensure_utf8, render

        # stderr: `agenda -f json > plan.json` must not get findings in its JSON
        render(errors, 1, "text", out=ensure_utf8(sys.stderr))
        raise typer.Exit(EXIT_FINDINGS)
    return path, loaded


def first_day(value: str | None, option: str, tz: str, days: int = 0) -> date:
    """The first local day of a window: ``value`` (YYYY-MM-DD) or today in ``tz``. Years
    far outside any real calendar are refused here rather than overflowing in the plan."""
    from datetime import date, datetime, timedelta
    from zoneinfo import ZoneInfo

    if value is None:
        return datetime.now(ZoneInfo(tz)).date()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise UsageError(_("{option} '{value}' is not a date").format(option=option, value=value),
                         hint=_("write it as YYYY-MM-DD, e.g. 2026-11-24")) from None
    if not date(1900, 1, 1) <= day <= date(9000, 12, 31) - timedelta(days=days):
        raise UsageError(_("{option} {value}: the {n}-day window must lie within "
                           "1900-01-01..9000-12-31").format(option=option, value=value, n=days))
    return day


def write_output(path: Path, text: str) -> None:
    """Write a command's output file; an unwritable path is a usage error, not a crash."""
    try:
        path.write_bytes(text.encode("utf-8"))
    except OSError as exc:
        from ..i18n.thirdparty import os_reason

        raise UsageError(_("cannot write {path}: {reason}").format(
            path=path, reason=os_reason(exc))) from None
