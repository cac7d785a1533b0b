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

if TYPE_CHECKING:
    from ..findings import Finding
    from .context import Context

_SECTION = re.compile(r"^(Bad|Good)::\s*$", re.M)


@dataclass(frozen=True, slots=True)
class RuleInfo:
    code: str
    slug: str
    severity: str
    summary: str
    explanation: str
    bad: str
    good: str
    check: Callable[[Context], Iterable[Finding]] | None
    module: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "slug": self.slug, "severity": self.severity,
                "summary": self.summary, "explanation": self.explanation,
                "bad": self.bad, "good": self.good}


def _dedent_block(text: str) -> str:
    import textwrap

    return textwrap.dedent(text).strip("\n")


def rule_from_module(mod: ModuleType) -> RuleInfo:
    doc = (mod.__doc__ or "").strip("\n")
    parts = _SECTION.split(doc)
    head = parts[0].strip()
    summary, _, explanation = head.partition("\n")
    examples = {parts[i]: _dedent_block(parts[i + 1]) for i in range(1, len(parts) - 1, 2)}
    import textwrap

    return RuleInfo(
        code=mod.CODE, slug=mod.SLUG, severity=mod.SEVERITY, summary=summary.strip(),
        explanation=textwrap.dedent(explanation).strip(), bad=examples.get("Bad", ""),
        good=examples.get("Good", ""), check=getattr(mod, "check", None), module=mod.__name__)


@cache
def all_rules() -> tuple[RuleInfo, ...]:
    from .rules import MODULES

    rules = [rule_from_module(importlib.import_module(f"{__package__}.rules.{name}"))
             for name in MODULES]
    return tuple(sorted(rules, key=lambda r: r.code))


def by_code() -> dict[str, RuleInfo]:
    return {r.code: r for r in all_rules()}


def find_rule(name: str) -> RuleInfo | None:
    """A rule by code (SOP101, case-insensitive) or slug."""
    key = name.strip()
    for r in all_rules():
        if r.code.lower() == key.lower() or r.slug == key:
            return r
    return None
