"""Rate limits shared across processes on one host, with real `sopctl run --once` processes
and loopback platforms that enforce their documented limits and log every request with its
arrival time (tests/fakes: DingTalk locks a robot for ten minutes after its 21st message in
a minute; Slack answers 429 to a second message within a second).

Two playbooks (or a runner and `sopctl serve`), two processes, one robot: together they are
due more than the robot's quota. The platform must never see more than its quota in any
window, never refuse a message, and the ledger must say exactly what the platform received.
A process started right after another one posted must remember what was just sent."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.fakes import DingTalkFake, SlackFake

from .harness import HEAD, ledger_rows

SH = ZoneInfo("Asia/Shanghai")
DUE = datetime(2026, 11, 24, 7, 30, tzinfo=SH)


def playbook(path: Path, name: str, groups: int, channel: str, grace: str) -> Path:
    """``groups`` groups named "<name>-<i>", one slot at 07:30 through ``channel``."""
    slots = (f"  - {{id: s0, kind: knowledge, at: \"07:30\", grace: {grace}, "
             f"text: \"{{group_name}} 早上好\"}}\n")
    with path.open("w", encoding="utf-8") as f:
        f.write(HEAD.format(name=name, tz="Asia/Shanghai", slots=slots,
                            channels=f"  out: {channel}\n", default="out"))
        for i in range(groups):
            f.write(f"  - {{id: g{i:03d}, name: \"{name}-{i}\", opened: 2026-01-01}}\n")
    return path


class Runs:
    """`sopctl run --once` processes on one SQLite ledger, their clocks at DUE + ``late``
    plus the real time elapsed since the first one started."""

    def __init__(self, tmp: Path, env: dict[str, str], late: float) -> None:
        self.tmp, self.late = tmp, late
        self.store = f"sqlite:///{tmp / 'ledger.db'}"
        self.env = {**os.environ, "NO_COLOR": "1", **env}
        self.env.pop("SOPCTL_RATE_STATE", None)
        self.env.update(env)
        self.t0 = time.monotonic()
        self.n = 0

    def start(self, pb: Path, state_dir: Path) -> subprocess.Popen:
        now = DUE + timedelta(seconds=self.late + time.monotonic() - self.t0)
        self.n += 1
        log = open(self.tmp / f"run{self.n}.log", "w")  # noqa: SIM115
        return subprocess.Popen(
            [sys.executable, "-m", "sopctl", "run", str(pb), "--once", "--store", self.store,
             "--state-dir", str(state_dir), "--log-format", "json"],
            env={**self.env, "SOPCTL_NOW": now.isoformat()}, stdout=log,
            stderr=subprocess.STDOUT)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:]
                         for p in sorted(self.tmp.glob("run*.log")))


def received(fake, field) -> Counter:
    """Group names in what the platform accepted (by the text "<group> 早上好")."""
    return Counter(field(a.payload).split(" ")[0] for a in fake.accepted)


def sent_rows(store: str) -> Counter:
    rows = ledger_rows(store)
    return Counter(f"{r['playbook']}-{int(r['group_id'][1:])}" for r in rows
                   if r["status"] == "sent")


# where the processes meet: one state directory (the default place), or each its own state
# directory with SOPCTL_RATE_STATE naming one SQLite file
@pytest.fixture(params=["state-dir", "sqlite-env"])
def sharing(request, tmp_path):
    if request.param == "state-dir":
        return {}, [tmp_path / "state", tmp_path / "state"]
    return ({"SOPCTL_RATE_STATE": str(tmp_path / "shared" / "rl.db")},
            [tmp_path / "state1", tmp_path / "state2"])


def _ding(fake: DingTalkFake) -> str:
    return f"{{type: dingtalk, token: \"${{DING_TOKEN}}\", base_url: \"{fake.url}\"}}"


def test_two_runners_on_one_dingtalk_robot_never_pass_its_quota(tmp_path, sharing):
    """15 + 15 messages due at once for a 20/min robot: 20 go, the other 10 would have to
    wait past their grace and fail for it; the robot never locks."""
    env, dirs = sharing
    with DingTalkFake(token="ding-1") as fake:
        pbs = [playbook(tmp_path / f"{n}.yaml", n, 15, _ding(fake), "1m") for n in "ab"]
        runs = Runs(tmp_path, {**env, "DING_TOKEN": "ding-1"}, late=10)
        procs = [runs.start(pb, d) for pb, d in zip(pbs, dirs, strict=True)]
        codes = [p.wait(120) for p in procs]
    rows = ledger_rows(runs.store)
    status = Counter(r["status"] for r in rows)
    assert codes == [0, 0] or set(codes) <= {0, 1}, runs.logs()  # 1: some failed
    assert fake.refusals(130101) == 0, runs.logs()
    assert len(fake.requests) == len(fake.accepted) == 20
    assert fake.max_in_window(60.0) == 20
    assert status == {"sent": 20, "failed": 10}, (status, runs.logs())
    assert all("rate-limit wait" in r["reason"] for r in rows if r["status"] == "failed")
    assert sent_rows(runs.store) == received(fake, lambda p: p["text"]["content"])
    by_book = Counter(r["playbook"] for r in rows if r["status"] == "sent")
    assert by_book["a"] >= 5 and by_book["b"] >= 5  # both processes posted


def test_a_restarted_runner_remembers_what_was_just_sent(tmp_path, sharing):
    """One run posts 15 to the robot and exits; the next, started at once, may post only
    the 5 left in the robot's minute."""
    env, dirs = sharing
    with DingTalkFake(token="ding-1") as fake:
        pbs = [playbook(tmp_path / f"{n}.yaml", n, 15, _ding(fake), "1m") for n in "ab"]
        runs = Runs(tmp_path, {**env, "DING_TOKEN": "ding-1"}, late=10)
        first = runs.start(pbs[0], dirs[0]).wait(120)
        second = runs.start(pbs[1], dirs[1]).wait(120)
    rows = ledger_rows(runs.store)
    assert (first, fake.refusals(130101)) == (0, 0), runs.logs()
    assert second in (0, 1), runs.logs()
    assert Counter((r["playbook"], r["status"]) for r in rows) == {
        ("a", "sent"): 15, ("b", "sent"): 5, ("b", "failed"): 10}, runs.logs()
    assert len(fake.requests) == 20 and fake.max_in_window(60.0) == 20
    assert sent_rows(runs.store) == received(fake, lambda p: p["text"]["content"])


