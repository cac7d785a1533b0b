"""`--shard I/N`: runners split the groups by a stable hash, and a shard's catch-up is its
own (another shard's tick does not hide what this one missed)."""

from __future__ import annotations

import subprocess
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sopctl.run.runner import shard_of

from .harness import SOPCTL, Fleet, ledger_rows, write_playbook
from .sink import Sink

pytestmark = pytest.mark.postgres
SH = ZoneInfo("Asia/Shanghai")


def test_shards_split_groups_and_catch_up_separately(tmp_path, pg_db):
    with Sink(tmp_path / "received.log") as sink:
        pb = write_playbook(tmp_path / "pb.yaml", groups=90, url=sink.url,
                            slots=[("07:30", "30m"), ("08:00", "30m")])
        at = datetime(2026, 11, 24, 7, 30, 20, tzinfo=SH)
        early = datetime(2026, 11, 24, 7, 0, tzinfo=SH)
        assert Fleet(tmp_path, pb, pg_db, early, extra=("--once", "--shard", "2/3")) \
            .launch(2).wait(60) == 0  # shard 2 ticks at 07:00, then is down
        one = Fleet(tmp_path, pb, pg_db, at, extra=("--once", "--shard", "1/3"))
        assert one.launch(1).wait(60) == 0
        # shard 2 was down through 07:30 (grace 30 min): at 08:05 it sends its 08:00 and
        # records its own 07:30 as skipped, though shard 1 ticked meanwhile
        late = datetime(2026, 11, 24, 8, 5, tzinfo=SH)
        assert Fleet(tmp_path, pb, pg_db, late, extra=("--once", "--shard", "1/3")) \
            .launch(1).wait(60) == 0
        two = Fleet(tmp_path, pb, pg_db, late, extra=("--once", "--shard", "2/3"))
        assert two.launch(2).wait(60) == 0, two.logs()
        got = Counter(k for _, k in sink.received())
    rows = ledger_rows(pg_db)
    shard = {f"g{i:05d}": shard_of(f"g{i:05d}", 3) for i in range(90)}
    assert {shard[r["group_id"]] for r in rows} == {1, 2}  # shard 3 never ran
    for r in rows:
        s0 = r["slot"] == "s0"
        if shard[r["group_id"]] == 1 or not s0:
            assert r["status"] == "sent" and got[r["key"]] == 1, r
        else:
            assert r["status"] == "skipped" and r["reason"] == "missed while down", r
    assert sum(shard[g] == 1 for g in shard) * 2 + sum(shard[g] == 2 for g in shard) * 2 \
        == len(rows)
    assert max(got.values()) == 1


def test_bad_shard_is_a_usage_error(tmp_path):
    pb = write_playbook(tmp_path / "pb.yaml", groups=2, url="http://127.0.0.1:9/x",
                        slots=[("07:30", "30m")])
    for bad in ("0/3", "4/3", "x"):
        p = subprocess.run([*SOPCTL, "run", "--once", str(pb), "--shard", bad, "--state-dir",
                            str(tmp_path / "st")], capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and "--shard" in p.stderr, p.stderr
