"""`sopctl calibrate` end to end on a console export of generated data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sopctl.calibrate.observed import write_table
from sopctl.calibrate.synthetic import generate
from sopctl.lint.config import LintConfig
from sopctl.lint.engine import lint_paths
from sopctl.main import app
from sopctl.playbook.loader import load_playbook

TRUTH = {"join_scale": 0.5, "speak_scale": 0.25}


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    pb = load_playbook("playbooks/skincare.yaml").playbook
    obs = generate(pb, start=date(2026, 5, 1), days=60, groups=10, params=TRUTH, seed=5)
    path = tmp_path_factory.mktemp("data") / "客户群统计.csv"
    write_table(obs, path)
    return path


def invoke(*args: str):
    return CliRunner().invoke(app, ["calibrate", *args])


def test_write_puts_a_simulation_block_that_lints_clean(tmp_path, export):
    pb = tmp_path / "skincare.yaml"
    shutil.copy("playbooks/skincare.yaml", pb)
    before = pb.read_text(encoding="utf-8")
    r = invoke(str(pb), "--from", str(export), "--write")
    assert r.exit_code == 0, r.output
    assert "join_scale" in r.stdout and "speak_scale" in r.stdout
    after = pb.read_text(encoding="utf-8")
    assert after.startswith(before.rstrip("\n"))  # nothing the operator wrote is touched
    loaded = load_playbook(str(pb)).playbook
    assert 0.35 < loaded.simulation["join_scale"] < 0.7
    findings, _ = lint_paths([str(pb)], LintConfig())
    assert [f for f in findings if f.severity == "error"] == []
    # calibrating again replaces the block instead of adding a second one
    r = invoke(str(pb), "--from", str(export), "--write")
    assert r.exit_code == 0 and pb.read_text(encoding="utf-8").count("simulation:") == 1


def test_holdout_json_and_report(tmp_path, export):
    report = tmp_path / "backtest.html"
    r = invoke("playbooks/skincare.yaml", "--from", str(export), "--holdout", "14",
               "--report", str(report), "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["backtest"]["holdout"] == 14
    assert set(data["backtest"]["mape"]) == {"members", "joins", "active", "messages"}
    assert {p["name"] for p in data["parameters"]} >= {"join_scale", "churn_base"}
    page = report.read_text(encoding="utf-8")
    assert page.count("<svg") == 4 and "p10" in page


@pytest.mark.parametrize("args,needle", [
    (["--from", "nope.csv"], "no such file"),
    (["--from", "x.csv", "--report", "r.html"], "--report needs --holdout"),
    (["--from", "wecom"], "wecom-customer-group channel"),
])
def test_usage_errors_exit_2(args, needle):
    r = subprocess.run([sys.executable, "-m", "sopctl", "calibrate", "playbooks/skincare.yaml",
                        *args], capture_output=True, text=True, env={**os.environ,
                                                                     "SOPCTL_LANG": "en"})
    assert r.returncode == 2 and needle in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
