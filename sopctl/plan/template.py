"""The template language of every text sopctl sends: ``{name}``, a little padding, nothing else.

A template is literal text with placeholders:

* ``{name}`` — the value of a variable, exactly as the operator wrote it;
* ``{name:spec}`` — the same, padded: ``spec`` is ``[[fill]align][0][width]`` with align
  ``<`` (left), ``>`` (right) or ``^`` (centre), width 1-99; ``0`` pads with zeros after a
  sign (``{n:03}`` turns 7 into ``007``). Without an align, numbers go right, text left;
* ``{{`` and ``}}`` — a literal ``{`` and ``}``.

Nothing else is a placeholder. Attribute access (``{a.b}``), indexing (``{a[0]}``),
conversions (``{a!r}``), positional fields (``{}``, ``{0}``), other format specs and
unknown names are problems, and a text with a problem is never rendered: :func:`render`
raises :class:`TemplateError` instead. ``{{name}}`` around a name that is a variable reads
as a Jinja habit, not as a wish to send braces, so it is a problem too.

Values are never formatted by Python's ``format``: a string goes out as it is, an int as
its digits, a bool as ``true``/``false``; anything else (``None``, a dict, an object) is
refused, so no Python repr can reach a customer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache

from ..i18n import N_, _

_NAME = re.compile(r"[^\W\d]\w*")
_SPEC = re.compile(r"(?:(?P<fill>[^{}])?(?P<align>[<>^]))?(?P<zero>0)?(?P<width>[1-9][0-9]?)?")
_JINJA = re.compile(r"\{\{\s*([^\W\d]\w*)\s*\}\}")
_BRACES = re.compile(r"[{}]")
_HEAD = re.compile(r"[^.\[!:]*")

# Problem kinds -> (message, hint). Messages carry named placeholders; translated when shown.
_TEXTS: dict[str, tuple[str, str | None]] = {
    "unknown": (N_("unknown variable {{{name}}}"), N_("define it under `variables:`")),
    "unknown-close": (N_("unknown variable {{{name}}}; did you mean {{{close}}}?"), None),
    "unavailable": (N_("{{{name}}} is not available in {where}"),
                    N_("available here: {names}")),
    "attribute": (N_("{{{text}}} reaches into an attribute; templates only take {{name}}"),
                  N_("write {{{name}}}")),
    "index": (N_("{{{text}}} indexes a value; templates only take {{name}}"),
              N_("write {{{name}}}")),
    "conversion": (N_("{{{text}}} has a conversion (!r, !s, !a); templates only take {{name}}"),
                   N_("write {{{name}}}")),
    "spec": (N_("format '{spec}' in {{{text}}} is not supported"),
             N_("padding only: [[fill]align][0][width], e.g. {{n:03}} or {{name:>8}}")),
    "positional": (N_("{{{text}}} is not a variable name"),
                   N_("name the variable, e.g. {{group_name}}; write {{{{ and }}}} for "
                      "literal braces")),
    "open": (N_("'{{' is never closed"), N_("write {{{{ for a literal {{")),
    "close": (N_("'}}' has no opening '{{'"), N_("write }}}} for a literal }}")),
    "jinja": (N_("{{{{{name}}}}} sends the braces literally; sopctl templates use "
                 "single braces"), N_("write {{{name}}}")),
    "empty-value": (N_("{{{name}}} is empty here: the text would show a gap"),
                    N_("fill it in, or remove {{{name}}} from the text")),
    "value": (N_("{{{name}}} has no text value ({type})"), None),
}


@dataclass(frozen=True, slots=True)
class Field:
    """A placeholder: ``text[start:end]`` is ``{name...}``."""

    name: str
    start: int
    end: int
    fill: str = " "
    align: str = ""  # "" (numbers right, text left), "<", ">", "^"
    zero: bool = False
    width: int = 0


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with ``text[start:end]`` of a template."""

    kind: str
    start: int
    end: int
    args: tuple[tuple[str, str], ...] = ()

    @property
    def message(self) -> str:
        return _(_TEXTS[self.kind][0]).format(**dict(self.args))

    @property
    def hint(self) -> str | None:
        hint = _TEXTS[self.kind][1]
        return _(hint).format(**dict(self.args)) if hint else None


