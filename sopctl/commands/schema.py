"""`sopctl schema`: the JSON Schema of a playbook, for editors and CI validators."""

from __future__ import annotations

from pathlib import Path

import typer

from ..i18n import _

SCHEMA_ID = "https://sopctl.dev/schema/playbook.schema.json"
SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"
# Models that also accept a bare string (a ``mode="before"`` shorthand), and what it means.
_SHORTHANDS = {"ContentItem": "the item's text", "Entry": "the entry kind"}


def playbook_schema() -> dict[str, object]:
    """The Playbook model's JSON Schema with the identifying keys editors expect first."""
    from ..playbook.model import Playbook

    body = Playbook.model_json_schema()
    defs = body.get("$defs", {})
    _allow_numbers_as_text(body, defs)
    for name, meaning in _SHORTHANDS.items():
        if name in defs:
            full = defs[name]
            defs[name] = {"anyOf": [{"type": "string", "description": f"Shorthand: {meaning}."},
                                    {k: v for k, v in full.items() if k != "title"}],
                          "title": full.get("title", name)}
    head: dict[str, object] = {"$schema": SCHEMA_DRAFT, "$id": SCHEMA_ID,
                               "title": "sopctl playbook"}
    return {**head, **{k: v for k, v in body.items() if k not in head}}


def _allow_numbers_as_text(body: dict, defs: dict) -> None:
    """The model reads a number where text is expected (``keywords: [9.9]``), so the schema
    does too; fields whose validators look at the raw value (``at: 450``) stay strict."""
    from ..playbook import model

    def widen(node: object) -> None:
        if isinstance(node, list):
            for item in node:
                widen(item)
        elif isinstance(node, dict):
            if node.get("type") == "string" and not node.keys() & {
                    "enum", "const", "format", "pattern"}:
                node["type"] = ["string", "number"]
            for key in ("anyOf", "items", "additionalProperties", "prefixItems"):
                widen(node.get(key))

    for name, schema_def in [("Playbook", body), *defs.items()]:
        cls = getattr(model, name, None)
        decorators = getattr(cls, "__pydantic_decorators__", None)
        raw = {f for d in (decorators.field_validators.values() if decorators else ())
               if d.info.mode in ("before", "plain", "wrap") for f in d.info.fields}
        for field, prop in schema_def.get("properties", {}).items():
            if field not in raw:
                widen(prop)


def schema_text() -> str:
    import json

    return json.dumps(playbook_schema(), ensure_ascii=False, indent=2) + "\n"


def schema(
    output: Path = typer.Option(None, "--output", "-o",
                                help="Write the schema to this file instead of stdout."),
) -> None:
    """Print the JSON Schema of a playbook (docs/playbook.schema.json is this output)."""
    text = schema_text()
    if output is None:
        typer.echo(text, nl=False)
        return
    from ..errors import UsageError

    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        from ..i18n.thirdparty import os_reason

        raise UsageError(_("{path}: cannot write: {why}").format(
            path=output, why=os_reason(exc))) from None
    typer.echo(_("wrote {path}").format(path=output), err=True)
