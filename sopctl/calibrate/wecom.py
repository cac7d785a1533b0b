"""WeCom's customer-group statistics (客户群统计) through the corp API.

``groupchat/statistic`` (by owner, paged with offset/limit/next_offset) finds the owners
whose groups the app can see; ``groupchat/statistic_group_by_day`` returns their daily
totals, at most 30 days and 100 owners a call, for days from yesterday back to 180 days
(WeCom keeps no more). Days are WeCom's: 00:00 China time. The access token comes from the
playbook's ``wecom-customer-group`` channel, with its cache and its refresh on 40014/42001.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..i18n import _
from .observed import DataError, Observed, from_daily

CN = ZoneInfo("Asia/Shanghai")
SPAN_DAYS = 30
RETENTION_DAYS = 180
OWNERS_PER_CALL = 100
PAGE = 1000
FIELDS = ("new_chat_cnt", "chat_total", "chat_has_msg", "new_member_cnt", "member_total",
          "member_has_msg", "msg_total")
TOKEN_ERRORS = {40014, 42001, 40001}
BUSY = {45009, 45033, -1}  # frequency limits and "system busy": wait, then ask again
HINTS = {
    60011: "the app cannot see these owners: add them to its visible range (可见范围)",
    81017: "the app sees more than 1,000 owners: name them with --owner",
    48002: "the app lacks the customer-group statistics permission (客户群统计)",
    301002: "the app lacks the customer-group statistics permission (客户群统计)",
}


def _ts(day: date) -> int:
    return int(datetime.combine(day, time(0), CN).timestamp())


def windows(since: date, until: date) -> list[tuple[date, date]]:
    """[since, until] cut into spans of at most 30 days (both ends included)."""
    out = []
    start = since
    while start <= until:
        end = min(until, start + timedelta(days=SPAN_DAYS - 1))
        out.append((start, end))
        start = end + timedelta(days=1)
    return out


class _Api:
    def __init__(self, channel: Any, sleep: Callable[[float], Any] = asyncio.sleep):
        self.ch, self.sleep = channel, sleep
        self.calls = 0

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        refreshed, busy = False, 0
        while True:
            token, err = await self.ch.token(refreshed)
            if err:
                raise DataError([_("WeCom gettoken: {why}").format(why=err.reason)],
                                hint=_("check the channel's corp_id and corp_secret"))
            self.calls += 1
            url = f"{self.ch.api}/externalcontact/groupchat/{path}?access_token={token}"
            data, err = await self.ch.post_json(url, body)
            if data is None:
                raise DataError([_("WeCom {api}: {why}").format(api=path, why=err.reason)])
            code = data.get("errcode", 0)
            if code in TOKEN_ERRORS and not refreshed:
                refreshed = True
                continue
            if code in BUSY and busy < 3:
                busy += 1
                await self.sleep(2.0 ** busy)
                continue
            if code != 0:
                hint = HINTS.get(code)
                raise DataError([_("WeCom {api} errcode {code}: {msg}").format(
                    api=path, code=code, msg=self.ch.redact(str(data.get("errmsg", ""))))],
                    hint=_(hint) if hint else None)
            return data


async def _owners(api: _Api, since: date, until: date) -> list[str]:
    """Every owner with statistics in [since, until]: each 30-day window, every page."""
    owners: set[str] = set()
    for lo, hi in windows(since, until):
        offset = 0
        while True:
            data = await api.call("statistic", {"day_begin_time": _ts(lo),
                                                "day_end_time": _ts(hi),
                                                "offset": offset, "limit": PAGE})
            items = data.get("items") or []
            owners.update(str(i["owner"]) for i in items if i.get("owner"))
            nxt = data.get("next_offset")
            if not items or not nxt or nxt <= offset:
                break
            offset = int(nxt)
    return sorted(owners)


async def _fetch(channel: Any, since: date, until: date, owners: list[str] | None,
                 sleep: Callable[[float], Any]) -> tuple[dict[date, dict[str, float]], int]:
    api = _Api(channel, sleep)
    try:
        if not owners:
            owners = await _owners(api, since, until)
        if not owners:
            raise DataError([_("WeCom: no group owner has statistics between {a} and {b}")
                             .format(a=since, b=until)])
        rows: dict[date, dict[str, float]] = {}
        for lo, hi in windows(since, until):
            for i in range(0, len(owners), OWNERS_PER_CALL):
                batch = owners[i:i + OWNERS_PER_CALL]
                data = await api.call("statistic_group_by_day", {
                    "day_begin_time": _ts(lo), "day_end_time": _ts(hi),
                    "owner_filter": {"userid_list": batch}})
                for item in data.get("items", []):
                    day = datetime.fromtimestamp(int(item["stat_time"]), CN).date()
                    rec = rows.setdefault(day, dict.fromkeys(FIELDS, 0.0))
                    for f in FIELDS:
                        rec[f] += float(item.get("data", {}).get(f, 0) or 0)
        return rows, api.calls
    finally:
        await channel.aclose()


def fetch(channel: Any, *, since: date | None, until: date | None = None,
          owners: list[str] | None = None, today: date | None = None,
          sleep: Callable[[float], Any] = asyncio.sleep) -> Observed:
    """Daily totals from ``since`` (default: as far back as WeCom keeps) to ``until``
    (default: yesterday), summed over ``owners`` (default: every owner the app sees)."""
    today = today or datetime.now(CN).date()
    oldest, yesterday = today - timedelta(days=RETENTION_DAYS), today - timedelta(days=1)
    until = min(until or yesterday, yesterday)
    since = since or oldest
    notes = []
    if since < oldest:
        notes.append(_("WeCom keeps {n} days: starting at {day}").format(
            n=RETENTION_DAYS, day=oldest))
        since = oldest
    if since > until:
        raise DataError([_("WeCom: no days between {a} and {b} (its data ends yesterday)")
                         .format(a=since, b=until)])
    rows, _calls = asyncio.run(_fetch(channel, since, until, owners, sleep))
    obs = from_daily(rows, "wecom")
    obs.notes = notes + obs.notes
    return obs
