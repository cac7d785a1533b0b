"""`sopctl schema`: the committed docs/playbook.schema.json is its output, and every shipped
playbook (and every valid example) validates against it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from sopctl.commands.schema import playbook_schema
from sopctl.main import app
from sopctl.playbook.discover import is_inventory
from sopctl.playbook.loader import load_playbook
from sopctl.playbook.source import load_bytes

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "playbook.schema.json"
HEADER = "# yaml-language-server: $schema=../docs/playbook.schema.json"


# inventory files are checked through the playbook naming them
SHIPPED = [p for p in sorted((ROOT / "playbooks").glob("*.yaml")) if not is_inventory(p)]
EXAMPLES = [p for p in sorted((ROOT / "examples").glob("*.yaml")) if not is_inventory(p)]


def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(DOC.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def test_command_prints_the_committed_schema() -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    assert result.stdout == DOC.read_text(encoding="utf-8"), (
        "docs/playbook.schema.json is stale: run `sopctl schema -o docs/playbook.schema.json`")


def test_schema_identifies_itself() -> None:
    schema = playbook_schema()
    assert list(schema)[:3] == ["$schema", "$id", "title"]
    assert schema["additionalProperties"] is False
    assert {"name", "timezone", "positioning"} <= set(schema["required"])


def test_schema_output_file(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    result = CliRunner().invoke(app, ["schema", "-o", str(out)])
    assert result.exit_code == 0 and json.loads(out.read_text(encoding="utf-8")) == (
        playbook_schema())


@pytest.mark.parametrize("path", SHIPPED + EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_valid_playbooks_validate(path: Path) -> None:
    loaded = load_playbook(str(path))
    assert loaded.ok, [f.short() for f in loaded.findings]
    # sopctl's own YAML reading (1.2 scalars, as editors do), not PyYAML's 1.1 one.
    data, _ = load_bytes(path.read_bytes(), str(path))
    if isinstance(data.get("groups"), str):
        data["groups"] = str(data["groups"])
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_playbooks_name_the_schema(path: Path) -> None:
    assert path.read_text(encoding="utf-8").splitlines()[0] == HEADER


def test_schema_rejects_what_the_model_rejects() -> None:
    validator = _validator()
    data, _ = load_bytes((ROOT / "examples" / "minimal.yaml").read_bytes(), "minimal.yaml")
    assert validator.is_valid(data)
    for broken in ({**data, "nme": "x"}, {k: v for k, v in data.items() if k != "timezone"},
                   {**data, "positioning": {**data["positioning"], "type": "cult"}},
                   {**data, "timetable": [{"id": "a", "kind": "k", "at": "07:30", "dayz": 1}]}):
        assert not validator.is_valid(broken)


def test_string_shorthands_validate() -> None:
    validator = _validator()
    data, _ = load_bytes((ROOT / "examples" / "minimal.yaml").read_bytes(), "minimal.yaml")
    data["content"] = {"tip": "早睡早起", "card": {"kind": "link", "url": "https://example.com"}}
    data["funnel"] = {"stages": [{"id": "pond", "entry": "free"}]}
    assert validator.is_valid(data)
