"""The rule catalogue: registry integrity, and a failing and a passing example per rule.

Each ``examples/rules/SOPxxx.bad.yaml`` marks the lines where findings are expected
with ``# expect: CODE``; the bad file must produce exactly those findings (no other
rule fires), and the matching ``.good.yaml`` nothing at warning or error level.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from sopctl.lint import docs
from sopctl.lint.config import LintConfig
from sopctl.lint.engine import lint_loaded
from sopctl.lint.registry import all_rules, find_rule
from sopctl.lint.rules import MODULES
from sopctl.playbook.loader import load_playbook
from sopctl.playbook.source import load_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "rules"
ENV = {"WECOM_ROBOT_KEY": "robot-key", "FEISHU_HOOK_TOKEN": "hook-token", "LANG": "C.UTF-8"}
RULES = all_rules()
CHECKED = [r for r in RULES if r.check is not None]
_EXPECT = re.compile(r"# expect: ((?:SOP\d{3}\s*)+)$")


def lint_file(path: Path | str, env: dict[str, str] | None = None) -> list:
    return lint_loaded(load_playbook(str(path)), LintConfig(), env=ENV if env is None else env)


def lint_text(tmp_path: Path, text: str, name: str = "playbook.yaml",
              env: dict[str, str] | None = None) -> list:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return lint_file(p, env)


def expected(path: Path) -> dict[str, set[int]]:
    out: dict[str, set[int]] = defaultdict(set)
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = _EXPECT.search(line)
        if m:
            for code in m.group(1).split():
                out[code].add(i)
    return dict(out)


def by_code(findings: list) -> dict[str, set[int]]:
    out: dict[str, set[int]] = defaultdict(set)
    for f in findings:
        out[f.code].add(f.line)
    return dict(out)


# ----------------------------------------------------------------------------- registry

def test_catalogue_is_every_rule_with_examples() -> None:
    # the example files outlive a rule lost from the catalogue, so a lost rule fails here
    with_examples = {p.name.split(".")[0] for p in EXAMPLES.glob("SOP*.bad.yaml")}
    assert [r.code for r in RULES] == sorted(with_examples)
    domain = [r for r in CHECKED if r.code >= "SOP100"]
    assert len(domain) == len([c for c in with_examples if c >= "SOP100"])
    for area in ("SOP1", "SOP2", "SOP3", "SOP4", "SOP5"):
        assert any(r.code.startswith(area) for r in domain), area


def test_codes_and_slugs_are_unique_and_well_formed() -> None:
    codes = [r.code for r in RULES]
    slugs = [r.slug for r in RULES]
    assert len(set(codes)) == len(codes)
    assert len(set(slugs)) == len(slugs)
    for r in RULES:
        assert re.fullmatch(r"SOP\d{3}", r.code), r.code
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", r.slug), r.slug
        assert r.severity in ("error", "warning", "info")
        assert r.module.rsplit(".", 1)[1].startswith(r.code.lower() + "_")


def test_modules_list_matches_the_rule_files() -> None:
    files = sorted(p.stem for p in (ROOT / "sopctl" / "lint" / "rules").glob("sop*.py"))
    assert sorted(MODULES) == files


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_every_rule_is_documented(rule) -> None:
    assert rule.summary and rule.summary.endswith(".")
    assert len(rule.explanation) > 40
    assert rule.bad and rule.good and rule.bad != rule.good
    if rule.code not in ("SOP001", "SOP002", "SOP003"):  # these show broken YAML on purpose
        for snippet in (rule.bad, rule.good):
            load_text(snippet, f"{rule.code} docstring")


def test_loader_codes_are_documented() -> None:
    from sopctl.playbook import loader

    for code, slug in loader._SLUGS.items():
        rule = find_rule(code)
        assert rule is not None and rule.slug == slug and rule.check is None
    assert find_rule("SOP099").slug == "unused-noqa"
    assert find_rule("unknown-variable").code == "SOP103"
    assert find_rule("sop203").code == "SOP203"


def test_docs_are_up_to_date() -> None:
    assert docs.DOCS_PATH.read_text(encoding="utf-8") == docs.rules_markdown(), (
        "docs/rules.md is stale: run `python -m sopctl.lint.docs`")
    assert docs.main(["--check"]) == 0


# ----------------------------------------------------------------------------- examples

@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_every_rule_has_examples(rule) -> None:
    assert (EXAMPLES / f"{rule.code}.bad.yaml").is_file()
    assert (EXAMPLES / f"{rule.code}.good.yaml").is_file()


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_bad_example_fails_at_the_marked_lines(rule) -> None:
    path = EXAMPLES / f"{rule.code}.bad.yaml"
    want = expected(path)
    assert rule.code in want, "the bad example marks where the finding is expected"
    findings = lint_file(path)
    assert by_code(findings) == want, [f.short() for f in findings]
    for f in findings:
        assert f.slug == find_rule(f.code).slug
        if f.code == rule.code and rule.check is not None:
            assert f.severity in (rule.severity, "error")


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_good_example_passes(rule) -> None:
    findings = lint_file(EXAMPLES / f"{rule.code}.good.yaml")
    assert [f.short() for f in findings if f.severity != "info"] == []
    assert rule.code not in {f.code for f in findings}


def test_explicit_locations() -> None:
    """Spot checks of line and column, independent of the markers."""
    def one(code: str):
        found = [f for f in lint_file(EXAMPLES / f"{code}.bad.yaml") if f.code == code]
        assert len(found) == 1
        return found[0]

    lines = (EXAMPLES / "SOP016.bad.yaml").read_text(encoding="utf-8").splitlines()
    f = one("SOP016")
    assert lines[f.line - 1][f.column - 1:].startswith("7:30")
    assert "450" in f.message and f.hint == 'quote it: "7:30"'

    f = one("SOP203")
    line = (EXAMPLES / "SOP203.bad.yaml").read_text(encoding="utf-8").splitlines()[f.line - 1]
    assert "id: night" in line and line[f.column - 1:].startswith('"23:00"')
    assert f.severity == "error" and "dropped" in f.message

    f = one("SOP204")
    assert "'offer'" in f.message and "'knowledge'" in f.message
    f = one("SOP305")
    assert "did you mean 'pond'" in f.message
    f = one("SOP206")
    assert "5 posts" in f.message and "'lesson'" in f.message
    f = one("SOP402")
    assert "bytes on wecom" in f.message and "split into 2 posts" in f.message


# ----------------------------------------------------------------------------- rule details

BASE = (EXAMPLES / "SOP208.good.yaml").read_text(encoding="utf-8")
SHARE = "every_days: 2, text: 晒单领红包啦"


def codes_of(findings: list) -> set[str]:
    return {f.code for f in findings}


def test_base_example_is_clean(tmp_path: Path) -> None:
    assert lint_text(tmp_path, BASE) == []


def test_quiet_hours_defer_is_a_warning(tmp_path: Path) -> None:
    text = BASE.replace('at: "20:00", days: [wed]', 'at: "22:40", days: [wed]')
    [f] = [f for f in lint_text(tmp_path, text) if f.code in ("SOP203", "SOP215")]
    assert f.code == "SOP215" and f.severity == "warning" and "deferred to 07:00" in f.message


def test_quiet_hours_window_and_sequence_tail(tmp_path: Path) -> None:
    window = BASE.replace('at: "20:00", days: [wed]', 'at: "21:00-23:00", days: [wed]')
    assert "SOP215" in codes_of(lint_text(tmp_path, window))
    seq = BASE.replace('at: "20:00", days: [wed], text: "周三秒杀开始! {offer}"',
                       'at: "22:27", days: [wed], spacing: 2m, '
                       'sequence: [{text: 一}, {text: 二}, {text: 三}]')
    assert "SOP215" in codes_of(lint_text(tmp_path, seq))


def test_red_packets_on_spaced_weekdays_are_fine_but_adjacent_are_not(tmp_path: Path) -> None:
    spaced = BASE.replace(SHARE, "days: [mon, thu], text: 晒单领红包啦").replace(
        'text: "周三秒杀开始! {offer}"}', 'text: "周三秒杀开始! {offer}"}\n'
        '  - {id: share2, kind: red-packet, at: "15:00", days: [sat], text: 晒单}')
    assert "SOP208" not in codes_of(lint_text(tmp_path, spaced))
    adjacent = spaced.replace("days: [sat], text: 晒单}", "days: [tue], text: 晒单}")
    [f] = [f for f in lint_text(tmp_path, adjacent) if f.code == "SOP208"]
    assert "'share2'" in f.message


def test_weekly_only_does_not_go_quiet_but_a_finished_course_does(tmp_path: Path) -> None:
    start, end = BASE.index("timetable:\n"), BASE.index("content:\n")
    weekly = BASE[:start] + ('timetable:\n  - {id: sale, kind: flash-sale, at: "20:00", '
                             'days: [wed, sun], text: 秒杀}\n') + BASE[end:]
    assert "SOP209" not in codes_of(lint_text(tmp_path, weekly))
    course = BASE[:start] + ('timetable:\n  - {id: lesson, kind: course, at: "19:35", '
                             'course: [第1课, 第2课]}\n') + BASE[end:]
    [f] = [f for f in lint_text(tmp_path, course) if f.code == "SOP209"]
    assert "days 3-28" in f.message


def test_env_rule_is_skipped_without_an_environment(tmp_path: Path) -> None:
    text = (EXAMPLES / "SOP404.bad.yaml").read_text(encoding="utf-8")
    assert "SOP404" in codes_of(lint_text(tmp_path, text))
    assert "SOP404" not in codes_of(lint_text(tmp_path, text, env={}))
    assert "SOP404" not in codes_of(lint_text(tmp_path, text, env={**ENV, "MEIJI_ROBOT_KEY": "k"}))


def test_secret_urls(tmp_path: Path) -> None:
    chan = "  console: {type: console}"
    for url, bad in (("https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX", True),
                     ("https://discord.com/api/webhooks/123/abcdefghijklmnopqrstuvwxyz", True),
                     ("https://example.com/hook?access_token=abcdef123456", True),
                     ("${SLACK_WEBHOOK_URL}", False),
                     ("https://ops.example.com/sop/events", False)):
        text = BASE.replace(chan, f'{chan}\n  slack: {{type: slack, url: "{url}"}}')
        assert ("SOP403" in codes_of(lint_text(tmp_path, text, env={**ENV, "SLACK_WEBHOOK_URL": "x"}
                                               ))) is bad, url


def test_telegram_chat_id_may_live_on_the_groups(tmp_path: Path) -> None:
    text = BASE.replace("  console: {type: console}",
                        '  console: {type: console}\n  tg: {type: telegram, token: "${TG}"}')
    text = text.replace("channel: console", "channel: tg")
    env = {**ENV, "TG": "t"}
    [f] = [f for f in lint_text(tmp_path, text, env=env) if f.code == "SOP405"]
    assert "chat_id" in f.message
    text = text.replace("members: 186}", 'members: 186, chat_id: "-100111"}')
    text = text.replace("members: 95}", 'members: 95, chat_id: "-100222"}')
    assert "SOP405" not in codes_of(lint_text(tmp_path, text, env=env))


def test_final_stage_with_next_null_ends_the_funnel(tmp_path: Path) -> None:
    # core is not last: without `next: null` it would move on to `sales`, closing a loop
    text = BASE.replace("    - {id: sales, name: 二次转化群, entry: free}\n", "")
    text = text.replace("effort: 65}", "effort: 65}\n    - {id: sales, name: 二次转化群, "
                        "next: transit}")
    assert "SOP302" in codes_of(lint_text(tmp_path, text))
    text = text.replace("effort: 65}", "effort: 65, next: null}")
    assert codes_of(lint_text(tmp_path, text)) == set()


def test_feishu_cron_on_the_hour(tmp_path: Path) -> None:
    text = (EXAMPLES / "SOP211.good.yaml").read_text(encoding="utf-8").replace(
        'at: "20:02", days: [wed]', 'cron: "0 20 * * wed"')
    [f] = [f for f in lint_text(tmp_path, text) if f.code == "SOP211"]
    assert "20:00" in f.message


def test_moments_cap_follows_a_lower_configured_cap(tmp_path: Path) -> None:
    text = (EXAMPLES / "SOP207.good.yaml").read_text(encoding="utf-8")
    assert "SOP207" not in codes_of(lint_text(tmp_path, text))
    text = text.replace("quiet_hours:", "caps: {moments_per_day: 3}\nquiet_hours:")
    assert "SOP207" in codes_of(lint_text(tmp_path, text))


def test_inventory_file_findings_point_into_that_file(tmp_path: Path) -> None:
    good = (EXAMPLES / "SOP004.good.yaml").read_text(encoding="utf-8")
    inv = (EXAMPLES / "SOP004.inventory.yaml").read_text(encoding="utf-8")
    (tmp_path / "SOP004.inventory.yaml").write_text(inv.replace("members: 186", "members: 260"),
                                                    encoding="utf-8")
    [f] = lint_text(tmp_path, good)
    assert f.code == "SOP110" and f.path.endswith("SOP004.inventory.yaml")
    assert "members: 260" in inv.replace("members: 186", "members: 260").splitlines()[f.line - 1]


def test_course_ids_and_text_lessons(tmp_path: Path) -> None:
    text = BASE.replace("course: [lesson01, lesson02,", "course: [lesson01, lesson2,")
    [f] = [f for f in lint_text(tmp_path, text) if f.code == "SOP401"]
    assert "did you mean 'lesson02'" in f.message


def test_broken_braces_are_reported(tmp_path: Path) -> None:
    text = BASE.replace('text: "周三秒杀开始! {offer}"', 'text: "周三秒杀开始! {offer"')
    [f] = [f for f in lint_text(tmp_path, text) if f.code == "SOP103"]
    assert "never closed" in f.message and f.severity == "error"


def test_yaml11_values_in_a_bare_list_inventory(tmp_path: Path) -> None:
    good = (EXAMPLES / "SOP004.good.yaml").read_text(encoding="utf-8")
    (tmp_path / "SOP004.inventory.yaml").write_text(
        "- {id: g001, name: 美肌福利群001, stage: pond, opened: 2026-11-02, members: 186,\n"
        "   tags: [no]}\n- {id: g002, opened: 2026-11-09}\n", encoding="utf-8")
    [f] = lint_text(tmp_path, good)
    assert f.code == "SOP016" and f.path.endswith("SOP004.inventory.yaml")
    assert (f.line, f.column) == (2, 11) and "read as false" in f.message
