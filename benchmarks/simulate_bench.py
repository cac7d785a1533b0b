"""How fast `sopctl simulate` is, against baselines measured in the same run.

    python benchmarks/simulate_bench.py [PLAYBOOK] [--groups 1000] [--days 365]

Prints, for the full forecast (1000 groups of 200 members, a year):
- member-days per second of the forecast (the best repeat: the first one plans the playbook,
  later ones reuse that plan) and of a bare numpy loop doing
  a minimal daily update (decay, a Bernoulli "speaks", a Bernoulli "leaves") over the
  same number of members, and their ratio (target: the forecast within 3x), with the
  ratios of wall and CPU times for the same members and days (target: within 2x);
- CPU time of one engine run of the shape calibration repeats (100 groups, 180 days)
  against the bare loop over its members;
- member-days per second of the pure-Python reference model on a smaller input, and of
  the forecast on that same smaller input (target: at least 10x the reference);
- peak memory of the process (target: under 1 GB);
- the wall time of the what-if suite, tests/simulate/test_what_if.py (limit: 60 s on two
  cores; ``--no-suite`` skips it).

    python benchmarks/simulate_bench.py --what-if-table [--write]

prints the table "What the forecast answers" of docs/simulation.md, measured on the
shipped playbooks as the what-if tests measure them, and with ``--write`` puts it there.
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


def bare_numpy(members: int, days: int, seed: int = 0) -> tuple[float, float]:
    """Wall and CPU seconds for a minimal vectorised daily update of ``members`` members."""
    rng = np.random.Generator(np.random.PCG64(seed))
    e = np.full(members, 0.5, np.float32)
    talk = rng.lognormal(0, 1, members).astype(np.float32)
    alive = np.ones(members, bool)
    t0, c0 = time.perf_counter(), time.process_time()
    total = 0
    for _ in range(days):
        e *= np.float32(0.85)
        e += np.float32(0.3) * (1 - e)
        spoke = alive & (rng.random(members, np.float32) < np.float32(0.16) * e * talk)
        alive &= rng.random(members, np.float32) >= np.float32(0.004)
        total += int(np.count_nonzero(spoke))
    return time.perf_counter() - t0, time.process_time() - c0


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
    ap.add_argument("--no-suite", action="store_true", help="skip timing the what-if suite")
    ap.add_argument("--what-if-table", action="store_true",
                    help="print the what-if table of docs/simulation.md instead")
    ap.add_argument("--write", action="store_true", help="with --what-if-table: update the docs")
    ap.add_argument("--seed", type=int, default=None,
                    help="with --what-if-table: another seed than the tests' (a robustness "
                         "check: prints the table and any expectation that fails)")
    ap.add_argument("--calibration", action="store_true",
                    help="print the calibration figures of docs/simulation.md instead")
    args = ap.parse_args()
    if args.calibration:
        calibration()
        return
    if args.what_if_table:
        what_if_table(args.write, args.seed)
        return

    from sopctl.simulate.engine import run
    from sopctl.simulate.forecast import forecast
    from sopctl.simulate.model import build_world
    from sopctl.simulate.reference import run_reference

    pb = load(args.playbook)
    print(f"playbook {args.playbook}: {args.groups} groups, {args.days} days")

    # best of three for both, alternating, so a busy machine hurts neither side alone
    # (CPU times too: on a loaded machine they move less than wall times)
    t_sim = t_bare = c_sim = c_bare = float("inf")
    per_repeat: list[tuple[float, float]] = []  # (wall ratio, CPU ratio) of each repeat
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = forecast(pb, start=START, days=args.days, groups=args.groups)
        wall_f, cpu_f = time.perf_counter() - t0, time.process_time() - c0
        t_sim, c_sim = min(t_sim, wall_f), min(c_sim, cpu_f)
        wall, cpu = bare_numpy(result["summary"]["members_start"], args.days)
        t_bare, c_bare = min(t_bare, wall), min(c_bare, cpu)
        per_repeat.append((wall_f / wall, cpu_f / cpu))
    md = result["summary"]["member_days"]
    start_members = result["summary"]["members_start"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # the baseline keeps every member for the whole run: more member-days, same members
    md_bare = start_members * args.days
    sim_rate, bare_rate = md / t_sim, md_bare / t_bare
    print(f"forecast:    {t_sim:7.2f} s  {md:>12,} member-days  {sim_rate / 1e6:7.2f} M/s "
          f"(best repeat; {start_members:,} members at the start)")
    print(f"bare numpy:  {t_bare:7.2f} s  {md_bare:>12,} member-days  {bare_rate / 1e6:7.2f} M/s")
    print(f"  ratio (bare / forecast, member-days per second): {bare_rate / sim_rate:.2f}x "
          "(target <= 3x)")
    print(f"  ratio of wall times, same members and days: {t_sim / t_bare:.2f}x "
          "(target <= 2x; the forecast's members leave, the baseline's stay in its arrays)")
    print(f"  ratio of CPU times: {c_sim / c_bare:.2f}x ({c_sim:.2f} s / {c_bare:.2f} s)")
    # the first repeat plans the playbook; later forecasts of the same playbook and days
    # reuse that plan (simulate.ops.shared_book), as `--runs` and the what-if benches do
    print("  each repeat, wall/CPU ratio against the bare loop run right after it (the first "
          "plans): " + ", ".join(f"{w:.2f}/{c:.2f}" for w, c in per_repeat))

    fitting_shape(pb, args.repeat)

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
    if not args.no_suite:
        time_suite()


def fitting_shape(pb: Playbook, repeat: int, groups: int = 100, days: int = 180) -> None:
    """The runs `sopctl calibrate` makes by the hundred: the engine alone (plans shared, as
    calibrate.fit.Simulator shares them), CPU time against the bare loop's."""
    from sopctl.simulate.engine import run
    from sopctl.simulate.model import build_world
    from sopctl.simulate.ops import OpsBook
    from sopctl.simulate.params import resolve

    ops = OpsBook(pb, START, days, resolve(pb.simulation))
    c_run = c_bare = float("inf")
    for r in range(repeat):
        c0 = time.process_time()
        for k in range(5):
            w = build_world(pb, START, days, groups, None, ops)
            run(w, np.random.Generator(np.random.PCG64(r).jumped(k)))
        c_run = min(c_run, (time.process_time() - c0) / 5)
        c_bare = min(c_bare, bare_numpy(sum(w.initial), days)[1])
    print(f"fitting shape ({groups} groups, {days} days, {sum(w.initial):,} members): "
          f"{c_run * 1000:.0f} ms CPU a run, {c_run / c_bare:.2f}x the bare loop's CPU time")


