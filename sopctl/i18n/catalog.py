"""Maintain the zh-CN catalogue (a developer tool; Babel is a test/dev dependency).

    python -m sopctl.i18n.catalog update            # extract, merge into the .po, compile
    python -m sopctl.i18n.catalog translate F.json  # {"msgid": "译文", ...} into the .po
    python -m sopctl.i18n.catalog check             # untranslated, fuzzy or stale: exit 1

Messages come from three places: ``_()``, ``N_()`` and ``ngettext()`` calls in the
package's source, every rule's summary and explanation (its docstring), and the help text
of every command and option of the CLI tree. Every write takes a file lock, so several
editors can feed translations in at once.
"""

from __future__ import annotations

import fcntl
import io
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

from . import DOMAIN, LOCALE_DIR

PACKAGE = Path(__file__).resolve().parent.parent
PO = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / f"{DOMAIN}.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


@contextmanager
def _locked() -> Iterator[None]:
    with open(Path(tempfile.gettempdir()) / "sopctl-catalog.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _source_messages() -> Iterator[tuple[str | tuple[str, str], str]]:
    """(message, location) of every marked string in the package's Python source."""
    from babel.messages.extract import extract_from_dir

    method_map = [("**.py", "python")]
    for filename, lineno, message, _comments, _ctx in extract_from_dir(
            str(PACKAGE), method_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)):
        if filename in ("i18n/__init__.py", "i18n/catalog.py"):  # definitions, not messages
            continue
        yield message, f"sopctl/{filename}:{lineno}"


def _rule_messages() -> Iterator[tuple[str, str]]:
    from ..lint.registry import all_rules

    for rule in all_rules():
        yield rule.summary, f"rule/{rule.code}/summary"
        for para in rule.explanation.split("\n\n"):
            if para.strip():
                yield para.strip(), f"rule/{rule.code}/explanation"


def _help_messages() -> Iterator[tuple[str, str]]:
    """Help texts as the CLI shows them (commands' docstrings, options' help)."""
    import typer.main

    from ..main import build_app
    from .help import _key, _texts

    root = typer.main.get_command(build_app())
    for obj, attr, text in _texts(root):
        name = getattr(obj, "name", "") or ""
        yield _key(text), f"cli/{name}/{attr}"


def _new_catalog():
    from datetime import datetime

    from babel.messages.catalog import Catalog

    # fixed header dates: the .po changes only when a message does
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    cat = Catalog(locale="zh_CN", domain=DOMAIN, project="sopctl", version="0.1",
                  copyright_holder="sopctl authors", charset="utf-8", fuzzy=False,
                  creation_date=epoch, revision_date=epoch,
                  last_translator="sopctl authors", language_team="zh-CN")
    return cat


def extract():  # -> babel Catalog
    cat = _new_catalog()
    for source in (_source_messages(), _rule_messages(), _help_messages()):
        for message, where in source:
            if not message:
                continue
            cat.add(message, locations=[(where, None)] if ":" not in where
                    else [(where.rsplit(":", 1)[0], int(where.rsplit(":", 1)[1]))])
    return cat


def _read():
    from babel.messages.pofile import read_po

    if not PO.exists():
        return _new_catalog()
    with PO.open("rb") as fh:
        return read_po(fh, locale="zh_CN", domain=DOMAIN)


def _mo_bytes(cat) -> bytes:
    from babel.messages.mofile import write_mo

    buf = io.BytesIO()
    write_mo(buf, cat, use_fuzzy=False)
    return buf.getvalue()


def _write(cat) -> None:
    from babel.messages.pofile import write_po

    PO.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    write_po(buf, cat, width=100, sort_output=True, omit_header=False, include_previous=False)
    PO.write_bytes(buf.getvalue())
    MO.write_bytes(_mo_bytes(cat))


def update() -> int:
    """Merge freshly extracted messages into the .po (translations kept), compile.

    A message that disappears (a string being edited, a module that failed to import
    while someone else works on it) is kept as obsolete (``#~``) and its translation
    comes back when the message does, so no run of ``update`` loses work."""
    template = extract()
    with _locked():
        cat = merge(_read(), template)
        cat.fuzzy = False
        _write(cat)
    missing = untranslated(cat)
    print(f"{len(cat)} messages, {len(missing)} without a translation")
    return 0


