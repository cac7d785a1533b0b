"""The plan's output: one Occurrence per message to send. The single truth shared by
`agenda`, `simulate` and `run`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One message due at one instant in one group.

    ``key`` is stable across processes and runs ("g001/morning/2026-11-24/0"): the ledger's
    unique key, so the same plan computed twice never sends twice.
    """

    key: str
    group: str  # group id
    slot: str  # slot id (or "welcome", "reply:<id>" for reactions)
    seq: int  # index inside a multi-message sequence
    at_utc: datetime  # aware, UTC
    local: datetime  # aware, in the playbook's timezone
    channel: str  # channel name
    kind: str  # content kind (good-morning, course, red-packet, ...)
    text: str  # rendered: variables filled, variant chosen
    format: str = "text"  # text | markdown
    mention: str = "none"  # none | all | newcomers
    target: str = "group"  # group | members | moments
    delivery: str = "post"  # post | remind
    grace_s: int = 1800
    attachments: tuple[dict, ...] = field(default=())
    life_day: int = 1
    notes: tuple[str, ...] = field(default=())  # e.g. "deferred from 06:30 (quiet hours)"
    refused: str = ""  # why the text cannot be rendered: never sent, recorded failed
