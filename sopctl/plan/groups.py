"""Groups as the plan sees them: their channel, number, name, and the next one to open."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

from ..playbook.model import Group, Playbook, Slot
from .render import group_name

_TRAILING_DIGITS = re.compile(r"(\d+)\D*$")


def playbook_groups(playbook: Playbook) -> list[Group]:
    """The inventory as a list (an unresolved inventory path counts as no groups)."""
    return list(playbook.groups) if isinstance(playbook.groups, list) else []


def group_channel(playbook: Playbook, group: Group | None, slot: Slot | None = None) -> str:
    """The channel a slot's messages to a group go through: the slot's, else the group's,
    else the playbook's default, else the only channel defined, else "console"."""
    if slot is not None and slot.channel:
        return slot.channel
    if group is not None and group.channel:
        return group.channel
    if playbook.channel:
        return playbook.channel
    if len(playbook.channels) == 1:
        return next(iter(playbook.channels))
    return "console"


def group_number(group: Group) -> int | None:
    """``group.number``, else the trailing digits of its name or id ("美肌福利群007" -> 7)."""
    if group.number is not None:
        return group.number
    for text in (group.name, group.id):
        if text:
            m = _TRAILING_DIGITS.search(text)
            if m:
                return int(m.group(1))
    return None


def group_display_name(playbook: Playbook, group: Group) -> str:
    if group.name:
        return group.name
    n = group_number(group)
    if n is not None:
        return group_name(playbook.positioning.name_pattern, n)
    return group.id


def next_group(playbook: Playbook, groups: Sequence[Group] | None = None, *,
               opened: date | None = None) -> Group:
    """The group to open when the last one reaches capacity: number = highest + 1, name from
    ``positioning.name_pattern``, id following the existing ids' prefix and width ("g007" ->
    "g008"), stage and channel copied from the newest group. ``opened`` defaults to today
    in the playbook's timezone."""
    from zoneinfo import ZoneInfo

    gs = list(groups) if groups is not None else playbook_groups(playbook)
    numbers = [n for n in map(group_number, gs) if n is not None]
    n = max(numbers, default=0) + 1
    last = max(gs, key=lambda g: (group_number(g) or 0, g.opened), default=None)
    gid = f"g{n:03d}"
    if last is not None:
        m = re.match(r"^(.*?)(\d+)$", last.id)
        if m:
            gid = f"{m.group(1)}{n:0{len(m.group(2))}d}"
    taken = {g.id for g in gs}
    if gid in taken and last is not None and m:
        # groups of other stages share the id prefix with their own numbering (美肌VIP群001
        # is g004): continue after the highest id of that prefix
        pat = re.compile(rf"^{re.escape(m.group(1))}(\d+)$")
        top = max(int(x.group(1)) for g in gs if (x := pat.match(g.id)))
        gid = f"{m.group(1)}{top + 1:0{len(m.group(2))}d}"
    while gid in taken:  # ids that do not follow the numbering: never reuse one
        gid += "+"
    if opened is None:
        opened = datetime.now(ZoneInfo(playbook.timezone)).date()
    return Group(id=gid, name=group_name(playbook.positioning.name_pattern, n), number=n,
                 stage=last.stage if last else None, opened=opened,
                 channel=last.channel if last else None, owner=last.owner if last else None)
