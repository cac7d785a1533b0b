"""How fast `sopctl simulate` is, against baselines measured in the same run.

    python benchmarks/simulate_bench.py [PLAYBOOK] [--groups 1000] [--days 365]

Prints, for the full forecast (1000 groups of 200 members, a year):
- member-days per second of the forecast (plan included) and of a bare numpy loop doing
  a minimal daily update (decay, a Bernoulli "speaks", a Bernoulli "leaves") over the
  same number of members, and their ratio (target: the forecast within 3x);
- member-days per second of the pure-Python reference model on a smaller input, and of
  the forecast on that same smaller input (target: at least 10x the reference);
- peak memory of the process (target: under 1 GB).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

from sopctl.playbook.model import Playbook

ROOT = Path(__file__).resolve().parent.parent
START = date(2026, 12, 1)


def load(path: str) -> Playbook:
    from sopctl.playbook.loader import load_playbook

    loaded = load_playbook(path)
    if loaded.playbook is None:
        sys.exit(f"{path}: " + "; ".join(f.short() for f in loaded.findings))
    return loaded.playbook


def bare_numpy(members: int, days: int, seed: int = 0) -> float:
    """Seconds for a minimal vectorised daily update of ``members`` members."""
    rng = np.random.Generator(np.random.PCG64(seed))
    e = np.full(members, 0.5, np.float32)
    talk = rng.lognormal(0, 1, members).astype(np.float32)
    alive = np.ones(members, bool)
    t0 = time.perf_counter()
    total = 0
    for _ in range(days):
        e *= np.float32(0.85)
        e += np.float32(0.3) * (1 - e)
        spoke = alive & (rng.random(members, np.float32) < np.float32(0.16) * e * talk)
        alive &= rng.random(members, np.float32) >= np.float32(0.004)
        total += int(np.count_nonzero(spoke))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    default = ROOT / "playbooks" / "skincare.yaml"
    ap.add_argument("playbook", nargs="?",
                    default=str(default if default.exists() else ROOT / "examples/minimal.yaml"))
    ap.add_argument("--groups", type=int, default=1000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--small-groups", type=int, default=40)
    ap.add_argument("--small-days", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from sopctl.simulate.engine import run
    from sopctl.simulate.forecast import forecast
    from sopctl.simulate.model import build_world
    from sopctl.simulate.reference import run_reference

    pb = load(args.playbook)
    print(f"playbook {args.playbook}: {args.groups} groups, {args.days} days")

    # best of three for both, alternating, so a busy machine hurts neither side alone
    t_sim = t_bare = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = forecast(pb, start=START, days=args.days, groups=args.groups)
        t_sim = min(t_sim, time.perf_counter() - t0)
        t_bare = min(t_bare, bare_numpy(result["summary"]["members_start"], args.days))
    md = result["summary"]["member_days"]
    start_members = result["summary"]["members_start"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # the baseline keeps every member for the whole run: more member-days, same members
    md_bare = start_members * args.days
    sim_rate, bare_rate = md / t_sim, md_bare / t_bare
    print(f"forecast:    {t_sim:7.2f} s  {md:>12,} member-days  {sim_rate / 1e6:7.2f} M/s "
          f"(plan included; {start_members:,} members at the start)")
    print(f"bare numpy:  {t_bare:7.2f} s  {md_bare:>12,} member-days  {bare_rate / 1e6:7.2f} M/s")
    print(f"  ratio (bare / forecast, member-days per second): {bare_rate / sim_rate:.2f}x "
          "(target <= 3x)")
    print(f"  ratio of wall times, same members and days: {t_sim / t_bare:.2f}x "
          "(the forecast's members leave; the baseline's stay in its arrays)")

    small = build_world(pb, START, args.small_days, args.small_groups)
    t0 = time.perf_counter()
    ref = run_reference(small, 0)
    t_ref = time.perf_counter() - t0
    md_ref = int(sum(ref["series"]["members"]))
    small = build_world(pb, START, args.small_days, args.small_groups)
    t0 = time.perf_counter()
    fast = run(small, np.random.Generator(np.random.PCG64(0)))
    t_fast = time.perf_counter() - t0
    ref_rate, fast_small = md_ref / t_ref, fast.member_days / t_fast
    print(f"reference:   {t_ref:7.2f} s  {md_ref:>12,} member-days  {ref_rate / 1e6:7.3f} M/s "
          f"({args.small_groups} groups, {args.small_days} days)")
    print(f"engine, same small input: {fast_small / 1e6:.2f} M/s; full forecast "
          f"{sim_rate / ref_rate:.0f}x the reference (target >= 10x)")
    print(f"peak memory: {peak_mb:,.0f} MB (ru_maxrss; target < 1024 MB)")


if __name__ == "__main__":
    main()
