"""sopctl's own records as an observed series: the member store `sopctl serve` keeps
(joins, leaves, promotions) and its daily message counts per member, on the playbook's
clock."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ..i18n import _
from .observed import DataError, Observed, from_daily


def read_store(pb: Any, *, store: str | None, state_dir: Path | None,
               since: date | None = None, until: date | None = None,
               today: date | None = None) -> Observed:
    """Daily totals of the playbook's groups from ``since`` (default: the first join
    recorded) to ``until`` (default: yesterday on the playbook's clock)."""
    from ..commands.run import open_ledger
    from ..events.store import MemberStore, activity, members

    tz = ZoneInfo(pb.timezone)
    ms = MemberStore(open_ledger(store, state_dir), pb.name)
    c, a = members.c, activity.c
    with ms.engine.connect() as conn:
        rows = conn.execute(sa.select(c.group_id, c.joined_at, c.left_at, c.stage_at)
                            .where(c.playbook == pb.name)).all()
        spoke = conn.execute(sa.select(a.day, sa.func.count(), sa.func.sum(a.messages))
                             .where(a.playbook == pb.name).group_by(a.day)).all()
    joined = [r for r in rows if r.joined_at is not None]
    if not joined:
        raise DataError([_("the store has no members of '{name}' yet").format(name=pb.name)],
                        hint=_("`sopctl serve` records joins, leaves and messages as they "
                               "happen; calibrate from a WeCom export meanwhile"))

    def local(t: datetime | None) -> date | None:
        return None if t is None else t.astimezone(tz).date()

    today = today or datetime.now(tz).date()
    first = since or min(local(r.joined_at) for r in joined)
    last = min(until or today - timedelta(days=1), today - timedelta(days=1))
    joins = Counter(local(r.joined_at) for r in joined)
    leaves = Counter(local(r.left_at) for r in joined if r.left_at is not None)
    conv = Counter(local(r.stage_at) for r in joined
                   if r.stage_at is not None and r.stage_at > r.joined_at)
    talk = {date.fromisoformat(d): (int(n), int(m or 0)) for d, n, m in spoke}
    out: dict[date, dict[str, float]] = {}
    day = first
    while day <= last:
        alive = [r for r in joined if local(r.joined_at) <= day
                 and (r.left_at is None or local(r.left_at) > day)]
        n, msgs = talk.get(day, (0, 0))
        out[day] = {"chat_total": len({r.group_id for r in alive}),
                    "new_member_cnt": joins.get(day, 0), "member_total": len(alive),
                    "member_has_msg": n, "msg_total": msgs, "leaves": leaves.get(day, 0),
                    "conversions": conv.get(day, 0)}
        day += timedelta(days=1)
    return from_daily(out, "store")
