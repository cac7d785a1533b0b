"""The `sopctl` command line: parses arguments and calls in. Nothing else lives here."""

from __future__ import annotations

import os
import sys

import typer

from . import __version__
from .commands import agenda as agenda_cmd
from .commands import history as history_cmd
from .commands import init as init_cmd
from .commands import lint as lint_cmd
from .commands import members as members_cmd
from .commands import run as run_cmd
from .commands import schema as schema_cmd
from .commands import serve as serve_cmd
from .commands import simulate as simulate_cmd
from .commands import status as status_cmd
from .errors import EXIT_USAGE, SopctlError

app = typer.Typer(
    name="sopctl",
    help="Community-operations SOPs as code: lint, forecast and run chat-group playbooks.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sopctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """sopctl turns a SOP into a playbook and checks, forecasts and runs it."""


app.command("lint")(lint_cmd.lint)
app.command("agenda")(agenda_cmd.agenda)
app.command("simulate")(simulate_cmd.simulate)
app.command("rules")(lint_cmd.rules)
app.command("rule")(lint_cmd.rule)
app.command("schema")(schema_cmd.schema)
app.command("init")(init_cmd.init)
app.command("run")(run_cmd.run)
app.command("history")(history_cmd.history)
app.command("status")(status_cmd.status)
app.command("serve")(serve_cmd.serve)
app.add_typer(members_cmd.app, name="members")


def main() -> None:
    """Entry point: one place that turns failures into clean messages and exit codes."""
    from .lint.report import ensure_utf8

    for stream in (sys.stdout, sys.stderr):  # CJK must not die on a C-locale pipe
        ensure_utf8(stream)
    # sopctl uses no pydantic plugins; looking for them scans every installed package.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        app(prog_name="sopctl")
    except SopctlError as exc:
        from .console import err_console

        err_console().print(f"[bold red]error:[/] {exc.message}", highlight=False)
        if exc.hint:
            err_console().print(f"  [dim]hint:[/] {exc.hint}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the last line of defence: never a traceback by default
        if os.environ.get("SOPCTL_DEBUG"):
            raise
        from .console import err_console

        err_console().print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {exc}\n"
            "  set SOPCTL_DEBUG=1 to see the traceback, and please report it.", highlight=False)
        sys.exit(EXIT_USAGE)


if __name__ == "__main__":
    main()
