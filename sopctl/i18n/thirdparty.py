"""Messages that come from libraries, in the operator's language: pydantic's validation
errors (by error type, with their context values) and libyaml's syntax errors.

English output keeps the library's own wording; other languages use these catalogue
entries, and a message no entry covers stays as the library wrote it.
"""

from __future__ import annotations

import errno
import re
from typing import Any

from . import N_, _, current

# pydantic error type -> message; placeholders are the error's ``ctx`` values.
_PYDANTIC = {
    "int_type": N_("expected a whole number"),
    "int_parsing": N_("expected a whole number"),
    "int_from_float": N_("expected a whole number, not a fraction"),
    "float_type": N_("expected a number"),
    "float_parsing": N_("expected a number"),
    "string_type": N_("expected text"),
    "bool_type": N_("expected true or false"),
    "bool_parsing": N_("expected true or false"),
    "list_type": N_("expected a list"),
    "tuple_type": N_("expected a list"),
    "set_type": N_("expected a list"),
    "dict_type": N_("expected a mapping (key: value)"),
    "model_type": N_("expected a mapping (key: value)"),
    "model_attributes_type": N_("expected a mapping (key: value)"),
    "greater_than_equal": N_("must be at least {ge}"),
    "greater_than": N_("must be greater than {gt}"),
    "less_than_equal": N_("must be at most {le}"),
    "less_than": N_("must be less than {lt}"),
    "too_short": N_("needs at least {min_length} items, has {actual_length}"),
    "too_long": N_("takes at most {max_length} items, has {actual_length}"),
    "string_too_short": N_("needs at least {min_length} characters"),
    "string_too_long": N_("takes at most {max_length} characters"),
    "string_pattern_mismatch": N_("does not match the pattern {pattern}"),
    "date_type": N_("expected a date like 2026-12-02"),
    "date_parsing": N_("expected a date like 2026-12-02 ({error})"),
    "date_from_datetime_parsing": N_("expected a date like 2026-12-02 ({error})"),
    "date_from_datetime_inexact": N_("expected a date without a time of day"),
    "datetime_type": N_("expected a date and time like 2026-12-02T07:30"),
    "datetime_parsing": N_("expected a date and time like 2026-12-02T07:30 ({error})"),
    "datetime_from_date_parsing": N_("expected a date and time like 2026-12-02T07:30 ({error})"),
    "time_type": N_("expected a time of day like 07:30"),
    "time_parsing": N_("expected a time of day like 07:30 ({error})"),
    "none_required": N_("expected no value (null)"),
    "url_parsing": N_("expected a URL ({error})"),
    "url_type": N_("expected a URL"),
    # the rarer ones: a playbook seldom meets them, but none may reach an operator in
    # English (tests/test_i18n.py walks pydantic's whole list)
    "multiple_of": N_("must be a multiple of {multiple_of}"),
    "finite_number": N_("expected a finite number"),
    "int_parsing_size": N_("the number is too large"),
    "iterable_type": N_("expected a list"),
    "iteration_error": N_("could not read the items ({error})"),
    "mapping_type": N_("expected a mapping (key: value)"),
    "dataclass_type": N_("expected a mapping (key: value)"),
    "dataclass_exact_type": N_("expected a mapping (key: value)"),
    "named_tuple_type": N_("expected a list or a mapping"),
    "frozen_dict_type": N_("expected a mapping (key: value)"),
    "ordered_dict_type": N_("expected a mapping (key: value)"),
    "counter_type": N_("expected a mapping (key: value)"),
    "invalid_key": N_("keys must be text"),
    "deque_type": N_("expected a list"),
    "frozen_set_type": N_("expected a list"),
    "set_item_not_hashable": N_("list items here must be plain values"),
    "string_unicode": N_("expected text in UTF-8"),
    "string_not_ascii": N_("expected only ASCII characters"),
    "bytes_type": N_("expected text"),
    "bytes_too_short": N_("needs at least {min_length} bytes"),
    "bytes_too_long": N_("takes at most {max_length} bytes"),
    "bytes_invalid_encoding": N_("expected valid {encoding}"),
    "date_past": N_("expected a date in the past"),
    "date_future": N_("expected a date in the future"),
    "datetime_past": N_("expected a time in the past"),
    "datetime_future": N_("expected a time in the future"),
    "datetime_object_invalid": N_("expected a date and time like 2026-12-02T07:30 ({error})"),
    "timezone_naive": N_("expected a time without a UTC offset"),
    "timezone_aware": N_("expected a time with a UTC offset, like +08:00"),
    "timezone_offset": N_("expected the UTC offset {tz_expected}, not {tz_actual}"),
    "time_delta_type": N_("expected a duration like 30m or 2h"),
    "time_delta_parsing": N_("expected a duration like 30m or 2h ({error})"),
    "union_tag_invalid": N_("'{tag}' is not one of: {expected_tags}"),
    "union_tag_not_found": N_("needs the key {discriminator} to tell what this is"),
    "url_syntax_violation": N_("expected a URL ({error})"),
    "url_too_long": N_("the URL takes at most {max_length} characters"),
    "url_scheme": N_("the URL must start with {expected_schemes}"),
    "uuid_type": N_("expected a UUID"),
    "uuid_parsing": N_("expected a UUID ({error})"),
    "uuid_version": N_("expected a version {expected_version} UUID"),
    "decimal_type": N_("expected a number"),
    "decimal_parsing": N_("expected a number"),
    "decimal_max_digits": N_("takes at most {max_digits} digits"),
    "decimal_max_places": N_("takes at most {decimal_places} decimal places"),
    "decimal_whole_digits": N_("takes at most {whole_digits} digits before the decimal point"),
    "fraction_type": N_("expected a number"),
    "fraction_parsing": N_("expected a number"),
    "complex_type": N_("expected a number"),
    "complex_str_parsing": N_("expected a number"),
    "json_invalid": N_("not valid JSON ({error})"),
    "json_type": N_("expected text"),
    "missing": N_("a required key is missing"),
    "extra_forbidden": N_("this key is not allowed here"),
    "frozen_field": N_("this value cannot be changed"),
    "frozen_instance": N_("this value cannot be changed"),
    "recursion_loop": N_("a value refers back to itself (YAML anchors in a loop)"),
    "recursion_depth_exceeded": N_("nested too deeply"),
}
# anything else pydantic may add later: said without its English words
_OTHER = N_("not an accepted value here (pydantic error type {type})")
_CHOICE = {"literal_error": N_("expected one of: {choices}"),
           "enum": N_("expected one of: {choices}")}
