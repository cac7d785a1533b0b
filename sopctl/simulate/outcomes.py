"""The named outcomes of a forecast: what `simulate --compare` prints and what the what-if
table of docs/simulation.md measures, under the same names. JSON keeps the keys."""

from __future__ import annotations

from ..i18n import N_, _

# summary key -> what a person reads, in the order a comparison lists them
OUTCOMES: dict[str, str] = {
    "members_end": N_("members at the end"),
    "joins": N_("joins"),
    "leaves": N_("leaves"),
    "removed": N_("removed by the rules"),
    "messages": N_("messages in the groups"),
    "ops_messages": N_("messages sent by operations"),
    "active_rate": N_("active, average day"),
    "active_rate_last_week": N_("active last week"),
    "revenue": N_("revenue"),
    "groups_end": N_("groups at the end"),
}
CONVERTED_IN = "converted_in:"  # + a stage id: conversions into that stage
TOTAL = CONVERTED_IN + "total"  # conversions into every stage
LABELS = {**OUTCOMES, TOTAL: N_("conversions, all stages")}


def value(summary: dict, key: str) -> float:
    """One outcome of a forecast summary."""
    if key == TOTAL:
        return sum(f["converted_in"] for f in summary["funnel"])
    if key.startswith(CONVERTED_IN):
        stage = key[len(CONVERTED_IN):]
        return next((f["converted_in"] for f in summary["funnel"] if f["stage"] == stage), 0)
    return summary[key]


def label(key: str, names: dict[str, str] | None = None) -> str:
    """The outcome's name in the user's language; ``names`` maps stage ids to the names
    people know them by."""
    if key in LABELS:
        return _(LABELS[key])
    stage = key[len(CONVERTED_IN):]
    name = (names or {}).get(stage, stage)
    return _("conversions into {name}").format(
        name=name if name == stage else f"{name} ({stage})")


def relative(a: float, b: float) -> float | None:
    """B / A - 1; None when A is 0 and B is not."""
    if a == 0:
        return 0.0 if b == 0 else None
    return (b - a) / abs(a)
