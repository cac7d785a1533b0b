"""The channel plugin interface: one small protocol every platform implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

# "uncertain": the request left but its outcome is unknown (timeout after sending); never
# re-sent blindly. "retry" only ever travels between a channel attempt and the delivery loop.
SendStatus = Literal["sent", "failed", "pending-confirmation", "retry", "uncertain"]


@dataclass(frozen=True, slots=True)
class OutMessage:
    """What a channel is asked to deliver (built from a plan Occurrence)."""

    key: str  # idempotency / ledger key
    group_id: str
    group_name: str
    chat_id: str | None  # the group's id on the platform, when the platform needs one
    text: str
    format: str = "text"  # text | markdown
    mention: str = "none"  # none | all | newcomers
    mentions: tuple[str, ...] = ()  # user ids / nicknames to @
    attachments: tuple[dict[str, Any], ...] = ()
    kind: str = "text"
    remind_to: str | None = None  # for delivery mode "remind": the staff member
    due: datetime | None = None  # local due time (reminders say "请在 HH:MM ...")
    delivery: str = "post"  # post | remind (remind also when remind_to is set)


@dataclass(slots=True)
class SendResult:
    """The outcome of one attempt. ``retry`` means: try again after ``retry_after`` s."""

    status: SendStatus
    reason: str = ""
    response: dict[str, Any] = field(default_factory=dict)
    retry_after: float | None = None
    parts: int = 1  # messages actually posted (after splitting)
    attempts: int = 1  # HTTP attempts made, retries included


class Channel(Protocol):
    """A delivery endpoint. Implementations live one per module in this package."""

    name: str
    type: str

    async def send(self, msg: OutMessage) -> SendResult: ...

    async def aclose(self) -> None: ...
