"""What the SOP says to do when something happens in a group — as pure functions.

No I/O here: every function takes the state it needs (a member's record, a sliding window,
last-fired times) and returns actions as data. The runner's engine and the forecast share
these functions, so a forecast welcomes, warns and promotes exactly as the runner would.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from ..plan.render import WELCOME_PARTS, render, rule_text
from ..plan.render import rules_summary as _rules_summary
from ..plan.template import TemplateError
from ..playbook.model import AutoReply, NicknameRule, Playbook, Rule, Stage
from ..playbook.timeparse import parse_duration
from . import policy
from .types import Action, CheckIn, MemberJoined, MessagePosted, Purchase

DEFAULT_WARN = "@{nickname} 请遵守群规: {rule} (第{count}次提醒)"
DEFAULT_REMOVE = "{nickname} 多次违反群规 ({rule}), 已移出本群。"
DEFAULT_INVITE = "@{nickname} 恭喜! 邀请你加入{stage}"
_SEPARATORS = "-–—_+·|/ "


@dataclass(slots=True)
class MemberState:
    """What the SOP needs to know about one member in one group (nothing more)."""

    member: str
    group: str
    nickname: str = ""
    joined_at: datetime | None = None
    tags: list[str] = field(default_factory=list)
    stage: str | None = None
    stage_at: datetime | None = None
    spend: float = 0.0
    bought: list[str] = field(default_factory=list)
    violations: int = 0
    last_active: datetime | None = None
    blacklisted: bool = False
    points: int = 0
    last_checkin: str | None = None  # local date, ISO


def _rendered(make: Callable[[], str], data: dict[str, Any] | None = None
              ) -> tuple[str, dict[str, Any]]:
    """(text, data) of a post; a text the template language refuses becomes ("", data with
    ``refused``): the sender records it failed with that reason and never posts it."""
    data = dict(data or {})
    try:
        return make(), data
    except TemplateError as exc:
        data["refused"] = "refused: " + str(exc)
        return "", data


def _rule_label(pb: Playbook, rule: Rule) -> str:
    """The rule as staff read it in a reminder: rendered, else its id (never raw braces)."""
    try:
        return rule_text(pb, rule)
    except TemplateError:
        return rule.id


def _seconds(v: str | int) -> float:
    return float(parse_duration(v))  # seconds


# ----------------------------------------------------------------------------- rules

def nickname_regex(rule: NicknameRule) -> re.Pattern[str]:
    """The explicit regex, else one derived from the format: "城市-行业-昵称" means three
    non-empty parts joined by a separator. Any usual separator is accepted, since members
    type "-", "_" or "·" interchangeably."""
    return _nickname_pattern(rule.regex, rule.format)


@functools.lru_cache(maxsize=64)  # asked once per message
def _nickname_pattern(regex: str | None, fmt: str) -> re.Pattern[str]:
    if regex:
        return re.compile(regex)
    parts = [p for p in re.split(f"[{re.escape(_SEPARATORS)}]+", fmt.strip()) if p]
    sep = f"[{re.escape(_SEPARATORS)}]"
    part = f"[^{re.escape(_SEPARATORS)}]+"
    return re.compile("^" + sep.join([part] * max(1, len(parts))) + "$")


class FloodWindow:
    """Per-member message times in a sliding window (state the caller keeps)."""

    def __init__(self) -> None:
        self.times: dict[tuple[str, str], deque[datetime]] = {}

    def hit(self, group: str, member: str, at: datetime, messages: int, seconds: int) -> bool:
        q = self.times.setdefault((group, member), deque())
        q.append(at)
        edge = at - timedelta(seconds=seconds)
        while q and q[0] <= edge:
            q.popleft()
        if len(q) >= messages:
            q.clear()  # one violation per burst, not one per extra message
            return True
        return False


def detect_violation(pb: Playbook, msg: MessagePosted, window: FloodWindow,
                     nickname: str | None = None) -> Rule | None:
    """The first rule the message breaks, in playbook order."""
    text = msg.text
    nick = nickname if nickname is not None else msg.nickname
    for rule in pb.rules.items:
        d = rule.detect
        if d is None:
            continue
        if d.links and msg.has_link:
            return rule
        if d.keywords and any(k and k in text for k in d.keywords):
            return rule
        if d.regex and re.search(d.regex, text):
            return rule
        if d.flood and window.hit(msg.group, msg.member, msg.at, d.flood.messages,
                                  d.flood.seconds):
            return rule
        if d.nickname and pb.rules.nickname and nick and \
                not nickname_regex(pb.rules.nickname).match(nick):
            return rule
    return None


def next_rung(pb: Playbook, rule: Rule, violations: int) -> str:
    """The ladder step for a member's ``violations``-th offence (1-based); the last rung
    repeats (policy.ladder_step, shared with the forecast)."""
    return policy.ladder_step(max(violations, 1), policy.ladder_for(pb, rule))


def violation_actions(pb: Playbook, ev: MessagePosted, member: MemberState, rule: Rule,
                      can_remove: bool, admin: str | None = None) -> list[Action]:
    """The next rung for ``member`` (whose ``violations`` already counts this offence)."""
    count = member.violations
    step = next_rung(pb, rule, count)
    nick = member.nickname or ev.nickname or ev.member
    def ladder_text(template: str) -> str:
        values = {**pb.variables, "nickname": nick, "rule": rule_text(pb, rule), "count": count}
        return render(template, values)

    base = f"{ev.group}/{ev.id}"
    slot = f"rule:{rule.id}"
    acts: list[Action] = []
    if step in ("warn", "mute"):
        text, data = _rendered(lambda: ladder_text(pb.rules.warn_text or DEFAULT_WARN),
                               {"step": step})
        acts.append(Action("post", f"warn/{base}", ev.group, ev.member, text, slot, (ev.member,),
                           data))
        if step == "mute" and can_remove:  # the platform's API (Telegram restrictChatMember)
            acts.append(Action("mute", f"mute/{base}", ev.group, ev.member, "", slot,
                               data={"step": step}))
        elif step == "mute":
            acts.append(Action("remind", f"mute/{base}", ev.group, ev.member,
                               f"请将 {nick} 禁言 ({_rule_label(pb, rule)})", slot,
                               data={"to": admin}))
        return acts
    if can_remove:
        acts.append(Action("remove", f"remove/{base}", ev.group, ev.member, "", slot,
                           data={"step": step}))
    else:  # the platform has no removal API: the admin does it by hand
        acts.append(Action("remind", f"remove/{base}", ev.group, ev.member,
                           f"请将 {nick} 移出群聊: 第{count}次违反群规 ({_rule_label(pb, rule)})",
                           slot, data={"to": admin, "step": step}))
    announce = rule.announce if rule.announce is not None else pb.rules.announce
    if announce:
        text, data = _rendered(lambda: ladder_text(pb.rules.remove_text or DEFAULT_REMOVE))
        acts.append(Action("post", f"announce/{base}", ev.group, ev.member, text, slot,
                           data=data))
    if policy.blacklists(pb, step):
        acts.append(Action("blacklist", f"blacklist/{ev.member}", ev.group, ev.member, "", slot))
    return acts


def on_message(pb: Playbook, ev: MessagePosted, m: MemberState, window: FloodWindow,
               last_fired: dict[tuple[str, str, str], datetime], can_remove: bool,
               group_name: str = "", admin: str | None = None) -> tuple[list[Action], bool]:
    """Rule check first, then the auto-reply. Returns (actions, violated); when violated,
    ``m.violations`` has been incremented (the caller stores it)."""
    rule = detect_violation(pb, ev, window, m.nickname or ev.nickname)
    if rule is not None:
        m.violations += 1
        return violation_actions(pb, ev, m, rule, can_remove, admin), True
    hit = match_reply(pb, ev.text, ev.group, ev.at, last_fired)
    if hit is None:
        return [], False
    ar, rid, kw = hit
    text, data = _rendered(lambda: reply_text(pb, ar, m.nickname or ev.nickname or ev.member,
                                              group_name or ev.group), {"keyword": kw})
    return [Action("post", f"reply/{ev.group}/{ev.id}", ev.group, ev.member, text,
                   f"reply:{rid}", (ev.member,), data)], False


def blacklisted_join(ev: MemberJoined, can_remove: bool, admin: str | None = None
                     ) -> list[Action]:
    """A blacklisted member came back (in any group): out again, without a welcome."""
    if can_remove:
        return [Action("remove", f"remove/{ev.group}/{ev.id}", ev.group, ev.member, "",
                       "blacklist")]
    return [Action("remind", f"remove/{ev.group}/{ev.id}", ev.group, ev.member,
                   f"黑名单成员 {ev.nickname or ev.member} 重新入群, 请移出", "blacklist",
                   data={"to": admin})]


# ----------------------------------------------------------------------------- auto-replies

def reply_id(ar: AutoReply, index: int) -> str:
    return ar.id or f"r{index + 1}"


def match_reply(pb: Playbook, text: str, group: str, now: datetime,
                last_fired: dict[tuple[str, str, str], datetime]
                ) -> tuple[AutoReply, str, str] | None:
    """The first auto-reply whose keyword matches and whose cool-down (per keyword, per group)
    has passed; returns (rule, its id, the keyword). Records the firing in ``last_fired``."""
    stripped = text.strip()
    for i, ar in enumerate(pb.auto_replies):
        for kw in ar.keywords:
            if ar.match == "exact":
                hit = stripped == kw
            elif ar.match == "regex":
                try:
                    hit = re.search(kw, text) is not None
                except re.error:
                    hit = False
            else:
                hit = kw in text
            if not hit:
                continue
            rid = reply_id(ar, i)
            key = (group, rid, kw)
            last = last_fired.get(key)
            if last is not None and (now - last).total_seconds() < _seconds(ar.cooldown):
                continue
            last_fired[key] = now
            return ar, rid, kw
    return None


def reply_text(pb: Playbook, ar: AutoReply, nickname: str, group_name: str) -> str:
    text = ar.reply
    if text is None and ar.content and ar.content in pb.content:
        item = pb.content[ar.content]
        text = item.text or (item.variants[0] if item.variants else "") or item.url or ""
    return render(text or "", {**pb.variables, "nickname": nickname, "group_name": group_name})


# ----------------------------------------------------------------------------- welcome

def _owner(pb: Playbook, group_owner: str | None) -> str:
    if group_owner:
        return group_owner
    if pb.roles.owner:
        return pb.roles.owner.name
    return pb.roles.experts[0].name if pb.roles.experts else ""


def rules_summary(pb: Playbook) -> str:
    return _rules_summary(pb)


def render_welcome(pb: Playbook, group_id: str, nicknames: list[str]) -> str:
    """One welcome for one or several newcomers, from the template or the four parts."""
    w = pb.welcome
    if w is None:
        return ""
    from ..plan.groups import group_display_name, group_number

    g = group_by_id(pb).get(group_id)
    n = group_number(g) if g else None
    values: dict[str, object] = {
        **pb.variables,
        "nickname": "、".join(nicknames),
        "newcomers": " ".join(f"@{n}" for n in nicknames),
        "group_name": group_display_name(pb, g) if g else group_id,
        "group_no": n if n is not None else "",
        "owner": _owner(pb, g.owner if g else None),
    }
    # the parts are templates too (of the group's values, not of each other)
    parts = {p: render(getattr(w, p), values) for p in WELCOME_PARTS if getattr(w, p)}
    if w.template:
        with contextlib.suppress(TemplateError):  # unfilled: a {rules_summary} is refused
            values["rules_summary"] = rules_summary(pb)
        empty = [p for p in WELCOME_PARTS if p not in parts]
        return render(w.template, {**values, **dict.fromkeys(empty, ""), **parts}, empty=empty)
    lines = [f"欢迎 {values['newcomers']} 加入{values['group_name']}!"]
    if "theme" in parts:
        lines.append(parts["theme"])
    if "services" in parts:
        lines.append(parts["services"])
    if "prohibited" in parts:
        lines.append(parts["prohibited"] + (f", {parts['penalty']}" if "penalty" in parts
                                            else ""))
    if "rewarded" in parts:
        lines.append(parts["rewarded"] + (f", 奖励{parts['reward']}" if "reward" in parts
                                          else ""))
    return "\n".join(lines)


def welcome_action(pb: Playbook, group: str, people: list[tuple[str, str, str]]) -> Action:
    """people: (event id, member id, nickname); keyed by the first event, so a redelivery of
    any of them cannot welcome the batch twice."""
    text, data = _rendered(lambda: render_welcome(pb, group, [n or m for _, m, n in people]),
                           {"members": [m for _, m, _ in people], "format": pb.welcome.format
                            if pb.welcome else "text"})
    return Action("post", f"welcome/{group}/{people[0][0]}", group, None, text, "welcome",
                  tuple(m for _, m, _ in people), data)


# ----------------------------------------------------------------------------- funnel

def group_by_id(pb: Playbook) -> dict:
    return {g.id: g for g in pb.groups} if isinstance(pb.groups, list) else {}


def _stages(pb: Playbook) -> dict[str, Stage]:
    return {s.id: s for s in pb.funnel.stages} if pb.funnel else {}


def _next_stage(pb: Playbook, stage: Stage) -> Stage | None:
    return policy.next_stage(pb.funnel, stage.id)


def entry_met(pb: Playbook, stage: Stage, m: MemberState) -> bool:
    """policy.entry_met for one member (invite / task: decided by people)."""
    return policy.entry_met(stage.entry, m.spend, m.bought, policy.membership_cards(pb))


def member_stage(pb: Playbook, m: MemberState) -> Stage | None:
    stages = _stages(pb)
    if m.stage and m.stage in stages:
        return stages[m.stage]
    g = group_by_id(pb).get(m.group)
    if g is not None and g.stage in stages:
        return stages[g.stage]
    return pb.funnel.stages[0] if pb.funnel else None


def apply_purchase(m: MemberState, ev: Purchase) -> MemberState:
    bought = [*m.bought, ev.product] if ev.product and ev.product not in m.bought else m.bought
    return replace(m, spend=round(m.spend + ev.amount, 2), bought=list(bought),
                   last_active=ev.at)


def promotion(pb: Playbook, m: MemberState, at: datetime) -> list[Action]:
    """Move ``m`` (spend and purchases already updated) up as far as the criteria allow."""
    cur = member_stage(pb, m)
    if cur is None:
        return []
    target = None
    seen = {cur.id}
    nxt = _next_stage(pb, cur)
    while nxt is not None and nxt.id not in seen and entry_met(pb, nxt, m):
        target, seen = nxt, seen | {nxt.id}
        nxt = _next_stage(pb, nxt)
    if target is None:
        return []
    name = target.name or target.id
    text, data = _rendered(lambda: render(target.invite or DEFAULT_INVITE, {
        **pb.variables, "nickname": m.nickname or m.member, "stage": name}),
        {"target": "member"})
    key = f"promote/{m.group}/{m.member}/{target.id}"
    return [Action("promote", key, m.group, m.member, "", f"promote:{target.id}",
                   data={"from": cur.id, "to": target.id, "at": at.isoformat()}),
            Action("post", key + "/invite", m.group, m.member, text, f"promote:{target.id}",
                   (m.member,), data)]


def overdue_moves(pb: Playbook, members: list[MemberState], now: datetime) -> list[Action]:
    """Members still in a stage past its convert_days go to its ``otherwise`` stage."""
    acts = []
    for m in members:
        cur = member_stage(pb, m)
        since = m.stage_at or m.joined_at
        if cur is None or not cur.convert_days or not cur.otherwise or since is None \
                or m.blacklisted:
            continue
        if now - since >= timedelta(days=cur.convert_days):
            acts.append(Action("move", f"move/{m.group}/{m.member}/{cur.otherwise}", m.group,
                               m.member, "", f"move:{cur.otherwise}",
                               data={"from": cur.id, "to": cur.otherwise}))
    return acts


# ----------------------------------------------------------------------------- check-in

def checkin_points(pb: Playbook) -> int:
    """Points per daily check-in: variables.checkin_points, else 1."""
    try:
        return max(0, int(pb.variables.get("checkin_points", "1")))
    except ValueError:
        return 1


def on_checkin(pb: Playbook, ev: CheckIn, m: MemberState, local_day: str) -> list[Action]:
    """One award per member per local day, however often they check in."""
    if m.last_checkin == local_day:
        return []
    return [Action("points", f"points/{ev.group}/{ev.member}/{local_day}", ev.group, ev.member,
                   data={"points": checkin_points(pb), "day": local_day})]
