"""The forecast's parameters: defaults, where each comes from, and how to override them.

Every number the model uses lives in ``DEFAULTS`` with a one-line source; docs/simulation.md
is the long form. A playbook overrides any of them under ``simulation:`` and the CLI under
``--param name=value``. Unknown names are refused, so a typo never silently does nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import UsageError
from ..i18n import _

# name: (default, source / meaning)
DEFAULTS: dict[str, tuple[float, str]] = {
    # joins
    "join_scale": (1.0, "multiplies every acquisition source's `daily` joins"),
    "default_daily_joins": (0.0, "joins a day when the playbook lists no acquisition source"),
    "initial_fill": (1.0, "share of capacity a group made up by --groups starts with "
                          "(a 200-member group, DOMAIN §numbers)"),
    # engagement
    "engagement_decay": (0.15, "daily decay without operations: a week without operation "
                               "leaves a group quiet for good (DOMAIN, seed 000)"),
    "engagement_gain": (0.15, "share of the gap to full engagement closed by one unit of "
                               "stimulus; tuned so the standard timetable settles at 8-10 % "
                               "active (DOMAIN, seed 000)"),
    "engagement_join": (0.35, "engagement of a newcomer (curious, not yet attached)"),
    "welcome_boost": (0.15, "engagement added by a welcome within 24 h: the first impression "
                            "forms in 24 h (DOMAIN, seed 001)"),
    "target_members_weight": (0.6, "stimulus of a 1:1 message relative to a group post"),
    "target_moments_weight": (0.3, "stimulus of a Moments post relative to a group post"),
    # speaking
    "speak_scale": (0.16, "speaking probability of a fully engaged member of average "
                          "talkativeness"),
    "talk_sigma": (1.9, "lognormal sigma of per-member talkativeness: most never post, a few "
                        "post most messages (public participation data, 90-9-1)"),
    "messages_per_active": (2.0, "extra messages an active member of average talkativeness "
                                 "writes on a day (Poisson)"),
    # churn
    "churn_base": (0.0025, "daily leave hazard of an engaged, welcomed member"),
    "churn_early_unwelcomed": (0.03, "extra hazard in the first week without a welcome "
                                     "(DOMAIN: first impression in 24 h)"),
    "churn_early_welcomed": (0.006, "extra hazard in the first week with a welcome"),
    "churn_quiet": (0.004, "extra hazard times (1 - engagement): quiet groups shed members"),
    "churn_onset_days": (60.0, "tenure from which an unconverted member's hazard rises "
                               "(DOMAIN: about 3 months)"),
    "churn_rise": (0.0015, "hazard added per day of tenure past the onset, unconverted only "
                           "(median stay about 90 days, DOMAIN 3-6 months)"),
    "churn_converted_factor": (0.35, "hazard multiplier for converted (paying) members"),
    "annoyance_churn": (0.02, "extra hazard per unit of annoyance"),
    "tolerated_posts": (8.0, "group posts a day members take without annoyance (the plan also "
                             "enforces caps.per_group_per_day; the lower of the two counts)"),
    "annoyance_per_excess": (0.25, "annoyance added per group post above the tolerated number"),
    "annoyance_decay": (0.3, "daily decay of annoyance"),
    "annoyance_mute": (0.05, "daily chance per unit of annoyance that a member mutes the group: "
                             "posts stop reaching them and their engagement only decays "
                             "(seeds 004, 002: posting floods make members stop taking part)"),
    # funnel
    "convert_rate": (0.006, "daily conversion chance to the next stage of a fully engaged "
                            "member for a free step (an assumption: about 10 % of a pond "
                            "buys a low-priced lead product within a month)"),
    "price_ref": (50.0, "price (in the playbook's currency) at which the conversion chance "
                        "halves"),
    "sale_boost": (2.0, "conversion multiplier on a day with a limited-time sale (flash sale, "
                        "group buy): scarcity, buy today (seed 000: 限时、限量、限购)"),
    "offer_boost": (1.3, "conversion multiplier on a day with a routine offer post"),
    # referrals
    "share_rate": (0.01, "daily chance a fully engaged member shares the group's poster"),
    "share_success": (0.2, "chance a share brings anyone: 80 % of shares do nothing (DOMAIN)"),
    "joins_per_success": (1.5, "members a successful share brings (DOMAIN's 6 per member is the "
                               "aspiration, not the forecast)"),
    # rules
    "violation_rate": (0.001, "daily chance a member breaks a rule (ads, links, flooding); "
                              "0 when the playbook detects no rule"),
    "mute_days": (7.0, "days a `mute` step of the ladder silences a member"),
    # warnings
    "neglect_mute": (0.5, "share of a group's members who mute it once it has gone "
                          "quiet_warn_days days without any operation: a group left a week "
                          "without operation goes quiet for good (seed 000); an assumption"),
    "quiet_warn_days": (7.0, "days without any operation that trigger a warning (DOMAIN: a week "
                             "without operation, the group goes quiet)"),
}

# Stimulus of one post of a content kind (unknown kinds: "default"). Interactive kinds weigh
# more: members answer a quiz, grab a red packet, ask at a Q&A or hand in a task; they only
# read a good-morning.
KIND_WEIGHTS: dict[str, float] = {
    "good-morning": 0.35, "check-in": 0.5, "knowledge": 0.5, "testimonial": 0.5,
    "offer": 0.4, "flash-sale": 0.6, "interaction": 1.0, "quiz": 1.0, "vote": 0.8,
    "red-packet": 1.5, "show-off": 1.0, "course": 1.0, "behind-the-scenes": 0.5,
    "voice": 0.7, "announcement": 0.3, "rules": 0.2, "qa": 1.0, "task": 0.8, "default": 0.5,
}
# Kinds members take part in (answer, vote, grab, show, ask, hand in), not only read.
INTERACTIVE_KINDS = frozenset({"interaction", "quiz", "vote", "red-packet", "show-off", "qa",
                               "task"})
# Kinds that lift conversion on their day: 1 a routine offer (offer_boost), 2 a limited-time
# sale (sale_boost); the stronger of a day's posts counts.
SALE_KINDS = {"offer": 1, "flash-sale": 2, "group-buy": 2, "sale": 2}


def resolve(overrides: Mapping[str, float] | None = None,
            cli: Mapping[str, float] | None = None) -> dict[str, float]:
    """Defaults, then the playbook's ``simulation:``, then the command line."""
    out = {k: v for k, (v, _doc) in DEFAULTS.items()}
    for where, src in ((_("playbook simulation"), overrides), ("--param", cli)):
        for k, v in (src or {}).items():
            if k not in out:
                import difflib

                close = difflib.get_close_matches(k, list(out), n=1)
                raise UsageError(_("{where}: unknown parameter '{name}'").format(
                    where=where, name=k), hint=_("did you mean '{name}'?").format(name=close[0])
                    if close else _("docs/simulation.md lists them all"))
            out[k] = float(v)
    return out


def parse_cli_params(items: list[str] | None) -> dict[str, float]:
    """``["churn_base=0.01", ...]`` into a dict; bad items are usage errors."""
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise UsageError(_("--param {item}: expected name=number").format(
                item=repr(item))) from None
    return out


def kind_weight(kind: str) -> float:
    return KIND_WEIGHTS.get(kind, KIND_WEIGHTS["default"])
