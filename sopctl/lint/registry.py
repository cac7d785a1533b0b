"""The rule catalogue: every rule is a module with CODE, SLUG, SEVERITY, a docstring
(the summary line, an explanation, and ``Bad::`` / ``Good::`` YAML examples) and,
unless the loader emits it, a ``check(ctx)`` generator of findings.

The docstring is the single source for `sopctl rule CODE`, `sopctl rules` and docs.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING

from ..i18n import N_, _, paragraphs

if TYPE_CHECKING:
    from ..findings import Finding
    from .context import Context

_SECTION = re.compile(r"^(Bad|Good)::\s*$", re.M)
SEVERITY_LABELS = {"error": N_("error"), "warning": N_("warning"), "info": N_("info")}


def severity_label(severity: str) -> str:
    """``error``/``warning``/``info`` as a person reads it (JSON keeps the plain word)."""
    return _(SEVERITY_LABELS[severity]) if severity in SEVERITY_LABELS else severity


@dataclass(frozen=True, slots=True)
class RuleInfo:
    code: str
    slug: str
    severity: str
    doc: str
    check: Callable[[Context], Iterable[Finding]] | None
    module: str

    # the prose is parsed when shown (`sopctl rule`, docs, SARIF), not on every lint run
    @property
    def summary(self) -> str:
        return _sections(self.doc)[0]

    @property
    def explanation(self) -> str:
        return _sections(self.doc)[1]

    @property
    def bad(self) -> str:
        return _sections(self.doc)[2]

    @property
    def good(self) -> str:
        return _sections(self.doc)[3]

    # in the selected language (the catalogue holds the summary and each paragraph)
    @property
    def local_summary(self) -> str:
        return _(self.summary) if self.summary else ""

    @property
    def local_explanation(self) -> str:
        return paragraphs(self.explanation)

    def as_dict(self) -> dict[str, str]:
        """Keys and codes stay; summary and explanation follow the selected language."""
        return {"code": self.code, "slug": self.slug, "severity": self.severity,
                "summary": self.local_summary, "explanation": self.local_explanation,
                "bad": self.bad, "good": self.good}


@cache
def _sections(doc: str) -> tuple[str, str, str, str]:
    """(summary, explanation, bad example, good example) of a rule's docstring."""
    import textwrap

    parts = _SECTION.split(doc.strip("\n"))
    summary, _sep, explanation = parts[0].strip().partition("\n")
    examples = {parts[i]: textwrap.dedent(parts[i + 1]).strip("\n")
                for i in range(1, len(parts) - 1, 2)}
    return (summary.strip(), textwrap.dedent(explanation).strip(), examples.get("Bad", ""),
            examples.get("Good", ""))


def rule_from_module(mod: ModuleType) -> RuleInfo:
    return RuleInfo(code=mod.CODE, slug=mod.SLUG, severity=mod.SEVERITY, doc=mod.__doc__ or "",
                    check=getattr(mod, "check", None), module=mod.__name__)


@cache
def all_rules() -> tuple[RuleInfo, ...]:
    from .rules import MODULES

    rules = [rule_from_module(importlib.import_module(f"{__package__}.rules.{name}"))
             for name in MODULES]
    return tuple(sorted(rules, key=lambda r: r.code))


def find_rule(name: str) -> RuleInfo | None:
    """A rule by code (SOP101, case-insensitive) or slug."""
    key = name.strip()
    for r in all_rules():
        if r.code.lower() == key.lower() or r.slug == key:
            return r
    return None
