"""Which playbook(s) a command works on when none is named."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from ..errors import UsageError
from ..i18n import _

DocumentKind = Literal["playbook", "inventory", "other"]
# A line at column 0 that is neither blank, a comment, nor a YAML directive or marker:
# a top-level key or a top-level sequence item.
_TOP_LEVEL = re.compile(r"^(?![\s#%]|---|\.\.\.)([^\n]*)$", re.M)


def default_targets(cwd: Path | None = None) -> list[str]:
    """For lint: ``playbooks/`` if present, else the YAML playbooks in this directory."""
    here = cwd or Path.cwd()
    if (here / "playbooks").is_dir():
        return [str(here / "playbooks")]
    found = find_playbook(here, required=False)
    if found is None:
        raise UsageError(_("no playbook given and none found here"),
                         hint=_("name one: `sopctl lint playbook.yaml`, or `sopctl init`"))
    return [found]


def find_playbook(cwd: Path | None = None, *, required: bool = True) -> str | None:
    """For simulate/run: `sopctl.yaml`/`playbook.yaml` here, or the only playbook here."""
    here = cwd or Path.cwd()
    for name in ("sopctl.yaml", "playbook.yaml", "playbook.yml"):
        if (here / name).is_file():
            return str(here / name)
    candidates = _playbooks_in(here)
    if len(candidates) == 1:
        return str(candidates[0])
    if not required:
        return None
    if not candidates:
        nearby = _playbooks_in(here / "playbooks")
        hint = (_("name one, e.g. playbooks/{first} (playbooks/ has {files}), or create one "
                  "with `sopctl init`").format(first=nearby[0].name,
                                               files=", ".join(p.name for p in nearby))
                if nearby else _("name one, or create one with `sopctl init`"))
        raise UsageError(_("no playbook given and none found in this directory"), hint=hint)
    raise UsageError(_("several playbooks here ({files}); name the one to use").format(
        files=", ".join(p.name for p in candidates)))


def _playbooks_in(folder: Path) -> list[Path]:
    """YAML files that look like playbooks."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.y*ml")
                  if p.suffix in (".yaml", ".yml") and document_kind(p) == "playbook")


def document_kind(path: Path) -> DocumentKind:
    """What a YAML file is, from its top-level keys, without parsing it (directory scans
    must stay cheap): an ``inventory`` is a list of groups or a mapping holding only
    ``groups``; a ``playbook`` has a ``timezone`` (required in every playbook); anything
    else is ``other`` (a broken playbook, or not sopctl's at all). An unreadable file is
    ``other``: reading it again reports why."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "other"
    keys: set[str] = set()
    for m in _TOP_LEVEL.finditer(text.lstrip("\ufeff")):
        line = m.group(1)
        if line[:1] == "-" and line[1:2] in ("", " ", "\t"):
            return "inventory" if not keys else "other"
        key, colon, _rest = line.partition(":")
        if not colon:
            continue  # the continuation of a multi-line scalar
        key = key.strip().strip("'\"")
        if key == "timezone":
            return "playbook"
        keys.add(key)
    return "inventory" if keys == {"groups"} else "other"


def is_inventory(path: Path) -> bool:
    """Inventory files are checked through the playbook that names them."""
    return document_kind(path) == "inventory"
