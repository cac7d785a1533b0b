"""`sopctl init`: every group type scaffolds a playbook that lints clean, even --strict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sopctl.commands.init import GROUP_TYPES, render_playbook
from sopctl.lint.config import LintConfig
from sopctl.lint.engine import lint_paths
from sopctl.main import app
from sopctl.playbook.loader import load_playbook


def _findings(path: Path) -> list[str]:
    findings, nfiles = lint_paths([str(path)], LintConfig(), env={})
    assert nfiles == 1
    return [f.short() for f in findings]


@pytest.mark.parametrize("kind", GROUP_TYPES)
@pytest.mark.parametrize("platform", ["wecom", "feishu"])
def test_every_type_lints_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str,
                                platform: str) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["init", "--type", kind, "--platform", platform, "--yes"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "playbook.yaml"
    assert _findings(out) == []
    loaded = load_playbook(str(out))
    assert loaded.ok and loaded.playbook.positioning.type == kind
    assert loaded.playbook.positioning.platform == platform
    assert (tmp_path / "playbook.schema.json").is_file()
    assert out.read_text(encoding="utf-8").startswith(
        "# yaml-language-server: $schema=playbook.schema.json\n")
    if platform == "feishu":  # Feishu throttles exactly :00 and :30
        assert all(not str(s.at).endswith((":00", ":30")) for s in loaded.playbook.timetable)


def test_questions_and_defaults(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "群.yaml"
    # type, name, timezone (default), platform
    result = CliRunner().invoke(app, ["init", "-o", str(out)],
                                input="knowledge\n写作营二期\n\ndingtalk\n")
    assert result.exit_code == 0, result.output
    assert "Group type (product, interest" in result.output
    assert "Timezone [Asia/Shanghai]" in result.output
    pb = load_playbook(str(out)).playbook
    assert pb is not None
    assert (pb.name, pb.timezone, pb.positioning.type, pb.positioning.platform) == (
        "写作营二期", "Asia/Shanghai", "knowledge", "dingtalk")
    assert pb.positioning.name_pattern == "写作营二期{n:03}"
    assert _findings(out) == []


def test_invalid_answer_is_asked_again(tmp_path: Path) -> None:
    out = tmp_path / "p.yaml"
    result = CliRunner().invoke(app, ["init", "-o", str(out), "--name", "x", "--timezone", "UTC",
                                      "--platform", "slack"], input="cult\ninterest\n")
    assert result.exit_code == 0, result.output
    assert load_playbook(str(out)).playbook.positioning.type == "interest"


def test_options_with_awkward_names(tmp_path: Path) -> None:
    text = render_playbook("marketing", name='团购: "秒杀" #1 {n}', timezone="Europe/Berlin")
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = load_playbook(str(path))
    assert loaded.ok, [f.short() for f in loaded.findings]
    assert loaded.playbook.name == '团购: "秒杀" #1 {n}'


def test_stdout_output() -> None:
    result = CliRunner().invoke(app, ["init", "-y", "-t", "resource", "-o", "-"])
    assert result.exit_code == 0
    assert "type: resource" in result.stdout and "yaml-language-server" not in result.stdout


def _sopctl(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sopctl", *args], cwd=cwd, capture_output=True,
                          text=True, encoding="utf-8", timeout=60)


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "playbook.yaml"
    target.write_text("# 我的剧本\n", encoding="utf-8")
    proc = _sopctl(["init", "--yes"], tmp_path)
    assert proc.returncode == 2
    assert "already exists" in proc.stderr and "--force" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert target.read_text(encoding="utf-8") == "# 我的剧本\n"
    proc = _sopctl(["init", "--yes", "--force", "--type", "interest"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "type: interest" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize("args", [["--type", "cult"], ["--platform", "icq"],
                                  ["--timezone", "Asia/Beijing"]])
def test_bad_options_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    proc = _sopctl(["init", "--yes", *args], tmp_path)
    assert proc.returncode == 2 and "error:" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "playbook.yaml").exists()


# ---------------------------------------------------------------- channel block per platform

CHANNEL_TYPES = {"wecom": "wecom-robot", "wechat": "console", "feishu": "feishu",
                 "dingtalk": "dingtalk", "telegram": "telegram", "slack": "slack",
                 "discord": "discord", "other": "webhook"}


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.fixture(params=["en", "zh-CN"])
def lang(request: pytest.FixtureRequest):
    from sopctl import i18n

    i18n.setup(request.param)
    yield request.param
    i18n.setup("en")


@pytest.mark.parametrize("kind", GROUP_TYPES)
@pytest.mark.parametrize("platform", sorted(CHANNEL_TYPES))
def test_channel_block_for_each_platform_and_language(tmp_path: Path, platform: str,
                                                      lang: str, kind: str) -> None:
    from sopctl.commands.init import PLATFORMS, channel_env

    assert set(PLATFORMS) == set(CHANNEL_TYPES)
    out = tmp_path / "playbook.yaml"
    result = CliRunner().invoke(app, ["init", "-y", "-t", kind, "--platform", platform,
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    pb = load_playbook(str(out)).playbook
    assert pb is not None
    default = pb.channels[pb.channel]
    assert default.type == CHANNEL_TYPES[platform]
    assert pb.channels["console"].type == "console"
    for var in channel_env(platform):
        assert "${" + var + "}" in text
    if platform == "telegram":
        assert default.token == "${TG_BOT_TOKEN}"
        assert all(g.chat_id for g in pb.groups)
    if platform == "feishu":
        assert default.token == "${FEISHU_HOOK_TOKEN}"
    # clean where the secrets are set (SOP404 on), and where they are not looked at
    env = {"PATH": "/usr/bin", **{v: "x" for v in channel_env(platform)}}
    for e in (env, {}):
        findings, n = lint_paths([str(out)], LintConfig(), env=e)
        assert n == 1 and [f.short() for f in findings] == []
    comments, run = [], False  # consecutive comment lines are one comment
    for line in text.splitlines():
        is_comment = line.lstrip().startswith("#") and "yaml-language-server" not in line
        if is_comment and run:
            comments[-1] += " " + line.split("#", 1)[1]
        elif is_comment:
            comments.append(line.split("#", 1)[1])
        run = is_comment
    assert comments
    if lang == "zh-CN":  # every comment is Chinese
        assert all(_has_cjk(c) for c in comments), [c for c in comments if not _has_cjk(c)]
        assert "TG_BOT_TOKEN" in result.output or platform != "telegram"
        assert _has_cjk(result.output)
    else:
        assert "secrets are never written here" in text
        assert "sopctl run --rehearse" in result.output


def test_prompts_in_chinese(tmp_path: Path, lang: str) -> None:
    out = tmp_path / "p.yaml"
    result = CliRunner().invoke(app, ["init", "-o", str(out)],
                                input="interest\n\n\ntelegram\n")
    assert result.exit_code == 0, result.output
    pb = load_playbook(str(out)).playbook
    assert pb.channels[pb.channel].type == "telegram"
    first = result.output.splitlines()[0]
    assert _has_cjk(first) == (lang == "zh-CN"), first


# ---------------------------------------------------------------- interrupting a prompt

def _until_prompt(proc: subprocess.Popen, text: str, timeout: float = 30.0) -> str:
    """stdout so far, once it shows ``text`` (a prompt ends without a newline)."""
    import os
    import select
    import time

    seen, end = b"", time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while text.encode() not in seen:
        left = end - time.monotonic()
        assert left > 0 and proc.poll() is None, seen.decode(errors="replace")
        if select.select([fd], [], [], left)[0]:
            seen += os.read(fd, 4096)
    return seen.decode()


def _until_reading(pid: int, timeout: float = 10.0) -> None:
    """Return once ``pid`` sleeps in read(2), as a person's Ctrl-C finds it at a prompt.

    CPython runs a signal's handler between bytecodes, or when a blocking call returns
    EINTR; a SIGINT that lands after the prompt is written but before read(2) starts is
    only acted on once the read returns (the next line typed). Only a script can hit that
    window, so the test waits it out instead of flaking on a loaded machine.
    """
    import time

    wchan, end = Path(f"/proc/{pid}/wchan"), time.monotonic() + timeout
    if not wchan.exists():  # no procfs: a pause covers the window well enough
        time.sleep(0.5)
        return
    # pipe_read, anon_pipe_read; pipe_wait on kernels before 5.6
    while not any(w in wchan.read_text() for w in ("read", "pipe")) \
            and time.monotonic() < end:
        time.sleep(0.005)


@pytest.mark.parametrize("answers", [b"", b"knowledge\n", b"knowledge\n\n"])
def test_ctrl_c_at_a_prompt_exits_130(tmp_path: Path, answers: bytes) -> None:
    """SIGINT to a real process sitting at the first, second or third question."""
    import os
    import signal

    prompts = ["Group type", "Name", "Timezone"]
    out = tmp_path / "p.yaml"
    proc = subprocess.Popen([sys.executable, "-m", "sopctl", "init", "-o", str(out)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=tmp_path,
                            env={**os.environ, "SOPCTL_LANG": "en", "SOPCTL_DEBUG": "",
                                 "PYTHONFAULTHANDLER": "1"})
    try:
        proc.stdin.write(answers)
        proc.stdin.flush()
        _until_prompt(proc, prompts[answers.count(b"\n")])
        _until_reading(proc.pid)
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # where it is stuck: faulthandler prints stacks
            proc.send_signal(signal.SIGABRT)
            proc.wait(10)
            raise AssertionError("no exit 30 s after SIGINT:\n"
                                 + proc.stderr.read().decode(errors="replace")) from None
        assert code == 130
    finally:
        proc.kill()
        proc.wait()
    assert "Traceback" not in proc.stderr.read().decode()
    assert not out.exists()


def test_end_of_input_at_a_prompt_is_not_an_interrupt(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "sopctl", "init", "-o", str(tmp_path / "p.yaml")],
                          input=b"", capture_output=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 1 and not (tmp_path / "p.yaml").exists()
