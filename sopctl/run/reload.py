"""Hot reload: notice an edited playbook, adopt it only if it loads and lints clean.

Polling is a stat() per file every few seconds (plus a hash read when the stat
changes): cheap, portable, and immune to editors that replace files by renaming.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..findings import Finding

if TYPE_CHECKING:
    from ..playbook.loader import Loaded
    from ..playbook.model import Playbook


@dataclass(slots=True)
class Checked:
    """A playbook as loaded and linted: usable when ``playbook`` is set."""

    path: str
    playbook: Playbook | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]


class _EveryVar(Mapping[str, str]):
    """An environment in which every variable is set: secrets are checked (exit 2) when
    the channels are built, not as lint findings (exit 1)."""

    def __getitem__(self, key: str) -> str:
        return "set"

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0


def check_playbook(path: str, env: Mapping[str, str] | None = None) -> Checked:
    """Load ``path`` and run the lint rules; errors make it unusable."""
    env = _EveryVar() if env is None else env
    from ..lint.config import LintConfig
    from ..lint.engine import lint_loaded
    from ..playbook.loader import load_playbook

    loaded = load_playbook(path)
    findings = lint_loaded(loaded, LintConfig(), env)
    ok = loaded.playbook is not None and not any(f.severity == "error" for f in findings)
    return Checked(path, loaded.playbook if ok else None, findings)


def run_refusals(loaded: Loaded) -> int:
    """How many lint errors make ``run`` refuse this loaded playbook (secrets are taken as
    set, as ``run`` checks them when it builds its channels)."""
    from ..lint.config import LintConfig
    from ..lint.engine import lint_loaded

    return sum(f.severity == "error" for f in lint_loaded(loaded, LintConfig(), _EveryVar()))


def _fingerprint(paths: list[str]) -> tuple:
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append((p, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((p, None, None))
    return tuple(out)


def _digest(paths: list[str]) -> str:
    h = hashlib.sha256()
    for p in paths:
        try:
            h.update(Path(p).read_bytes())
        except OSError:
            h.update(b"\0missing\0")
    return h.hexdigest()


class Watcher:
    """Watches one playbook (and its inventory file, if any) for changes."""

    def __init__(self, path: str, extra: list[str] | None = None):
        self.path = path
        self.paths = [path, *(extra or [])]
        self._stat = _fingerprint(self.paths)
        self._hash = _digest(self.paths)

    def set_extra(self, extra: list[str]) -> None:
        self.paths = [self.path, *extra]
        self._stat = _fingerprint(self.paths)
        self._hash = _digest(self.paths)

    def changed(self) -> bool:
        """True once per real content change (a touch without edits is ignored)."""
        st = _fingerprint(self.paths)
        if st == self._stat:
            return False
        self._stat = st
        digest = _digest(self.paths)
        if digest == self._hash:
            return False
        self._hash = digest
        return True


def inventory_paths(path: str, playbook: Playbook | None) -> list[str]:
    """The separate inventory file a playbook names (`groups: groups.yaml`), if any."""
    if playbook is None:
        return []
    try:
        from ..playbook.source import load_bytes

        data, _ = load_bytes(Path(path).read_bytes(), path)
    except Exception:  # the loader already reported it; nothing more to watch
        return []
    ref = data.get("groups") if isinstance(data, dict) else None
    return [str(Path(path).parent / ref)] if isinstance(ref, str) else []
