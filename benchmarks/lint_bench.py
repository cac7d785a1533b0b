"""How fast is `sopctl lint`?

(a) Whole-process wall time of `sopctl lint <shipped playbook>`, in English and in
    Chinese (LANG=zh_CN.UTF-8: the gettext catalogue is loaded and every message
    translated), against the floor of `python -c "import typer, yaml, pydantic, rich"`,
    all measured here, interleaved, median of N runs each. Target: at most 2x the floor.
    With --installed, sopctl runs from a normal (non-editable) install made for the
    run: `pip install --no-deps --target DIR .` and its bytecode compiled.
(b) Generated playbooks of 250/2,500, 500/5,000 and 1,000/10,000 groups/slots: seconds
    (whole process, and load vs rules in-process) and the cost per slot. Target: the
    largest under 2 s, growing linearly.

    python benchmarks/lint_bench.py [--runs N] [--playbook PATH] [--skip-size] [--installed]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOOR = [sys.executable, "-c", "import typer, yaml, pydantic, rich"]
# Bytecode as an installed package has it: a private cache, even when the shell
# says PYTHONDONTWRITEBYTECODE (every run would otherwise recompile sopctl).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "sopctl-bench-pyc")
SIZES = [(250, 2_500), (500, 5_000), (1_000, 10_000)]
WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
KINDS = ["good-morning", "knowledge", "interaction", "offer", "check-in", "course", "event"]


def first_playbook() -> Path:
    from sopctl.playbook.discover import document_kind

    for folder in ("playbooks", "examples"):
        for p in sorted((ROOT / folder).glob("*.yaml")):
            if document_kind(p) == "playbook":
                return p
    raise SystemExit("no playbook found")


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(cmd: list[str], env: dict[str, str] | None = None,
        cwd: Path = ROOT) -> tuple[float, float]:
    """(wall, CPU) seconds of one run; CPU time is steadier on a busy machine."""
    cpu0, start = _child_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env=ENV if env is None else env)
    elapsed, cpu = time.perf_counter() - start, _child_cpu() - cpu0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr.decode()[-2000:]}")
    return elapsed, cpu


def wall(cmd: list[str]) -> float:
    return run(cmd)[0]


# Context, not the target: a Typer app whose one command takes lint's options and does
# nothing. Typer builds a pydantic adapter per option when a command runs, so this
# shows how much of the budget the CLI framework itself spends.
EMPTY_TYPER = """
from enum import Enum
from pathlib import Path
import typer
app = typer.Typer()
class F(str, Enum):
    text = "text"
@app.command()
def lint(paths: list[str] = typer.Argument(None), fmt: F = typer.Option(None, "--format"),
         strict: bool = False, statistics: bool = False,
         select: list[str] = typer.Option(None), ignore: list[str] = typer.Option(None),
         config: Path = typer.Option(None), no_env: bool = False) -> None:
    pass
@app.command()
def other() -> None:
    pass
