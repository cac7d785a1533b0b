"""YAML to plain Python data, keeping where every key and value came from.

PyYAML only composes the node graph here (libyaml when present); turning nodes into
values is ours, so we decide what a scalar means and can refuse what is hostile:

* YAML 1.2 scalars, not 1.1: ``7:30`` stays the string "7:30" (1.1 reads 450),
  ``no``/``off``/``yes``/``on`` stay strings, and dates stay strings for the model to parse.
* Aliases are expanded with a node budget, so a billion-laughs file stops at once.
* Nesting depth, file size, encoding, extra documents and tags are checked.
* No tag ever constructs an object: ``!!python/...`` and unknown tags are findings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import yaml
from yaml.constructor import BaseConstructor
from yaml.resolver import BaseResolver

from ..i18n import _

try:  # libyaml is ~10x faster at composing; it keeps line/column marks too.
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)


class _Loader(_Parser, BaseConstructor, BaseResolver):
    """Composes nodes without implicit typing: every plain scalar arrives tagged str
    and we resolve it ourselves (YAML 1.2 core schema)."""

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        BaseConstructor.__init__(self)
        BaseResolver.__init__(self)

    def resolve(self, kind: type, value: object, implicit: object) -> str:
        # No implicit typing here (``_scalar`` does it); skipping the resolver's
        # path machinery saves a call chain per node on large inventories.
        return _KIND_TAGS[kind]

MAX_BYTES = 4 * 1024 * 1024
MAX_NODES = 2_000_000
MAX_DEPTH = 64

Path = tuple[str | int, ...]

_STD = "tag:yaml.org,2002:"
_KIND_TAGS = {yaml.ScalarNode: _STD + "str", yaml.SequenceNode: _STD + "seq",
              yaml.MappingNode: _STD + "map"}
_ALLOWED_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null", "map", "seq")}
_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_SPECIAL_FLOAT = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf"),
                  ".nan": float("nan")}
_NULL = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
# YAML 1.1 would have read these as something else; the model warns where it matters.
SEXAGESIMAL = re.compile(r"[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$")
YAML11_BOOLS = {"yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
                "y", "Y", "n", "N"}


class Mark(NamedTuple):
    """A position; a named tuple because a large inventory makes a hundred thousand."""

    line: int  # 1-based
    column: int  # 1-based


@dataclass(slots=True)
class SourceMap:
    """Where each value (and each mapping key) of a loaded document stands."""

    path: str
    text: str = ""
    values: dict[Path, Mark] = field(default_factory=dict)
    keys: dict[Path, Mark] = field(default_factory=dict)
    plain: set[Path] = field(default_factory=set)  # unquoted scalars
    yaml11: dict[Path, str] = field(default_factory=dict)  # scalars YAML 1.1 reads otherwise

    def locate(self, path: Path, *, key: bool = False) -> Mark:
        """The mark of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            mark = (self.keys.get(p) if key else None) or self.values.get(p)
            if mark is not None:
                return mark
            p = p[:-1]
        return self.values.get((), Mark(1, 1))


class LoadError(Exception):
    """A document could not be read; carries located findings (code, mark, message)."""

    def __init__(self, problems: list[tuple[str, Mark, str]]):
        super().__init__(problems[0][2] if problems else "load error")
        self.problems = problems


def decode(raw: bytes, path: str) -> str:
    if len(raw) > MAX_BYTES:
        raise LoadError([("SOP001", Mark(1, 1),
                          _("file is {size} bytes, over the {limit} byte limit; split the "
                            "inventory into a separate groups file").format(
                                size=len(raw), limit=MAX_BYTES))])
    if b"\x00" in raw[:8192]:
        raise LoadError([("SOP001", Mark(1, 1), _("binary file, not YAML text"))])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        msg = _("not valid UTF-8; save the file as UTF-8 (GBK is not supported)")
        raise LoadError([("SOP001", Mark(line, col), msg)]) from None
    return text


