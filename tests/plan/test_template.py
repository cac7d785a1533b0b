"""The template language: {name}, padding, {{ }} — and nothing that reaches into Python."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopctl.plan.render import group_name, scope_names
from sopctl.plan.template import TemplateError, parse, problems, render

from ._pb import make


def kinds(text: str, names: set[str] | None = None, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    return [p.kind for p in problems(text, names or {"group_name", "n", "day"}, **kw)]


@pytest.mark.parametrize(("text", "values", "out"), [
    ("早上好 {group_name}", {"group_name": "美肌群001"}, "早上好 美肌群001"),
    ("{n:03}", {"n": 7}, "007"),
    ("{n:03}", {"n": -7}, "-07"),
    ("{n:3}", {"n": 7}, "  7"),  # numbers go right
    ("{s:4}|", {"s": "ab"}, "ab  |"),  # text goes left
    ("{s:>4}", {"s": "ab"}, "  ab"),
    ("{s:*^6}", {"s": "ab"}, "**ab**"),
    ("{s:06}", {"s": "0520"}, "000520"),
    ("{n:2}", {"n": 1234}, "1234"),  # never cut
    ("{{literal}} {{ spaced }} }}{{", {}, "{literal} { spaced } }{"),
    ("{flag}", {"flag": True}, "true"),
    ("{x}", {"x": 520.0}, "520"),
    ("{x}", {"x": 19.9}, "19.9"),
    ("{名字}好", {"名字": "小美"}, "小美好"),
    ("无变量", {}, "无变量"),
])
def test_renders(text: str, values: dict, out: str) -> None:
    assert render(text, values) == out


@pytest.mark.parametrize(("text", "kind"), [
    ("{group_name.__class__.__mro__}", "attribute"),
    ("{group_name.upper}", "attribute"),
    ("{group_name[0]}", "index"),
    ("{group_name!r}", "conversion"),
    ("{group_name!s:>3}", "conversion"),
    ("{}", "positional"),
    ("{0}", "positional"),
    ("{ group_name }", "positional"),
    ("{n:.2f}", "spec"),
    ("{n:x}", "spec"),
    ("{n:,}", "spec"),
    ("{n:{day}}", "open"),  # nested fields are not a thing
    ("{n:100}", "spec"),  # at most 99 wide
    ("a { b", "open"),
    ("a } b", "close"),
    ("{nope}", "unknown"),
    ("{{group_name}}", "jinja"),
    ("{{ group_name }}", "jinja"),
])
def test_problems(text: str, kind: str) -> None:
    assert kind in kinds(text)
    with pytest.raises(TemplateError):
        render(text, {"group_name": "g", "n": 1, "day": 2})


def test_problem_offsets_cover_the_placeholder() -> None:
    text = "早安 {group_name.__class__} 和 {x!r}"
    ps = problems(text, {"group_name", "x"})
    assert [text[p.start:p.end] for p in ps] == ["{group_name.__class__}", "{x!r}"]


def test_the_jinja_check_is_only_for_variables() -> None:
    assert kinds("{{限时}} {{ 满减 }}") == []
    assert render("{{限时}}", {"group_name": "g"}) == "{限时}"


def test_empty_parts_are_refused() -> None:
    assert kinds("禁止: {prohibited}", {"prohibited"}, empty=["prohibited"]) == ["empty-value"]
    with pytest.raises(TemplateError, match="empty"):
        render("禁止: {prohibited}", {"prohibited": ""}, empty=["prohibited"])


@pytest.mark.parametrize("value", [None, {"a": 1}, [1], object(), float("nan")])
def test_values_without_text_are_refused_never_repr(value: object) -> None:
    with pytest.raises(TemplateError, match="no text value"):
        render("{x}", {"x": value})


def test_a_value_is_never_rendered_again() -> None:
    assert render("{a}", {"a": "{b.__class__}", "b": "x"}) == "{b.__class__}"


def test_names_not_in_scope_say_where_they_are_available() -> None:
    pb = make([{"id": "m", "kind": "k", "at": "08:00", "text": "x"}], variables={"coupon": "1"})
    [p] = problems("{nickname}", scope_names(pb, "slot"), where="a timetable text")
    assert p.kind == "unavailable" and "{group_name}" in (p.hint or "")
    assert "coupon" in scope_names(pb, "reply") and "coupon" not in scope_names(
        pb, "name_pattern")


def test_group_name_pattern() -> None:
    assert group_name("美肌福利群{n:03}", 7) == "美肌福利群007"
    assert group_name("美肌福利群{num:03}", 7) == "美肌福利群7"  # lint: SOP103; never a traceback
    assert group_name("美肌{n.real}群", 7) == "美肌群7"


# ----------------------------------------------------------------------------- properties

TEXT = st.lists(st.sampled_from([*"ab {}:.![]0群", "{n}", "{a}", "{{", "}}", "!r", "{n:03}"]),
                max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_parse_never_raises_and_render_is_exact_or_refused(text: str) -> None:
    parse(text)
    try:
        out = render(text, {"n": 5, "a": "A"})
    except TemplateError as exc:
        assert exc.problems
        return
    # where the language renders, it agrees with Python's own reading of the same text
    assert out == text.format(n=5, a="A")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20).filter(lambda s: "{" not in s and "}" not in s))
def test_text_without_braces_is_itself(text: str) -> None:
    assert render(text, {}) == text and problems(text, set()) == []


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_the_fast_path_agrees_with_the_parser(text: str) -> None:
    from sopctl.plan.template import simple_names

    simple = simple_names(text)
    if simple is not None:
        t = parse(text)
        assert not t.problems and not t.jinja and tuple(dict.fromkeys(simple)) == t.names
