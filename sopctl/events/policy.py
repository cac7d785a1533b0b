"""The SOP's decisions, as small pure functions shared by the runner and the forecast.

``sopctl serve`` (sopctl/events/reactions.py) calls them on one member at a time;
``sopctl simulate`` (sopctl/simulate/model.py) evaluates them once per distinct input (per
violation count, per funnel stage) and looks the answers up for every simulated member.
So a forecast warns, removes, welcomes and promotes by the very rules the runner applies.
Only the playbook model is imported here: the forecast and lint can use this module cheaply.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..playbook.model import Entry, Funnel, Playbook, Rule, Stage

DEFAULT_LADDER = ("warn", "remove")
REMOVING = frozenset({"remove", "blacklist"})


# ----------------------------------------------------------------------------- welcome

def welcome_applies(pb: Playbook) -> bool:
    """Newcomers are welcomed when the playbook has a welcome (batched or not)."""
    return pb.welcome is not None


# ----------------------------------------------------------------------------- ladder

def rules_enforced(pb: Playbook) -> bool:
    """Violations have consequences only for rules the runner can recognise."""
    return any(r.detect is not None for r in pb.rules.items) or pb.rules.nickname is not None


def ladder_for(pb: Playbook, rule: Rule | None = None) -> list[str]:
    """The rule's own ladder, else the playbook's, else warn then remove."""
    if rule is not None and rule.ladder:
        return list(rule.ladder)
    return list(pb.rules.ladder) or list(DEFAULT_LADDER)


def ladder_step(violations: int, ladder: list[str]) -> str:
    """The rung for a member's ``violations``-th offence (1-based; the last rung repeats);
    "none" before any offence."""
    if violations <= 0 or not ladder:
        return "none"
    return ladder[min(violations, len(ladder)) - 1]


def removes(step: str) -> bool:
    return step in REMOVING


def blacklists(pb: Playbook, step: str) -> bool:
    """A removal bars the member from every group when the playbook says so."""
    return step == "blacklist" or (removes(step) and pb.rules.blacklist)


def membership_cards(pb: Playbook) -> set[str]:
    return {p.id for p in pb.products if p.kind == "membership"}


def entry_met(entry: Entry, spend: float, bought: Collection[str],
              membership: Collection[str] = ()) -> bool:
    """Whether a member with total ``spend`` who bought ``bought`` may enter a stage.
    ``membership``: the ids of membership-card products. Invitations and tasks are decided
    by people, never by a purchase."""
    if entry.kind == "free":
        return True
    if entry.kind == "product":
        return entry.product in bought if entry.product else bool(bought)
    if entry.kind == "spend":
        return entry.amount is not None and spend >= entry.amount
    if entry.kind == "membership":
        cards = set(membership) | ({entry.product} if entry.product else set())
        return any(b in cards for b in bought)
    return False


def next_stage(funnel: Funnel | None, stage_id: str) -> Stage | None:
    """Where a member of ``stage_id`` converts to: the stage's ``next``; an unset ``next``
    means the following stage, an explicit ``next: null`` ends the funnel."""
    if funnel is None:
        return None
    stages = funnel.stages
    i = next((k for k, s in enumerate(stages) if s.id == stage_id), None)
    if i is None:
        return None
    s = stages[i]
    if s.next is not None:
        return next((x for x in stages if x.id == s.next), None)
    if "next" in s.model_fields_set:
        return None
    return stages[i + 1] if i + 1 < len(stages) else None


def cheapest_entry(pb: Playbook, stage: Stage, spend: float, bought: Collection[str],
                   ) -> tuple[float, str | None] | None:
    """The cheapest single purchase ``(price, product)`` after which ``entry_met`` lets a
    member with ``spend`` and ``bought`` into ``stage``: nothing, a catalogue product, or
    (for a spend threshold) a top-up of the shortfall. None when no purchase can (an
    invitation or a task)."""
    cards = membership_cards(pb)
    if entry_met(stage.entry, spend, bought, cards):
        return 0.0, None
    options: Iterable[tuple[float, str | None]] = [(p.price, p.id) for p in pb.products]
    if stage.entry.kind == "spend" and stage.entry.amount is not None:
        options = [*options, (round(stage.entry.amount - spend, 2), None)]
    ok = [(price, prod) for price, prod in options
          if entry_met(stage.entry, spend + price, [*bought, *([prod] if prod else [])], cards)]
    return min(ok, key=lambda o: o[0]) if ok else None
