"""docs/rules.md and docs/rules.zh-CN.md, generated from the rule registry (the rules' own
docstrings, and their translations in the catalogue).

    python -m sopctl.lint.docs          # rewrite both
    python -m sopctl.lint.docs --check  # exit 1 when either is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..i18n import LANGS, N_, _, current, using

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"
DOCS_PATH = DOCS_DIR / "rules.md"
_AREAS = (("SOP0", N_("Loading and YAML")), ("SOP1", N_("Positioning, welcome and group rules")),
          ("SOP2", N_("Timetable and cadence")), ("SOP3", N_("Funnel, lifecycle and inventory")),
          ("SOP4", N_("Channels and delivery")), ("SOP5", N_("Roles, auto-replies and content")))


def docs_path(lang: str = "en") -> Path:
    """docs/rules.md for English, docs/rules.<lang>.md for the others."""
    return DOCS_PATH if lang == "en" else DOCS_DIR / f"rules.{lang}.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def rules_markdown(lang: str = "en") -> str:
    """The rule catalogue as Markdown in ``lang``: an index table, then every rule with its
    examples (the examples are YAML and stay as written)."""
    with using(lang):
        return _markdown()


def _markdown() -> str:
    from .registry import all_rules, severity_label

    rules = all_rules()
    switch = _("Also in: {links}.").format(links=", ".join(
        f"[{x}]({docs_path(x).name})" for x in LANGS if x != current()))
    out = ["# " + _("Lint rules"), "",
           _("Generated from the rules' docstrings by `python -m sopctl.lint.docs`; "
             "`sopctl rule CODE` shows the same text. Severities: **error** breaks a send or "
             "a platform limit, **warning** goes against the SOP, **info** is style.")
           + " " + switch, "",
           "| {} | {} | {} | {} |".format(_("code"), _("slug"), _("severity"), _("summary")),
           "|---|---|---|---|"]
    out += [f"| [{r.code}](#{r.code.lower()}-{r.slug}) | {r.slug} | "
            f"{severity_label(r.severity)} | {_cell(r.local_summary)} |" for r in rules]
    loading = _("reported while loading")
    for prefix, title in _AREAS:
        area = [r for r in rules if r.code.startswith(prefix)]
        if not area:
            continue
        out += ["", f"## {_(title)}"]
        for r in area:
            out += ["", f"### {r.code} {r.slug}", "", f"*{severity_label(r.severity)}*"
                    + ("" if r.check else f" · {loading}"), "",
                    f"**{r.local_summary}**"]
            if r.explanation:
                out += ["", r.local_explanation]
            for label, body in ((_("Bad"), r.bad), (_("Good"), r.good)):
                if body:
                    out += ["", f"{label}:", "", "```yaml", body, "```"]
    return "\n".join(out) + "\n"


def stale() -> list[Path]:
    """The generated files that differ from what the registry and catalogue say now."""
    return [docs_path(lang) for lang in LANGS
            if not docs_path(lang).exists()
            or docs_path(lang).read_text(encoding="utf-8") != rules_markdown(lang)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        for path in stale():
            print(f"{path} is out of date; run `python -m sopctl.lint.docs`")
        return 1 if stale() else 0
    for lang in LANGS:
        path = docs_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rules_markdown(lang), encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
