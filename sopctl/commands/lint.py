"""`sopctl lint`, `sopctl rules`, `sopctl rule CODE`."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

import typer

from ..errors import EXIT_FINDINGS, EXIT_OK, UsageError
from ..i18n import N_, _


class LintFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


class ListFormat(StrEnum):
    table = "table"
    json = "json"


def lint(
    paths: list[str] = typer.Argument(None, help="Playbook files or directories; - for stdin. "
                                      "Default: playbooks/ or the playbook in this directory."),
    fmt: LintFormat = typer.Option(None, "--format", "-f",
                                   help="Output format (github when GITHUB_ACTIONS is set)."),
    strict: bool = typer.Option(False, "--strict", help="Warnings fail too."),
    statistics: bool = typer.Option(False, "--statistics", help="Count findings per rule."),
    select: list[str] = typer.Option(None, "--select", help="Only these codes (prefixes)."),
    ignore: list[str] = typer.Option(None, "--ignore", help="Skip these codes (prefixes)."),
    config: Path = typer.Option(None, "--config", help="sopctl.toml or pyproject.toml to use."),
    no_env: bool = typer.Option(False, "--no-env", help="Do not check environment variables."),
) -> None:
    """Check playbooks; findings are reported as path:line:col: CODE message."""
    from ..lint.config import load_config
    from ..lint.engine import lint_paths
    from ..lint.report import render
    from ..playbook.discover import default_targets

    cfg = load_config(config)
    if select:
        cfg.select = [s.upper() for s in select]
    if ignore:
        cfg.ignore = [*cfg.ignore, *(s.upper() for s in ignore)]
    strict = strict or cfg.strict
    targets = paths or default_targets()
    for p in targets:
        if p != "-" and not Path(p).exists():
            raise UsageError(_("{path}: no such file or directory").format(path=p))
    env = {} if no_env else dict(os.environ)
    findings, nfiles = lint_paths(targets, cfg, env)
    if nfiles == 0:  # only empty directories: passing would hide a wrong path in CI
        raise UsageError(_("no playbooks (*.yaml, *.yml) in {paths}").format(
            paths=", ".join(targets)),
                         hint=_("inventory files are checked through the playbook naming them"))
    if fmt is None:
        fmt = LintFormat.github if os.environ.get("GITHUB_ACTIONS") == "true" else LintFormat.text
    render(findings, nfiles, fmt.value, statistics=statistics, strict=strict)
    failing = [f for f in findings if f.severity == "error" or (strict and f.severity == "warning")]
    raise typer.Exit(EXIT_FINDINGS if failing else EXIT_OK)


def rules(
    fmt: ListFormat = typer.Option(ListFormat.table, "--format", "-f"),
) -> None:
    """List every lint rule: code, slug, severity and summary."""
    from ..lint.registry import all_rules, severity_label

    items = all_rules()
    if fmt is ListFormat.json:
        import json

        typer.echo(json.dumps([r.as_dict() for r in items], ensure_ascii=False, indent=2))
        return
    from ..console import console
    from ..tables import Col, render

    # the summary folds onto more lines; code, slug and severity are never cut
    cols = [Col(_(c), wrap=c == "summary", min_width=20) for c in _COLUMNS]
    # summaries are docstring text: drop its ``literal`` markup, as `sopctl rule` does
    render(console(), cols, [(r.code, r.slug, severity_label(r.severity),
                              r.local_summary.replace("``", "")) for r in items])


_COLUMNS = (N_("code"), N_("slug"), N_("severity"), N_("summary"))


def rule(code: str = typer.Argument(..., help="A rule code (SOP101) or slug.")) -> None:
    """Explain one rule, with a bad and a good example."""
    from rich.markdown import Markdown

    from ..console import console
    from ..lint.registry import find_rule, severity_label

    r = find_rule(code)
    if r is None:
        raise UsageError(_("no rule '{code}'").format(code=code),
                         hint=_("`sopctl rules` lists them all"))
    md = (f"# {r.code} {r.slug} ({severity_label(r.severity)})\n\n**{r.local_summary}**\n\n"
          f"{r.local_explanation}\n")
    bad, good = _("Bad"), _("Good")
    if r.bad:
        md += f"\n## {bad}\n\n```yaml\n{r.bad}\n```\n"
    if r.good:
        md += f"\n## {good}\n\n```yaml\n{r.good}\n```\n"
    console().print(Markdown(md))
