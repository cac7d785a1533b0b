"""Every text sopctl sends is rendered here, through the one template language
(:mod:`sopctl.plan.template`): the planner (slots), the event reactions (welcome,
auto-replies, ladder messages, invitations) and lint all call these functions.

Which names a text may use depends on where it stands (a slot has no ``{nickname}``, a
welcome has no ``{day}``): :data:`SCOPES`. Every name of ``variables:`` is usable
everywhere but in ``name_pattern``. A text with a problem is refused, never half-filled.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from ..i18n import N_
from ..playbook.model import Playbook, Rule
from .template import TemplateError, parse
from .template import render as _render

# Filled by sopctl itself, per message.
BUILTIN_VARIABLES: dict[str, str] = {
    "nickname": N_("the new member's nickname (welcome, replies)"),
    "newcomers": N_("@-mentions of everyone welcomed together"),
    "group_name": N_("the group's name"),
    "group_no": N_("the group's number"),
    "owner": N_("the expert / owner's name"),
    "rules_summary": N_("the rules, one line each"),
    "day": N_("day N of the group's life"),
    "date": N_("the local date"),
    "weekday": N_("the local day of the week"),
    "lesson": N_("the course lesson number"),
    "theme": N_("welcome part: what the group is"),
    "services": N_("welcome part: what members get"),
    "prohibited": N_("welcome part: what is forbidden"),
    "penalty": N_("welcome part: the penalty"),
    "rewarded": N_("welcome part: rewarded behaviour"),
    "reward": N_("welcome part: the reward"),
    "rule": N_("the rule broken (warn_text, remove_text)"),
    "count": N_("how many times the member broke the rules (warn_text, remove_text)"),
    "stage": N_("the member's next funnel stage (promotion invitations)"),
    "n": N_("the group number (name patterns)"),
}
ALL_BUILTINS = frozenset(BUILTIN_VARIABLES)
WELCOME_PARTS = ("theme", "services", "prohibited", "penalty", "rewarded", "reward")

# Where a text stands -> (label for messages, the built-in names it may use).
SCOPES: dict[str, tuple[str, frozenset[str]]] = {
    "slot": (N_("a timetable text"), frozenset(
        {"group_name", "group_no", "owner", "rules_summary", "day", "lesson", "date",
         "weekday"})),
    "welcome": (N_("the welcome template"), frozenset(
        {"nickname", "newcomers", "group_name", "group_no", "owner", "rules_summary",
         *WELCOME_PARTS})),
    "welcome-part": (N_("a welcome part"), frozenset(
        {"nickname", "newcomers", "group_name", "group_no", "owner"})),
    "reply": (N_("an auto-reply"), frozenset({"nickname", "group_name"})),
    "ladder": (N_("a warning or removal text"), frozenset({"nickname", "rule", "count"})),
    "invite": (N_("an invitation"), frozenset({"nickname", "stage"})),
    "rule": (N_("a rule's text"), frozenset()),
    "name_pattern": (N_("a group name pattern"), frozenset({"n"})),
}


def scope_names(playbook: Playbook, scope: str) -> frozenset[str]:
    """The names a text of ``scope`` may use in ``playbook``."""
    builtins = SCOPES[scope][1]
    if scope == "name_pattern":
        return builtins
    return builtins | frozenset(playbook.variables)


def known_variables(playbook: Playbook) -> set[str]:
    return set(ALL_BUILTINS) | set(playbook.variables)


def template_variables(text: str) -> list[str]:
    """Variable names a template uses, in order (raises TemplateError on a malformed one)."""
    t = parse(text)
    if t.problems:
        raise TemplateError(list(t.problems))
    return list(t.names)


def render(text: str, values: Mapping[str, object], *, empty: Collection[str] = ()) -> str:
    """``text`` filled from ``values``; raises TemplateError (a ValueError) rather than send
    anything it cannot fill exactly."""
    return _render(text, values, empty=empty)


def rule_text(playbook: Playbook, rule: Rule) -> str:
    """A rule's text as members read it (rules may use ``variables:``)."""
    return render(rule.text, playbook.variables)


def rules_summary(playbook: Playbook) -> str:
    """The rules, one numbered line each, with the nickname format last when there is one."""
    lines = [f"{i}. {rule_text(playbook, r)}" for i, r in enumerate(playbook.rules.items, 1)]
    if playbook.rules.nickname:
        lines.append(f"{len(lines) + 1}. 群昵称格式: {playbook.rules.nickname.format}")
    return "\n".join(lines)


def group_name(pattern: str, n: int) -> str:
    """'美肌福利群{n:03}' with n=7 -> '美肌福利群007'. A pattern lint refuses gives its literal
    text with the number appended, never a Python error or a placeholder."""
    try:
        return render(pattern, {"n": n})
    except TemplateError:
        return re.sub(r"\{[^{}]*\}?", "", pattern) + str(n)