# the ``error`` detail pydantic passes for dates and times (speedate's words)
_DETAIL = {
    "input is too short": N_("too short"),
    "day value is outside expected range": N_("no such day in that month"),
    "month value is outside expected range": N_("no such month"),
    "invalid character in year": N_("invalid character in the year"),
    "invalid character in month": N_("invalid character in the month"),
    "invalid character in day": N_("invalid character in the day"),
    "invalid date separator, expected `-`": N_("separate year, month and day with -"),
    "unexpected extra characters at the end of the input": N_("extra characters at the end"),
    "invalid character in hour": N_("invalid character in the hour"),
    "invalid character in minute": N_("invalid character in the minute"),
    "hour value is outside expected range": N_("no such hour"),
    "minute value is outside expected range": N_("no such minute"),
}


def validation_message(err: Any) -> str:
    """One pydantic error (``ValidationError.errors()`` item) as the operator reads it."""
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):  # our validators' own text, already translated
            return msg[len(prefix):]
    kind = err["type"]
    if current() == "en":
        return msg.replace("Input should be", "expected") if kind in _CHOICE else msg
    ctx = dict(err.get("ctx") or {})
    if kind in _CHOICE:
        choices = re.findall(r"'((?:[^'\\]|\\.)*)'", str(ctx.get("expected", "")))
        listed = _(", ").join(f"'{c}'" for c in choices)
        return _(_CHOICE[kind]).format(choices=listed or ctx.get("expected", ""))
    template = _PYDANTIC.get(kind)
    if template is None:
        return _(_OTHER).format(type=kind)
    if "error" in ctx:
        detail = str(ctx["error"])
        known = next((k for k in _DETAIL if detail.startswith(k)), None)
        ctx["error"] = _(_DETAIL[known]) if known else detail
    try:
        return _(template).format(**ctx)
    except (KeyError, IndexError, ValueError):
        return _(_OTHER).format(type=kind)


# Python's ``re`` errors, by the start of their message
_REGEX = {
    "missing ), unterminated subpattern": N_("a ( is never closed"),
    "unbalanced parenthesis": N_("a ) has no matching ("),
    "unterminated character set": N_("a [ is never closed"),
    "nothing to repeat": N_("*, + or ? has nothing to repeat"),
    "multiple repeat": N_("two repeats in a row"),
    "bad escape": N_("unknown escape after \\"),
    "bad character range": N_("a character range runs backwards"),
    "unknown extension": N_("unknown (? group"),
    "look-behind requires fixed-width pattern": N_("a look-behind must have a fixed width"),
}


def regex_message(exc: re.error) -> str:
    """Why a regular expression does not compile, in the selected language."""
    if current() == "en":
        return str(exc)
    known = next((k for k in _REGEX if exc.msg.startswith(k)), None)
    problem = _(_REGEX[known]) if known else exc.msg
    if exc.pos is None:
        return problem
    return _("{problem} (at character {n})").format(problem=problem, n=exc.pos + 1)


