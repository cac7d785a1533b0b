"""What-ifs: named edits of a playbook, the outcomes each should move, and why.

An edit works on the playbook's YAML data, before validation, so the edited playbook is
loaded exactly as a file with that change would be. Each what-if states the direction it
expects in named outcomes (sopctl/simulate/outcomes.py) and the seed passage or published
figure that says so. `sopctl simulate --what-if ID` forecasts a playbook and its edit with
the same seed; tests/simulate/test_what_if.py holds every shipped playbook to the expected
directions; `benchmarks/simulate_bench.py --what-if-table` measures the sizes that
docs/simulation.md reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ..i18n import N_
from .params import INTERACTIVE_KINDS

Data = dict[str, Any]
Edit = Callable[[Data, "Window"], "dict[str, str] | None"]


@dataclass(frozen=True, slots=True)
class Window:
    """The forecast an edit is made for (an edit may depend on its dates)."""

    start: date
    days: int


@dataclass(frozen=True, slots=True)
class Expect:
    outcome: str  # an outcomes key; "{stage}" is filled in by the edit
    sign: int  # +1: the outcome rises, -1: it falls
    min_effect: float  # smallest relative change the tests accept (0.05 = 5 %)


@dataclass(frozen=True, slots=True)
class WhatIf:
    id: str
    title: str  # N_(): translated where shown
    edit: Edit  # changes the data in place; None when the playbook has nothing to change
    expect: tuple[Expect, ...]
    source: str  # the seed passage or published data the direction comes from (docs only)


# ----------------------------------------------------------------------------- edits

def _drop_slots(d: Data, keep: Callable[[dict], bool]) -> dict[str, str] | None:
    slots = d.get("timetable") or []
    kept = [s for s in slots if keep(s)]
    if len(kept) == len(slots):
        return None
    d["timetable"] = kept
    return {}


def _no_welcome(d: Data, w: Window) -> dict[str, str] | None:
    return {} if d.pop("welcome", None) else None


def _no_interactive(d: Data, w: Window) -> dict[str, str] | None:
    return _drop_slots(d, lambda s: s.get("kind") not in INTERACTIVE_KINDS)


def _no_red_packets(d: Data, w: Window) -> dict[str, str] | None:
    return _drop_slots(d, lambda s: s.get("kind") != "red-packet")


def _no_flash_sale(d: Data, w: Window) -> dict[str, str] | None:
    return _drop_slots(d, lambda s: s.get("kind") != "flash-sale")


def _no_operations(d: Data, w: Window) -> dict[str, str] | None:
    return _drop_slots(d, lambda s: False)


def _unattended_week(d: Data, w: Window) -> dict[str, str] | None:
    """Nothing is posted on days 8-14 of the forecast; the timetable resumes after."""
    slots = d.get("timetable") or []
    if not slots:
        return None
    paused = {w.start + timedelta(days=i) for i in range(7, 14)}
    every = [w.start + timedelta(days=i) for i in range(w.days)]
    for s in slots:
        own = {date.fromisoformat(str(x)) for x in s["dates"]} if s.get("dates") else set(every)
        s["dates"] = [x.isoformat() for x in every if x in own and x not in paused]
    return {}


EXTRA_POSTS = 12


def _extra_posts(d: Data, w: Window) -> dict[str, str] | None:
    """Twelve more offer posts a day, hourly from 09:05, with the daily cap raised by as
    many so the plan sends them (the manager who decides to post more lifts the cap too)."""
    slots = d.setdefault("timetable", [])
    for i in range(EXTRA_POSTS):
        slots.append({"id": f"extra-offer-{i + 1:02d}", "kind": "offer",
                      "at": f"{9 + i:02d}:05", "grace": "5m",
                      "text": f"【限时优惠 {i + 1}】群友专享价, 手慢无, 点击下单 👉"})
    caps = d.setdefault("caps", {}) or {}
    d["caps"] = caps
    caps["per_group_per_day"] = int(caps.get("per_group_per_day", 8)) + EXTRA_POSTS
    return {}


def _next_stage(d: Data) -> dict | None:
    """The stage a member of the funnel's entry stage converts into (policy.next_stage)."""
    stages = (d.get("funnel") or {}).get("stages") or []
    if not stages:
        return None
    first = stages[0]
    if "next" in first:
        return next((s for s in stages if s.get("id") == first["next"]), None)
    return stages[1] if len(stages) > 1 else None


