"""CLI help in the operator's language. Help texts stay English in the source (command
docstrings, ``help=``); the click tree Typer builds is translated once before it runs."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from . import _, current


def _texts(cmd: Any) -> Iterator[tuple[Any, str, str]]:
    """(object, attribute, text) of every help text under ``cmd``."""
    for attr in ("help", "short_help", "epilog"):
        text = getattr(cmd, attr, None)
        if text:
            yield cmd, attr, text
    for param in getattr(cmd, "params", ()):
        if getattr(param, "help", None):
            yield param, "help", param.help
    for sub in getattr(cmd, "commands", {}).values():
        yield from _texts(sub)


def _key(text: str) -> str:
    return inspect.cleandoc(text)


def translate_tree(cmd: Any) -> Any:
    """Replace every help text under the click command ``cmd`` by its translation."""
    if current() == "en":
        return cmd
    for obj, attr, text in _texts(cmd):
        translated = _(_key(text))
        if translated != _key(text):
            setattr(obj, attr, translated)
    return cmd
