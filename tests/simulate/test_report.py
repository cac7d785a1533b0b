"""`--report` writes a self-contained HTML file that a browser renders offline."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sopctl.main import app
from sopctl.simulate.report import svg_chart

from ._sim import STANDARD


def _report(tmp_path: Path, *extra: str) -> str:
    out = tmp_path / "forecast.html"
    r = CliRunner().invoke(app, ["simulate", str(STANDARD), "--start", "2026-12-01",
                                 "--days", "14", "--report", str(out), *extra])
    assert r.exit_code == 0, r.output
    return out.read_text(encoding="utf-8")


def test_report_is_self_contained(tmp_path: Path) -> None:
    html = _report(tmp_path, "--runs", "4")
    assert html.count("<svg") == 5
    assert 'class="band"' in html  # p10-p90 band with several runs
    assert "中转群" in html and "2026-12-14" in html
    # nothing fetched from anywhere: no scripts, stylesheets or remote resources
    assert "<script" not in html and "<link" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


def test_svg_chart_scales_points_inside_the_box() -> None:
    svg = svg_chart("t", {"a": [0.0, 5.0, 10.0]})
    pts = re.search(r'<polyline points="([^"]+)"', svg).group(1).split()
    ys = [float(p.split(",")[1]) for p in pts]
    assert ys[0] > ys[1] > ys[2] >= 0  # larger values higher up


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed "
                    "(Debian: apt-get install chromium chromium-driver)")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    _report(tmp_path)
    profile = tmp_path / "profile"
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={profile}"]
    page = f"file://{tmp_path / 'forecast.html'}"
    dom = subprocess.run([*cmd, "--dump-dom", page], capture_output=True, text=True,
                         timeout=60).stdout
    assert dom.count("<svg") == 5 and "<polyline" in dom
    assert "Members who speak a day" in dom
    shot = tmp_path / "shot.png"
    subprocess.run([*cmd, f"--screenshot={shot}", "--window-size=900,1400", page],
                   capture_output=True, timeout=60)
    assert shot.exists() and shot.stat().st_size > 10_000  # something was painted
