"""`sopctl lint` stays light: the heavy libraries of the other verbs are never imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = {"numpy", "sqlalchemy", "apscheduler", "httpx"}


def _imported(args: list[str]) -> set[str]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "sopctl", *args],
                          cwd=ROOT, capture_output=True, text=True, encoding="utf-8",
                          timeout=120)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    assert "sopctl.lint.engine" in names  # the parse saw the lint path
    return names


def test_lint_imports_nothing_heavy() -> None:
    names = _imported(["lint", "examples/minimal.yaml"])
    heavy = sorted(n for n in names if n.split(".")[0] in HEAVY)
    assert not heavy, f"lint imported {heavy[:10]}"


def test_lint_json_and_sarif_stay_light_too() -> None:
    for fmt in ("json", "sarif"):
        names = _imported(["lint", "examples/minimal.yaml", "--format", fmt])
        assert not {n.split(".")[0] for n in names} & HEAVY
