"""Click's and Typer's own words ("Usage:", panel titles, "[default: …]", usage errors) in
the operator's language, and help tables without a type after flags.

Typer translates its own words through the standard library's ``gettext``, bound at
import time (``from gettext import gettext as _``) to the process locale, not to
``--lang``: :func:`localize` rebinds it to sopctl's catalogue and resets the strings
Typer computed once at import. The click bundled in Typer has no gettext at all: its
usage line, help option and usage errors are translated where they are shown.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

import typer.core

from ..i18n import N_

# Typer's own msgids (typer.core and typer.rich_utils use gettext)
MESSAGES = (
    N_("Options"), N_("Arguments"), N_("Commands"), N_("Error"),
    N_("[default: {}]"), N_("[env var: {}]"), N_("[required]"), N_("(deprecated) "),
    N_("default: {default}"), N_("env var: {var}"), N_("required"), N_("(dynamic)"),
    N_("Aborted."), N_("Aborted!"), N_("Try [blue]'{command_path} {help_option}'[/] for help."),
    N_("Missing command."), N_("No such command {name!r}."),
)
# Typer's bundled click spells its words out in English (no gettext): they are
# translated where they are shown, by these patterns over the finished message.
_HELP_OPTION = "Show this message and exit."
_USAGE = N_("Usage:")
_ERRORS: tuple[tuple[str, str], ...] = (
    (r"No such option: (?P<name>.+?)(?: \(Possible options: (?P<options>.+)\))?",
     N_("No such option: {name}")),
    (r"No such command (?P<name>'.*?')\.(?: Did you mean (?P<options>.+)\?)?",
     N_("No such command {name}.")),
    (r"Missing argument (?P<name>.+?)\.", N_("Missing argument {name}.")),
    (r"Missing option (?P<name>.+?)\.", N_("Missing option {name}.")),
    (r"Missing parameter (?P<name>.+?)\.", N_("Missing parameter {name}.")),
    (r"Option (?P<name>'.+?') requires an argument\.", N_("Option {name} requires an argument.")),
    (r"Option (?P<name>'.+?') does not take a value\.", N_("Option {name} does not take a value.")),
    (r"Got unexpected extra argument(?:s|\(s\))? \((?P<name>.*)\)",
     N_("Unexpected extra arguments: {name}")),
    (r"Invalid value for (?P<name>.+?): (?P<detail>.*)", N_("Invalid value for {name}: {detail}")),
    (r"Invalid value: (?P<detail>.*)", N_("Invalid value: {detail}")),
)
# the detail of an invalid value (pydantic's words, as Typer passes them on)
_DETAILS: tuple[tuple[str, str], ...] = (
    (r"Input should be a valid integer.*", N_("expected a whole number")),
    (r"Input should be a valid number.*", N_("expected a number")),
    (r"Input should be a valid boolean.*", N_("expected true or false")),
    (r"Input should be greater than or equal to (?P<n>\S+)", N_("must be at least {n}")),
    (r"Input should be less than or equal to (?P<n>\S+)", N_("must be at most {n}")),
    (r"Input should be greater than (?P<n>\S+)", N_("must be more than {n}")),
    (r"Input should be less than (?P<n>\S+)", N_("must be less than {n}")),
    (r"(?:Value error, )?(?P<value>'.*?') is not one of (?P<choices>.+?)\.?",
     N_("{value} is not one of {choices}")),
    (r"(?:Value error, )?(?P<kind>\w+) (?P<value>'.*?') does not exist\.",
     N_("{value} does not exist")),
)


def _match(table: tuple[tuple[str, str], ...], text: str) -> str | None:
    import re

    from ..i18n import _

    for pattern, msgid in table:
        m = re.fullmatch(pattern, text, flags=re.S)
        if m is None:
            continue
        fields = {k: v for k, v in m.groupdict().items() if v is not None}
        if "detail" in fields:
            fields["detail"] = _match(_DETAILS, fields["detail"]) or fields["detail"]
        out = _(msgid).format(**{**{"name": "", "options": ""}, **fields})
        if fields.get("options"):
            out += " " + _("(did you mean: {options})").format(options=fields["options"])
        return out
    return None


def translate_error(message: str) -> str:
    """A usage error of Typer's bundled click, in the selected language (as is when the
    language is English or the message is not one of the known forms)."""
    from ..i18n import current

    if current() == "en":
        return message
    return _match(_ERRORS, message) or message


def localize() -> None:
    """Point click's and Typer's gettext at sopctl's selected language (idempotent).

    ``typer.rich_utils`` pulls in rich's console, markdown and syntax highlighting (a
    third of a `sopctl lint` run); Typer imports it only to show help or an error, so
    it is patched when that happens, not imported here."""
    import sys

    from ..i18n import _, ngettext

    core = import_module("typer.core")
    for attr, fn in (("_", _), ("ngettext", ngettext)):
        if hasattr(core, attr):
            setattr(core, attr, fn)
    if "typer.rich_utils" in sys.modules:
        _patch_rich_utils(sys.modules["typer.rich_utils"])
    elif not any(isinstance(f, _PatchOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())


class _PatchOnImport:
    """A meta-path finder that lets ``typer.rich_utils`` load as usual, then patches it."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "typer.rich_utils":
            return None
        import sys
        from importlib.machinery import PathFinder

        sys.meta_path.remove(self)
        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            run(module)
            _patch_rich_utils(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _patch_rich_utils(ru: Any) -> None:
    from ..i18n import _, ngettext

    if hasattr(ru, "_"):
        ru._ = _
    if hasattr(ru, "ngettext"):
        ru.ngettext = ngettext
    ru.DEPRECATED_STRING = _("(deprecated) ")
    ru.DEFAULT_STRING = _("[default: {}]")
    ru.ENVVAR_STRING = _("[env var: {}]")
    ru.REQUIRED_LONG_STRING = _("[required]")
    ru.ARGUMENTS_PANEL_TITLE = _("Arguments")
    ru.OPTIONS_PANEL_TITLE = _("Options")
    ru.COMMANDS_PANEL_TITLE = _("Commands")
    ru.ERRORS_PANEL_TITLE = _("Error")
    ru.ABORTED_TEXT = _("Aborted.")
    ru.RICH_HELP = _("Try [blue]'{command_path} {help_option}'[/] for help.")
    if not getattr(ru.rich_format_error, "_sopctl", False):
        shown = ru.rich_format_error

        def rich_format_error(exc: Any) -> None:
            message = translate_error(exc.format_message())
            exc.format_message = lambda: message  # this instance only
            shown(exc)

        rich_format_error._sopctl = True  # type: ignore[attr-defined]
        ru.rich_format_error = rich_format_error
    # the help highlighter styles the usage prefix by its English text
    usage = _(_USAGE)
    hl = ru.OptionHighlighter
    if usage != "Usage:" and not any(usage in h for h in hl.highlights):
        import re

        hl.highlights = [*hl.highlights, rf"(?P<usage>{re.escape(usage)} )"]


def _untyped_flags(params: list[Any]) -> list[Any]:
    """Typer's help shows every option's type, so a flag read ``--force <bool>``: a flag
    takes no value, so it gets an empty metavar (the type column stays blank). The help
    option's text, hard-coded in Typer's click, is translated here too."""
    from ..i18n import _

    for p in params:
        if getattr(p, "is_flag", False) and p.metavar is None:
            p.metavar = ""
        if p.name == "help" and p.help == _HELP_OPTION:
            p.help = _(N_("Show this message and exit."))
    return params


def _usage(cmd: Any, ctx: Any, formatter: Any) -> None:
    from ..i18n import _

    formatter.write_usage(ctx.command_path, " ".join(cmd.collect_usage_pieces(ctx)),
                          prefix=_(_USAGE) + " ")


class Command(typer.core.TyperCommand):
    """A command whose help lists flags without a value type."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        _usage(self, ctx, formatter)


class Group(typer.core.TyperGroup):
    """A command group whose help lists flags without a value type."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        _usage(self, ctx, formatter)
