"""Which playbook(s) a command works on when none is named."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from ..i18n import _


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
    """YAML files that look like playbooks (inventory files have no timezone)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.y*ml")
                  if p.suffix in (".yaml", ".yml") and "timezone:" in _head(p))


def _head(p: Path) -> str:
    try:
        return p.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return ""
