"""Findings as SARIF 2.1.0, the format code-scanning services read.

Artifact URIs are relative to the working directory (``uriBaseId`` ``%SRCROOT%``) so a
CI upload maps them onto the repository; columns count Unicode code points, as the
loader does, and the run says so (SARIF's default would be UTF-16 code units).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from ..findings import Finding
from ..i18n import _

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def _rule_descriptor(rule: object) -> dict[str, object]:
    code, slug, severity = rule.code, rule.slug, rule.severity  # type: ignore[attr-defined]
    summary = getattr(rule, "local_summary", "") or slug
    explanation = getattr(rule, "local_explanation", "") or summary
    md = f"**{summary}**\n\n{explanation}"
    bad, good = _("Bad"), _("Good")
    if getattr(rule, "bad", ""):
        md += f"\n\n{bad}:\n\n```yaml\n{rule.bad}\n```"  # type: ignore[attr-defined]
    if getattr(rule, "good", ""):
        md += f"\n\n{good}:\n\n```yaml\n{rule.good}\n```"  # type: ignore[attr-defined]
    return {
        "id": code,
        "name": slug,
        "shortDescription": {"text": summary},
        "fullDescription": {"text": explanation},
        "help": {"text": f"{summary}\n\n{explanation}\n\nsopctl rule {code}", "markdown": md},
        "defaultConfiguration": {"level": _LEVELS.get(severity, "warning")},
        "properties": {"tags": ["sopctl", slug]},
    }


def artifact_uri(path: str, cwd: str | None = None) -> str:
    """A URI reference for ``path``: relative (posix, percent-encoded) when under ``cwd``."""
    if path == "<stdin>":
        return "stdin"
    base = Path(cwd or os.getcwd()).resolve()
    p = Path(path)
    try:
        rel = (p if not p.is_absolute() else p.resolve().relative_to(base)).as_posix()
    except ValueError:
        return p.resolve().as_uri()
    if rel.startswith("../"):
        return p.resolve().as_uri()
    return quote(rel, safe="/")


def message_with_hint(f: Finding) -> str:
    """The message, and the hint on a second line (GitHub annotations, SARIF)."""
    if not f.hint:
        return f.message
    label = _("hint:")
    return f"{f.message}\n{label}{'' if label.endswith('：') else ' '}{f.hint}"


def to_sarif(findings: Sequence[Finding], *, cwd: str | None = None) -> dict[str, object]:
    """A SARIF 2.1.0 log with one run: every registered rule, then the results."""
    from .. import __version__
    from .registry import all_rules

    descriptors = [_rule_descriptor(r) for r in all_rules()]
    index = {d["id"]: i for i, d in enumerate(descriptors)}
    for f in findings:  # loader codes the catalogue does not (yet) describe
        if f.code not in index:
            index[f.code] = len(descriptors)
            descriptors.append({"id": f.code, "name": f.slug or f.code,
                                "shortDescription": {"text": f.slug or f.code},
                                "defaultConfiguration": {"level": _LEVELS.get(f.severity,
                                                                              "warning")}})
    results = []
    for f in findings:
        text = message_with_hint(f)
        results.append({
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": _LEVELS.get(f.severity, "warning"),
            "message": {"text": text},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": artifact_uri(f.path, cwd), "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": max(f.line, 1), "startColumn": max(f.column, 1)},
            }}],
        })
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": {
                "name": "sopctl",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": descriptors,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }
