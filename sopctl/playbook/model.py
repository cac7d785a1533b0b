"""The playbook schema: one place that says what a SOP can say.

Kept lean on purpose: model classes cost time to build, and `sopctl lint` imports this
module. Empty lists and dicts are plain defaults (Pydantic copies them per instance):
``default_factory=list`` makes Pydantic parse the builtin's text signature for every such
field while building the schema. Annotations are evaluated at class creation (no
``from __future__ import annotations``), so Pydantic need not evaluate strings.
Field docs become the JSON Schema's descriptions.

Parse once: time-language fields (clock times, windows, durations, day ranges, weekdays,
cron) keep the text the operator wrote, which messages and the schema show, and are
parsed by their validators as the playbook loads, where a bad value is refused with its
location. Typed properties (``Slot.window``, ``Slot.grace_s``, ``Slot.cron_spec``, ...)
give the parsed values, held by the instance from the first read on (``_typed``); the
parsers are memoized by value, so that first read takes the validator's result rather
than parsing again. The plan reads only these properties.
"""

from datetime import date, time
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .timeparse import (
    memoized,
    parse_clock,
    parse_day_range,
    parse_duration,
    parse_duration_range,
    parse_weekday,
    parse_window,
)

if TYPE_CHECKING:
    from ..plan.cron import CronSpec


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True,
                              validate_default=False, use_attribute_docstrings=False,
                              defer_build=True)

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Any:
        copied = super().model_copy(update=update, deep=deep)
        if update:  # typed values held for the old field values would be stale
            copied.__dict__.pop("_typed", None)
        return copied


Duration = Annotated[str | int, Field(description='A duration: "90s", "30m", "2h", "1d".')]
DayRange = Annotated[str | int, Field(description='Days of a group\'s life: "1-14", "15-", 7.')]

GroupType = Literal["product", "interest", "knowledge", "resource", "marketing"]
Platform = Literal["wecom", "wechat", "feishu", "dingtalk", "telegram", "slack", "discord",
                   "other"]
ChannelType = Literal["console", "file", "webhook", "wecom-robot", "wecom-customer-group",
                      "feishu", "dingtalk", "slack", "discord", "telegram"]
LadderStep = Literal["warn", "mute", "remove", "blacklist"]
MessageFormat = Literal["text", "markdown"]


def _check_duration(v: str | int | None) -> str | int | None:
    if v is not None:
        parse_duration(v)
    return v


@memoized
def cron_spec(expr: str) -> "CronSpec":
    """A cron expression parsed (memoized like the other time languages)."""
    from ..plan.cron import parse_cron  # not at import: most playbooks have no cron

    return parse_cron(expr)


_WEEK_SETS = {"daily": frozenset(range(7)), "weekdays": frozenset(range(5)),
              "weekends": frozenset((5, 6))}


@memoized
def _weekday_set(days: str | tuple[str | int, ...]) -> frozenset[int]:
    if isinstance(days, str):
        return _WEEK_SETS.get(days) or frozenset((parse_weekday(days),))
    return frozenset(parse_weekday(d) for d in days)


# ----------------------------------------------------------------------------- who and why

class Persona(_Model):
    """Who the group is for (用户画像)."""

    gender: str | None = None
    age: str | None = None
    city_tier: str | None = None
    occupation: str | None = None
    income: str | None = None


class Threshold(_Model):
    """What it takes to get in (门槛)."""

    kind: Literal["free", "paid", "invite", "task", "purchase"] = "free"
    price: float | None = Field(None, ge=0)
    product: str | None = None
    task: str | None = Field(None, description="e.g. share the poster to Moments")


class Positioning(_Model):
    """群定位: purpose, type, audience, value, naming and capacity."""

    type: GroupType
    purpose: str = Field(description="The group's purpose in one sentence.")
    audience: Persona | None = None
    value: list[str] = Field(default=[], description="What members get.")
    connection: Literal["distributed", "pyramid"] = "pyramid"
    name_pattern: str = Field(description='Group name with its number, e.g. "美肌福利群{n:03}".')
    capacity: int = Field(200, ge=1, description="Members per group (WeCom: at most 200).")
    threshold: Threshold = Field(default_factory=Threshold)
    platform: Platform = "wecom"
    planned_days: int | None = Field(None, ge=1, description="How long one group is run.")


class Person(_Model):
    name: str
    title: str | None = None
    userid: str | None = Field(None, description="Platform user id, for reminders.")
    groups: list[str] = Field(default=[], description="Group ids this person runs.")


class Roles(_Model):
    """人员: the expert IP, sub-owners (3-4 groups each) and admins."""

    owner: Person | None = None
    experts: list[Person] = []
    sub_owners: list[Person] = []
    admins: list[Person] = []


# ----------------------------------------------------------------------------- welcome, rules

class Attachment(_Model):
    kind: Literal["image", "link", "coupon", "miniprogram", "file"]
    title: str | None = None
    url: str | None = None
    path: str | None = None
    content: str | None = Field(None, description="A content-library item to attach.")
    description: str | None = None


class Welcome(_Model):
    """入群欢迎语: four parts, rendered into ``template`` (or joined in order)."""

    template: str | None = Field(
        None, description="Text with {nickname} {newcomers} {group_name} {group_no} {owner} "
        "{rules_summary} {theme} {services} {prohibited} {penalty} {rewarded} {reward} and "
        "playbook variables (a part used here must not be empty; docs/plan.md, Templates).")
    theme: str | None = Field(None, description="What the group is (我们是谁).")
    services: str | None = Field(None, description="What members get, and when.")
    prohibited: str | None = Field(None, description="What is forbidden.")
    penalty: str | None = Field(None, description="What happens to rule-breakers.")
    rewarded: str | None = Field(None, description="Behaviour the group rewards.")
    reward: str | None = None
    attachment: Attachment | None = None
    format: MessageFormat = "text"
    batch_window: Duration = Field(
        "3m", description="Newcomers within this window share one welcome.")
    channel: str | None = None

    _v = field_validator("batch_window")(_check_duration)

    @cached_property
    def _typed(self) -> int:
        return parse_duration(self.batch_window)

    @property
    def batch_window_s(self) -> int:
        """``batch_window`` in seconds."""
        return self._typed


class Flood(_Model):
    messages: int = Field(ge=2)
    seconds: int = Field(ge=1)


class Detect(_Model):
    """How a violation is recognised."""

    links: bool = False
    keywords: list[str] = []
    regex: str | None = None
    flood: Flood | None = None
    private_add: bool = False
    nickname: bool = False

    @field_validator("regex")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            import re

            try:
                re.compile(v)
            except re.error as exc:
                from ..i18n import _
                from ..i18n.thirdparty import regex_message

                raise ValueError(_("invalid regular expression: {error}").format(
                    error=regex_message(exc))) from None
        return v


class Rule(_Model):
    id: str
    text: str
    detect: Detect | None = None
    ladder: list[LadderStep] | None = Field(None, description="Overrides the default ladder.")
    announce: bool | None = None


class NicknameRule(_Model):
    format: str = Field(description='Shown to members, e.g. "城市-行业-昵称".')
    regex: str | None = Field(None, description="Checks a nickname; derived from format if absent.")


class Rules(_Model):
    """群规 with the penalty ladder (default: warn, then remove) and blacklist."""

    nickname: NicknameRule | None = None
    ladder: list[LadderStep] = Field(default_factory=lambda: ["warn", "remove"])
    announce: bool = True
    blacklist: bool = Field(True, description="A removed member is barred from every group.")
    warn_text: str | None = None
    remove_text: str | None = None
    items: list[Rule] = []


class AutoReply(_Model):
    """群自动回复: keyword -> answer. WeCom allows 100 rules x 10 keywords."""

    id: str | None = None
    keywords: list[str] = Field(min_length=1)
    match: Literal["exact", "contains", "regex"] = "contains"
    reply: str | None = None
    content: str | None = None
    cooldown: Duration = "5m"

    _v = field_validator("cooldown")(_check_duration)

    @cached_property
    def _typed(self) -> int:
        return parse_duration(self.cooldown)

    @property
    def cooldown_s(self) -> int:
        """``cooldown`` in seconds."""
        return self._typed


# ----------------------------------------------------------------------------- content

class ContentItem(_Model):
    """A named item in the content library, with variants rotated per occurrence."""

    kind: Literal["text", "markdown", "image", "link", "news", "miniprogram"] = "text"
    text: str | None = None
    variants: list[str] = []
    title: str | None = None
    url: str | None = None
    path: str | None = None
    description: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        return {"text": data} if isinstance(data, str) else data


class Message(_Model):
    """One message of a multi-message sequence."""

    text: str | None = None
    content: str | None = None
    format: MessageFormat | None = None
    wait: Duration | None = Field(None, description="Pause before this message (else spacing).")

    _v = field_validator("wait")(_check_duration)

    @cached_property
    def _typed(self) -> int | None:
        return None if self.wait is None else parse_duration(self.wait)

    @property
    def wait_s(self) -> int | None:
        """``wait`` in seconds; None when the slot's spacing applies."""
        return self._typed


class _SlotTimes(NamedTuple):
    window: tuple[int, int] | None
    cron: "CronSpec | None"
    weekdays: frozenset[int]
    life: tuple[int, int | None] | None
    spacing: tuple[int, int]
    grace: int


class Slot(_Model):
    """One line of the daily timetable (社群日常维护执行表)."""

    id: str
    kind: str = Field(description="good-morning, knowledge, interaction, red-packet, course, ...")
    at: str | None = Field(None, description='"07:30", or a window "13:00-16:00".')
    days: str | list[str | int] = Field(
        "daily", description='"daily", "weekdays", "weekends" or days like [wed].')
    every_days: int | None = Field(
        None, ge=1, description="Every N days, counted from the group's opening date.")
    cron: str | None = Field(None, description="A 5-field cron expression, in local time.")
    dates: list[date] = Field(default=[], description="Only on these dates.")
    life_days: DayRange | None = Field(None, description="Only on these days of a group's life.")
    phases: list[str] = Field(default=[], description="Only in these lifecycle phases.")
    text: str | None = None
    content: str | None = Field(None, description="A content-library item.")
    course: list[str] = Field(
        default=[], description="Lesson N (content item or text) on day N.")
    sequence: list[Message] = []
    spacing: Duration = Field("1-2m", description="Gap between messages of a sequence.")
    format: MessageFormat = "text"
    mention: Literal["none", "all", "newcomers"] = "none"
    target: Literal["group", "members", "moments"] = "group"
    channel: str | None = None
    delivery: Literal["post", "remind"] | None = None
    grace: Duration = Field("30m", description="How late it may still be sent.")
    quiet: Literal["defer", "drop"] = "defer"
    enabled: bool = True

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, v: object) -> object:
        if v is not None:
            parse_window(v)  # before coercion, so 450 (YAML 1.1's 7:30) is named as such
        return v

    @field_validator("days")
    @classmethod
    def _days(cls, v: str | list[str | int]) -> str | list[str | int]:
        _weekday_set(v if isinstance(v, str) else tuple(v))
        return v

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None:
            cron_spec(v)
        return v

    @field_validator("life_days")
    @classmethod
    def _life(cls, v: str | int | None) -> str | int | None:
        if v is not None:
            parse_day_range(v)
        return v

    @field_validator("spacing")
    @classmethod
    def _spacing(cls, v: str | int) -> str | int:
        parse_duration_range(v)
        return v

    _g = field_validator("grace")(_check_duration)

    # ---- the typed values (see the module docstring: parsed once, as the playbook loads)
    @cached_property
    def _typed(self) -> "_SlotTimes":
        window = None
        if self.at is not None:
            start, end = parse_window(self.at)
            window = (start.hour * 60 + start.minute, end.hour * 60 + end.minute)
        d = self.days
        return _SlotTimes(
            window, None if self.cron is None else cron_spec(self.cron),
            _weekday_set(d if isinstance(d, str) else tuple(d)),
            None if self.life_days is None else parse_day_range(self.life_days),
            parse_duration_range(self.spacing), parse_duration(self.grace))

    @property
    def window(self) -> tuple[int, int] | None:
        """``at`` as (first, last) minute after local midnight; None for a cron slot."""
        return self._typed.window

    @property
    def cron_spec(self) -> "CronSpec | None":
        return self._typed.cron

    @property
    def weekdays(self) -> frozenset[int]:
        """The Monday=0 weekdays ``days`` allows."""
        return self._typed.weekdays

    @property
    def life(self) -> tuple[int, int | None] | None:
        """``life_days`` as (first, last) day of a group's life (last None: open-ended)."""
        return self._typed.life

    @property
    def spacing_s(self) -> tuple[int, int]:
        """``spacing`` as a (shortest, longest) gap in seconds."""
        return self._typed.spacing

    @property
    def grace_s(self) -> int:
        """``grace`` in seconds."""
        return self._typed.grace

    @model_validator(mode="after")
    def _when(self) -> "Slot":
        if self.at is None and self.cron is None:
            from ..i18n import _

            raise ValueError(_("a slot needs `at` (a time or window) or `cron`"))
        if self.at is not None and self.cron is not None:
            from ..i18n import _

            raise ValueError(_("give either `at` or `cron`, not both"))
        return self


class QuietHours(_Model):
    """No posts between start and end (may cross midnight)."""

    start: str
    end: str

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock(cls, v: object) -> object:
        parse_clock(v)
        return v

    @cached_property
    def _typed(self) -> tuple[time, time]:
        return parse_clock(self.start), parse_clock(self.end)

    @property
    def span(self) -> tuple[time, time]:
        """(start, end) as clock times."""
        return self._typed


class Caps(_Model):
    """Frequency caps (频率上限)."""

    per_group_per_day: int = Field(8, ge=1, description="Posts to one group in one day.")
    per_member_per_day: int = Field(1, ge=1, description="1:1 messages to one member a day.")
    moments_per_day: int = Field(4, ge=1, description="Moments posts a day (朋友圈 3-4).")


# ----------------------------------------------------------------------------- funnel

class Entry(_Model):
    """What moves a member into a stage."""

    kind: Literal["free", "product", "spend", "membership", "invite", "task"] = "free"
    product: str | None = None
    amount: float | None = Field(None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        return {"kind": data} if isinstance(data, str) else data


class Stage(_Model):
    id: str
    name: str | None = None
    entry: Entry = Field(default_factory=Entry)
    effort: float | None = Field(None, ge=0, le=100, description="Share of effort, in %.")
    next: str | None = Field(None, description="The stage converted members move to.")
    convert_days: int | None = Field(None, ge=1, description="Days to convert before moving on.")
    otherwise: str | None = Field(None, description="Where the non-converted go (a stage id).")
    group_pattern: str | None = None
    invite: str | None = Field(None, description="Invitation text sent on promotion.")


class Phase(_Model):
    name: str = Field(description="early / middle / middle-late / late, or your own.")
    days: DayRange

    _d = field_validator("days")(lambda v: (parse_day_range(v), v)[1])

    @cached_property
    def _typed(self) -> tuple[int, int | None]:
        return parse_day_range(self.days)

    @property
    def span(self) -> tuple[int, int | None]:
        """``days`` as (first, last) day of a group's life (last None: open-ended)."""
        return self._typed


class Funnel(_Model):
    """漏斗: pond -> transit -> core, with lifecycle phases."""

    stages: list[Stage] = Field(min_length=1)
    phases: list[Phase] = []


class Product(_Model):
    id: str
    name: str | None = None
    price: float = Field(ge=0)
    kind: Literal["lead", "regular", "membership"] = "regular"


class Source(_Model):
    """An acquisition channel (引流渠道) and its expected joins a day."""

    name: str
    daily: float = Field(ge=0)
    tag: str | None = None


# ----------------------------------------------------------------------------- delivery

class Channel(_Model):
    """A named endpoint. Secrets: "${ENV_VAR}" or "file:/path", never inline."""

    type: ChannelType
    base_url: str | None = Field(None, description="Overrides the platform's API address.")
    url: str | None = Field(None, description="Webhook URL (webhook, slack, discord).")
    key: str | None = Field(None, description="WeCom robot key.")
    token: str | None = Field(None, description="Feishu hook token, DingTalk access token, "
                              "Telegram bot token.")
    secret: str | None = Field(None, description="Signing secret.")
    corp_id: str | None = None
    corp_secret: str | None = None
    sender: str | None = Field(None, description="WeCom userid that sends customer-group posts.")
    chat_id: str | None = None
    path: str | None = Field(None, description="Outbox file for the file channel.")
    mode: Literal["post", "remind"] = "post"
    remind: str | None = Field(None, description="Channel that carries reminders to staff.")
    rate_per_minute: float | None = Field(None, gt=0)
    timeout: float = Field(10.0, gt=0)


class Group(_Model):
    """One group of the inventory."""

    id: str
    name: str | None = None
    number: int | None = Field(None, ge=0)
    stage: str | None = None
    opened: date
    owner: str | None = None
    members: int = Field(0, ge=0)
    channel: str | None = None
    chat_id: str | None = Field(None, description="The group's id on its platform.")
    tags: list[str] = []


class Playbook(_Model):
    """A community-operations SOP as code."""

    version: Literal[1] = 1
    name: str
    timezone: str = Field(description='IANA timezone, e.g. "Asia/Shanghai".')
    positioning: Positioning
    roles: Roles = Field(default_factory=Roles)
    welcome: Welcome | None = None
    rules: Rules = Field(default_factory=Rules)
    auto_replies: list[AutoReply] = []
    quiet_hours: QuietHours | None = None
    caps: Caps = Field(default_factory=Caps)
    timetable: list[Slot] = []
    content: dict[str, ContentItem] = {}
    variables: dict[str, str] = {}
    funnel: Funnel | None = None
    products: list[Product] = []
    acquisition: list[Source] = []
    channels: dict[str, Channel] = {}
    channel: str | None = Field(None, description="Default channel for groups and slots.")
    groups: list[Group] | str = Field(
        default=[], description="The inventory, or the path of an inventory file.")
    simulation: dict[str, float] = Field(
        default={}, description="Overrides of the forecast's parameters.")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            from ..i18n import _

            msg = (_("unknown IANA timezone '{zone}' (China uses \"Asia/Shanghai\")")
                   if "beijing" in v.lower() else _("unknown IANA timezone '{zone}'"))
            raise ValueError(msg.format(zone=v)) from None
        return v
