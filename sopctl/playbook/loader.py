"""Load a playbook from a file (or stdin) into the model, with every problem located.

The result always comes back: a ``Loaded`` holds the playbook when it validated and
the located findings either way, so `lint` can report and the other verbs can refuse
with the same messages.
"""

from __future__ import annotations

import gc
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError

from ..findings import Finding
from ..i18n import _
from ..i18n.thirdparty import os_reason
from .model import Playbook
from .source import LoadError, Mark, SourceMap, load_bytes

# Field names whose invalid values get their own, more specific code.
_FIELD_CODES = {"timezone": "SOP013", "cron": "SOP014", "at": "SOP015", "start": "SOP015",
                "end": "SOP015"}
_SLUGS = {"SOP001": "yaml-syntax", "SOP002": "not-a-mapping", "SOP003": "duplicate-key",
          "SOP010": "unknown-key", "SOP011": "missing-field", "SOP012": "invalid-value",
          "SOP013": "bad-timezone", "SOP014": "bad-cron", "SOP015": "bad-time",
          "SOP004": "inventory-file"}


@dataclass(slots=True)
class Loaded:
    path: str
    playbook: Playbook | None = None
    source: SourceMap | None = None
    groups_source: SourceMap | None = None  # a separate inventory file, when used
    groups_path: str | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.playbook is not None


def _finding(path: str, mark: Mark, code: str, message: str, severity: str = "error",
             hint: str | None = None) -> Finding:
    return Finding(path, mark.line, mark.column, code, severity, message,  # type: ignore[arg-type]
                   _SLUGS.get(code, ""), hint)


def read_source(path: str) -> tuple[bytes, str]:
    """The raw bytes of ``path`` ('-' is stdin) and the name to report it under."""
    if path == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    return FsPath(path).read_bytes(), path


def load_playbook(path: str, raw: bytes | None = None) -> Loaded:
    """Load and validate one playbook file. Never raises for bad content."""
    # A large inventory is a hundred thousand short-lived, acyclic objects; the cyclic
    # collector would walk them over and over (half the load time) for nothing.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _load_playbook(path, raw)
    finally:
        if enabled:
            gc.enable()


def _load_playbook(path: str, raw: bytes | None) -> Loaded:
    display = "<stdin>" if path == "-" else path
    result = Loaded(path=display)
    if raw is None:
        try:
            raw, display = read_source(path)
        except OSError as exc:
            result.findings.append(_finding(display, Mark(1, 1), "SOP001",
                                            _("cannot read file: {reason}").format(
                                                reason=os_reason(exc))))
            return result
    parsed = _parse(raw, display, result)
    if parsed is None:
        return result
    data, smap = parsed
    result.source = smap
    if not isinstance(data, dict):
        result.findings.append(_finding(display, Mark(1, 1), "SOP002",
                                        _("a playbook is a mapping of keys (name, timezone, ...)")))
        return result

    groups_data = data.get("groups")
    if isinstance(groups_data, str):
        inv = _load_inventory(display, groups_data, smap, result)
        if inv is None:
            return result
        data = {**data, "groups": inv}
    for m in (smap, result.groups_source):
        if m is not None and m.typed:
            _as_written(data, m.typed)

    try:
        result.playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        result.findings.extend(
            _validation_findings(exc, smap, Playbook, result, result.groups_source))
    result.findings.sort()
    return result


def _parse(raw: bytes, display: str, result: Loaded) -> tuple[Any, SourceMap] | None:
    """YAML to (data, source map); None when it is not usable, its problems recorded."""
    try:
        return load_bytes(raw, display)
    except LoadError as exc:
        result.findings.extend(_finding(display, m, c, msg) for c, m, msg in exc.problems)
        return None