def _scale_entry_price(factor: float) -> Edit:
    def edit(d: Data, w: Window) -> dict[str, str] | None:
        stage = _next_stage(d)
        entry = stage.get("entry") if stage else None
        if not isinstance(entry, dict):
            return None
        if entry.get("kind") == "spend" and entry.get("amount"):
            entry["amount"] = entry["amount"] * factor
        elif entry.get("kind") in ("product", "membership") and entry.get("product"):
            prod = next((p for p in d.get("products") or []
                         if p.get("id") == entry["product"]), None)
            if prod is None or not prod.get("price"):
                return None
            prod["price"] = round(prod["price"] * factor, 2)
        else:
            return None
        return {"stage": stage["id"]}
    return edit


def _capacity_halved(d: Data, w: Window) -> dict[str, str] | None:
    pos = d.get("positioning") or {}
    pos["capacity"] = max(1, int(pos.get("capacity", 200)) // 2)
    return {}


def _no_acquisition(d: Data, w: Window) -> dict[str, str] | None:
    return {} if d.pop("acquisition", None) else None


def _double_acquisition(d: Data, w: Window) -> dict[str, str] | None:
    sources = d.get("acquisition") or []
    if not sources:
        return None
    for s in sources:
        s["daily"] = s.get("daily", 0) * 2
    return {}


# ----------------------------------------------------------------------------- catalogue

_E = Expect
WHAT_IFS: tuple[WhatIf, ...] = (
    WhatIf("no-welcome", N_("no welcome"), _no_welcome,
           (_E("leaves", +1, 0.10), _E("members_end", -1, 0.01)),
           ("seed 001: a newcomer's first impression forms within 24 h; seed 003: every "
            "new member gets the welcome, the rules and the current offer")),
    WhatIf("no-interactive-slots", N_("no interactive slots"), _no_interactive,
           (_E("active_rate", -1, 0.02), _E("converted_in:total", -1, 0.01)),
           ("seed 003: red packets for posted orders every 2-3 days keep the group warm "
            "(保持热度), quiz rounds and a weekly vote; seed 000: activities build "
            "stickiness (社群活动: 增强粘性)")),
    WhatIf("twelve-extra-posts", N_("twelve extra posts a day"), _extra_posts,
           (_E("active_rate_last_week", -1, 0.10), _E("members_end", -1, 0.50),
            _E("revenue", -1, 0.50)),
           ("seed 004: posting hundreds of links and posters a day harasses members; "
            "activity declines, no member takes part, the group dies or becomes an ad "
            "group; seed 002: a group used as an ad platform loses its liveliness")),
    WhatIf("no-weekly-flash-sale", N_("weekly flash sale removed"), _no_flash_sale,
           (_E("revenue", -1, 0.02),),
           ("seed 003: a flash sale every Wednesday, at a fixed time, drives conversion "
            "and builds the habit; the pond is stimulated again and again by flash sales")),
    WhatIf("next-stage-price-doubled", N_("next stage's entry price doubled"),
           _scale_entry_price(2.0), (_E("converted_in:{stage}", -1, 0.01),),
           ("seed 003: members enter the transit group by buying a low-priced lead "
            "product (低价引流款): the first step up the funnel is cheap on purpose")),
    WhatIf("next-stage-price-halved", N_("next stage's entry price halved"),
           _scale_entry_price(0.5), (_E("converted_in:{stage}", +1, 0.01),),
           ("seed 003: members enter the transit group by buying a low-priced lead "
            "product (低价引流款): the first step up the funnel is cheap on purpose")),
    WhatIf("no-red-packets", N_("no red packets"), _no_red_packets,
           (_E("active_rate", -1, 0.01),),
           ("seed 003: red packets for posted orders every 2-3 days keep the group warm: "
            "\"2-3天发一波, 保持热度, 不要过于频繁也不要沉默太久\"")),
    WhatIf("no-operations", N_("timetable emptied"), _no_operations,
           (_E("active_rate_last_week", -1, 0.80), _E("members_end", -1, 0.02)),
           ("seed 000: a group left one week without operation goes quiet for good; "
            "8-10 % of a 200-member group speaking is normal")),
    WhatIf("unattended-week", N_("group left unattended a week"), _unattended_week,
           (_E("active_rate", -1, 0.05), _E("active_rate_last_week", -1, 0.05),
            _E("leaves", +1, 0.03)),
           ("seed 000: a group left one week without operation goes quiet (一旦某个群出现"
            "一个星期的无人运营状态, 那么它归向沉寂就是必然的事情)")),
    WhatIf("capacity-halved", N_("groups of 100 instead of 200"), _capacity_halved,
           (_E("groups_end", +1, 0.30),),
           ("seed 003 step 2: a group holds 200 members and the live code rolls newcomers "
            "into the next group when one is full (the forecast does not model DOMAIN's "
            "~100-150 members past which ritual fades)")),
    WhatIf("no-acquisition", N_("acquisition stopped"), _no_acquisition,
           (_E("joins", -1, 0.80), _E("members_end", -1, 0.50)),
           ("seed 003 step 4: new members arrive through the acquisition channels; "
            "without them a group only loses members (seed 000: about 3 months' stay)")),
    WhatIf("double-acquisition", N_("twice the joins from every channel"),
           _double_acquisition,
           (_E("joins", +1, 0.50), _E("members_end", +1, 0.20), _E("revenue", +1, 0.05)),
           ("seed 003 step 4: joins arrive per channel (store, parcel card, ads, live "
            "stream, articles); a group fills to 200 and the live code opens the next")),
)
BY_ID = {w.id: w for w in WHAT_IFS}


def edited_data(data: Data, what_if: WhatIf, window: Window) -> tuple[Data, dict] | None:
    """A deep copy of ``data`` with the edit made and the names it resolved; None when
    the edit does not apply to this playbook."""
    import copy

    d = copy.deepcopy(data)
    names = what_if.edit(d, window)
    return None if names is None else (d, names)


def expectations(what_if: WhatIf, names: dict[str, str]) -> list[Expect]:
    return [Expect(x.outcome.format(**names), x.sign, x.min_effect) for x in what_if.expect]


# ----------------------------------------------------------------------------- measuring

@dataclass(frozen=True, slots=True)
class Effect:
    outcome: str
    expect: Expect
    a: float  # the shipped playbook
    b: float  # its edit

    @property
    def change(self) -> float | None:
        from .outcomes import relative

        return relative(self.a, self.b)

    @property
    def holds(self) -> bool:
        """The outcome moved the expected way by at least the minimum effect."""
        c = self.change
        if c is None:  # from nothing to something
            return (self.b > 0) == (self.expect.sign > 0)
        return c * self.expect.sign >= self.expect.min_effect


def load_data(path: str) -> Data:
    """The playbook's data as the loader reads it (YAML 1.2 scalars: "7:30" stays text)."""
    from pathlib import Path

    from ..playbook.source import load_bytes

    return load_bytes(Path(path).read_bytes(), path)[0]


def load_edited(path: str, data: Data):  # -> Playbook
    """Validate edited data as the loader would the file at ``path`` (an inventory file
    it names is read relative to it). Raises ValueError with the findings if invalid."""
    import yaml

    from ..playbook.loader import load_playbook

    raw = yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode("utf-8")
    loaded = load_playbook(path, raw=raw)
    if loaded.playbook is None:
        raise ValueError("; ".join(f.short() for f in loaded.findings))
    return loaded.playbook


class Bench:
    """Forecasts of one playbook and its edits over one window, the baseline computed
    once: the medians of ``runs`` runs from ``seed``, as `simulate --runs` reports them."""

    def __init__(self, path: str, window: Window, runs: int, seed: int = 0):
        self.path, self.window, self.runs, self.seed = path, window, runs, seed
        self.data = load_data(path)
        self._base: dict | None = None
        self._effects: dict[str, list[Effect] | None] = {}

    def forecast(self, playbook) -> dict:
        from .forecast import forecast

        return forecast(playbook, start=self.window.start, days=self.window.days,
                        seed=self.seed, runs=self.runs)["summary"]

    @property
    def base(self) -> dict:
        if self._base is None:
            self._base = self.forecast(load_edited(self.path, self.data))
        return self._base

    def effects(self, what_if: WhatIf) -> list[Effect] | None:
        """Each expected outcome, shipped against edited; None when it does not apply."""
        from .outcomes import value

        if what_if.id in self._effects:
            return self._effects[what_if.id]
        got = edited_data(self.data, what_if, self.window)
        out = None
        if got is not None:
            data, names = got
            b = self.forecast(load_edited(self.path, data))
            out = [Effect(x.outcome, x, value(self.base, x.outcome), value(b, x.outcome))
                   for x in expectations(what_if, names)]
        self._effects[what_if.id] = out
        return out


# ----------------------------------------------------------------------------- the docs table

# The forecast the tests and the docs table measure: 60 days from a fixed date, the
# median of 7 runs from seed 0, each shipped playbook with its own inventory.
TABLE_WINDOW = Window(date(2026, 12, 1), 60)
TABLE_RUNS, TABLE_SEED = 7, 0

def _size(effects: list[Effect] | None, i: int) -> str:
    if effects is None:
        return "n/a"
    c = effects[i].change
    if c is None:
        return "from 0"
    return f"{c * 100:+.0f} %".replace("-", "−")


def table_rows(benches: dict[str, Bench]) -> list[str]:
    """One markdown row per expected outcome of each what-if, with the relative change
    measured on each playbook (the what-if and its source on its first row)."""
    from .outcomes import label

    rows = []
    for w in WHAT_IFS:
        measured = [b.effects(w) for b in benches.values()]
        for i, x in enumerate(w.expect):
            name = label(x.outcome.format(stage="the next stage"))
            way = "rises" if x.sign > 0 else "falls"
            first = i == 0
            cells = [f"`{w.id}`: {w.title}" if first else "", name,
                     f"{way} ≥ {x.min_effect * 100:g} %",
                     *(_size(m, i) for m in measured), w.source if first else ""]
            rows.append("| " + " | ".join(cells) + " |")
    return rows


def table(benches: dict[str, Bench]) -> str:
    head = ["what-if", "outcome", "expected", *benches, "source"]
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
                      *table_rows(benches)])


def edited_playbook(path: str, what_if_id: str, window: Window) -> tuple[Any, str]:
    """The playbook at ``path`` with the named what-if's edit, for `simulate --what-if`,
    and the what-if's title in the user's language."""
    from ..errors import UsageError
    from ..i18n import _

    w = BY_ID.get(what_if_id)
    if w is None:
        raise UsageError(_("unknown what-if '{name}'").format(name=what_if_id),
                         hint=_("one of: {names}").format(names=", ".join(BY_ID)))
    got = edited_data(load_data(path), w, window)
    if got is None:
        raise UsageError(_("what-if '{name}' does not apply to {path}: it has nothing to "
                           "change").format(name=what_if_id, path=path))
    try:
        return load_edited(path, got[0]), _(w.title)
    except ValueError as exc:  # the edit made the playbook invalid: say so, no traceback
        raise UsageError(_("what-if '{name}' makes {path} invalid: {reason}").format(
            name=what_if_id, path=path, reason=exc)) from None
