"""Run the rule catalogue over playbooks: load, check, suppress, sort."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..findings import Finding
from ..i18n import _
from ..playbook.discover import is_inventory
from ..playbook.loader import Loaded, load_playbook
from .config import LintConfig

NOQA = re.compile(r"#\s*sopctl:\s*noqa(?::\s*(?P<codes>[A-Z0-9,\s]+))?", re.I)
UNUSED_NOQA = "SOP099"
PLAYBOOK_SUFFIXES = (".yaml", ".yml")


def expand_paths(paths: Iterable[str]) -> list[str]:
    """Files as given; directories searched for *.yaml / *.yml (skipping hidden ones)."""
    out: list[str] = []
    for p in paths:
        if p == "-":
            out.append(p)
            continue
        path = Path(p)
        if path.is_dir():
            out.extend(sorted(
                str(f) for f in path.rglob("*")
                if f.suffix in PLAYBOOK_SUFFIXES and f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(path).parts)
                and not is_inventory(f)))
        else:
            out.append(p)
    return out


def _inventory_hint(f: Finding) -> Finding:
    if f.code != "SOP011":
        return f
    from dataclasses import replace

    return replace(f, hint=_("this looks like a groups inventory: lint the playbook that "
                             "names it (`groups: <this file>`), which checks both files"))


def lint_loaded(loaded: Loaded, config: LintConfig,
                env: Mapping[str, str] | None = None) -> list[Finding]:
    from .context import Context
    from .registry import all_rules

    findings = list(loaded.findings)
    if loaded.playbook is not None:
        ctx = Context(loaded) if env is None else Context(loaded, env)
        for rule in all_rules():
            if rule.check is None or not config.enabled(rule.code):
                continue
            for issue in rule.check(ctx):
                findings.append(ctx.make(rule.code, rule.slug, rule.severity, issue))
    findings = [f for f in findings if config.enabled(f.code, f.path)]
    return sorted(set(_apply_noqa(findings, loaded, config)))


def _loader_code(code: str) -> bool:
    """The loader's own codes (SOP001-SOP015) cannot be suppressed: the file did not load."""
    return "SOP000" < code < "SOP016"


def _apply_noqa(findings: list[Finding], loaded: Loaded, config: LintConfig) -> list[Finding]:
    sources = {s.path: s for s in (loaded.source, loaded.groups_source) if s is not None}
    if not sources:
        return findings
    # line -> (codes or None for all, column)
    marks: dict[tuple[str, int], tuple[set[str] | None, int]] = {}
    for path, smap in sources.items():
        if "noqa" not in smap.text.lower():  # the directive is case-insensitive
            continue
        for i, line in enumerate(smap.text.splitlines(), 1):
            m = NOQA.search(line)
            if m:
                codes = m.group("codes")
                marks[(path, i)] = ({c.strip().upper() for c in re.split(r"[,\s]+", codes)
                                     if c.strip()} if codes else None, m.start() + 1)
    if not marks:
        return findings
    used: dict[tuple[str, int], set[str]] = {}
    kept: list[Finding] = []
    for f in findings:
        mark = marks.get((f.path, f.line))
        if mark is not None and (mark[0] is None or f.code in mark[0]) and not _loader_code(f.code):
            used.setdefault((f.path, f.line), set()).add(f.code)
            continue
        kept.append(f)
    if config.enabled(UNUSED_NOQA):
        for (path, line), (codes, col) in marks.items():
            hit = used.get((path, line), set())
            unused = sorted((codes or set()) - hit) if codes else ([] if hit else [_("(all)")])
            if unused:
                kept.append(Finding(path, line, col, UNUSED_NOQA, "warning",
                                    _("unused noqa directive ({codes}); remove it").format(
                                        codes=", ".join(unused)),
                                    "unused-noqa"))
    return kept


def lint_paths(paths: Iterable[str], config: LintConfig,
               env: Mapping[str, str] | None = None) -> tuple[list[Finding], int]:
    """Lint every playbook under ``paths``; returns (findings, files checked)."""
    import gc

    paths = list(paths)
    files = expand_paths(paths)
    named = {p for p in paths if p != "-" and Path(p).is_file()}
    findings: list[Finding] = []
    enabled = gc.isenabled()
    gc.disable()  # rules make many small acyclic objects; see load_playbook
    try:
        for f in files:
            found = lint_loaded(load_playbook(f), config, env)
            if f in named and any(x.code == "SOP011" for x in found) and is_inventory(Path(f)):
                found = [_inventory_hint(x) for x in found]
            findings.extend(found)
    finally:
        if enabled:
            gc.enable()
    return findings, len(files)
