"""Template rendering: "{nickname}" style variables, filled without ever failing.

Templates use Python's format-field syntax without conversions: ``{group_name}``,
``{n:03}`` in name patterns. Unknown variables are left as written (and reported by
lint), so a runner never crashes on a typo.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from ..playbook.model import Playbook

# Filled by sopctl itself, per message.
BUILTIN_VARIABLES: dict[str, str] = {
    "nickname": "the new member's nickname (welcome, replies)",
    "newcomers": "@-mentions of everyone welcomed together",
    "group_name": "the group's name",
    "group_no": "the group's number",
    "owner": "the expert / owner's name",
    "rules_summary": "the rules, one line each",
    "offer": "the current offer (variables.offer)",
    "day": "day N of the group's life",
    "date": "the local date",
    "weekday": "the local day of the week",
    "lesson": "the course lesson number",
    "theme": "welcome part: what the group is",
    "services": "welcome part: what members get",
    "prohibited": "welcome part: what is forbidden",
    "penalty": "welcome part: the penalty",
    "rewarded": "welcome part: rewarded behaviour",
    "reward": "welcome part: the reward",
    "stage": "the member's next funnel stage (promotion invitations)",
    "n": "the group number (name patterns)",
}
_FORMATTER = string.Formatter()


def template_variables(text: str) -> list[str]:
    """Variable names a template uses, in order (raises ValueError on broken braces)."""
    names = []
    for _literal, field, _spec, _conv in _FORMATTER.parse(text):
        if field is not None:
            names.append(field.split(".")[0].split("[")[0])
    return names


def known_variables(playbook: Playbook) -> set[str]:
    return set(BUILTIN_VARIABLES) | set(playbook.variables)


class _Lenient(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(text: str, values: Mapping[str, object]) -> str:
    """Fill ``text``; unknown or broken fields are left verbatim."""
    if "{" not in text:
        return text
    try:
        return _FORMATTER.vformat(text, (), _Lenient(values))
    except (ValueError, IndexError, KeyError, AttributeError, TypeError):
        return text


def group_name(pattern: str, n: int) -> str:
    """'美肌福利群{n:03}' with n=7 -> '美肌福利群007'."""
    try:
        return pattern.format(n=n)
    except (ValueError, IndexError, KeyError):
        return f"{pattern}{n}"
