"""YAML to plain Python data, keeping where every key and value came from.

PyYAML only composes the node graph here (libyaml when present); turning nodes into
values is ours, so we decide what a scalar means and can refuse what is hostile:

* YAML 1.2 scalars, not 1.1: ``7:30`` stays the string "7:30" (1.1 reads 450),
  ``no``/``off``/``yes``/``on`` stay strings, and dates stay strings for the model to parse.
* Aliases are expanded with a node budget, so a billion-laughs file stops at once.
* Merge keys (``<<: *defaults``, ``<<: [*a, *b]``) are expanded, the mapping's own keys
  winning, then the earlier merged mapping; a merged value keeps the mark of the place it
  is written, so an error in shared defaults points there.
* What the operator typed is kept where a value would change: ``0520`` is read as a number
  but ``typed`` remembers "0520", so text fields get the text as written (loader).
* Nesting depth, file size, encoding, extra documents and tags are checked.
* No tag ever constructs an object: ``!!python/...`` and unknown tags are findings.
"""

from __future__ import annotations

import bisect
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
    # plain scalars read as a bool or a number that prints otherwise ("0520" -> 520.0)
    typed: dict[Path, str] = field(default_factory=dict)
    # (start, end, style) of string scalars holding a brace: templates, located to the column
    braced: dict[Path, tuple[Mark, Mark, str]] = field(default_factory=dict)

    def locate(self, path: Path, *, key: bool = False) -> Mark:
        """The mark of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            mark = (self.keys.get(p) if key else None) or self.values.get(p)
            if mark is not None:
                return mark
            p = p[:-1]
        return self.values.get((), Mark(1, 1))

    def locate_in(self, path: Path, value: str, start: int, end: int) -> Mark:
        """Where ``value[start:end]`` (part of the string scalar at ``path``) is written in
        the file: found in the scalar's source text, whatever its style (plain, quoted,
        block). Falls back to the scalar's own mark."""
        info = self.braced.get(tuple(path))
        if info is None:
            return self.locate(path)
        first, last, style = info
        starts = _line_starts(self.text)
        lo = starts[first.line - 1] + first.column - 1 if first.line <= len(starts) else 0
        hi = starts[last.line - 1] + last.column - 1 if last.line <= len(starts) else len(
            self.text)
        raw = self.text[lo:hi]
        piece = value[start:end]
        nth = value.count(piece, 0, start) if piece else 0
        for cand in (piece, piece.replace("'", "''")) if style == "'" else (piece,):
            pos = -1
            for _i in range(nth + 1):
                pos = raw.find(cand, pos + 1)
                if pos < 0:
                    break
            if pos >= 0:
                at = lo + pos
                line = bisect.bisect_right(starts, at)
                return Mark(line, at - starts[line - 1] + 1)
        return first


def _line_starts(text: str) -> list[int]:
    out = [0]
    i = text.find("\n")
    while i >= 0:
        out.append(i + 1)
        i = text.find("\n", i + 1)
    return out


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

    def _pairs(self, node: yaml.MappingNode, depth: int = 0
               ) -> tuple[list[tuple[yaml.Node, yaml.Node]], list[tuple[yaml.Node, yaml.Node]]]:
        """(own pairs, merged pairs) of a mapping; merged pairs come from ``<<`` values, the
        earlier merged mapping first, each already flattened (merges may nest)."""
        own, merged = [], []
        for key_node, value_node in node.value:
            if not (isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<"
                    and not key_node.style):
                own.append((key_node, value_node))
                continue
            sources = (value_node.value if isinstance(value_node, yaml.SequenceNode)
                       else [value_node])
            for src in sources:
                if not isinstance(src, yaml.MappingNode):
                    self.problems.append(("SOP001", self._mark(key_node), _(
                        "a merge key (<<) takes a mapping, e.g. <<: *defaults, or a list of "
                        "them: <<: [*a, *b]")))
                    continue
                if depth > MAX_DEPTH:
                    self.problems.append(("SOP001", self._mark(src), _too_deep()))
                    continue
                sub_own, sub_merged = self._pairs(src, depth + 1)
                merged += sub_own + sub_merged
        return own, merged

    def _mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[str, Mark] = {}
        own, merged = self._pairs(node)
        if merged:
            mine = {k.value for k, _v in own if isinstance(k, yaml.ScalarNode)}
            taken: set[str] = set()
            for key_node, value_node in merged:
                key = str(key_node.value)
                if key in mine or key in taken:  # the mapping's own key, or an earlier merge
                    continue
                taken.add(key)
                sub = (*path, key)
                self.smap.keys[sub] = self._mark(key_node)
                out[key] = self.build(value_node, sub, depth + 1)
        for key_node, value_node in own:
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
        if "{" in value or "}" in value:
            self.smap.braced[path] = (self._mark(node), Mark(node.end_mark.line + 1,
                                                             node.end_mark.column + 1),
                                      node.style or "")
        if node.style or node.tag == "!":  # libyaml says "" for plain, PyYAML None
            return value  # quoted or block: a string
        self.smap.plain.add(path)
        if value in _NULL:
            return None
        if value in _TRUE or value in _FALSE:
            self.smap.typed[path] = value
            return value in _TRUE
        if _INT.match(value):
            number: int | float = int(value)
        elif _FLOAT.match(value):
            number = float(value)
        elif value.lower() in _SPECIAL_FLOAT:
            number = _SPECIAL_FLOAT[value.lower()]
        else:
            if value in YAML11_BOOLS or SEXAGESIMAL.match(value):
                self.smap.yaml11[path] = value
            return value
        if str(number) != value:
            self.smap.typed[path] = value
        return number


def load_bytes(raw: bytes, path: str) -> tuple[Any, SourceMap]:
    return load_text(decode(raw, path), path)
