"""docs/rules.md, generated from the rule registry (the rules' own docstrings).

    python -m sopctl.lint.docs          # rewrite docs/rules.md
    python -m sopctl.lint.docs --check  # exit 1 when docs/rules.md is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
_AREAS = (("SOP0", "Loading and YAML"), ("SOP1", "Positioning, welcome and group rules"),
          ("SOP2", "Timetable and cadence"), ("SOP3", "Funnel, lifecycle and inventory"),
          ("SOP4", "Channels and delivery"), ("SOP5", "Roles, auto-replies and content"))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def rules_markdown() -> str:
    """The rule catalogue as Markdown: an index table, then every rule with its examples."""
    from .registry import all_rules

    rules = all_rules()
    out = ["# Lint rules", "",
           "Generated from the rules' docstrings by `python -m sopctl.lint.docs`; "
           "`sopctl rule CODE` shows the same text. Severities: **error** breaks a send or a "
           "platform limit, **warning** goes against the SOP, **info** is style.", "",
           "| code | slug | severity | summary |", "|---|---|---|---|"]
    out += [f"| [{r.code}](#{r.code.lower()}-{r.slug}) | {r.slug} | {r.severity} | "
            f"{_cell(r.summary)} |" for r in rules]
    for prefix, title in _AREAS:
        area = [r for r in rules if r.code.startswith(prefix)]
        if not area:
            continue
        out += ["", f"## {title}"]
        for r in area:
            out += ["", f"### {r.code} {r.slug}", "", f"*{r.severity}*"
                    + ("" if r.check else " · reported while loading"), "",
                    f"**{r.summary}**"]
            if r.explanation:
                out += ["", r.explanation]
            for label, body in (("Bad", r.bad), ("Good", r.good)):
                if body:
                    out += ["", f"{label}:", "", "```yaml", body, "```"]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = rules_markdown()
    if "--check" in args:
        current = DOCS_PATH.read_text(encoding="utf-8") if DOCS_PATH.exists() else ""
        if current != text:
            print(f"{DOCS_PATH} is out of date; run `python -m sopctl.lint.docs`")
            return 1
        return 0
    DOCS_PATH.parent.mkdir(parents=True, exist_ok=True)
    DOCS_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOCS_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
