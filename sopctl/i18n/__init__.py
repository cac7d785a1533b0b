"""The operator's language: gettext catalogues under ``sopctl/locale`` (compiled ``.mo``
files shipped in the package), selected once per process.

Selection, first match wins: ``--lang`` on the command line, ``SOPCTL_LANG``, the locale
(``LC_ALL``, ``LC_MESSAGES``, ``LANG``: ``zh_*`` means zh-CN), else English. Machine surfaces
(codes, JSON keys, exit codes, status words) are never translated.

Source strings are English and carry named placeholders, so a translation can reorder them::

    _("slot '{slot}' collides with '{other}'").format(slot=a, other=b)
"""

from __future__ import annotations

import gettext as _gettext
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LANGS = ("en", "zh-CN")
DOMAIN = "sopctl"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

_translation: _gettext.NullTranslations = _gettext.NullTranslations()
_lang = "en"
_loaded: dict[str, _gettext.NullTranslations] = {}


def normalize(value: str | None) -> str | None:
    """``zh-CN``, ``zh_CN.UTF-8``, ``zh``, ``en_US`` … -> one of LANGS, or None when unknown."""
    if not value:
        return None
    v = value.strip().replace("_", "-").split(".")[0].split("@")[0].lower()
    if v.startswith("zh"):
        return "zh-CN"
    if v.startswith("en") or v in ("c", "posix"):
        return "en"
    return None


def detect(cli: str | None = None, environ: dict[str, str] | None = None) -> str:
    """The language to use: ``cli`` (``--lang``), ``SOPCTL_LANG``, the locale, English."""
    env = os.environ if environ is None else environ
    for candidate in (cli, env.get("SOPCTL_LANG")):
        lang = normalize(candidate)
        if lang:
            return lang
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var)
        if value:  # the first one set decides, as in POSIX
            return normalize(value) or "en"
    return "en"


def setup(lang: str | None = None) -> str:
    """Select the language for this process (``lang`` None: detect it). Returns it."""
    global _translation, _lang
    _lang = normalize(lang) or detect()
    if _lang not in _loaded:  # parsed once: import selects, then main() may select again
        _loaded[_lang] = _gettext.NullTranslations() if _lang == "en" else _gettext.translation(
            DOMAIN, LOCALE_DIR, languages=[_lang.replace("-", "_")], fallback=True)
    _translation = _loaded[_lang]
    return _lang


def current() -> str:
    """The selected language, ``en`` or ``zh-CN``."""
    return _lang


def _(message: str) -> str:
    """``message`` in the selected language."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of ``singular``/``plural`` for ``n`` (Chinese has one form)."""
    return _translation.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it yet (module constants)."""
    return message


def paragraphs(text: str) -> str:
    """``text`` translated paragraph by paragraph (blank-line separated), the way the
    catalogue holds long prose such as a rule's explanation."""
    if _lang == "en" or not text:
        return text
    return "\n\n".join(_(p.strip()) for p in text.split("\n\n") if p.strip())


@contextmanager
def using(lang: str) -> Iterator[str]:
    """Switch to ``lang`` for a block (docs generation, tests), then back."""
    global _translation, _lang
    saved = _translation, _lang
    try:
        yield setup(lang)
    finally:
        _translation, _lang = saved


setup()
