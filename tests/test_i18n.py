"""The operator's language: the zh-CN catalogue is complete and compiled, the language is
chosen as documented, and `sopctl lint` (with `rules`, `rule`, every output format) speaks
Chinese with no English sentence left, while codes, slugs and JSON keys stay the same."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message

from sopctl.i18n import LANGS, _, detect, normalize, paragraphs, using
from sopctl.i18n import catalog as cat_tool
from sopctl.lint import docs
from sopctl.lint.registry import all_rules
from tests.i18n_check import english_runs

ROOT = Path(__file__).resolve().parents[1]
BAD = sorted((ROOT / "examples" / "rules").glob("*.bad.yaml"))
GOLDEN_INPUTS = sorted((ROOT / "tests" / "golden" / "input").glob("*.yaml"))
_LANG_VARS = ("SOPCTL_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")


def sopctl(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m sopctl ...` with only the language variables given here."""
    base = {k: v for k, v in os.environ.items() if k not in _LANG_VARS}
    base.update({"NO_COLOR": "1", "COLUMNS": "120", "PYTHONIOENCODING": "utf-8"})
    base.pop("GITHUB_ACTIONS", None)
    return subprocess.run([sys.executable, "-m", "sopctl", *args], cwd=cwd, env={**base, **env},
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


# ----------------------------------------------------------------------------- catalogue

def test_catalogue_is_complete_and_compiled() -> None:
    """Every message of the source, the rules' docs and the CLI help has a zh-CN
    translation with the same placeholders, and the shipped .mo is the .po compiled."""
    found = cat_tool.problems()
    assert found == [], "\n".join(found[:40]) + (
        "\nadd translations: python -m sopctl.i18n.catalog update / translate F.json")


def test_catalogue_checks_can_fail() -> None:
    """The checks behind the completeness test notice what they are meant to."""
    cat = Catalog(locale="zh_CN")
    cat.add("slot '{slot}' collides", "时段 '{slot}' 撞车", locations=[("sopctl/x.py", 1)])
    cat.add("no welcome", "", locations=[("sopctl/x.py", 2)])
    cat.add(("{n} file", "{n} files"), ("{n} 个文件",), locations=[("sopctl/x.py", 3)])
    cat.add("group '{group}' is full", "群 '{name}' 已满", locations=[("sopctl/x.py", 4)])
    cat.add("fuzzy one", "模糊", flags=["fuzzy"], locations=[("sopctl/x.py", 5)])
    assert cat_tool.untranslated(cat) == ["no welcome", "fuzzy one"]
    bad = cat_tool.placeholder_mismatches(cat)
    assert len(bad) == 1 and "group '{group}' is full" in bad[0]
    # a compiled catalogue differs from one compiled before a translation changed
    before = cat_tool._mo_bytes(cat)
    cat["no welcome"].string = "没有欢迎语"
    assert cat_tool._mo_bytes(cat) != before


def test_update_never_loses_a_translation() -> None:
    """A message that vanishes for one extraction (a module mid-edit) comes back with its
    translation on the next one."""
    cat = Catalog(locale="zh_CN")
    cat.add("no welcome", "没有欢迎语")
    cat.add("keep", "保留")
    without = Catalog(locale="zh_CN")
    without.add("keep")
    cat = cat_tool.merge(cat, without)
    assert cat.get("no welcome") is None and "no welcome" in cat.obsolete
    assert cat.get("keep").string == "保留"
    both = Catalog(locale="zh_CN")
    both.add("keep")
    both.add("no welcome")
    both.add(("{n} file", "{n} files"))
    cat.obsolete["{n} file"] = Message("{n} file", "{n} 个文件")  # translated before extracted
    cat = cat_tool.merge(cat, both)
    assert cat.get("no welcome").string == "没有欢迎语" and not cat.obsolete
    assert cat.get("{n} file").string == ("{n} 个文件",)
    assert cat_tool.untranslated(cat) == []


def test_every_rule_doc_is_translated() -> None:
    with using("zh-CN"):
        for rule in all_rules():
            assert rule.local_summary != rule.summary, rule.code
            assert rule.local_explanation != rule.explanation, rule.code
            assert re.search(r"[\u4e00-\u9fff]", rule.local_explanation), rule.code


def test_rules_docs_are_generated_in_both_languages() -> None:
    assert docs.stale() == [], "run `python -m sopctl.lint.docs`"
    zh = docs.docs_path("zh-CN").read_text(encoding="utf-8")
    assert zh.startswith("# 检查规则") and "rules.md" in zh
    assert english_runs(_prose(zh), allow=["sopctl"]) == []


def _prose(markdown: str) -> str:
    """Markdown without its fenced YAML examples (they stay as written)."""
    return re.sub(r"```.*?```", "", markdown, flags=re.S)


# ----------------------------------------------------------------------------- selection

@pytest.mark.parametrize(("cli", "env", "want"), [
    (None, {}, "en"),
    ("zh-CN", {}, "zh-CN"),
    ("zh_CN.UTF-8", {}, "zh-CN"),
    ("en", {"SOPCTL_LANG": "zh-CN", "LANG": "zh_CN.UTF-8"}, "en"),
    (None, {"SOPCTL_LANG": "zh-CN", "LC_ALL": "en_US.UTF-8"}, "zh-CN"),
    (None, {"SOPCTL_LANG": "fr", "LANG": "zh_CN.UTF-8"}, "zh-CN"),  # unknown: next in line
    (None, {"LC_ALL": "en_US.UTF-8", "LC_MESSAGES": "zh_CN", "LANG": "zh_CN"}, "en"),
    (None, {"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh-CN"),
    (None, {"LC_MESSAGES": "", "LANG": "zh_CN.UTF-8"}, "zh-CN"),  # empty counts as unset
    (None, {"LANG": "zh_TW.UTF-8"}, "zh-CN"),  # zh_* -> zh-CN
    (None, {"LANG": "zh_SG"}, "zh-CN"),
    (None, {"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, "en"),  # the first one set decides
    (None, {"LANG": "de_DE.UTF-8"}, "en"),
])
def test_detect(cli: str | None, env: dict[str, str], want: str) -> None:
    assert detect(cli, env) == want


def test_normalize() -> None:
    assert [normalize(v) for v in ("zh-CN", "ZH", "zh_Hans_CN", "en_GB", "C", "POSIX")] == [
        "zh-CN", "zh-CN", "zh-CN", "en", "en", "en"]
    assert normalize("fr") is None and normalize("") is None and normalize(None) is None


def test_paragraphs_and_fallback() -> None:
    with using("zh-CN"):
        assert _("no rule '{code}'") == "没有规则 '{code}'"
        assert _("a message nobody translated") == "a message nobody translated"
        rule = next(r for r in all_rules() if r.code == "SOP204")
        assert paragraphs(rule.explanation) == rule.local_explanation
    assert _("no rule '{code}'") == "no rule '{code}'"  # back to English after the block


def _summary(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize(("args", "env", "want"), [
    (["--lang", "zh-CN"], {"LANG": "en_US.UTF-8"}, "全部检查通过（1 个文件）。"),
    (["--lang=en"], {"SOPCTL_LANG": "zh-CN"}, "All checks passed (1 file)."),
    ([], {"SOPCTL_LANG": "zh-CN", "LC_ALL": "en_US.UTF-8"}, "全部检查通过（1 个文件）。"),
    ([], {"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}, "All checks passed (1 file)."),
    ([], {"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "C.UTF-8"}, "全部检查通过（1 个文件）。"),
    ([], {"LANG": "zh_TW.UTF-8"}, "全部检查通过（1 个文件）。"),
    ([], {}, "All checks passed (1 file)."),
])
def test_language_of_a_run(args: list[str], env: dict[str, str], want: str) -> None:
    proc = sopctl(*args, "lint", "examples/minimal.yaml", "--no-env", "--select", "SOP0", **env)
    assert proc.returncode == 0, proc.stderr
    assert _summary(proc) == want


@pytest.mark.parametrize("args", [["lint", "examples/minimal.yaml", "--lang", "zh-CN"],
                                  ["lint", "--lang=zh-CN", "examples/minimal.yaml"]])
def test_lang_after_the_command(args: list[str]) -> None:
    proc = sopctl(*args, "--no-env", "--select", "SOP0", LANG="en_US.UTF-8")
    assert proc.returncode == 0, proc.stderr
    assert _summary(proc) == "全部检查通过（1 个文件）。"


def test_unknown_lang_is_a_usage_error() -> None:
    proc = sopctl("--lang", "fr", "lint", "examples/minimal.yaml")
    assert proc.returncode == 2
    assert "fr" in proc.stderr and "zh-CN" in proc.stderr and "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------- lint in zh-CN

ZH = {"LANG": "zh_CN.UTF-8"}


def test_lint_output_is_chinese() -> None:
    """Every rule's bad example, the loader's failures and the summary, under the locale."""
    files = [str(p.relative_to(ROOT)) for p in [*BAD, *GOLDEN_INPUTS]]
    proc = sopctl("lint", *files, **ZH)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout + proc.stderr
    codes = set(re.findall(r": (SOP\d{3}) ", out))
    assert len(codes) >= len([r for r in all_rules() if r.code != "SOP004"]) - 2, codes
    assert english_runs(out) == []
    assert "提示：" in out and re.search(r"在 \d+ 个文件中发现 \d+ 个错误、\d+ 个警告", out)


def test_lint_statistics_and_github_are_chinese() -> None:
    files = [str(p.relative_to(ROOT)) for p in BAD[:30]]
    stats = sopctl("lint", *files, "--statistics", **ZH)
    assert " 错误 " in stats.stdout and english_runs(stats.stdout) == []
    gh = sopctl("lint", *files, "--format", "github", **ZH)
    assert gh.stdout.startswith("::") and english_runs(gh.stdout.replace("%0A", "\n")) == []


def test_machine_surfaces_stay_and_messages_follow_the_language() -> None:
    files = [str(p.relative_to(ROOT)) for p in BAD]
    en = json.loads(sopctl("--lang", "en", "lint", *files, "--format", "json").stdout)
    zh = json.loads(sopctl("lint", *files, "--format", "json", **ZH).stdout)
    assert len(en) == len(zh) > 50
    for a, b in zip(en, zh, strict=True):
        assert set(a) == set(b)
        assert {k: a[k] for k in a if k not in ("message", "hint")} == {
            k: b[k] for k in b if k not in ("message", "hint")}
        assert a["message"] != b["message"], a  # every message has its translation
        assert re.search(r"[\u4e00-\u9fff]", b["message"]), b
    sarif = json.loads(sopctl("lint", *files, "--format", "sarif", **ZH).stdout)
    results = sarif["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == [f["code"] for f in zh]
    assert [r["message"]["text"].split("\n")[0] for r in results] == [f["message"] for f in zh]
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert all(re.search(r"[\u4e00-\u9fff]", r["shortDescription"]["text"])
               for r in rules if r["id"].startswith("SOP") and "fullDescription" in r)


BROKEN = {  # what libyaml, pydantic, re and the OS say, each in its own words
    "tab.yaml": "name: x\n\tbad: 1\n", "quote.yaml": 'name: "x\n', "colon.yaml": "a: b: c\n",
    "list.yaml": "name: x\n- y\n", "alias.yaml": "name: *nope\n", "flow.yaml": "a: [1, 2\nb: 3\n",
    "escape.yaml": 'a: "\\q"\n', "indent.yaml": "a:\n  b: 1\n c: 2\n", "token.yaml": "@x: 1\n",
    "types.yaml": "version: x\nname: [1]\ntimezone: Asia/Shanghai\npositioning: {type: shop, "
                  "purpose: p, name_pattern: '群{n}', capacity: -5, planned_days: 1.5}\n"
                  "timetable:\n  - {id: j, kind: offer, at: '07:00', dates: [2026-13-01]}\n"
                  "groups: [{id: g1, opened: tomorrow}]\n"
                  "rules: {items: [{id: r, text: t, detect: {regex: '(open'}}]}\n",
    "inventory.yaml": "name: x\ntimezone: UTC\ngroups: missing.yaml\n",
}


def test_third_party_messages_are_chinese(tmp_path: Path) -> None:
    for name, text in BROKEN.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    proc = sopctl("lint", *BROKEN, cwd=tmp_path, **ZH)
    assert proc.returncode == 1, proc.stderr
    assert len(re.findall(r"^\S+\.yaml:\d+:\d+: SOP0", proc.stdout, re.M)) >= len(BROKEN)
    assert english_runs(proc.stdout) == []


def test_usage_errors_of_lint_are_chinese(tmp_path: Path) -> None:
    proc = sopctl("lint", "no-such.yaml", **ZH)
    assert proc.returncode == 2 and "文件或目录不存在" in proc.stderr
    (tmp_path / "sopctl.toml").write_text('colour = "red"\n', encoding="utf-8")
    (tmp_path / "p.yaml").write_text("name: x\n", encoding="utf-8")
    proc = sopctl("lint", "p.yaml", cwd=tmp_path, **ZH)
    assert proc.returncode == 2 and "未知的设置 'colour'" in proc.stderr
    assert english_runs(proc.stderr) == []
    empty = tmp_path.parent / f"{tmp_path.name}-empty"
    empty.mkdir()
    proc = sopctl("lint", cwd=empty, **ZH)
    assert proc.returncode == 2 and "没有指定剧本" in proc.stderr


def test_rules_and_rule_are_chinese() -> None:
    table = sopctl("rules", **ZH)
    assert table.returncode == 0
    assert "编号" in table.stdout and "级别" in table.stdout and "警告" in table.stdout
    assert english_runs(table.stdout) == []
    one = sopctl("rule", "SOP204", **ZH)
    assert one.returncode == 0 and "错误示例" in one.stdout and "正确示例" in one.stdout
    prose = one.stdout.split("错误示例")[0]
    assert "同一分钟" in prose and english_runs(prose) == []
    as_json = json.loads(sopctl("rules", "--format", "json", **ZH).stdout)
    assert {r["code"] for r in as_json} == {r.code for r in all_rules()}
    assert all(re.search(r"[\u4e00-\u9fff]", r["summary"]) for r in as_json)


def test_english_is_unchanged_and_the_detector_sees_it() -> None:
    """The detector is not blind: the same run in English is full of English phrases."""
    files = [str(p.relative_to(ROOT)) for p in GOLDEN_INPUTS]
    proc = sopctl("--lang", "en", "lint", *files)
    assert proc.stdout.rstrip().endswith("Found 7 errors, 1 warning in 2 files.")
    assert len(english_runs(proc.stdout)) >= 5


def test_chinese_lint_stays_light() -> None:
    """Translating costs a parsed .mo, nothing more: Babel is for the catalogue tool, and
    Typer's rich help machinery (rich's console, markdown, pygments) waits for --help."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "sopctl", "lint",
                           "examples/rules/SOP204.bad.yaml", "--no-env"], cwd=ROOT,
                          capture_output=True, text=True, encoding="utf-8", timeout=120,
                          env={**os.environ, "LANG": "zh_CN.UTF-8", "SOPCTL_LANG": "zh-CN"})
    assert "提示：" in proc.stdout, proc.stderr[-2000:]
    names = {ln.rsplit("|", 1)[1].strip() for ln in proc.stderr.splitlines()
             if ln.startswith("import time:") and "|" in ln}
    assert "gettext" in names and "sopctl.lint.engine" in names
    heavy = sorted(n for n in names if n.split(".")[0] in ("babel", "pygments", "markdown_it")
                   or n in ("rich.console", "rich.markdown", "typer.rich_utils"))
    assert not heavy, heavy


def test_languages_listed() -> None:
    assert LANGS == ("en", "zh-CN")


def test_every_pydantic_error_type_is_said_in_chinese() -> None:
    """pydantic's whole list of error types, each with the context values it documents:
    none reaches an operator in English (a type added later gets a generic sentence)."""
    from pydantic_core import _pydantic_core as core

    from sopctl.i18n.thirdparty import validation_message

    with using("zh-CN"):
        for info in core.list_all_errors():
            kind = info["type"]
            fields = re.findall(r"\{(\w+)\}", info["message_template_python"])
            ctx = {f: "1" for f in fields}
            msg = info["message_template_python"].format(**ctx)
            said = validation_message({"type": kind, "msg": msg, "ctx": ctx})
            if kind in ("value_error", "assertion_error"):  # our validators' own text
                continue
            assert english_runs(said) == [], (kind, said)
            assert re.search(r"[\u4e00-\u9fff]", said), (kind, said)
        unknown = validation_message({"type": "some_new_kind", "msg": "Input is odd"})
        assert "some_new_kind" in unknown and "Input is odd" not in unknown


def test_database_errors_are_said_in_chinese(tmp_path: Path) -> None:
    """The driver's reason for not opening the ledger, on real SQLite and PostgreSQL."""
    stores = [f"sqlite:///{tmp_path / 'no-such-dir' / 'ledger.db'}",
              "postgresql://nobody-here@127.0.0.1:5432/test",  # the server names the role
              "postgresql://root@127.0.0.1:9/test"]  # nothing listens on port 9
    for store in stores:
        zh = sopctl("history", "--store", store, cwd=tmp_path, **ZH)
        assert zh.returncode == 2, zh.stderr
        assert "无法打开" in zh.stderr and english_runs(zh.stderr) == [], zh.stderr
        en = sopctl("history", "--store", store, cwd=tmp_path)
        assert en.returncode == 2 and "cannot open the ledger" in en.stderr