def merge(cat, template):  # (babel Catalog, babel Catalog) -> the first, updated
    """``cat`` updated to the messages of ``template``: translations kept, vanished
    messages kept as obsolete, and obsolete translations revived when they return."""
    memory = {_singular(m.id): m.string for m in [*cat.obsolete.values(), *cat]
              if m.id and _complete(m) and not m.fuzzy}
    cat.update(template, no_fuzzy_matching=True, update_header_comment=True)
    for msg in cat:
        if msg.id and not _complete(msg) and _singular(msg.id) in memory:
            _set(msg, memory[_singular(msg.id)])
    for key in [k for k in cat.obsolete if cat.get(k) is not None]:
        del cat.obsolete[key]
    cat.creation_date = cat.revision_date = template.creation_date
    return cat


def translate(mapping: dict[str, str | list[str]]) -> int:
    """Set translations. A key that is not (yet) a message is kept as obsolete: the next
    ``update`` that extracts it gives it this translation."""
    from babel.messages.catalog import Message

    unknown = []
    with _locked():
        cat = _read()
        for msgid, text in mapping.items():
            msg = cat.get(msgid)
            if msg is None:
                cat.obsolete[msgid] = Message(msgid, text if isinstance(text, str) else text[0])
                unknown.append(msgid)
                continue
            _set(msg, text)
        _write(cat)
    print(f"{len(mapping) - len(unknown)} translations written")
    for msgid in unknown:
        print(f"not a message (yet), kept for the next update: {msgid!r}")
    return 0


def _set(msg, text: str | list[str] | tuple[str, ...]) -> None:
    if isinstance(msg.id, tuple):
        msg.string = (text,) if isinstance(text, str) else tuple(text)
    else:
        msg.string = text if isinstance(text, str) else text[0]
    msg.flags.discard("fuzzy")


def _singular(msgid: str | tuple[str, ...]) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def _where(cat, msgid: str) -> str:
    msg = cat.get(msgid) or next((m for m in cat if _singular(m.id) == msgid), None)
    locs = [f"{f}:{n}" if n else f for f, n in (msg.locations if msg else [])]
    return ", ".join(locs[:2]) or "?"


def _complete(msg) -> bool:
    strings = msg.string if isinstance(msg.string, tuple) else (msg.string,)
    return all(strings)


def untranslated(cat) -> list[str]:
    out = []
    for msg in cat:
        if not msg.id:
            continue
        strings = msg.string if isinstance(msg.string, tuple) else (msg.string,)
        if msg.fuzzy or not all(strings):
            out.append(msg.id if isinstance(msg.id, str) else msg.id[0])
    return out


def _fields(text: str) -> set[str] | None:
    """The ``{name}`` placeholders of ``text`` (None when it is not a format string)."""
    import string

    try:
        return {name for _lit, name, _spec, _conv in string.Formatter().parse(text)
                if name is not None}
    except ValueError:
        return None


def placeholder_mismatches(cat) -> list[str]:
    """Translations whose placeholders differ from their message's: ``.format()`` would
    raise, or show a value in the wrong place."""
    out = []
    for msg in cat:
        # only source strings are formatted; rule docs and help texts are shown as written
        if not msg.id or not msg.string or not any(
                str(loc).endswith(".py") for loc, _line in msg.locations):
            continue
        ids = msg.id if isinstance(msg.id, tuple) else (msg.id,)
        strings = msg.string if isinstance(msg.string, tuple) else (msg.string,)
        want = _fields(ids[-1])
        for text in strings:
            if text and _fields(text) != want:
                out.append(f"placeholders differ: {ids[0]!r} -> {text!r}")
    return out


def problems() -> list[str]:
    """What is wrong with the shipped catalogue: missing messages, untranslated, wrong
    placeholders, stale .mo."""
    cat = _read()
    found = []
    for msgid in extract():
        key = msgid.id
        if not key:
            continue
        if cat.get(key) is None:
            found.append(f"not in {PO.name}: {key!r} (run update)")
    found += [f"untranslated: {m!r} ({_where(cat, m)})" for m in untranslated(cat)]
    found += placeholder_mismatches(cat)
    if not MO.exists() or MO.read_bytes() != _mo_bytes(cat):
        found.append(f"{MO.name} is stale: run `python -m sopctl.i18n.catalog update`")
    return found


def main(argv: list[str]) -> int:
    if argv[:1] == ["update"]:
        return update()
    if argv[:1] == ["translate"] and len(argv) == 2:
        return translate(json.loads(Path(argv[1]).read_text(encoding="utf-8")))
    if argv[:1] == ["check"]:
        found = problems()
        for line in found:
            print(line)
        print(f"{len(found)} problems")
        return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
