"""A loopback server that answers WeCom's customer-group statistics APIs as documented:
a token from /cgi-bin/gettoken; errors in the body with HTTP 200; query spans of at most
30 days, only days from yesterday back to 180 days; at most 100 owners a by-day call; owner
listing paged by offset/limit/next_offset. Every request is logged, and every rule a request
breaks is recorded in ``violations``."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

CN = ZoneInfo("Asia/Shanghai")
FIELDS = ("new_chat_cnt", "chat_total", "chat_has_msg", "new_member_cnt", "member_total",
          "member_has_msg", "msg_total", "migrate_trainee_chat_cnt")


def ts(day: date) -> int:
    return int(datetime.combine(day, time(0), CN).timestamp())


class WeComStats:
    def __init__(self, data: dict[str, dict[date, dict[str, int]]], today: date,
                 secret: str = "s3cret"):
        self.data, self.today, self.secret = data, today, secret  # owner -> day -> fields
        self.log: list[tuple[str, dict]] = []
        self.violations: list[str] = []
        self.tokens: set[str] = set()
        self.expire_next = False  # answer the next data call with 42001
        self.busy_next = 0  # answer the next N data calls with 45009
        self.refuse: int | None = None  # answer every data call with this errcode
        self._n = 0
        self._lock = threading.Lock()

    def __enter__(self) -> WeComStats:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def _send(self, body: dict) -> None:
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):
                u = urlsplit(self.path)
                q = parse_qs(u.query)
                if u.path != "/cgi-bin/gettoken":
                    return self._send({"errcode": 404, "errmsg": "no such api"})
                if q.get("corpsecret") != [server.secret]:
                    return self._send({"errcode": 40001, "errmsg": "invalid credential"})
                with server._lock:
                    server._n += 1
                    token = f"tok{server._n}"
                    server.tokens.add(token)
                self._send({"errcode": 0, "errmsg": "ok", "access_token": token,
                            "expires_in": 7200})

            def do_POST(self):
                u = urlsplit(self.path)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                token = parse_qs(u.query).get("access_token", [""])[0]
                api = u.path.rsplit("/", 1)[-1]
                with server._lock:
                    server.log.append((api, body))
                    if token not in server.tokens:
                        return self._send({"errcode": 40014, "errmsg": "invalid access_token"})
                    if server.expire_next:
                        server.expire_next = False
                        server.tokens.discard(token)
                        return self._send({"errcode": 42001, "errmsg": "access_token expired"})
                    if server.busy_next:
                        server.busy_next -= 1
                        return self._send({"errcode": 45009, "errmsg": "api freq out of limit"})
                    if server.refuse is not None:
                        return self._send({"errcode": server.refuse, "errmsg": "refused"})
                self._send(server.answer(api, body))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _span(self, body: dict) -> tuple[date, date] | None:
        lo = datetime.fromtimestamp(body["day_begin_time"], CN).date()
        hi = datetime.fromtimestamp(body.get("day_end_time", body["day_begin_time"]), CN).date()
        if (hi - lo).days + 1 > 30:
            self.violations.append(f"span {lo}..{hi} over 30 days")
            return None
        if lo < self.today - timedelta(days=180) or hi >= self.today:
            self.violations.append(f"span {lo}..{hi} outside yesterday..180 days")
            return None
        return lo, hi

    def answer(self, api: str, body: dict) -> dict:
        span = self._span(body)
        if span is None:
            return {"errcode": 40058, "errmsg": "invalid parameter"}
        lo, hi = span
        owners = (body.get("owner_filter") or {}).get("userid_list")
        if api == "statistic":
            limit = body.get("limit", 500)
            if not 1 <= limit <= 1000:
                self.violations.append(f"limit {limit}")
                return {"errcode": 40058, "errmsg": "invalid limit"}
            names = sorted(owners or self.data)
            off = body.get("offset", 0)
            page = names[off:off + limit]
            items = [{"owner": o, "data": self._sum([o], lo, hi)} for o in page]
            nxt = off + len(page)
            return {"errcode": 0, "errmsg": "ok", "total": len(names),
                    "next_offset": nxt if nxt < len(names) else 0, "items": items}
        if api == "statistic_group_by_day":
            if not owners or len(owners) > 100:
                self.violations.append(f"by_day with {len(owners or [])} owners")
                return {"errcode": 40058, "errmsg": "invalid owner_filter"}
            items = []
            d = lo
            while d <= hi:
                items.append({"stat_time": ts(d), "data": self._sum(owners, d, d)})
                d += timedelta(days=1)
            return {"errcode": 0, "errmsg": "ok", "items": items}
        return {"errcode": 404, "errmsg": "no such api"}

    def _sum(self, owners: list[str], lo: date, hi: date) -> dict[str, int]:
        out = dict.fromkeys(FIELDS, 0)
        for o in owners:
            for d, rec in self.data.get(o, {}).items():
                if lo <= d <= hi:
                    for k in FIELDS:
                        out[k] += rec.get(k, 0)
        return out
