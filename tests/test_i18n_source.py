"""The catalogue's extractor reads tokens: a ``_()`` written inside an f-string is one string
token to it, so that message would never reach the catalogue and never be translated.
(``_()`` of a variable is fine: constants are marked where defined, with ``N_()``.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FUNCS = {"_", "N_", "ngettext"}
SOURCES = sorted(Path("sopctl").rglob("*.py"))


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in FUNCS:
            yield node


def problems(text: str, where: str) -> list[str]:
    tree = ast.parse(text)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            for inner in _calls(node):
                if inner.args and isinstance(inner.args[0], ast.Constant):
                    found.append(f"{where}:{inner.lineno}: {inner.func.id}() inside an f-string")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=str)
def test_no_message_inside_an_f_string(path: Path) -> None:
    assert problems(path.read_text(encoding="utf-8"), str(path)) == []


def test_the_check_finds_one() -> None:
    bad = 'x = f"{_(\'hidden\')}"\ny = _(name)\nz = _("fine")\n'
    assert problems(bad, "m.py") == ["m.py:1: _() inside an f-string"]