def load_text(text: str, path: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain data and its source map."""
    smap = SourceMap(path=path, text=text)
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is exc.problem_mark and exc.context_mark is not None and _at_end(text, mark):
            mark = exc.context_mark  # "got end of file": point at what was left open
        where = Mark(mark.line + 1, mark.column + 1) if mark else Mark(1, 1)
        from ..i18n.thirdparty import yaml_message

        problem = (exc.problem or "invalid YAML").strip()
        msg = yaml_message(problem)
        if exc.context:
            msg = _("{context}: {problem}").format(context=yaml_message(exc.context),
                                                   problem=msg)
        if "\t" in problem or re.search(r"\btabs?\b", problem) or _char_at(text, where) == "\t":
            msg += _(" (indent with spaces, not tabs)")
        elif "mapping values are not allowed" in problem:
            msg += _(" (a value containing ': ' must be quoted, e.g. text: \"改为: 城市\")")
        raise LoadError([("SOP001", where, _("YAML syntax error: {problem}").format(
            problem=msg))]) from None
    except yaml.YAMLError as exc:
        raise LoadError([("SOP001", Mark(1, 1),
                          _("YAML error: {problem}").format(problem=exc))]) from None
    except RecursionError:
        raise LoadError([("SOP001", Mark(1, 1), _too_deep())]) from None
    if not nodes:
        raise LoadError([("SOP002", Mark(1, 1), _("empty document; a playbook is a mapping"))])
    if len(nodes) > 1:
        second = nodes[1].start_mark
        raise LoadError([("SOP001", Mark(second.line + 1, second.column + 1),
                          _("more than one YAML document; keep one playbook per file"))])
    problem = _check_shape(nodes[0])
    if problem:
        raise LoadError([problem])
    builder = _Builder(smap)
    data = builder.build(nodes[0], (), 0)
    if builder.problems:
        raise LoadError(builder.problems)
    return data, smap


def _too_deep() -> str:
    return _("nesting is too deep (over {limit} levels)").format(limit=MAX_DEPTH)


def _at_end(text: str, mark: yaml.Mark) -> bool:
    """Only blanks from ``mark`` (0-based line/column) to the end of ``text``."""
    lines = text.split("\n")
    if mark.line >= len(lines):
        return True
    return not (lines[mark.line][mark.column:].strip() or any(
        ln.strip() for ln in lines[mark.line + 1:]))


def _char_at(text: str, mark: Mark) -> str:
    line = text.split("\n", mark.line)[mark.line - 1] if mark.line <= text.count("\n") + 1 else ""
    return line[mark.column - 1: mark.column]


def _check_shape(root: yaml.Node) -> tuple[str, Mark, str] | None:
    """Refuse alias bombs and deep nesting before expanding anything.

    Sizes are memoised per node object, so this is linear in the *written* document
    even when aliases would expand it exponentially.
    """
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise _TooDeep(node)
        known = sizes.get(id(node))
        if known is not None:
            return known
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += size(child, depth + 1)
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k, depth + 1) + size(v, depth + 1)
        total = min(total, MAX_NODES + 1)
        sizes[id(node)] = total
        return total

    try:
        if size(root, 0) > MAX_NODES:
            return ("SOP001", Mark(root.start_mark.line + 1, root.start_mark.column + 1),
                    _("document expands to over {limit} nodes through aliases (an alias "
                      "bomb?); write the repeated parts out or drop the aliases").format(
                          limit=MAX_NODES))
    except _TooDeep as exc:
        m = exc.node.start_mark
        return ("SOP001", Mark(m.line + 1, m.column + 1),
                _("nesting is deeper than {limit} levels; flatten the document").format(
                    limit=MAX_DEPTH))
    return None


class _TooDeep(Exception):
    def __init__(self, node: yaml.Node):
        self.node = node


class _Builder:
    def __init__(self, smap: SourceMap):
        self.smap = smap
        self.budget = MAX_NODES
        self.problems: list[tuple[str, Mark, str]] = []

    @staticmethod
    def _mark(node: yaml.Node) -> Mark:
        return Mark(node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: yaml.Node, path: Path, depth: int) -> Any:
        self.budget -= 1
        if self.budget < 0:
            if self.budget == -1:
                self.problems.append(("SOP001", self._mark(node),
                                      _("document expands to too many nodes (alias bomb?); "
                                        "avoid nested aliases")))
            return None
        if depth > MAX_DEPTH:
            self.problems.append(("SOP001", self._mark(node), _too_deep()))
            self.budget = -2
            return None
        self.smap.values.setdefault(path, self._mark(node))
        tag = node.tag
        if tag not in _ALLOWED_TAGS and not (isinstance(node, yaml.ScalarNode) and tag == "!"):
            if tag.startswith(_STD + "python/") or "python" in tag:
                msg = _("tag {tag} would construct Python objects; sopctl never does: "
                        "remove it").format(tag=tag)
            else:
                msg = _("unsupported tag {tag}; remove it").format(tag=tag)
            self.problems.append(("SOP001", self._mark(node), msg))
            return None
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, (*path, i), depth + 1) for i, child in enumerate(node.value)]
        return self._mapping(node, path, depth)

    def _mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[str, Mark] = {}
        for key_node, value_node in node.value:
            if key_node.value == "<<" and not key_node.style:
                self.problems.append(("SOP001", self._mark(key_node),
                                      _("merge keys (<<) are not supported; write the keys "
                                        "out")))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(("SOP001", self._mark(key_node),
                                      _("mapping keys must be plain strings")))
                continue
            key = str(key_node.value)
            kmark = self._mark(key_node)
            if key in seen:
                first = seen[key]
                self.problems.append(("SOP003", kmark,
                                      _("duplicate key '{key}' (first defined at line "
                                        "{line}, column {column}); keep one").format(
                                            key=key, line=first.line, column=first.column)))
                self.problems.append(("SOP003", first,
                                      _("duplicate key '{key}' (defined again at line "
                                        "{line}, column {column})").format(
                                            key=key, line=kmark.line, column=kmark.column)))
                continue
            seen[key] = kmark
            sub = (*path, key)
            self.smap.keys[sub] = kmark
            out[key] = self.build(value_node, sub, depth + 1)
        return out

    def _scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        value: str = node.value
        if node.style or node.tag == "!":  # libyaml says "" for plain, PyYAML None
            return value  # quoted or block: a string
        self.smap.plain.add(path)
        if value in _NULL:
            return None
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        if _INT.match(value):
            return int(value)
        if _FLOAT.match(value):
            return float(value)
        if value.lower() in _SPECIAL_FLOAT:
            return _SPECIAL_FLOAT[value.lower()]
        if value in YAML11_BOOLS or SEXAGESIMAL.match(value):
            self.smap.yaml11[path] = value
        return value


def load_bytes(raw: bytes, path: str) -> tuple[Any, SourceMap]:
    return load_text(decode(raw, path), path)