def test_two_runners_on_one_slack_webhook_take_turns(tmp_path, sharing):
    """Slack's one message a second, from two processes at once: all 8 sent, one a second,
    no 429."""
    env, dirs = sharing
    with SlackFake(path="/services/T0/B0/SECRET") as fake:
        ch = "{type: slack, url: \"${SLACK_URL}\"}"
        pbs = [playbook(tmp_path / f"{n}.yaml", n, 4, ch, "10m") for n in "ab"]
        runs = Runs(tmp_path, {**env, "SLACK_URL": f"{fake.url}/services/T0/B0/SECRET"},
                    late=5)
        procs = [runs.start(pb, d) for pb, d in zip(pbs, dirs, strict=True)]
        codes = [p.wait(120) for p in procs]
    assert codes == [0, 0], runs.logs()
    assert fake.refusals(429) == 0 and len(fake.requests) == 8, runs.logs()
    assert fake.max_in_window(1.0) == 1
    times = sorted(r.t for r in fake.requests)
    assert min(b - a for a, b in itertools.pairwise(times)) >= 1.0
    assert sent_rows(runs.store) == received(fake, lambda p: p["text"])
    assert sum(sent_rows(runs.store).values()) == 8


def test_serve_then_run_on_one_robot(tmp_path, sharing):
    """`sopctl serve --once` answers 10 questions through a 20/min robot and exits; a
    `sopctl run --once` started at once with 15 messages for the same robot sends the 10
    left in the minute; the other 5 would wait past their grace."""
    import json

    env, dirs = sharing
    src = (Path(__file__).parents[1] / "events" / "events_playbook.yaml").read_text("utf-8")
    with DingTalkFake(token="ding-1") as fake:
        events = tmp_path / "events.yaml"
        events.write_text(src.replace("  console: {type: console}\nchannel: console",
                                      f"  out: {_ding(fake)}\nchannel: out")
                          .replace("reply: 订单问题请私聊客服", "reply: 订单问题请私聊客服\n"
                                   "    cooldown: 1s"), "utf-8")
        inbox = tmp_path / "inbox.jsonl"
        t0 = datetime.now(UTC) - timedelta(seconds=30)  # questions 2 s apart: no cool-down
        inbox.write_text("".join(json.dumps({
            "id": f"q{i}", "type": "message", "group": "g001", "member": f"wm{i}",
            "text": f"订单{i}", "at": (t0 + timedelta(seconds=2 * i)).isoformat()}) + "\n"
            for i in range(10)), "utf-8")
        pb = playbook(tmp_path / "a.yaml", "a", 15, _ding(fake), "1m")
        runs = Runs(tmp_path, {**env, "DING_TOKEN": "ding-1"}, late=10)
        serve = subprocess.run(
            [sys.executable, "-m", "sopctl", "serve", str(events), "--inbox", str(inbox),
             "--once", "--store", runs.store, "--state-dir", str(dirs[0])],
            env=runs.env, capture_output=True, text=True, timeout=120)
        assert serve.returncode == 0, serve.stdout + serve.stderr
        code = runs.start(pb, dirs[1]).wait(120)
    rows = ledger_rows(runs.store)
    assert code in (0, 1) and fake.refusals(130101) == 0, runs.logs()
    assert Counter((r["playbook"], r["status"]) for r in rows) == {
        ("美肌福利群", "sent"): 10, ("a", "sent"): 10, ("a", "failed"): 5}, runs.logs()
    assert len(fake.requests) == 20 and fake.max_in_window(60.0) == 20
    texts = [a.payload["text"]["content"] for a in fake.accepted]
    assert sum("订单问题请私聊客服" in t for t in texts) == 10
    posts = Counter(t.split(" ")[0] for t in texts if t.endswith("早上好"))
    assert posts == Counter({k: n for k, n in sent_rows(runs.store).items()
                             if k.startswith("a-")})