app()
"""


def install_copy(target: Path) -> dict[str, str]:
    """A normal install of this tree into ``target`` (bytecode compiled, as pip does for
    a wheel); returns the environment that runs it instead of the editable checkout."""
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(ROOT)], check=True)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(target / "sopctl")],
                   check=True)
    env = {k: v for k, v in ENV.items() if k != "PYTHONPYCACHEPREFIX"}
    env["PYTHONPATH"] = str(target)
    where = subprocess.run([sys.executable, "-c", "import sopctl; print(sopctl.__file__)"],
                           env=env, cwd=target.parent, capture_output=True, text=True)
    if not where.stdout.startswith(str(target)):
        raise SystemExit(f"the install is not the one imported: {where.stdout}{where.stderr}")
    return env


def _lang_env(base: dict[str, str], lang: str) -> dict[str, str]:
    env = {k: v for k, v in base.items()
           if k not in ("SOPCTL_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")}
    env["LANG"] = lang
    return env


def startup(playbook: Path, runs: int, installed: Path | None = None) -> None:
    base, cwd = ENV, ROOT
    if installed is not None:
        base, cwd = install_copy(installed), installed.parent
    target = str(playbook)
    lint = [sys.executable, "-m", "sopctl", "lint", target, "--no-env"]
    empty = [sys.executable, "-c", EMPTY_TYPER, "lint", "x.yaml", "--no-env"]
    en, zh = _lang_env(base, "C.UTF-8"), _lang_env(base, "zh_CN.UTF-8")
    kinds = (("floor", FLOOR, ENV), ("typer", empty, ENV), ("en", lint, en), ("zh", lint, zh))
    for _label, cmd, env in kinds:  # warm the page cache and write .pyc files
        run(cmd, env, cwd)
    times: dict[str, list[tuple[float, float]]] = {k[0]: [] for k in kinds}
    for _ in range(runs):  # interleaved, so load on the machine hits all alike
        for label, cmd, env in kinds:
            times[label].append(run(cmd, env, cwd))
    source = f"a normal install in {installed}" if installed else "this checkout (editable)"
    print(f"(a) startup from {source}, median of {runs} runs each "
          "(wall; CPU user+sys in brackets)")
    name = playbook.relative_to(ROOT)
    for label, text in (("floor", "floor  python -c 'import typer, yaml, pydantic, rich'"),
                        ("typer", "typer  a do-nothing Typer command with lint's options"),
                        ("en", f"lint   sopctl lint {name}  (LANG=C.UTF-8)"),
                        ("zh", f"lint   sopctl lint {name}  (LANG=zh_CN.UTF-8)")):
        xs = times[label]
        w, c = statistics.median(x[0] for x in xs), statistics.median(x[1] for x in xs)
        print(f"    {text:<62} {w * 1000:7.1f} ms  [{c * 1000:6.1f} ms]"
              f"  min {min(x[0] for x in xs) * 1000:6.1f} ms")
    floor_w = statistics.median(f[0] for f in times["floor"])
    floor_c = statistics.median(f[1] for f in times["floor"])
    for label in ("en", "zh"):
        ratio = statistics.median(o[0] for o in times[label]) / floor_w
        cpu_ratio = statistics.median(o[1] for o in times[label]) / floor_c
        print(f"    ratio {label}  {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU  (target <= 2x)")
    t_ratio = statistics.median(t[1] for t in times["typer"]) / floor_c
    print(f"    (the do-nothing Typer command alone is {t_ratio:.2f}x the floor in CPU)")
    catalogue_load()


def catalogue_load() -> None:
    """What selecting Chinese costs in-process: reading and parsing the compiled .mo."""
    import gettext

    from sopctl.i18n import DOMAIN, LOCALE_DIR

    mo = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / f"{DOMAIN}.mo"
    best = float("inf")
    for _ in range(30):
        t0 = time.perf_counter()
        with mo.open("rb") as fh:
            tr = gettext.GNUTranslations(fh)
        best = min(best, time.perf_counter() - t0)
    print(f"    zh-CN catalogue: {len(tr._catalog)} entries, {mo.stat().st_size / 1024:.0f} KiB, "
          f"parsed in {best * 1000:.2f} ms (best of 30)")


def generate(groups: int, slots: int, shape: str = "calendar") -> str:
    """A valid playbook: ``groups`` groups and ``slots`` timetable slots, eight a day, in
    Chinese like the real ones. ``calendar``: each day of a group's life has its own
    slots (a long content calendar, every slot a different day); ``weekly``: the slots
    repeat on days of the week (so many share a minute and collide)."""
    per_day = 8
    days = (slots + per_day - 1) // per_day
    out = [
        "version: 1", "name: 压测剧本", "timezone: Asia/Shanghai",
        "positioning:", "  type: product", "  purpose: 压测", '  name_pattern: "压测群{n:04}"',
        f"  planned_days: {days if shape == 'calendar' else 90}",
        "welcome:", "  theme: 压测群", "  services: 每天推送", "  prohibited: 禁止广告",
        "  penalty: 第一次提醒, 第二次移出", "  rewarded: 晒单", "  reward: 红包",
        "rules:", "  nickname: {format: 城市-行业-昵称}",
        "  items:", "    - {id: no-ads, text: 禁止广告, detect: {links: true}}",
        'quiet_hours: {start: "22:30", end: "07:00"}',
        "caps: {per_group_per_day: 8}",
        "channels:", "  console: {type: console}", "channel: console", "timetable:",
    ]
    for i in range(slots):
        day, k = divmod(i, per_day)
        minute = 8 * 60 + 5 + k * 97  # 08:05 .. 19:24, never on :00 or :30
        kind = "good-morning" if k == 0 else KINDS[1 + k % (len(KINDS) - 1)]
        when = f"life_days: {day + 1}" if shape == "calendar" else f"days: [{WEEK[day % 7]}]"
        out.append(f"  - {{id: s{i:05d}, kind: {kind}, "
                   f'at: "{minute // 60:02d}:{minute % 60:02d}", {when}, '
                   f'text: "第{day + 1}天第{k + 1}条 {{group_name}} 的朋友们好"}}')
    out.append("groups:")
    for g in range(groups):
        out.append(f"  - {{id: g{g:04d}, name: 压测群{g:04d}, opened: 2026-{1 + g % 12:02d}-"
                   f"{1 + g % 28:02d}, members: {g % 200}}}")
    return "\n".join(out) + "\n"


def size(runs: int, shape: str) -> None:
    from sopctl.lint.config import LintConfig
    from sopctl.lint.engine import lint_loaded
    from sopctl.playbook.loader import load_playbook

    print(f"(b) generated playbooks, {shape} shape (whole process: median of "
          f"{runs} runs; in-process split: best of {runs})")
    print(f"    {'groups':>6} {'slots':>6} {'bytes':>9} {'process s':>10} {'load s':>7} "
          f"{'rules s':>8} {'us/slot':>8} {'findings':>8}")
    slowest: list[tuple[float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for ngroups, nslots in SIZES:
            path = Path(tmp) / f"big_{nslots}.yaml"
            path.write_text(generate(ngroups, nslots, shape), encoding="utf-8")
            proc = statistics.median(
                wall([sys.executable, "-m", "sopctl", "lint", str(path), "--no-env"])
                for _ in range(runs))
            best_load = best_rules = float("inf")
            nfind = 0
            for _ in range(runs):
                t0 = time.perf_counter()
                loaded = load_playbook(str(path))
                t1 = time.perf_counter()
                gc.disable()  # as lint_paths does
                findings = lint_loaded(loaded, LintConfig(), env={})
                gc.enable()
                t2 = time.perf_counter()
                if not loaded.ok:
                    raise SystemExit(f"generated playbook invalid: {loaded.findings[:3]}")
                best_load, best_rules = min(best_load, t1 - t0), min(best_rules, t2 - t1)
                nfind = len(findings)
            print(f"    {ngroups:>6} {nslots:>6} {path.stat().st_size:>9} {proc:>10.3f} "
                  f"{best_load:>7.3f} {best_rules:>8.3f} "
                  f"{(best_load + best_rules) / nslots * 1e6:>8.1f} {nfind:>8}")
            if nslots == SIZES[-1][1]:
                slowest = rule_times(loaded)
    print("    target: 1,000 groups / 10,000 slots under 2 s; us/slot flat = linear growth")
    print("    slowest rules at the largest size: "
          + ", ".join(f"{code} {sec:.3f} s" for sec, code in slowest[:4]))


def rule_times(loaded: object) -> list[tuple[float, str]]:
    """Seconds per rule (rules share cached work, so the first to need it pays)."""
    from sopctl.lint.context import Context
    from sopctl.lint.registry import all_rules

    ctx = Context(loaded, {})  # type: ignore[arg-type]
    out = []
    gc.disable()
    for rule in all_rules():
        if rule.check is not None:
            t0 = time.perf_counter()
            list(rule.check(ctx))
            out.append((time.perf_counter() - t0, rule.code))
    gc.enable()
    return sorted(out, reverse=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--playbook", type=Path, default=None)
    ap.add_argument("--skip-size", action="store_true")
    ap.add_argument("--skip-startup", action="store_true")
    ap.add_argument("--shape", choices=["calendar", "weekly", "both"], default="both")
    ap.add_argument("--installed", action="store_true",
                    help="time start-up from a normal install made for the run")
    args = ap.parse_args()
    if not args.skip_startup:
        playbook = (args.playbook or first_playbook()).resolve()
        if args.installed:
            with tempfile.TemporaryDirectory() as tmp:
                startup(playbook, args.runs, Path(tmp) / "site")
        else:
            startup(playbook, args.runs)
    if not args.skip_size:
        for shape in (["calendar", "weekly"] if args.shape == "both" else [args.shape]):
            size(max(3, args.runs // 3), shape)


if __name__ == "__main__":
    main()