def _load_inventory(display: str, ref: str, smap: SourceMap, result: Loaded) -> list | None:
    base = FsPath(display).parent if display != "<stdin>" else FsPath.cwd()
    inv_path = str(base / ref)
    try:
        raw = FsPath(inv_path).read_bytes()
    except OSError as exc:
        result.findings.append(_finding(display, smap.locate(("groups",)), "SOP004",
                                        _("cannot read inventory file '{file}': {reason}").format(
                                            file=ref, reason=os_reason(exc))))
        return None
    parsed = _parse(raw, inv_path, result)
    if parsed is None:
        return None
    inv_data, inv_map = parsed
    result.groups_source, result.groups_path = inv_map, inv_path
    if isinstance(inv_data, list):  # a bare list of groups is fine too
        inv_data = {"groups": inv_data}
        inv_map.values = {("groups", *k): v for k, v in inv_map.values.items()}
        inv_map.keys = {("groups", *k): v for k, v in inv_map.keys.items()}
        inv_map.typed = {("groups", *k): v for k, v in inv_map.typed.items()}
        inv_map.braced = {("groups", *k): v for k, v in inv_map.braced.items()}
    # Only the file's shape is checked here; the groups themselves are validated with
    # the playbook (one model build instead of two) and their errors located in this file.
    problems = []
    if not isinstance(inv_data, dict):
        problems.append(_finding(inv_path, Mark(1, 1), "SOP002",
                                 _("an inventory file is `groups:` followed by a list of groups")))
    else:
        for key in inv_data:
            if key != "groups":
                msg = (_("unknown key '{key}' in an inventory file; did you mean 'groups'?")
                       if str(key).lower().startswith("gr")
                       else _("unknown key '{key}' in an inventory file"))
                problems.append(_finding(inv_path, inv_map.locate((key,), key=True), "SOP010",
                                         msg.format(key=key),
                                         hint=_("an inventory file holds only `groups:`")))
        if "groups" not in inv_data:
            problems.append(_finding(inv_path, Mark(1, 1), "SOP011",
                                     _("missing required key 'groups' in the inventory file")))
        elif not isinstance(inv_data["groups"], list):
            problems.append(_finding(inv_path, inv_map.locate(("groups",)), "SOP012",
                                     _("groups: expected a list of groups")))
    if problems:
        result.findings.extend(problems)
        return None
    return list(inv_data["groups"])


