"""Why a message ended as it did: stored in English, shown in the reader's language.

The ledger keeps each reason as one English line, the same whatever language the runner
spoke, so logs, exports and searches stay stable. Every reason sopctl writes is made from
one of the templates below; :func:`show` recognises a stored reason by its template and
renders it in the selected language. Placeholders hold either another reason (translated in
turn), a description sopctl knows (the errcode meanings of a channel's ``REASONS``), or the
platform's own words, which stay as the platform sent them.
"""

from __future__ import annotations

import re
from functools import cache

from ..i18n import N_, _

# the ledger's own
MISSED = N_("missed while down")
UNCERTAIN = N_("the runner stopped between claim and result; the message may or may not have "
               "been sent")
HANDED_BACK = N_("handed back, never sent, by a runner that stopped; the next runner sends it")
# the runner and the dispatcher
GAVE_UP = N_("gave up after {n} attempts: {reason}")
RETRY_PAST_GRACE = N_("gave up: retry in {s}s would pass the grace deadline: {reason}")
WAIT_PAST_GRACE = N_("rate-limit wait of {s}s would pass the grace deadline")
PART = N_("part {i}/{n} ({posted} posted): {reason}")
UNKNOWN_CHANNEL = N_("unknown channel '{name}'")
INTERNAL = N_("internal error: {error}")
STALE_GONE = N_("handed back, then no longer in the playbook")
STALE_PAST_GRACE = N_("claimed by a runner that stopped before sending; taken over past its "
                      "grace")
# every channel
NO_REMINDER = N_("channel '{name}' has no reminder path")
NO_REMOVAL = N_("{platform} has no member removal API")
NO_MUTE = N_("{platform} has no mute API")
NOT_SENT = N_("not sent: {error}")
OUTCOME_UNKNOWN = N_("outcome unknown: {error} after the request was sent")
NO_JSON = N_("HTTP {code} without a JSON body")
ERRCODE = N_("errcode {code}: {why}")
HTTP_429 = N_("HTTP 429 rate limited")
HTTP_429_GLOBAL = N_("HTTP 429 rate limited (global)")
HTTP_STATUS = N_("HTTP {code}")
HTTP_BODY = N_("HTTP {code}: {body}")
GATEWAY = N_("HTTP {code} from a gateway: outcome unknown")
REMIND_NO_REMOVE = N_("a channel in remind mode cannot remove members")
REMIND_NO_MUTE = N_("a channel in remind mode cannot mute members")
# one platform each
FILE_DUPLICATE = N_("already in the outbox")
FILE_UNWRITABLE = N_("cannot write {path}: {why}")
DINGTALK_LOCKOUT = N_("errcode 130101: sending too fast, robot throttled for 10 minutes")
DINGTALK_BUSY = N_("errcode -1: system busy")
FEISHU_THROTTLED = N_("code {code}: throttled")
FEISHU_CODE = N_("code {code}: {why}")
DISCORD_NO_MESSAGE = N_("HTTP 200 without a message object")
FEISHU_NO_ANSWER = N_("HTTP {code} without a Feishu answer")
TELEGRAM_NO_ANSWER = N_("HTTP {code} without a Bot API answer")
TELEGRAM_429 = N_("429: {desc}")
TELEGRAM_ERROR = N_("{code}: {desc}")
TELEGRAM_MIGRATED = N_("chat migrated twice in a row")
TELEGRAM_USER_ID = N_("Telegram user id must be numeric, not {member}")
SLACK_BODY = N_("HTTP 200 with unexpected body {body}")
WEBHOOK_REFUSED = N_("receiver refused: {data}")
WECOM_TOKEN = N_("token: {reason}")
WECOM_REJECTED = N_("rejected for: {members}")
WECOM_CONFIRM = N_("waiting for the sender to confirm in WeCom")
# a message a channel cannot put into requests at all
IMAGE_TOO_BIG = N_("image {path} is {size} bytes; WeCom takes at most 2 MB")
IMAGE_UNREADABLE = N_("cannot read image {path}: {why}")
NOTHING_IN_MESSAGE = N_("nothing to send (empty text, no attachment)")
TELEGRAM_NO_CHAT = N_("no chat_id for this Telegram group")
CUSTOMER_TOO_LONG = N_("text is {size} bytes; a customer-group mass message takes at most "
                       "{limit} (one message a day per group: not split)")
CUSTOMER_NO_CHAT = N_("no chat_id for this customer group")
CUSTOMER_NO_SENDER = N_("customer-group messages need the channel's `sender` (a userid)")
# the event receiver
NO_CHAT_ID = N_("no chat_id for this group")
NOTHING_TO_SEND = N_("nothing to send for {kind}")
NOT_TRIED = N_("not tried")

_ALL = tuple(v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str))

# A delivery's status as a person reads it (JSON and CSV keep the stable English word).
STATUS_LABELS = {
    "sent": N_("sent"), "failed": N_("failed"), "skipped": N_("skipped"),
    "uncertain": N_("uncertain"), "pending-confirmation": N_("pending confirmation"),
    "claimed": N_("claimed"), "released": N_("released"), "sending": N_("sending"),
}


def status_text(status: str) -> str:
    """The status word ``status`` in the selected language."""
    return _(STATUS_LABELS[status]) if status in STATUS_LABELS else status


_FIELD = re.compile(r"\{(\w+)\}")
_NESTED = {"reason", "why"}  # placeholders that may hold another known reason


@cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each template as an anchored pattern; the most literal text first, so that
    ``HTTP {code}: {body}`` is not taken for ``{code}: {desc}``."""
    out = []
    for t in _ALL:
        parts = _FIELD.split(t)  # literal, name, literal, name, ...
        rx = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)"
                     for i, p in enumerate(parts))
        out.append((re.compile(rx + r"\Z", re.S), t))
    out.sort(key=lambda pt: -len(_FIELD.sub("", pt[1])))
    return tuple(out)


def show(reason: str | None) -> str:
    """``reason`` as stored, in the selected language when sopctl wrote it."""
    if not reason:
        return ""
    for rx, template in _patterns():
        m = rx.match(reason)
        if m is None:
            continue
        fields = {k: (show(v) if k in _NESTED else v)
                  for k, v in m.groupdict().items()}
        return _(template).format(**fields)
    return _(reason) if _known(reason) else reason


def _known(text: str) -> bool:
    """A description sopctl itself wrote (a channel's errcode meaning), translated."""
    return _(text) != text