class TemplateError(ValueError):
    """A text that must not be rendered; ``problems`` says why (the first is the message)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(problems[0].message if problems else "template error")


@dataclass(frozen=True, slots=True)
class Template:
    text: str
    parts: tuple[str | Field, ...]  # literal text and fields, in order
    problems: tuple[Problem, ...]  # whatever the names in scope
    jinja: tuple[tuple[str, int, int], ...]  # (name, start, end) of {{name}}
    names: tuple[str, ...]  # the fields' names, each once, in order


def _problem(kind: str, start: int, end: int, **args: str) -> Problem:
    return Problem(kind, start, end, tuple(args.items()))


@lru_cache(maxsize=8192)
def parse(text: str) -> Template:
    """Split ``text`` into literals and fields; never raises (problems are recorded)."""
    parts: list[str | Field] = []
    problems: list[Problem] = []
    jinja: list[tuple[str, int, int]] = []
    buf: list[str] = []
    i, n = 0, len(text)
    while i < n:
        m = _BRACES.search(text, i)
        if m is None:
            buf.append(text[i:])
            break
        j = m.start()
        buf.append(text[i:j])
        if text[j] == "}":
            if text.startswith("}}", j):
                buf.append("}")
                i = j + 2
            else:
                problems.append(_problem("close", j, j + 1))
                buf.append("}")
                i = j + 1
            continue
        if text.startswith("{{", j):
            jm = _JINJA.match(text, j)
            if jm:
                jinja.append((jm.group(1), j, jm.end()))
            buf.append("{")
            i = j + 2
            continue
        close = text.find("}", j + 1)
        reopen = text.find("{", j + 1)
        if close == -1 or (reopen != -1 and reopen < close):
            problems.append(_problem("open", j, j + 1))
            buf.append("{")
            i = j + 1
            continue
        body = text[j + 1:close]
        i = close + 1
        field, problem = _field(body, j, i)
        if problem is not None:
            problems.append(problem)
            buf.append(text[j:i])  # never rendered anyway; kept for the literal view
            continue
        if buf:
            parts.append("".join(buf))
            buf = []
        parts.append(field)  # type: ignore[arg-type]
    if buf:
        parts.append("".join(buf))
    kept = tuple(p for p in parts if type(p) is not str or p)
    names = tuple(dict.fromkeys(p.name for p in kept if type(p) is Field))
    return Template(text, kept, tuple(problems), tuple(jinja), names)


def _field(body: str, start: int, end: int) -> tuple[Field | None, Problem | None]:
    head = _HEAD.match(body).group(0)  # type: ignore[union-attr]
    rest = body[len(head):]
    name = head.strip()
    if not _NAME.fullmatch(head):
        return None, _problem("positional", start, end, text=body)
    if rest.startswith("."):
        return None, _problem("attribute", start, end, text=body, name=name)
    if rest.startswith("["):
        return None, _problem("index", start, end, text=body, name=name)
    if rest.startswith("!"):
        return None, _problem("conversion", start, end, text=body, name=name)
    if not rest:
        return Field(name, start, end), None
    spec = rest[1:]
    m = _SPEC.fullmatch(spec)
    if m is None or not spec:
        return None, _problem("spec", start, end, text=body, spec=spec)
    fill = m.group("fill") or ("0" if m.group("zero") else " ")
    return Field(name, start, end, fill, m.group("align") or "", bool(m.group("zero")),
                 int(m.group("width") or 0)), None


def problems(text: str, names: Collection[str], *, where: str = "",
             empty: Collection[str] = (), variables: bool = True) -> list[Problem]:
    """Every problem of ``text`` when ``names`` are the variables in scope.

    ``empty``: names in scope whose value is empty (a welcome part left out); using one is a
    problem. ``where`` names the text's kind for "not available in ..." messages;
    ``variables`` False: the playbook's variables do not apply there (a name pattern)."""
    t = parse(text)
    out = list(t.problems)
    for f in t.parts:
        if isinstance(f, Field):
            if f.name in empty:
                out.append(_problem("empty-value", f.start, f.end, name=f.name))
            elif f.name not in names:
                out.append(_unknown(f, names, where, variables))
    for name, start, end in t.jinja:
        if name in names:
            out.append(_problem("jinja", start, end, name=name))
    return sorted(out, key=lambda p: p.start)