def _validation_findings(exc: ValidationError, main_map: SourceMap, root: type[BaseModel],
                         result: Loaded, groups_map: SourceMap | None = None) -> list[Finding]:
    out: list[Finding] = []
    seen: set[tuple] = set()

    def map_for(raw_loc: tuple) -> SourceMap:  # groups may live in their own file
        return groups_map if groups_map is not None and raw_loc[:1] == ("groups",) else main_map

    errors = [(err, _source_loc(err["loc"], map_for(err["loc"])))
              for err in exc.errors(include_url=False)]
    for err, loc in errors:
        if len(loc) < len(err["loc"]) and any(
                len(other) > len(loc) and other[:len(loc)] == loc for _e, other in errors):
            continue  # a union member that failed shallowly; the deeper error says more
        kind = err["type"]
        field_name = next((p for p in reversed(loc) if isinstance(p, str)), "")
        smap = map_for(err["loc"])
        path = smap.path
        if kind == "extra_forbidden":
            mark = smap.locate(loc, key=True)
            import difflib  # only on this path: unknown keys are rare

            known = _fields_at(root, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
            hint = None if close or not known else _("known keys: {keys}").format(
                keys=", ".join(sorted(known)))
            msg = (_("unknown key '{key}'; did you mean '{close}'?") if close
                   else _("unknown key '{key}'")).format(key=loc[-1], close=close[:1] and close[0])
            f = _finding(path, mark, "SOP010", msg, hint=hint)
        elif kind == "missing":
            mark = smap.locate(loc[:-1], key=True) if len(loc) > 1 else Mark(1, 1)
            msg = (_("missing required key '{key}' in {where}") if len(loc) > 1
                   else _("missing required key '{key}' in the playbook"))
            f = _finding(path, mark, "SOP011", msg.format(key=loc[-1], where=_dotted(loc[:-1])))
        else:
            mark = smap.locate(loc)
            msg = _clean_message(err)
            code = _FIELD_CODES.get(field_name, "SOP012")
            where = _dotted(loc) or _("value")
            f = _finding(path, mark, code, f"{where}: {msg}")
        key = (f.path, f.line, f.column, f.code)
        if key not in seen:  # unions report one problem once per member type
            seen.add(key)
            out.append(f)
    return out


def _as_written(data: dict, typed: dict[tuple, str]) -> None:
    """Put back the text the operator typed where a text field got a number or a bool:
    ``coupon_code: 0520`` is "0520", not 520.0 (YAML reads it as a number first)."""
    for path, raw in typed.items():
        if not is_text_path(path):
            continue
        parent: Any = data
        for part in path[:-1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                parent = None
                break
        if isinstance(parent, dict) or (isinstance(parent, list)
                                        and isinstance(path[-1], int) and path[-1] < len(parent)):
            parent[path[-1]] = raw


def is_text_path(path: tuple) -> bool:
    """True when the playbook field at ``path`` holds text (``str``, or a model whose
    shorthand is text), so a number typed there is kept as typed."""
    return _is_text(_path_type(path))


def _members(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _members(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(tp) for m in _members(a) if m is not type(None)]
    return [tp]


def _path_type(path: tuple) -> Any:
    tp: Any = Playbook
    for part in path:
        nxt = None
        for m in _members(tp):
            origin = typing.get_origin(m)
            if isinstance(part, int) and origin is list:
                nxt = typing.get_args(m)[0]
            elif isinstance(part, str) and origin is dict:
                nxt = typing.get_args(m)[1]
            elif isinstance(part, str) and isinstance(m, type) and issubclass(m, BaseModel):
                fld = m.model_fields.get(part)
                nxt = fld.annotation if fld is not None else None
            if nxt is not None:
                break
        if nxt is None:
            return None
        tp = nxt
    return tp


def _is_text(tp: Any) -> bool:
    members = _members(tp) if tp is not None else []
    if members == [str]:
        return True
    only = members[0] if len(members) == 1 else None
    return isinstance(only, type) and issubclass(only, BaseModel) and (
        "_shorthand" in only.__pydantic_decorators__.model_validators)


def _clean_message(err: Any) -> str:
    from ..i18n.thirdparty import validation_message

    return validation_message(err)


def _source_loc(loc: tuple, smap: SourceMap) -> tuple:
    """Drop the parts of a pydantic location that name union members, not keys."""
    out: list = []
    for part in loc:
        candidate = (*out, part)
        if (candidate in smap.values or candidate in smap.keys
                or not isinstance(part, str) or not _looks_like_type(part)):
            out.append(part)
    return tuple(out)


def _looks_like_type(part: str) -> bool:
    return part in {"str", "int", "float", "bool", "list", "dict", "function-after"} or (
        "[" in part or part[:1].isupper())


def _dotted(loc: tuple) -> str:
    s = ""
    for p in loc:
        s += f"[{p}]" if isinstance(p, int) else (f".{p}" if s else str(p))
    return s


def _fields_at(root: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the model found at ``loc`` under ``root`` (for 'did you mean')."""
    tp: Any = root
    for part in loc:
        tp = _model_in(tp)
        if tp is None:
            return []
        if isinstance(part, int):
            continue
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fld = tp.model_fields.get(str(part))
            if fld is None:
                return []
            tp = fld.annotation
        else:  # a dict's value type
            tp = tp
    tp = _model_in(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _model_in(tp: Any) -> Any:
    """Unwrap Optional/Union/list/dict down to the model class they contain."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType, list, dict, typing.Annotated):
        for arg in reversed(typing.get_args(tp)):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
