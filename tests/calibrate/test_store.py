"""`--from store`: the member store and message counts `sopctl serve` records, read back as
the daily series calibrate fits."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from sopctl.calibrate.store import read_store
from sopctl.main import app
from sopctl.playbook.loader import load_playbook

PB = Path("tests/events/events_playbook.yaml")
TZ = ZoneInfo("Asia/Shanghai")
FIRST = date(2026, 10, 1)
DAYS = 30


def line(**kw) -> str:
    return json.dumps(kw, ensure_ascii=False) + "\n"


def at(day: date, hour: int, minute: int = 0) -> str:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ).isoformat()


def history(tmp_path: Path) -> tuple[Path, dict[date, dict[str, int]]]:
    """Three joins a day; members 0..k speak (k varies), one message each plus one extra
    from the first; from day 5 the oldest member leaves every day."""
    lines, truth, n = [], {}, 0
    for i in range(DAYS):
        d = FIRST + timedelta(days=i)
        for _ in range(3):
            lines.append(line(id=f"j{n}", type="join", group="g001", member=f"m{n}",
                              nickname=f"会员{n}", at=at(d, 9)))
            n += 1
        speakers = 2 + i % 4
        for k in range(speakers):
            lines.append(line(id=f"s{i}-{k}", type="message", group="g001",
                              member=f"m{k + i}", text="早", at=at(d, 10, k)))
        lines.append(line(id=f"x{i}", type="message", group="g001", member=f"m{i}",
                          text="好", at=at(d, 23, 30)))  # late evening: still that local day
        left = 0
        if i >= 5:
            lines.append(line(id=f"l{i}", type="leave", group="g001", member=f"m{i - 5}",
                              at=at(d, 12)))
            left = 1
        truth[d] = {"joins": 3, "speakers": speakers, "messages": speakers + 1,
                    "leaves": left}
    inbox = tmp_path / "events.jsonl"
    inbox.write_text("".join(lines), encoding="utf-8")
    return inbox, truth


def test_serve_records_what_calibrate_reads(tmp_path):
    inbox, truth = history(tmp_path)
    state = tmp_path / "state"
    r = CliRunner().invoke(app, ["serve", str(PB), "--inbox", str(inbox), "--once",
                                 "--state-dir", str(state)])
    assert r.exit_code == 0, r.output
    pb = load_playbook(str(PB)).playbook
    obs = read_store(pb, store=None, state_dir=state, today=FIRST + timedelta(days=DAYS))
    assert obs.start == FIRST and obs.days == DAYS
    assert list(obs.joins) == [3] * DAYS
    assert list(obs.active) == [truth[d]["speakers"] for d in obs.dates()]
    assert list(obs.messages) == [truth[d]["messages"] for d in obs.dates()]
    assert list(obs.leaves) == [truth[d]["leaves"] for d in obs.dates()]
    assert obs.members[-1] == 3 * DAYS - (DAYS - 5)
    assert obs.groups[0] == 1


def test_forget_removes_the_member_from_the_counts(tmp_path):
    inbox, _ = history(tmp_path)
    state = tmp_path / "state"
    runner = CliRunner()
    assert runner.invoke(app, ["serve", str(PB), "--inbox", str(inbox), "--once",
                               "--state-dir", str(state)]).exit_code == 0
    pb = load_playbook(str(PB)).playbook
    before = read_store(pb, store=None, state_dir=state, today=FIRST + timedelta(days=DAYS))
    r = runner.invoke(app, ["members", "export", "m0", "--state-dir", str(state)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["messages_per_day"] == [
        {"playbook": pb.name, "group_id": "g001", "day": FIRST.isoformat(), "messages": 2}]
    r = runner.invoke(app, ["members", "forget", "m0", "--yes", "--state-dir", str(state)])
    assert r.exit_code == 0, r.output
    after = read_store(pb, store=None, state_dir=state, today=FIRST + timedelta(days=DAYS))
    assert after.messages.sum() == before.messages.sum() - 2  # m0 spoke on day 0, twice
    assert after.joins.sum() == before.joins.sum() - 1