def time_suite() -> None:
    """Wall time of the what-if suite, run as CI runs it (a fresh pytest process)."""
    import subprocess

    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           str(ROOT / "tests/simulate/test_what_if.py")],
                          cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    lines = done.stdout.strip().splitlines()
    result = next((x.strip("= ") for x in reversed(lines) if " passed" in x or " failed" in x
                   or " error" in x), f"pytest exit code {done.returncode}")
    print(f"what-if suite: {wall:.1f} s wall (limit 60 s on two cores): {result}")


def calibration() -> None:
    """docs/simulation.md's calibration table, measured as tests/simulate/test_calibration.py
    measures it: one fresh 200-member group, no joins, averaged over seeds."""
    from sopctl.simulate.engine import run
    from sopctl.simulate.model import build_world

    def once(pb: Playbook, days: int, seed: int, track: bool = False):
        w = build_world(pb, START, days, 1)
        return run(w, np.random.Generator(np.random.PCG64(seed)), track=track)

    paths = [ROOT / "tests/simulate/standard.yaml",
             *(ROOT / "playbooks" / f"{n}.yaml" for n in ("skincare", "fruit", "knowledge"))]
    rows = {k: [] for k in ("active", "quiet", "stay", "never", "top")}
    for path in paths:
        pb = load(str(path)).model_copy(update={"acquisition": [], "groups": []})
        act, quiet, halves, never, top = [], [], [], [], []
        for seed in range(6):
            r = once(pb, 28, seed)
            act.append(np.mean(r.series["active"][7:28] / r.series["members"][7:28]))
            q = once(pb.model_copy(update={"timetable": []}), 21, seed)
            quiet.append(np.mean(q.series["active"][14:21] / q.series["members"][14:21]))
            msgs = np.sort(once(pb, 14, seed, track=True).member_messages)[::-1]
            never.append(np.mean(msgs == 0))
            top.append(msgs[: len(msgs) // 10].sum() / msgs.sum())
        for seed in range(4):
            m = once(pb.model_copy(update={"funnel": None}), 200, seed).series["members"]
            halves.append(int(np.argmax(m <= m[0] / 2)) + 1)
        rows["active"].append(f"{np.mean(act):.1%}")
        rows["quiet"].append(f"{np.mean(quiet):.2%}")
        rows["stay"].append(f"{np.median(halves):g} days")
        rows["never"].append(f"{np.mean(never):.0%}")
        rows["top"].append(f"{np.mean(top):.0%}")
    print("| figure | " + " | ".join(p.stem for p in paths) + " |")
    for k, label in (("active", "members who speak a day, days 8-28"),
                     ("quiet", "same, timetable emptied, week 3"),
                     ("stay", "unconverted member's median stay"),
                     ("never", "members who never post in 14 days"),
                     ("top", "share of messages by the top 10 % of posters")):
        print(f"| {label} | " + " | ".join(rows[k]) + " |")


def what_if_table(write: bool, seed: int | None) -> None:
    import re

    from sopctl.playbook.discover import document_kind
    from sopctl.simulate.whatif import (
        TABLE_RUNS,
        TABLE_SEED,
        TABLE_WINDOW,
        WHAT_IFS,
        Bench,
        table,
    )

    seed = TABLE_SEED if seed is None else seed
    paths = sorted(p for p in (ROOT / "playbooks").glob("*.yaml")
                   if document_kind(p) == "playbook")
    t0 = time.perf_counter()
    benches = {p.stem: Bench(str(p), TABLE_WINDOW, TABLE_RUNS, seed) for p in paths}
    text = table(benches)
    print(text)
    failed = [f"{w.id} on {name}: {e.outcome} {e.a} -> {e.b}"
              for w in WHAT_IFS for name, b in benches.items() for e in b.effects(w) or []
              if not e.holds]
    print(f"\n({TABLE_WINDOW.days} days from {TABLE_WINDOW.start}, median of {TABLE_RUNS} "
          f"runs from seed {seed}; measured in {time.perf_counter() - t0:.1f} s); "
          f"expectations that fail: {len(failed)}", file=sys.stderr)
    for f in failed:
        print("  " + f, file=sys.stderr)
    if write and seed != TABLE_SEED:
        sys.exit("--write takes the tests' seed only")
    if write:
        doc = ROOT / "docs/simulation.md"
        old = doc.read_text(encoding="utf-8")
        new, n = re.subn(r"(<!-- what-if table -->\n).*?(<!-- /what-if table -->)",
                         lambda m: m.group(1) + text + "\n" + m.group(2), old, flags=re.S)
        if n != 1:
            sys.exit("docs/simulation.md: no <!-- what-if table --> block to replace")
        doc.write_text(new, encoding="utf-8")
        print(f"written to {doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