_ERRNO = {
    errno.ENOENT: N_("no such file or directory"),
    errno.EACCES: N_("permission denied"),
    errno.EPERM: N_("permission denied"),
    errno.EISDIR: N_("it is a directory"),
    errno.ENOTDIR: N_("a part of the path is not a directory"),
    errno.ELOOP: N_("too many symbolic links"),
    errno.ENAMETOOLONG: N_("the file name is too long"),
}


def os_reason(exc: OSError) -> str:
    """Why a file could not be read, in the selected language (the C library's own text
    for the rarer errors)."""
    if exc.errno in _ERRNO and current() != "en":
        return _(_ERRNO[exc.errno])
    return str(exc.strerror or exc)


# SQLite's and PostgreSQL's reasons for not opening a database, by a phrase of their text;
# ``{name}`` is the quoted name the server gave
_DB = (
    ("unable to open database file", N_("cannot open the database file (does its directory "
                                        "exist, and may this user write there?)")),
    ("database is locked", N_("the database is locked by another process")),
    ("attempt to write a readonly database", N_("the database is read-only")),
    ("file is not a database", N_("the file is not a SQLite database")),
    ("disk i/o error", N_("disk I/O error")),
    ("database or disk is full", N_("the disk is full")),
    ("connection refused", N_("no database server answers there (connection refused)")),
    ("timeout expired", N_("the database server did not answer in time")),
    ("could not translate host name", N_("unknown host name")),
    ("name or service not known", N_("unknown host name")),
    ("password authentication failed", N_("the password was refused")),
    ("no password supplied", N_("the server asks for a password and none was given")),
)
_DB_NAMED = (
    (re.compile(r'role "([^"]*)" does not exist'), N_("there is no database user {name}")),
    (re.compile(r'database "([^"]*)" does not exist'), N_("there is no database {name}")),
)


def db_reason(exc: BaseException) -> str:
    """Why a database could not be used, in the selected language (the driver's first line
    when no entry covers it)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if current() == "en":
        return first
    low = text.lower()
    for rx, template in _DB_NAMED:
        if m := rx.search(text):
            return _(template).format(name=f'"{m.group(1)}"')
    known = next((t for phrase, t in _DB if phrase in low), None)
    return _(known) if known else first


# libyaml's problems and contexts (scanner.c, parser.c, the composer)
_YAML = {m: m for m in (
    N_("while scanning a simple key"), N_("could not find expected ':'"),
    N_("while scanning a block scalar"), N_("while scanning a quoted scalar"),
    N_("while scanning a plain scalar"), N_("while scanning an anchor"),
    N_("while scanning an alias"), N_("while scanning a tag"),
    N_("while scanning a directive"), N_("found unexpected end of stream"),
    N_("found character that cannot start any token"),
    N_("block sequence entries are not allowed in this context"),
    N_("mapping keys are not allowed in this context"),
    N_("mapping values are not allowed in this context"),
    N_("found a tab character that violates indentation"),
    N_("found a tab character where an indentation space is expected"),
    N_("found unknown escape character"),
    N_("did not find expected alphabetic or numeric character"),
    N_("did not find expected comment or line break"),
    N_("found unexpected document indicator"),
    N_("while parsing a block mapping"), N_("did not find expected key"),
    N_("while parsing a block collection"), N_("did not find expected '-' indicator"),
    N_("while parsing a flow sequence"), N_("did not find expected ',' or ']'"),
    N_("while parsing a flow mapping"), N_("did not find expected ',' or '}'"),
    N_("while parsing a block node"), N_("while parsing a flow node"),
    N_("while parsing a node"), N_("did not find expected node content"),
    N_("did not find expected <document start>"), N_("found undefined tag handle"),
    N_("found undefined alias"), N_("found duplicate anchor"),
    N_("control characters are not allowed"), N_("invalid leading UTF-8 octet"),
    N_("invalid trailing UTF-8 octet"),
    N_("while scanning for the next token"), N_("while parsing a quoted scalar"),
    N_("while parsing a block scalar"), N_("while parsing a tag"),
    N_("while scanning a %YAML directive"), N_("while scanning a %TAG directive"),
    N_("found unexpected ':'"), N_("found invalid Unicode character escape code"),
    N_("did not find expected hexdecimal number"),
    N_("did not find expected whitespace or line break"),
    N_("found an indentation indicator equal to 0"), N_("did not find expected tag URI"),
    N_("did not find expected '!'"), N_("found unknown directive name"),
    N_("found incompatible YAML document"), N_("found duplicate %YAML directive"),
    N_("found duplicate %TAG directive"), N_("found a tab character that violate indentation"),
    N_("did not find URI escaped octet"), N_("found extra characters after the alias"),
)}


def yaml_message(text: str) -> str:
    """A libyaml problem or context in the selected language."""
    text = text.strip()
    return _(_YAML[text]) if text in _YAML and current() != "en" else text