def _unknown(f: Field, names: Collection[str], where: str, variables: bool = True) -> Problem:
    from .render import ALL_BUILTINS

    if where and (f.name in ALL_BUILTINS or not variables):
        shown = ", ".join("{" + n + "}" for n in sorted(names) if n in ALL_BUILTINS)
        return _problem("unavailable", f.start, f.end, name=f.name, where=where, names=shown)
    import difflib

    close = difflib.get_close_matches(f.name, list(names), n=1)
    if close:
        return _problem("unknown-close", f.start, f.end, name=f.name, close=close[0])
    return _problem("unknown", f.start, f.end, name=f.name)


def render(text: str, values: Mapping[str, object], *, empty: Collection[str] = ()) -> str:
    """``text`` with its fields filled from ``values``; raises TemplateError when any
    problem stands (an unknown name, a ``{a.b}``, ``{{name}}`` of a variable, ...)."""
    t = parse(text)
    if t.problems or empty or (t.jinja and any(name in values for name, _s, _e in t.jinja)):
        found = problems(text, values, empty=empty)
        if found:
            raise TemplateError(found)
    out = []
    for p in t.parts:
        if type(p) is str:
            out.append(p)
        elif p.name in values:  # type: ignore[union-attr]
            out.append(_format(p, values[p.name]))  # type: ignore[union-attr]
        else:
            raise TemplateError(problems(text, values))
    return "".join(out)


def _format(f: Field, value: object) -> str:
    if isinstance(value, str):
        s, number = value, False
    elif isinstance(value, bool):
        s, number = ("true" if value else "false"), False
    elif isinstance(value, int):
        s, number = str(value), True
    elif isinstance(value, float) and math.isfinite(value):
        s, number = (str(int(value)) if value.is_integer() else repr(value)), True
    else:
        kind = "none" if value is None else type(value).__name__
        raise TemplateError([_problem("value", f.start, f.end, name=f.name, type=kind)])
    if not f.width or len(s) >= f.width:
        return s
    pad = f.width - len(s)
    if f.zero and not f.align:
        sign = s[:1] if s[:1] in "+-" and len(s) > 1 else ""
        return sign + "0" * pad + s[len(sign):]
    align = f.align or (">" if number or _looks_numeric(s) else "<")
    if align == "<":
        return s + f.fill * pad
    if align == ">":
        return f.fill * pad + s
    left = pad // 2
    return f.fill * left + s + f.fill * (pad - left)


def _looks_numeric(s: str) -> bool:
    return bool(re.fullmatch(r"[-+]?[0-9]+(\.[0-9]+)?", s))


_SIMPLE = re.compile(r"\{([^\W\d]\w*)\}")


def simple_names(text: str) -> list[str] | None:
    """The names of ``text`` when it is only literals and bare ``{name}`` fields (the
    common case, checked without building a Template); None otherwise."""
    rest = _SIMPLE.sub("", text)
    if "{" in rest or "}" in rest:
        return None
    return _SIMPLE.findall(text)


def uses(text: str) -> tuple[str, ...]:
    """The variable names ``text`` uses, in order (well-formed fields only)."""
    return parse(text).names
