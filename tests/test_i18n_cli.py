"""Every command speaks Chinese under a Chinese locale: help pages (with Typer's own words),
usage errors, tables, summaries, log lines, the HTML report, prompts and the comments
`init` writes. Each runs as a real process with ``LANG=zh_CN.UTF-8`` and its human output
must hold no English phrase (tests/i18n_check.py); English output stays as it was."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.i18n_check import english_runs

ROOT = Path(__file__).resolve().parents[1]
SKINCARE = ROOT / "playbooks" / "skincare.yaml"
MINIMAL = ROOT / "examples" / "minimal.yaml"
EVENTS = ROOT / "tests" / "events" / "events_playbook.yaml"
_LANG_VARS = ("SOPCTL_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")
# words a Chinese operator reads as they are: slot ids, status words, option values
ALLOW = ("console", "sent", "failed", "skipped", "uncertain", "claimed", "sending", "released",
         "table", "json", "csv", "ics", "rich", "text", "true", "false", "pond", "transit",
         "core", "sales", "clearance", "product", "interest", "knowledge", "resource",
         "marketing", "wecom", "wechat", "feishu", "dingtalk", "telegram", "slack", "discord",
         "other", "OPTIONS", "COMMAND", "ARGS", "str", "int", "float", "path", "stdin")


def sopctl(*args: str, cwd: Path = ROOT, lang: str = "zh_CN.UTF-8", stdin: str | None = None,
           timeout: float = 180, columns: int = 120) -> subprocess.CompletedProcess[str]:
    """`python -m sopctl ...` in a locale, with no other language variable set."""
    env = {k: v for k, v in os.environ.items() if k not in _LANG_VARS}
    env.update({"NO_COLOR": "1", "COLUMNS": str(columns), "PYTHONIOENCODING": "utf-8",
                "LANG": lang})
    for k in ("GITHUB_ACTIONS", "SOPCTL_STORE", "SOPCTL_STATE_DIR", "SOPCTL_DEBUG"):
        env.pop(k, None)
    return subprocess.run([sys.executable, "-m", "sopctl", *args], cwd=cwd, env=env,
                          input=stdin, capture_output=True, text=True, encoding="utf-8",
                          timeout=timeout)


def chinese(text: str) -> None:
    """``text`` holds Chinese and no English phrase a person would have to read."""
    assert re.search(r"[\u4e00-\u9fff]", text), text
    assert english_runs(text, allow=ALLOW) == [], text


# ----------------------------------------------------------------------------- help

def _command_paths() -> list[list[str]]:
    import typer.main

    from sopctl.main import build_app

    root = typer.main.get_command(build_app())
    paths: list[list[str]] = [[]]
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        paths.append([name])
        paths += [[name, sub] for sub in getattr(cmd, "commands", {})]
    return paths


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "sopctl")
def test_every_help_page_is_chinese(path: list[str]) -> None:
    proc = sopctl(*path, "--help")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "用法:" in out and "选项" in out and "显示本帮助并退出" in out
    assert "Usage:" not in out and "Options" not in out and "<bool>" not in out
    chinese(out)


def test_english_help_keeps_its_words_and_flags_show_no_type() -> None:
    out = sopctl("init", "--help", lang="C.UTF-8").stdout
    assert "Usage: sopctl init" in out and "Show this message and exit." in out
    assert "<bool>" not in out
    assert re.search(r"--force\s+Overwrite an existing file\.", out)  # no type column
    assert "[default: playbook.yaml]" in out


def test_help_follows_lang_over_the_locale() -> None:
    assert "用法:" in sopctl("--lang", "zh-CN", "agenda", "--help", lang="C.UTF-8").stdout
    assert "Usage:" in sopctl("--lang", "en", "agenda", "--help").stdout


# ----------------------------------------------------------------------------- usage errors

@pytest.mark.parametrize(("args", "expected"), [
    (["init", "--bogus"], "没有这个选项：--bogus"),
    (["members", "forget"], "缺少参数 'MEMBER'"),
    (["agenda", str(MINIMAL), "--days", "0"], "不能小于 1"),
    (["agenda", str(MINIMAL), "--days", "x"], "应为整数"),
    (["agenda", str(MINIMAL), "--format", "xml"], "不是可选值之一"),
    (["agenda", str(MINIMAL), "--days"], "选项 '--days' 需要一个取值"),
    (["nosuch"], "没有命令 'nosuch'"),
    (["agenda", str(MINIMAL), "extra"], "多余的参数：extra"),
    (["agenda", str(MINIMAL), "--group", "nowhere"], "中没有群"),
    (["simulate", str(MINIMAL), "--param", "nope=1"], "未知参数 'nope'"),
    (["--lang", "xx", "lint"], "未知语言 'xx'"),
])
def test_usage_errors_are_chinese(args: list[str], expected: str) -> None:
    proc = sopctl(*args)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    chinese(proc.stderr)


@pytest.mark.parametrize(("args", "expected"), [
    (["agenda", "nonexistent.yaml"], "文件或目录不存在"),
    (["agenda", "examples"], "是一个目录"),
    (["run", "-"], "无法监视标准输入"),
    (["run", str(MINIMAL), "--shard", "5/3"], "I 必须在 1 到 N 之间"),
    (["serve", str(MINIMAL)], "没有可接收事件的来源"),
    (["init", "--type", "bogus", "-y", "-o", "-"], "未知群类型"),
    (["init", "--timezone", "Mars/X", "-y", "-o", "-"], "Asia/Shanghai"),
    (["agenda", str(MINIMAL), "-o", "x.csv"], "--output 需要搭配"),
    (["agenda", str(MINIMAL), "--from", "2026-13-01"], "不是日期"),
    (["simulate", str(MINIMAL), "--report", "/nonexistent/dir/r.html"], "文件或目录不存在"),
    (["run", str(MINIMAL), "--channel", "nope", "--once"], "既不是剧本里的通道"),
])
def test_command_errors_are_chinese(args: list[str], expected: str, tmp_path: Path) -> None:
    proc = sopctl(*args, "--state-dir", str(tmp_path)) if args[0] in ("run",) \
        else sopctl(*args)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    chinese(proc.stderr)


def test_english_usage_errors_are_unchanged() -> None:
    proc = sopctl("init", "--bogus", lang="C.UTF-8")
    assert proc.returncode == 2 and "No such option: --bogus" in proc.stderr
    assert "Usage: sopctl init" in proc.stderr


# ----------------------------------------------------------------------------- plan, forecast

def test_agenda_table_is_chinese() -> None:
    proc = sopctl("agenda", str(SKINCARE), "--from", "2026-12-07", "-n", "2")
    assert proc.returncode == 0, proc.stderr
    assert "条消息" in proc.stdout and "话术" in proc.stdout
    chinese(proc.stdout)


def test_simulate_table_summary_and_warnings_are_chinese() -> None:
    proc = sopctl("simulate", str(SKINCARE), "--start", "2026-12-01", "-n", "21", "--runs", "3")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "未来 21 天预测" in out and "漏斗" in out and "营收" in out
    assert "3 次模拟的中位数" in out
    chinese(out)


def test_simulate_compare_labels_rows_for_people_in_both_languages(tmp_path: Path) -> None:
    zh = sopctl("simulate", str(SKINCARE), "--start", "2026-12-01", "-n", "14",
                "--compare", str(MINIMAL))
    assert zh.returncode == 0, zh.stderr
    assert "期末成员数" in zh.stdout and "转化合计（所有阶段）" in zh.stdout
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", zh.stdout)  # no snake_case key left
    chinese(zh.stdout)
    en = sopctl("simulate", str(SKINCARE), "--start", "2026-12-01", "-n", "14",
                "--compare", str(MINIMAL), lang="C.UTF-8")
    assert "members at the end" in en.stdout and "conversions, all stages" in en.stdout
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", en.stdout) and "delta" in en.stdout


def test_compare_at_80_columns_folds_stage_names_instead_of_cutting_them() -> None:
    proc = sopctl("simulate", str(SKINCARE), "--start", "2026-12-01", "-n", "7",
                  "--compare", str(MINIMAL), columns=80)
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout
    first = [line.split("│")[0].strip() for line in proc.stdout.splitlines() if "│" in line]
    assert "核心群(消费满500元或办理会员卡)" in "".join(first).replace(" ", "")
    table = sopctl("simulate", str(SKINCARE), "--start", "2026-12-01", "-n", "7", columns=60)
    assert table.returncode == 0 and "…" not in table.stdout  # the funnel's names fold too


def test_compare_totals_conversions_and_keeps_json_keys() -> None:
    proc = sopctl("simulate", str(SKINCARE), "--start", "2026-12-01", "-n", "14",
                  "--compare", str(MINIMAL), "-f", "json")
    doc = json.loads(proc.stdout)
    stages = {f["stage"]: f for f in doc["a"]["funnel"]}
    total = sum(f["converted_in"] for f in stages.values())
    assert total > 0
    # the total row is the sum over the stages, never a pseudo-stage's 0
    assert doc["delta"]["converted_in:total"] == -total
    assert {k for k in doc["delta"] if k.startswith("converted_in:")} == {
        "converted_in:total", *(f"converted_in:{s}" for s, f in stages.items() if f["target"])}
    assert "converted_in:all" not in doc["delta"]
    assert set(doc["a"]) >= {"members_end", "joins", "revenue", "funnel"}  # keys unchanged


def test_html_report_is_chinese(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    proc = sopctl("simulate", str(SKINCARE), "--start", "2026-12-01", "-n", "14", "--runs", "2",
                  "--report", str(out))
    assert proc.returncode == 0, proc.stderr
    page = out.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page and "<h2>漏斗</h2>" in page and "第 1 天" in page
    text = html.unescape(re.sub(r"<style>.*?</style>|<[^>]+>", "\n", page, flags=re.S))
    chinese(text)


# ----------------------------------------------------------------------------- run, ledger

@pytest.fixture(scope="module")
def ledger_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state directory whose ledger holds a catch-up: sends and skipped rows."""
    work = tmp_path_factory.mktemp("ledger")
    shutil.copy(SKINCARE, work / "skincare.yaml")
    proc = sopctl("run", "skincare.yaml", "--once", "--since", "30h", "--channel", "console",
                  "--state-dir", "st", cwd=work)
    assert proc.returncode == 0, proc.stderr
    work.joinpath("run.out").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    return work


