"""Find English prose left in output that should be Chinese.

    from tests.i18n_check import english_runs
    assert english_runs(output) == []

A finding is a run of three or more consecutive English words (``[A-Za-z]+``, separated
by blanks, optionally with a comma or a sentence mark) once everything that legitimately
stays ASCII in a Chinese interface has been blanked out:

* code spans and quoted values: ``...``, `...`, '...', "..." (names the user wrote,
  YAML snippets, commands to type);
* identifiers and machine tokens: snake_case, kebab-case, dotted.paths, paths with a
  slash, --options, ${VARS}, {placeholders}, rule codes (SOP204), words with digits,
  ALL-CAPS words, URLs, e-mail addresses, times and dates;
* names of products and formats that have no Chinese name (WeCom, Feishu, YAML, ...),
  and any extra terms a caller passes in ``allow``;
* whole lines a caller says are quoted source, such as a lint snippet's ``12 | ...``
  and caret lines (``skip_lines``, a regex; the default matches those).

Two English words in a row (``Asia/Shanghai UTC``, ``quiet: drop``) are allowed; a third
makes it a phrase a person would have to read in English. The check is meant for any
command's human output: agenda tables, simulate reports, history, log lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Product, platform and format names that stay as they are in Chinese text.
_NAMES = """
sopctl WeCom WeChat Feishu Lark DingTalk Telegram Slack Discord Moments YAML JSON SARIF CSV
HTML UTF-8 BOM GBK IANA UTC URL URLs HTTP HTTPS API SQLite PostgreSQL GitHub Actions Excel
Windows APScheduler cron noqa Markdown markdown webhook token bot robot Python TOML
"""
NAMES = frozenset(_NAMES.split())

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_MASKS = [re.compile(p) for p in (
    r"``.*?``", r"`[^`\n]*`",  # code spans
    r"'[^'\n]*'", r'"[^"\n]*"', r"“[^”\n]*”", r"‘[^’\n]*’",  # quoted values
    r"https?://\S+", r"[\w.+-]+@[\w-]+\.[\w.]+",  # URLs, e-mail
    r"\$\{[^}\n]*\}", r"\{[^{}\n]*\}",  # ${VAR}, {placeholder}
    r"(?<![\w-])--?[A-Za-z][\w-]*",  # --options, -f
    r"\S*[/\\]\S*",  # paths and zones (Asia/Shanghai, playbooks/x.yaml)
    r"\b[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)+(?:\[\d+\])*",  # dotted.paths, file.yaml
    r"\b(?=\w*[A-Za-z])(?=\w*[_\d])\w+\b",  # snake_case, words with digits, SOP204
    r"\b[A-Za-z]+(?:-[A-Za-z]+)+\b",  # kebab-case slugs
    r"\b[A-Z]{2,}s?\b",  # ALL-CAPS
)]
_SNIPPET = r"^\s*\d*\s*\|"  # lint's source line and caret line
_SEP = r"[,.;:!?()]?[ \t]+\(?"
# words, with numbers between them (``Found 7 errors``) read as part of the phrase
_RUN = re.compile(rf"[A-Za-z]+(?:{_SEP}(?:\d[\d:.,/-]*{_SEP})?[A-Za-z]+){{2,}}")


def mask(text: str, allow: Iterable[str] = ()) -> str:
    """``text`` with everything that may stay ASCII blanked to a ``·``."""
    text = _ANSI.sub("", text)
    for rx in _MASKS:
        text = rx.sub("·", text)
    words = NAMES | frozenset(allow)
    return re.sub(r"[A-Za-z][A-Za-z0-9-]*",
                  lambda m: "·" if m.group(0) in words else m.group(0), text)


def english_runs(text: str, *, allow: Iterable[str] = (),
                 skip_lines: str | None = _SNIPPET) -> list[str]:
    """The English phrases left in ``text`` (empty when everything a person reads is
    translated). Each item is ``line: phrase`` for a readable assertion message."""
    skip = re.compile(skip_lines) if skip_lines else None
    found = []
    for line in text.splitlines():
        if skip is not None and skip.match(line):
            continue
        for m in _RUN.finditer(mask(line, allow)):
            found.append(f"{line.strip()!r}: {m.group(0)!r}")
    return found
