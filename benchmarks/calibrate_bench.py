"""How long `sopctl calibrate` takes, next to one plain forecast of the same size.

    python benchmarks/calibrate_bench.py [--groups 100] [--days 180] [--write-example PATH]

Generates a history of GROUPS groups over DAYS days with the forecast engine itself (known
parameters, far from the defaults), fits it back, and prints: the fit's wall time and
simulator evaluations, one plain forecast of the same groups and days, their ratio, and each
fitted value against the truth (target: the fit under 60 s on 2 cores). ``--write-example``
also writes the generated history as a console-style CSV (the worked example in
docs/simulation.md).
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

from sopctl.calibrate.fit import fit
from sopctl.calibrate.observed import write_table
from sopctl.calibrate.synthetic import generate
from sopctl.playbook.loader import load_playbook
from sopctl.simulate.forecast import forecast

ROOT = Path(__file__).resolve().parent.parent
TRUTH = {"join_scale": 0.6, "churn_base": 0.006, "speak_scale": 0.22,
         "messages_per_active": 3.0, "convert_rate": 0.01}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", type=int, default=100)
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--write-example", type=Path)
    args = ap.parse_args()
    pb = load_playbook(str(ROOT / "playbooks" / "skincare.yaml")).playbook
    start = date(2026, 5, 1)
    obs = generate(pb, start=start, days=args.days, groups=args.groups, params=TRUTH, seed=42)
    if args.write_example:
        write_table(obs, args.write_example)
    t0 = time.perf_counter()
    forecast(pb, start=start, days=args.days, groups=args.groups, seed=1)
    plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = fit(pb, obs, seed=1)
    took = time.perf_counter() - t0
    print(f"history: {args.groups} groups x {args.days} days, {int(obs.members[0]):,} members "
          "at the start")
    print(f"plain forecast          {plain:7.2f} s")
    print(f"calibrate (fit)         {took:7.2f} s  = {took / plain:.0f}x one forecast, "
          f"{result.evaluations} evaluations, converged: {result.converged}")
    print(f"{'parameter':22} {'truth':>9} {'fitted':>9} {'stderr':>9}  within 3 se")
    for e in result.estimates:
        want = TRUTH.get(e.name, e.default)
        ok = e.se is not None and abs(e.value - want) <= 3 * e.se
        se = f"{e.se:9.3g}" if e.se is not None else "        -"
        print(f"{e.name:22} {want:9.4g} {e.value:9.4g} {se}  {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