def test_run_log_lines_and_summary_are_chinese(ledger_dir: Path) -> None:
    out = ledger_dir.joinpath("run.out").read_text(encoding="utf-8")
    assert "错过" in out  # the catch-up beyond the grace is said, in Chinese
    chinese(out)


def test_history_is_chinese(ledger_dir: Path) -> None:
    proc = sopctl("history", "--state-dir", "st", "--playbook", "skincare.yaml", cwd=ledger_dir)
    assert proc.returncode == 0, proc.stderr
    assert "条发送记录" in proc.stdout and "停机期间错过" in proc.stdout
    assert "missed while down" not in proc.stdout
    chinese(proc.stdout)
    js = sopctl("history", "--state-dir", "st", "-f", "json", cwd=ledger_dir).stdout
    reasons = {json.loads(line)["reason"] for line in js.splitlines()}
    assert "missed while down" in reasons  # the ledger keeps its English record


def test_status_is_chinese(ledger_dir: Path) -> None:
    proc = sopctl("status", "skincare.yaml", "--state-dir", "st", cwd=ledger_dir)
    assert proc.returncode == 0, proc.stderr
    assert "接下来要发的消息" in proc.stdout
    chinese(proc.stdout)


# ----------------------------------------------------------------------------- serve, members

def _line(**kw: object) -> str:
    return json.dumps(kw, ensure_ascii=False) + "\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`serve --once` over joins, a malformed line and repeated ads from one member, in a
    playbook whose owner has no user id: the reminder to remove them has no addressee."""
    work = tmp_path_factory.mktemp("serve")
    pb = EVENTS.read_text(encoding="utf-8")
    assert "  owner: {name: 王老师, userid: wang}\n" in pb
    (work / "pb.yaml").write_text(pb.replace("  owner: {name: 王老师, userid: wang}\n",
                                             "  owner: {name: 王老师}\n"), encoding="utf-8")
    ads = [_line(id=f"m{i}", type="message", group="g001", member="wm2", nickname="小王",
                 text="加微信 http://x.cn", at=f"2026-12-02T01:0{i}:00Z") for i in (1, 2, 3)]
    inbox = work / "events.jsonl"
    inbox.write_text(_line(id="j1", type="join", group="g001", member="wm1", nickname="小丽")
                     + _line(id="j2", type="join", group="g002", member="wm1", nickname="小丽")
                     + "{broken\n" + "".join(ads), encoding="utf-8")
    proc = sopctl("serve", "pb.yaml", "--inbox", str(inbox), "--once", "--state-dir", "st",
                  cwd=work)
    assert proc.returncode == 0, proc.stderr
    return work, proc.stdout + proc.stderr


def test_serve_once_is_chinese_and_names_no_none(served: tuple[Path, str]) -> None:
    _work, out = served
    assert "事件：" in out and "JSON 格式错误" in out
    assert "请将 小王 移出群聊" in out  # the reminder went out ...
    assert "None" not in out  # ... addressed to someone, never to "None"
    assert re.search(r"^\S+ \S+ 警告 ", out, flags=re.M)  # logging's level, translated too
    chinese(out)


def test_members_commands_are_chinese_and_forget_asks_first(served: tuple[Path, str]) -> None:
    work, _out = served
    dedup = sopctl("members", "dedup", "events", "--state-dir", "st", cwd=work)
    assert dedup.returncode == 0, dedup.stderr
    chinese(dedup.stdout)
    no = sopctl("members", "forget", "wm1", "--state-dir", "st", cwd=work, stdin="n\n")
    assert no.returncode == 1 and "未删除任何记录" in no.stdout
    assert "无法恢复" in no.stdout
    chinese(no.stdout)
    held = json.loads(sopctl("members", "export", "wm1", "--state-dir", "st", cwd=work).stdout)
    assert held["groups"], "a refused confirmation deleted nothing"
    yes = sopctl("members", "forget", "wm1", "--yes", "--state-dir", "st", cwd=work)
    assert yes.returncode == 0 and "已删除 wm1 的" in yes.stdout
    chinese(yes.stdout)
    gone = json.loads(sopctl("members", "export", "wm1", "--state-dir", "st", cwd=work).stdout)
    assert gone["groups"] == []


def test_members_forget_asks_in_english_too(tmp_path: Path) -> None:
    proc = sopctl("members", "forget", "nobody", "--state-dir", str(tmp_path), lang="C.UTF-8")
    assert proc.returncode == 0 and "nothing held about nobody" in proc.stdout


# ----------------------------------------------------------------------------- init

def test_init_prompts_messages_and_comments_are_chinese(tmp_path: Path) -> None:
    answers = "bogus\nmarketing\n\n\nfeishu\n"  # a wrong type first, then defaults
    proc = sopctl("init", "-o", "pb.yaml", cwd=tmp_path, stdin=answers)
    assert proc.returncode == 0, proc.stderr
    assert "群类型" in proc.stdout and "时区" in proc.stdout and "不在可选范围内" in proc.stderr
    chinese(proc.stdout)
    chinese(proc.stderr)
    text = (tmp_path / "pb.yaml").read_text(encoding="utf-8")
    comments = [x.split("#", 1)[1] for x in text.splitlines()
                if "#" in x and not x.startswith("# yaml-language-server")]
    assert comments and any("由 sopctl init 生成" in c for c in comments)
    chinese("\n".join(comments))
    again = sopctl("init", "-o", "pb.yaml", "-y", cwd=tmp_path)
    assert again.returncode == 2 and "已存在" in again.stderr
    chinese(again.stderr)


def test_init_writes_english_comments_in_english(tmp_path: Path) -> None:
    proc = sopctl("init", "-y", "-t", "product", "-o", "-", lang="C.UTF-8")
    assert "# 美肌福利群: generated by sopctl init" in proc.stdout
    assert "第一次警告" not in proc.stdout


def test_internal_error_prefix_is_chinese() -> None:
    from tests.test_cli import _CRASH

    env = {k: v for k, v in os.environ.items() if k not in _LANG_VARS and k != "SOPCTL_DEBUG"}
    proc = subprocess.run([sys.executable, "-c", _CRASH], cwd=ROOT, capture_output=True,
                          text=True, encoding="utf-8", timeout=60,
                          env={**env, "LANG": "zh_CN.UTF-8", "NO_COLOR": "1"})
    assert "内部错误" in proc.stderr and "SOPCTL_DEBUG=1" in proc.stderr
