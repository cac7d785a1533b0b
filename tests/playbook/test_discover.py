"""Which playbook a command uses when none is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from sopctl.errors import UsageError
from sopctl.playbook.discover import default_targets, document_kind, find_playbook, is_inventory

PB = "version: 1\nname: 测试\ntimezone: Asia/Shanghai\n"
INVENTORY = "groups:\n  - {id: g1, opened: 2026-11-01}\n"


def write(folder: Path, name: str, text: str = PB) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name


def test_the_conventional_name_wins_then_the_only_playbook(tmp_path):
    write(tmp_path, "a.yaml")
    write(tmp_path, "groups.yaml", INVENTORY)  # an inventory is not a playbook
    assert find_playbook(tmp_path) == str(tmp_path / "a.yaml")
    write(tmp_path, "playbook.yaml")
    assert find_playbook(tmp_path) == str(tmp_path / "playbook.yaml")


def test_several_playbooks_must_be_named(tmp_path):
    write(tmp_path, "a.yaml")
    write(tmp_path, "b.yml")
    with pytest.raises(UsageError, match=r"several playbooks here \(a.yaml, b.yml\)"):
        find_playbook(tmp_path)
    assert find_playbook(tmp_path, required=False) is None


def test_none_here_points_at_the_playbooks_folder(tmp_path):
    with pytest.raises(UsageError) as plain:
        find_playbook(tmp_path)
    assert plain.value.hint == "name one, or create one with `sopctl init`"
    write(tmp_path / "playbooks", "skincare.yaml")
    write(tmp_path / "playbooks", "fruit.yaml")
    write(tmp_path / "playbooks", "fruit-groups.yaml", INVENTORY)
    with pytest.raises(UsageError) as near:
        find_playbook(tmp_path)
    assert "playbooks/fruit.yaml" in near.value.hint
    assert "fruit.yaml, skincare.yaml)" in near.value.hint  # no inventory among them


def test_lint_takes_the_playbooks_folder_else_the_playbook_here(tmp_path):
    with pytest.raises(UsageError, match="none found here"):
        default_targets(tmp_path)
    write(tmp_path, "a.yaml")
    assert default_targets(tmp_path) == [str(tmp_path / "a.yaml")]
    write(tmp_path / "playbooks", "b.yaml")
    assert default_targets(tmp_path) == [str(tmp_path / "playbooks")]


@pytest.mark.parametrize(("text", "kind"), [
    (PB, "playbook"),
    (INVENTORY, "inventory"),
    ("\ufeff# 群清单\n\ngroups:  # 每天更新\n  - id: g1\n", "inventory"),
    ("- {id: g1, opened: 2026-11-01}\n- id: g2\n", "inventory"),
    # groups first, inline, pushing the timezone far down: still a playbook
    ("groups:\n" + "  - {id: g, opened: 2026-11-01}\n" * 500 + "timezone: Asia/Shanghai\n",
     "playbook"),
    ("'timezone': Asia/Shanghai\ngroups: []\n", "playbook"),
    # a playbook missing its timezone is not an inventory: lint must still report it
    ("version: 1\nname: 测试\ngroups:\n  - id: g1\n", "other"),
    ("welcome: |\n  timezone: not a key\ngroups: []\n", "other"),
    ("services:\n  web: {}\n", "other"),
    ("", "other"),
])
def test_document_kind(tmp_path, text, kind):
    assert document_kind(write(tmp_path, "x.yaml", text)) == kind
    assert is_inventory(tmp_path / "x.yaml") == (kind == "inventory")


def test_an_unreadable_file_is_other(tmp_path):
    assert document_kind(tmp_path / "missing.yaml") == "other"
    assert document_kind(tmp_path) == "other"  # a directory


def test_one_test_everywhere(tmp_path):
    """lint's directory scan and the playbook finder agree on what an inventory is."""
    from sopctl.lint.engine import expand_paths

    write(tmp_path, "a.yaml")
    write(tmp_path, "groups.yaml", "# 群清单\n" + INVENTORY)
    write(tmp_path, "broken.yaml", "version: 1\nname: 缺时区\n")
    assert expand_paths([str(tmp_path)]) == [str(tmp_path / "a.yaml"),
                                             str(tmp_path / "broken.yaml")]
    assert find_playbook(tmp_path) == str(tmp_path / "a.yaml")
