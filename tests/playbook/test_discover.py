"""Which playbook a command uses when none is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from sopctl.errors import UsageError
from sopctl.playbook.discover import default_targets, find_playbook

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
