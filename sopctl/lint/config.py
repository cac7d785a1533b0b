"""Lint configuration: `[tool.sopctl]` in pyproject.toml or a `sopctl.toml`, searched upward.

    [tool.sopctl]
    select = ["SOP"]            # code prefixes to enable (default: all)
    ignore = ["SOP305"]
    strict = false
    [tool.sopctl.per-file-ignores]
    "examples/*.yaml" = ["SOP402"]
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from ..i18n import _


@dataclass
class LintConfig:
    select: list[str] = field(default_factory=lambda: ["SOP"])
    ignore: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    strict: bool = False
    source: str | None = None  # where it was read from
    root: Path = field(default_factory=Path.cwd)

    def enabled(self, code: str, path: str | None = None) -> bool:
        if not any(code.startswith(p) for p in self.select):
            return False
        if any(code.startswith(p) for p in self.ignore):
            return False
        if path is not None and self.per_file_ignores:
            try:
                rel = Path(path).resolve().relative_to(self.root).as_posix()
            except ValueError:
                rel = Path(path).as_posix()
            for pattern, codes in self.per_file_ignores.items():
                matched = fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(path, pattern)
                if matched and any(code.startswith(c) for c in codes):
                    return False
        return True


def _as_codes(value: object, name: str, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(_("{file}: `{name}` must be a list of rule codes").format(
            file=where, name=name))
    return [v.strip().upper() for v in value]


def find_config(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        for name in ("sopctl.toml", "pyproject.toml"):
            p = d / name
            if p.is_file() and (name == "sopctl.toml" or "[tool.sopctl" in p.read_text(
                    encoding="utf-8", errors="replace")):
                return p
    return None


def load_config(path: Path | None = None, start: Path | None = None) -> LintConfig:
    p = path or find_config(start)
    if p is None:
        return LintConfig()
    import tomllib  # only when there is a file: most runs have none

    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        from ..i18n.thirdparty import os_reason

        raise UsageError(_("{file}: cannot read configuration: {error}").format(
            file=p, error=os_reason(exc))) from None
    except tomllib.TOMLDecodeError as exc:
        import re

        at = re.search(r"at line (\d+), column (\d+)", str(exc))
        raise UsageError(_("{file}: not valid TOML at line {line}, column {column}").format(
            file=p, line=at.group(1), column=at.group(2)) if at else _(
            "{file}: cannot read configuration: {error}").format(file=p, error=exc)) from None
    section = data.get("tool", {}).get("sopctl", {}) if p.name == "pyproject.toml" else data
    cfg = LintConfig(source=str(p), root=p.parent.resolve())
    known = {"select", "ignore", "per-file-ignores", "strict", "extend-select"}
    for k in section:
        if k not in known:
            raise UsageError(_("{file}: unknown setting '{key}' (known: {known})").format(
                file=p, key=k, known=", ".join(sorted(known))))
    if "select" in section:
        cfg.select = _as_codes(section["select"], "select", str(p))
    if "extend-select" in section:
        cfg.select += _as_codes(section["extend-select"], "extend-select", str(p))
    if "ignore" in section:
        cfg.ignore = _as_codes(section["ignore"], "ignore", str(p))
    pfi = section.get("per-file-ignores", {})
    if not isinstance(pfi, dict):
        raise UsageError(_("{file}: `per-file-ignores` must be a table of pattern = "
                           "[codes]").format(file=p))
    cfg.per_file_ignores = {k: _as_codes(v, f"per-file-ignores.{k}", str(p))
                            for k, v in pfi.items()}
    cfg.strict = bool(section.get("strict", False))
    return cfg
