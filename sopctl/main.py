"""The `sopctl` command line: parses arguments and calls in. Nothing else lives here."""

from __future__ import annotations

import os
import sys
from importlib import import_module
from typing import Any

import typer

from . import __version__
from .errors import EXIT_USAGE, SopctlError

# name -> (module under sopctl.commands, attribute): a command, or a Typer sub-app
COMMANDS: dict[str, tuple[str, str]] = {
    "lint": ("lint", "lint"),
    "agenda": ("agenda", "agenda"),
    "simulate": ("simulate", "simulate"),
    "rules": ("lint", "rules"),
    "rule": ("lint", "rule"),
    "schema": ("schema", "schema"),
    "init": ("init", "init"),
    "run": ("run", "run"),
    "history": ("history", "history"),
    "status": ("status", "status"),
    "serve": ("serve", "serve"),
    "members": ("members", "app"),
    "calibrate": ("calibrate", "calibrate"),
}
EXIT_INTERRUPTED = 130  # 128 + SIGINT: what shells and supervisors read as "interrupted"
# One-shot commands: their objects are nearly all acyclic and die with the process, yet
# the cyclic collector's passes over the thousands pydantic and Typer create, during the
# run and once more at interpreter exit, cost a quarter of a `sopctl lint` run.
ONE_SHOT = frozenset({"lint", "rules", "rule", "schema"})


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sopctl {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
    lang: str = typer.Option(None, "--lang", metavar="zh-CN|en",
                             help="Language of everything sopctl prints (default: SOPCTL_LANG, "
                                  "then the locale: LC_ALL, LC_MESSAGES, LANG)."),
) -> None:
    """sopctl turns a SOP into a playbook and checks, forecasts and runs it."""


def build_app(only: str | None = None) -> typer.Typer:
    """The whole command tree, or the group with just the command ``only``: Typer builds
    every command's parameters on each call, which a one-shot `sopctl lint` should not
    pay for eleven commands it does not run."""
    from .commands._clitext import Command, Group, localize

    localize()
    app = typer.Typer(
        name="sopctl",
        cls=Group,
        help="Community-operations SOPs as code: lint, forecast and run chat-group playbooks.",
        no_args_is_help=True,
        rich_markup_mode="rich",
        pretty_exceptions_enable=False,
    )
    app.callback()(_root)
    for name, (module, attr) in COMMANDS.items():
        if only is not None and name != only:
            continue
        target = getattr(import_module(f"{__package__}.commands.{module}"), attr)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name, cls=Command)(target)
    return app


def __getattr__(name: str) -> Any:  # `from sopctl.main import app`: the full tree
    if name == "app":
        globals()["app"] = built = build_app()
        return built
    raise AttributeError(name)


def _invoked(argv: list[str]) -> str | None:
    """The command named on the command line, when only it needs building (not for shell
    completion, which walks the whole tree)."""
    args = list(argv[1:])
    while args[:1] and args[0].startswith("--lang"):  # the global option before the command
        del args[: 1 if "=" in args[0] else 2]
    if not args or args[0] not in COMMANDS:
        return None
    if any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ):
        return None
    return args[0]


def _lang_arg(argv: list[str]) -> str | None:
    """The global ``--lang`` value, read before Typer runs: help texts and messages are
    translated as the tree is built. An unknown value is a usage error."""
    for i, arg in enumerate(argv[1:], start=1):
        if arg == "--":
            break
        if arg.startswith("--lang="):
            value = arg.split("=", 1)[1]
        elif arg == "--lang" and i + 1 < len(argv):
            value = argv[i + 1]
        else:
            continue
        from .i18n import LANGS, _, normalize

        if normalize(value) is None:  # said in the language of the environment
            raise SopctlError(_("unknown language {value}").format(value=repr(value)),
                              hint=_("use one of: {langs}").format(langs=", ".join(LANGS)))
        return value
    return None


def _without_lang(argv: list[str]) -> list[str]:
    """``argv`` without the ``--lang`` option (before ``--``), wherever it was written."""
    out: list[str] = [argv[0]]
    rest = iter(argv[1:])
    for arg in rest:
        if arg == "--":
            out += [arg, *rest]
            break
        if arg == "--lang":
            next(rest, None)
        elif not arg.startswith("--lang="):
            out.append(arg)
    return out


def main() -> None:
    """Entry point of the `sopctl` script and `python -m sopctl`."""
    from .i18n import setup
    from .lint.report import ensure_utf8

    for stream in (sys.stdout, sys.stderr):  # CJK must not die on a C-locale pipe
        ensure_utf8(stream)
    # sopctl uses no pydantic plugins; looking for them scans every installed package.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        setup(_lang_arg(sys.argv))
        sys.argv[:] = _without_lang(sys.argv)  # read: `sopctl lint x.yaml --lang en` works too
    except SopctlError as exc:
        from .console import err_console
        from .i18n import _

        # (no _() inside f-strings: the catalogue's extractor does not see them)
        error, hint = _("error:"), _("hint:")
        err_console().print(f"[bold red]{error}[/] {exc.message}\n  [dim]{hint}[/] {exc.hint}",
                            highlight=False)
        sys.exit(exc.exit_code)
    command = _invoked(sys.argv)
    if command not in ONE_SHOT:
        _run(command)
        return
    import gc

    gc.disable()
    try:
        _run(command)
    finally:
        gc.freeze()  # exit runs finalizers and atexit as usual, minus a full collection


def _run(command: str | None) -> None:
    """The one place that turns failures into clean messages and exit codes."""
    from .i18n import _

    try:
        import typer.main

        from .i18n.help import translate_tree

        cli = translate_tree(typer.main.get_command(build_app(command)))
        _interruptible(cli)(prog_name="sopctl")
    except SopctlError as exc:
        from .console import err_console

        error, hint = _("error:"), _("hint:")
        err_console().print(f"[bold red]{error}[/] {exc.message}", highlight=False)
        if exc.hint:
            err_console().print(f"  [dim]{hint}[/] {exc.hint}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:  # while the command tree was being built
        _say_interrupted()
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # the last line of defence: never a traceback by default
        if os.environ.get("SOPCTL_DEBUG"):
            raise
        from .console import err_console

        err_console().print(
            "[bold red]" + _("internal error:") + f"[/] {type(exc).__name__}: {exc}\n  "
            + _("set SOPCTL_DEBUG=1 to see the traceback, and please report it."),
            highlight=False)
        sys.exit(EXIT_USAGE)


def _interruptible(cli: Any) -> Any:
    """``cli`` (the click group) with Ctrl-C ending any command with one line and exit 130.

    Left alone, Typer ends a command interrupted while it works silently, and click's
    prompts turn Ctrl-C into the Abort that end of input raises too (exit 1, "Aborted.").
    ``sopctl run`` and ``serve`` take SIGINT themselves (a graceful stop): no interrupt
    reaches here from them while they run.
    """
    invoke = cli.invoke

    def guarded(ctx: Any) -> Any:
        try:
            return invoke(ctx)
        except KeyboardInterrupt:
            pass
        except typer.Abort as exc:
            if not isinstance(exc.__context__, KeyboardInterrupt):
                raise  # end of input at a prompt: exit 1, as before
        _say_interrupted()
        raise typer.Exit(EXIT_INTERRUPTED)

    cli.invoke = guarded
    return cli


def _say_interrupted() -> None:
    from .i18n import _

    # on a terminal, after the echoed ^C (or a prompt's text): a line of its own
    lead = "\n" if sys.stderr.isatty() else ""
    typer.echo(lead + _("interrupted"), err=True)


if __name__ == "__main__":
    main()
