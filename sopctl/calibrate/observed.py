"""The observed daily series a calibration fits: one row per calendar day, summed over the
groups measured. Every source (WeCom's API, a console export) ends here, and so
does every check: a bad cell is located, a gap or a repeated day is reported, never filled.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SopctlError
from ..i18n import _

# canonical field -> accepted column names (WeCom API keys, console export headers in
# Chinese and English). Compared after lower-casing and dropping spaces, '_' and '-'.
COLUMNS: dict[str, tuple[str, ...]] = {
    "date": ("date", "day", "stat_time", "stattime", "日期", "统计日期", "时间"),
    "new_chat_cnt": ("new_chat_cnt", "newchats", "新增客户群数", "新增群聊数", "新增群数"),
    "chat_total": ("chat_total", "chats", "groups", "客户群总数", "群聊总数", "群总数"),
    "chat_has_msg": ("chat_has_msg", "activechats", "有发过消息的客户群数", "发过消息的群聊数",
                     "活跃群数"),
    "new_member_cnt": ("new_member_cnt", "joins", "newmembers", "客户群新增群人数",
                       "新增群成员数", "新增群人数", "入群人数"),
    "member_total": ("member_total", "members", "客户群总人数", "群成员总数", "群总人数"),
    "member_has_msg": ("member_has_msg", "activemembers", "active", "有发过消息的群成员数",
                       "发过消息的群成员数", "活跃成员数", "发言人数"),
    "msg_total": ("msg_total", "messages", "客户群消息总数", "群聊消息总数", "消息总数",
                  "消息数"),
    "leaves": ("leaves", "quit_cnt", "退群人数", "流失人数"),
    "conversions": ("conversions", "purchases", "转化人数", "成交人数"),
}
REQUIRED = ("date", "chat_total", "new_member_cnt", "member_total", "member_has_msg",
            "msg_total")


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-()（）]", "", name.strip().lstrip("\ufeff")).lower()


_ALIASES = {_norm(a): key for key, names in COLUMNS.items() for a in names}


class DataError(SopctlError):
    """Bad input data; ``problems`` are located lines (file:row:column or API errcode)."""

    def __init__(self, problems: list[str], hint: str | None = None):
        head = problems[0] if len(problems) == 1 else _(
            "{n} problems in the data:").format(n=len(problems))
        body = "" if len(problems) == 1 else "\n  " + "\n  ".join(problems[:20])
        more = "" if len(problems) <= 20 else "\n  " + _("… and {n} more").format(
            n=len(problems) - 20)
        super().__init__(head + body + more, hint=hint)
        self.problems = problems


@dataclass
class Observed:
    """Daily totals over the measured groups, day 0 = ``start``."""

    source: str
    start: date
    groups: np.ndarray  # open groups (chat_total)
    joins: np.ndarray
    members: np.ndarray
    active: np.ndarray  # members who wrote at least one message that day
    messages: np.ndarray
    leaves: np.ndarray  # given, or members[t-1] + joins[t] - members[t] (never below 0)
    conversions: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def days(self) -> int:
        return len(self.members)

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def head(self, n: int) -> Observed:
        """The first ``n`` days (the fitting window of a backtest)."""
        cut = {k: getattr(self, k)[:n] for k in ("groups", "joins", "members", "active",
                                                  "messages", "leaves")}
        conv = None if self.conversions is None else self.conversions[:n]
        return Observed(self.source, self.start, conversions=conv, notes=self.notes, **cut)

    def series(self, name: str) -> np.ndarray:
        return getattr(self, name)


def from_daily(rows: dict[date, dict[str, float]], source: str,
               where: dict[date, str] | None = None) -> Observed:
    """Rows keyed by day -> an Observed series. Missing days between the first and the last
    are an error that lists them; nothing is interpolated."""
    if not rows:
        raise DataError([_("{src}: no rows").format(src=source)])
    days = sorted(rows)
    first, last = days[0], days[-1]
    span = (last - first).days + 1
    if span != len(days):
        have = set(days)
        missing = [first + timedelta(days=i) for i in range(span)
                   if first + timedelta(days=i) not in have]
        raise DataError([_("{src}: {n} days missing between {a} and {b}: {days}").format(
            src=source, n=len(missing), a=first, b=last,
            days=", ".join(d.isoformat() for d in _sample(missing)))],
            hint=_("export the missing days, or use --since to start after the gap"))
    if len(days) < 14:
        raise DataError([_("{src}: {n} days of data; calibration needs at least 14").format(
            src=source, n=len(days))])

    def col(name: str, default: float | None = None) -> np.ndarray:
        return np.array([rows[d].get(name, default) if default is not None
                         else rows[d][name] for d in days], dtype=float)

    members = col("member_total")
    joins = col("new_member_cnt")
    notes: list[str] = []
    if all("leaves" in rows[d] for d in days):
        leaves = col("leaves")
    else:
        derived = np.concatenate([[np.nan], members[:-1] + joins[1:] - members[1:]])
        neg = int(np.sum(derived[1:] < 0))
        if neg:
            notes.append(_("{n} days gained more members than they had joins (moves between "
                           "groups?); their leaves count as 0").format(n=neg))
        leaves = np.where(np.isnan(derived), 0.0, np.maximum(derived, 0.0))
    conv = col("conversions") if all("conversions" in rows[d] for d in days) else None
    return Observed(source, first, col("chat_total"), joins, members, col("member_has_msg"),
                    col("msg_total"), leaves, conv, notes)


def _sample(items: list[Any], n: int = 8) -> list[Any]:
    return items if len(items) <= n else [*items[: n - 1], items[-1]]


# ----------------------------------------------------------------------------- files

def read_table(path: Path, since: date | None = None) -> Observed:
    """A console export (CSV in UTF-8, UTF-8 with BOM or GB18030; or XLSX)."""
    if not path.exists():
        from ..errors import UsageError

        raise UsageError(_("{path}: no such file").format(path=path),
                         hint=_("--from takes wecom, store, or a CSV/XLSX export"))
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        header, body = _xlsx_rows(path)
    else:
        header, body = _csv_rows(path)
    return _from_table(str(path), header, body, since)


def _csv_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:  # gb18030 decodes any byte string; kept for clarity
        raise DataError([_("{path}: not UTF-8 or GB18030 text").format(path=path)])
    reader = csv.reader(text.splitlines())
    rows = [(i + 1, r) for i, r in enumerate(reader) if any(c.strip() for c in r)]
    if not rows:
        raise DataError([_("{path}: the file is empty").format(path=path)])
    return rows[0][1], rows[1:]


def _xlsx_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - the install names it as a dependency
        raise SopctlError(_("reading .xlsx needs openpyxl"),
                          hint="pip install openpyxl") from None
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # a damaged or non-xlsx file: openpyxl raises many types
        raise DataError([_("{path}: not a readable .xlsx file ({why})").format(
            path=path, why=type(exc).__name__)]) from None
    ws = wb.worksheets[0]
    rows = []
    for i, r in enumerate(ws.iter_rows(values_only=True), start=1):
        cells = ["" if c is None else (c.date().isoformat() if isinstance(c, datetime)
                                       else c.isoformat() if isinstance(c, date) else str(c))
                 for c in r]
        if any(c.strip() for c in cells):
            rows.append((i, cells))
    wb.close()
    if not rows:
        raise DataError([_("{path}: the sheet is empty").format(path=path)])
    return rows[0][1], rows[1:]


def _parse_day(text: str) -> date:
    text = text.strip()
    if re.fullmatch(r"\d{9,11}", text):  # a stat_time: 00:00 China time, as WeCom gives it
        from zoneinfo import ZoneInfo

        return datetime.fromtimestamp(int(text), ZoneInfo("Asia/Shanghai")).date()
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T].*)?", text)
    if not m:
        raise ValueError(text)
    return date(int(m[1]), int(m[2]), int(m[3]))


def _from_table(where: str, header: list[str], body: list[tuple[int, list[str]]],
                since: date | None) -> Observed:
    cols: dict[str, int] = {}
    problems: list[str] = []
    for j, name in enumerate(header):
        key = _ALIASES.get(_norm(name))
        if key and key not in cols:
            cols[key] = j
    missing = [k for k in REQUIRED if k not in cols]
    if missing:
        raise DataError([_("{where}:1: missing column(s) {cols}").format(
            where=where, cols=", ".join(missing))],
            hint=_("accepted names: {names}").format(names="; ".join(
                f"{k}: {', '.join(COLUMNS[k][:4])}" for k in missing)))
    rows: dict[date, dict[str, float]] = {}
    seen: dict[date, int] = {}
    for line, cells in body:
        def cell(key: str, cells: list[str] = cells) -> str:
            j = cols[key]
            return cells[j].strip() if j < len(cells) else ""

        try:
            day = _parse_day(cell("date"))
        except ValueError:
            problems.append(_("{where}:{row}:{col}: '{value}' is not a date (YYYY-MM-DD)").format(
                where=where, row=line, col=cols["date"] + 1, value=cell("date")))
            continue
        if since and day < since:
            continue
        if day in seen:
            problems.append(_("{where}:{row}: {day} repeats row {first}").format(
                where=where, row=line, day=day, first=seen[day]))
            continue
        seen[day] = line
        rec: dict[str, float] = {}
        for key, j in cols.items():
            if key == "date":
                continue
            text = cell(key).replace(",", "")
            if not text and key not in REQUIRED:
                continue
            try:
                value = float(text)
                if value < 0 or value != value:
                    raise ValueError
            except ValueError:
                problems.append(_("{where}:{row}:{col}: {name} '{value}' is not a count "
                                  "(a whole number >= 0)").format(
                    where=where, row=line, col=j + 1, name=header[j].strip(), value=text))
                continue
            rec[key] = value
        rows[day] = rec
    if problems:
        raise DataError(problems)
    for day, rec in rows.items():
        if rec.get("member_has_msg", 0) > rec.get("member_total", 0):
            problems.append(_("{where}:{row}: {day}: more members wrote ({a:g}) than the "
                              "groups hold ({b:g})").format(where=where, row=seen[day], day=day,
                                                           a=rec["member_has_msg"],
                                                           b=rec["member_total"]))
    if problems:
        raise DataError(problems)
    return from_daily(rows, where)


def write_table(obs: Observed, path: Path) -> None:
    """Write ``obs`` as a console-style CSV (UTF-8 with BOM, so Excel opens it)."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["日期", "群聊总数", "新增群成员数", "群成员总数", "发过消息的群成员数",
                    "群聊消息总数"])
        for i, d in enumerate(obs.dates()):
            w.writerow([d.isoformat(), int(obs.groups[i]), int(obs.joins[i]),
                        int(obs.members[i]), int(obs.active[i]), int(obs.messages[i])])
