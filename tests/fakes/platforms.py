"""Loopback fakes of each chat platform's posting API, built from their documented protocol:
payload shapes, keys and signatures, size limits, rate windows, and errors in the body."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
from typing import Any

from .server import FakeServer, Request, Response


def _utf8(s: str) -> int:
    return len(s.encode())


class WeComRobotFake(FakeServer):
    """``/cgi-bin/webhook/send?key=``; 20/min per robot → 45009; 40058 too long; 93000 bad key."""

    def __init__(self, keys: set[str] | None = None, rate: int = 20, **kw: Any) -> None:
        super().__init__(**kw)
        self.keys, self.rate = keys or {"robot-key-1"}, rate

    def handle(self, req: Request) -> Response:
        def err(code: int, msg: str) -> Response:
            return Response(200, {"errcode": code, "errmsg": msg})

        if req.path != "/cgi-bin/webhook/send" or req.method != "POST":
            return Response(404, "not found")
        key = req.query.get("key", "")
        if key not in self.keys:
            return err(93000, "invalid webhook url, hint: [key invalid]")
        try:
            p = req.json()
        except ValueError:
            return err(40008, "invalid message type")
        t = p.get("msgtype")
        if t == "text":
            c = p.get("text", {}).get("content")
            if not isinstance(c, str) or not c:
                return err(44004, "empty content")
            if _utf8(c) > 2048:
                return err(40058, "content exceed max length 2048")
            ml = p["text"].get("mentioned_list", [])
            if not isinstance(ml, list) or not all(isinstance(m, str) for m in ml):
                return err(40008, "invalid mentioned_list")
        elif t == "markdown":
            c = p.get("markdown", {}).get("content")
            if not isinstance(c, str) or not c:
                return err(44004, "empty content")
            if _utf8(c) > 4096:
                return err(40058, "content exceed max length 4096")
        elif t == "image":
            img = p.get("image", {})
            try:
                raw = base64.b64decode(img.get("base64", ""), validate=True)
            except (binascii.Error, ValueError):
                return err(40009, "invalid image")
            if len(raw) > 2 * 1024 * 1024 or not raw:
                return err(40009, "invalid image size")
            if hashlib.md5(raw).hexdigest() != img.get("md5"):
                return err(301019, "media md5 not match")
        elif t == "news":
            arts = p.get("news", {}).get("articles")
            if not isinstance(arts, list) or not 1 <= len(arts) <= 8:
                return err(40008, "news needs 1-8 articles")
            if not all(a.get("title") and a.get("url") for a in arts):
                return err(40008, "article needs title and url")
        else:
            return err(40008, "invalid message type")
        if self.recent(key, 60.0, req.t) >= self.rate:
            return err(45009, "api freq out of limit")
        self.accept(req, key, p)
        return err(0, "ok")


class WeComApiFake(FakeServer):
    """``/cgi-bin/gettoken`` + ``externalcontact/add_msg_template`` (chat_type=group) +
    ``externalcontact/groupchat/get``."""

    def __init__(self, corp_id: str = "ww-corp", corp_secret: str = "corp-secret-xyz",
                 ttl: int = 7200, **kw: Any) -> None:
        super().__init__(**kw)
        self.corp_id, self.corp_secret, self.ttl = corp_id, corp_secret, ttl
        self.tokens: dict[str, float] = {}  # token -> expiry (clock)
        self.group_chats: dict[str, dict[str, str]] = {}  # chat id -> {userid: name}
        self.forbidden = False
        self.lookups = 0
        self._n = itertools.count(1)

    def expire_tokens(self) -> None:
        self.tokens = {t: 0.0 for t in self.tokens}

    def handle(self, req: Request) -> Response:
        if req.path == "/cgi-bin/gettoken":
            if req.query.get("corpid") != self.corp_id:
                return Response(200, {"errcode": 40013, "errmsg": "invalid corpid"})
            if req.query.get("corpsecret") != self.corp_secret:
                return Response(200, {"errcode": 40001, "errmsg": "invalid credential"})
            tok = f"ACCESS{next(self._n):04d}-{self.rng.getrandbits(40):x}"
            self.tokens[tok] = req.t + self.ttl
            return Response(200, {"errcode": 0, "errmsg": "ok", "access_token": tok,
                                  "expires_in": self.ttl})
        if req.path not in ("/cgi-bin/externalcontact/add_msg_template",
                            "/cgi-bin/externalcontact/groupchat/get"):
            return Response(404, "not found")
        tok = req.query.get("access_token", "")
        if tok not in self.tokens:
            return Response(200, {"errcode": 40014, "errmsg": "invalid access_token"})
        if self.tokens[tok] <= req.t:
            return Response(200, {"errcode": 42001, "errmsg": "access_token expired"})
        if req.path.endswith("/groupchat/get"):
            return self._groupchat(req)
        p = req.json()
        if p.get("chat_type") != "group":
            return Response(200, {"errcode": 41000, "errmsg": "this fake serves groups only"})
        if not p.get("sender"):
            return Response(200, {"errcode": 41048, "errmsg": "missing sender"})
        if not p.get("text", {}).get("content") and not p.get("attachments"):
            return Response(200, {"errcode": 41041, "errmsg": "missing content"})
        if _utf8(p.get("text", {}).get("content", "")) > 4000:
            return Response(200, {"errcode": 40058, "errmsg": "text too long"})
        if len(p.get("attachments", [])) > 9:
            return Response(200, {"errcode": 40058, "errmsg": "too many attachments"})
        msgid = f"msg{next(self._n):06d}"
        self.accept(req, p["sender"], {**p, "msgid": msgid})
        return Response(200, {"errcode": 0, "errmsg": "ok", "fail_list": [], "msgid": msgid})

    def _groupchat(self, req: Request) -> Response:
        """``externalcontact/groupchat/get``: a customer group's members; ``name`` only
        with ``need_name=1``. ``forbidden`` makes it answer 48002 (no API permission)."""
        self.lookups += 1
        if self.forbidden:
            return Response(200, {"errcode": 48002, "errmsg": "api forbidden"})
        p = req.json()
        chat = p.get("chat_id")
        if chat not in self.group_chats:
            return Response(200, {"errcode": 40050, "errmsg": "chat_id not exist"})
        members = []
        for uid, name in self.group_chats[chat].items():
            m: dict[str, Any] = {"userid": uid, "type": 2, "join_time": int(req.t),
                                 "join_scene": 3, "group_nickname": ""}
            if p.get("need_name") == 1:
                m["name"] = name
            members.append(m)
        return Response(200, {"errcode": 0, "errmsg": "ok", "group_chat": {
            "chat_id": chat, "name": "group", "owner": "wang", "create_time": int(req.t),
            "member_list": members, "admin_list": []}})


class FeishuFake(FakeServer):
    """``/open-apis/bot/v2/hook/TOKEN``; signing; 20 KB; 5/s + 100/min → 11232."""

    def __init__(self, token: str = "feishu-hook-token", secret: str | None = None,
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.token, self.secret = token, secret

    def handle(self, req: Request) -> Response:
        def err(code: int, msg: str, status: int = 200) -> Response:
            return Response(status, {"code": code, "msg": msg, "data": {}})

        prefix = "/open-apis/bot/v2/hook/"
        if not req.path.startswith(prefix) or req.path[len(prefix):] != self.token:
            return err(19001, "param invalid: incoming webhook access token invalid", 400)
        if len(req.body) > 20 * 1024:
            return err(9499, "Bad Request: request body too large", 400)
        try:
            p = req.json()
        except ValueError:
            return err(9499, "Bad Request", 400)
        if self.secret:
            try:
                ts = int(p.get("timestamp", ""))
            except ValueError:
                return err(19021, "sign match fail or timestamp is not within one hour")
            key = f"{ts}\n{self.secret}".encode()
            good = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
            if abs(req.t - ts) > 3600 or not hmac.compare_digest(good, p.get("sign", "")):
                return err(19021, "sign match fail or timestamp is not within one hour")
        mt = p.get("msg_type")
        if mt == "text":
            if not p.get("content", {}).get("text"):
                return err(9499, "Bad Request: empty text", 400)
        elif mt == "interactive":
            if not p.get("card"):
                return err(9499, "Bad Request: card missing", 400)
        elif mt not in ("post", "image", "share_chat"):
            return err(9499, "Bad Request: msg_type", 400)
        if self.recent(self.token, 1.0, req.t) >= 5 or self.recent(self.token, 60.0, req.t) >= 100:
            return err(11232, "frequency limited psm[lark.oapi.app_platform_runtime]")
        self.accept(req, self.token, p)
        return err(0, "success")


class DingTalkFake(FakeServer):
    """``/robot/send?access_token&timestamp&sign``; 20/min, then 130101 for 10 minutes."""

    def __init__(self, token: str = "ding-access-token", secret: str | None = None,
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.token, self.secret = token, secret
        self.locked_until = 0.0

    def handle(self, req: Request) -> Response:
        def err(code: int, msg: str) -> Response:
            return Response(200, {"errcode": code, "errmsg": msg})

        if req.path != "/robot/send":
            return Response(404, "not found")
        if req.query.get("access_token") != self.token:
            return err(300001, "token is not exist")
        if self.secret:
            try:
                ms = int(req.query.get("timestamp", ""))
            except ValueError:
                return err(310000, "sign not match, more: [timestamp missing]")
            mac = hmac.new(self.secret.encode(), f"{ms}\n{self.secret}".encode(),
                           hashlib.sha256).digest()
            # parse_qsl already url-decoded the query once
            sign = req.query.get("sign", "")
            ok = hmac.compare_digest(base64.b64encode(mac).decode(), sign)
            if not ok or abs(req.t * 1000 - ms) > 3600_000:
                return err(310000, "sign not match, more: [https://ding-doc.dingtalk.com]")
        p = req.json()
        mt = p.get("msgtype")
        if mt == "text" and not p.get("text", {}).get("content"):
            return err(40035, "missing content")
        if mt == "markdown" and not (p.get("markdown", {}).get("title")
                                     and p["markdown"].get("text")):
            return err(40035, "markdown needs title and text")
        if mt not in ("text", "markdown", "link", "actionCard", "feedCard"):
            return err(40035, "invalid msgtype")
        if req.t < self.locked_until:
            return err(130101, "send too fast, exceed 20 times per minute")
        if self.recent(self.token, 60.0, req.t) >= 20:
            self.locked_until = req.t + 600
            return err(130101, "send too fast, exceed 20 times per minute")
        self.accept(req, self.token, p)
        return err(0, "ok")


class SlackFake(FakeServer):
    """Incoming webhook at ``path``; 1/s → 429 + Retry-After; body ``ok``."""

    def __init__(self, path: str = "/services/T000/B000/XXXXSECRET", **kw: Any) -> None:
        super().__init__(**kw)
        self.path = path

    def handle(self, req: Request) -> Response:
        if req.path != self.path:
            return Response(404, "no_service")
        try:
            p = req.json()
        except ValueError:
            return Response(400, "invalid_payload")
        if not isinstance(p.get("text"), str) or not p["text"]:
            return Response(400, "no_text")
        if self.recent(self.path, 1.0, req.t) >= 1:
            return Response(429, "rate_limited", {"Retry-After": "1"})
        self.accept(req, self.path, p)
        return Response(200, "ok")


class DiscordFake(FakeServer):
    """``/api/webhooks/ID/TOKEN?wait=true``; 2000 chars; 5 per 2 s → 429 retry_after; 404."""

    def __init__(self, webhook: str = "123456/discord-webhook-token", **kw: Any) -> None:
        super().__init__(**kw)
        self.webhook, self.deleted = webhook, False
        self._ids = itertools.count(1_100_000_000_000_000_000)

    def handle(self, req: Request) -> Response:
        if not req.path.endswith(f"/webhooks/{self.webhook}") or self.deleted:
            return Response(404, {"message": "Unknown Webhook", "code": 10015})
        p = req.json()
        content = p.get("content")
        if not content and not p.get("embeds"):
            return Response(400, {"message": "Cannot send an empty message", "code": 50006})
        if content and len(content) > 2000:
            return Response(400, {"message": "Invalid Form Body", "code": 50035, "errors": {
                "content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH",
                                         "message": "Must be 2000 or fewer in length."}]}}})
        if self.recent(self.webhook, 2.0, req.t) >= 5:
            oldest = min(a.t for a in self.accepted if req.t - a.t < 2.0)
            ra = round(oldest + 2.0 - req.t, 3)
            return Response(429, {"message": "You are being rate limited.", "retry_after": ra,
                                  "global": False},
                            {"Retry-After": str(max(1, int(ra + 0.999))),
                             "X-RateLimit-Remaining": "0",
                             "X-RateLimit-Reset-After": str(ra)})
        self.accept(req, self.webhook, p)
        if req.query.get("wait") != "true":
            return Response(204, b"")
        return Response(200, {"id": str(next(self._ids)), "channel_id": "99", "content": content,
                              "type": 0})


class TelegramFake(FakeServer):
    """``/bot<TOKEN>/sendMessage``; 4096 chars; 1/s and 20/min per chat; migrations;
    ``banChatMember`` and ``restrictChatMember``."""

    def __init__(self, token: str = "123456:TELEGRAM-bot-token", chats: set[str] | None = None,
                 migrations: dict[str, int] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.token = token
        self.chats = chats or {"-100200300"}
        self.migrations = {str(k): v for k, v in (migrations or {}).items()}
        self._ids = itertools.count(1)
        self.bans: list[tuple[str, int]] = []  # (chat, user) per banChatMember
        self.mutes: list[tuple[str, int, dict, int]] = []  # per restrictChatMember

    def handle(self, req: Request) -> Response:
        def bad(code: int, desc: str, **params: Any) -> Response:
            body: dict[str, Any] = {"ok": False, "error_code": code, "description": desc}
            if params:
                body["parameters"] = params
            return Response(code, body)

        if req.path == f"/bot{self.token}/banChatMember":
            return self._ban(req, bad)
        if req.path == f"/bot{self.token}/restrictChatMember":
            return self._restrict(req, bad)
        if req.path != f"/bot{self.token}/sendMessage":
            return bad(401 if req.path.endswith("/sendMessage") else 404, "Unauthorized"
                       if req.path.endswith("/sendMessage") else "Not Found")
        p = req.json()
        chat, text = str(p.get("chat_id", "")), p.get("text", "")
        if chat in self.migrations:
            return bad(400, "Bad Request: group chat was upgraded to a supergroup chat",
                       migrate_to_chat_id=self.migrations[chat])
        if chat not in self.chats:
            return bad(400, "Bad Request: chat not found")
        if not text:
            return bad(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return bad(400, "Bad Request: message is too long")
        if p.get("parse_mode") not in (None, "Markdown", "MarkdownV2", "HTML"):
            return bad(400, "Bad Request: unsupported parse_mode")
        if self.recent(chat, 1.0, req.t) >= 1 or self.recent(chat, 60.0, req.t) >= 20:
            return bad(429, "Too Many Requests: retry after 3", retry_after=3)
        self.accept(req, chat, p)
        return Response(200, {"ok": True, "result": {
            "message_id": next(self._ids), "chat": {"id": int(chat), "type": "supergroup"},
            "date": int(req.t), "text": text}})

    def _ban(self, req: Request, bad: Any) -> Response:
        """``banChatMember``: chat_id and an integer user_id; recorded in ``bans``."""
        p = req.json()
        chat = str(p.get("chat_id", ""))
        if chat not in self.chats:
            return bad(400, "Bad Request: chat not found")
        if not isinstance(p.get("user_id"), int) or isinstance(p.get("user_id"), bool):
            return bad(400, "Bad Request: invalid user_id specified")
        self.bans.append((chat, p["user_id"]))
        self.accept(req, f"ban:{chat}", p)
        return Response(200, {"ok": True, "result": True})

    def _restrict(self, req: Request, bad: Any) -> Response:
        """``restrictChatMember``: chat_id, integer user_id and a ChatPermissions object of
        booleans; ``until_date`` (unix time) optional. Recorded in ``mutes``."""
        p = req.json()
        chat = str(p.get("chat_id", ""))
        if chat not in self.chats:
            return bad(400, "Bad Request: chat not found")
        if not isinstance(p.get("user_id"), int) or isinstance(p.get("user_id"), bool):
            return bad(400, "Bad Request: invalid user_id specified")
        perms = p.get("permissions")
        if not isinstance(perms, dict) or not perms or not all(
                k.startswith("can_") and isinstance(v, bool) for k, v in perms.items()):
            return bad(400, "Bad Request: invalid permissions specified")
        until = p.get("until_date", 0)
        if not isinstance(until, int):
            return bad(400, "Bad Request: invalid until_date")
        self.mutes.append((chat, p["user_id"], perms, until))
        self.accept(req, f"restrict:{chat}", p)
        return Response(200, {"ok": True, "result": True})


class WebhookFake(FakeServer):
    """A receiver for sopctl's generic webhook: checks ``X-Sopctl-Signature``."""

    def __init__(self, secret: str | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.secret = secret

    def handle(self, req: Request) -> Response:
        if self.secret:
            good = "sha256=" + hmac.new(self.secret.encode(), req.body,
                                        hashlib.sha256).hexdigest()
            if not hmac.compare_digest(good, req.headers.get("x-sopctl-signature", "")):
                return Response(401, {"ok": False, "error": "bad signature"})
            if abs(req.t - int(req.headers.get("x-sopctl-timestamp", "0"))) > 300:
                return Response(401, {"ok": False, "error": "stale timestamp"})
        p = req.json()
        self.accept(req, req.path, p)
        return Response(200, {"ok": True})


class GenericFake(FakeServer):
    """Any POST → 200 ``{"ok": true}`` (after ``delay``); no limits. For throughput runs."""

    def handle(self, req: Request) -> Response:
        self.accept(req, req.path, None)
        return Response(200, {"ok": True})
