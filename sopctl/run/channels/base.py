"""The channel plugin interface: the messages, the results, and the one protocol every
channel implements (:class:`Channel`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from ..ratelimit import Limit

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
    """What every channel is: the dispatcher calls :meth:`send`; the delivery loop
    (sopctl/run/delivery.py) drives :meth:`parts`, :meth:`limits` and :meth:`attempt`;
    the event receiver calls the member operations. :class:`~._common.BaseChannel`
    implements all of it (a platform module supplies ``attempt`` and what it changes),
    and :class:`~.remind.RemindChannel` implements it around another channel."""

    name: str
    type: str
    idempotent: bool  # a retried request cannot post twice (an outcome may be re-tried)
    # sends through delivery.deliver, which begins a message at its first request (the
    # dispatcher begins any other channel's message before calling send)
    paced: bool
    reminder: Channel | None  # where "remind" messages go (set where channels are built)

    def parts(self, msg: OutMessage) -> list[Any]: ...  # payloads after splitting

    def limits(self, part: Any) -> Sequence[Limit]: ...  # the rate windows a part uses

    async def attempt(self, part: Any) -> SendResult: ...  # one try, classified

    async def send(self, msg: OutMessage, *, deadline: float | None = None
                   ) -> SendResult: ...  # every part, retries and rate limits included

    async def remove_member(self, chat_id: str, member: str) -> SendResult: ...

    async def mute_member(self, chat_id: str, member: str) -> SendResult: ...

    async def aclose(self) -> None: ...
