"""Platform payloads -> events: WeCom callbacks (decrypted XML) and Telegram updates.

Group references stay as the platform's chat id; the receiver maps them to playbook groups.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from ..i18n import _
from .types import CheckIn, Event, MemberJoined, MemberLeft, MessagePosted, has_link
from .wecom_crypto import parse_xml

CHECKIN_WORDS = {"签到", "打卡", "/checkin", "#打卡", "#签到"}


def _ts(v: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(v), UTC)
    except (TypeError, ValueError, OSError):
        raise ValueError(_("invalid timestamp {value}").format(value=repr(v))) from None


def _message(eid: str, chat: str, member: str, at: datetime, text: str, nickname: str = "",
             mentions: tuple[str, ...] = (), link: bool | None = None) -> Event:
    if text.strip() in CHECKIN_WORDS:
        return CheckIn(eid, chat, member, at)
    return MessagePosted(eid, chat, member, at, text=text,
                         has_link=has_link(text) if link is None else link,
                         mentions=mentions, nickname=nickname)


def wecom_events(xml: str) -> list[Event]:
    """Events from a decrypted WeCom callback. change_external_chat add/del_member gives
    one event per changed member (MemChangeList); other callbacks give none."""
    root = parse_xml(xml)

    def f(name: str) -> str:
        node = root.find(name)
        return (node.text or "").strip() if node is not None else ""

    at = _ts(f("CreateTime") or 0)
    if f("MsgType") == "event" and f("Event") == "change_external_chat":
        detail, chat = f("UpdateDetail"), f("ChatId")
        if f("ChangeType") != "update" or detail not in ("add_member", "del_member"):
            return []
        if not chat:
            raise ValueError(_("change_external_chat without ChatId"))
        who = [(i.text or "").strip() for i in root.iter("Item")]
        ver = f("CurMemVer") or f("CreateTime")
        out: list[Event] = []
        for m in filter(None, who):
            eid = f"wecom/{chat}/{ver}/{detail}/{m}"
            if detail == "add_member":
                out.append(MemberJoined(eid, chat, m, at, scene=f("JoinScene") or None))
            else:
                out.append(MemberLeft(eid, chat, m, at, scene=f("QuitScene") or None))
        return out
    if f("MsgType") == "text" and f("ChatId"):
        mid = f("MsgId") or f"{f('FromUserName')}/{f('CreateTime')}"
        return [_message(f"wecom/msg/{mid}", f("ChatId"), f("FromUserName"), at, f("Content"))]
    return []


def telegram_events(update: Any) -> list[Event]:
    """Events from one Telegram update (message, new_chat_members, left_chat_member)."""
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        raise ValueError(_("not a Telegram update (no integer update_id)"))
    msg = update.get("message") or update.get("edited_message")
    if not isinstance(msg, dict):
        return []
    chat = msg.get("chat") or {}
    if "id" not in chat:
        raise ValueError(_("message without chat.id"))
    cid, at, uid = str(chat["id"]), _ts(msg.get("date", 0)), update["update_id"]
    out: list[Event] = []
    for u in msg.get("new_chat_members") or []:
        out.append(MemberJoined(f"tg/{uid}/join/{u.get('id')}", cid, str(u.get("id")), at,
                                nickname=_name(u)))
    left = msg.get("left_chat_member")
    if isinstance(left, dict):
        out.append(MemberLeft(f"tg/{uid}/leave/{left.get('id')}", cid, str(left.get("id")), at))
    text = msg.get("text") or msg.get("caption")
    if isinstance(text, str) and not out:
        sender = msg.get("from") or {}
        ents = msg.get("entities") or msg.get("caption_entities") or []
        kinds = {e.get("type") for e in ents if isinstance(e, dict)}
        mentions = tuple(re.findall(r"@(\w{3,})", text)) if "mention" in kinds else ()
        out.append(_message(f"tg/{cid}/{msg.get('message_id')}", cid, str(sender.get("id")),
                            at, text, _name(sender), mentions,
                            link=bool(kinds & {"url", "text_link"}) or has_link(text)))
    return out


def _name(u: dict) -> str:
    full = " ".join(x for x in (u.get("first_name"), u.get("last_name")) if x)
    return full or u.get("username") or str(u.get("id", ""))
