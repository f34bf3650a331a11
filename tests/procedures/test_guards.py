"""The guard language: parsing, precedence, literals, evaluation, errors and static types."""

from __future__ import annotations

import pytest

from proclab.errors import GuardSyntaxError, ProclabError
from proclab.procedures.guards import BoolOp, Compare, Lit, Not, Var, parse_guard, type_errors
from proclab.procedures.schema import ContextVar


def ev(text: str, **ctx: object) -> bool:
    return parse_guard(text).evaluate(ctx)


@pytest.mark.parametrize(
    ("text", "ctx", "expected"),
    [
        # `and` binds tighter than `or`: a or (b and c)
        ("a or b and c", {"a": True, "b": False, "c": False}, True),
        ("a or b and c", {"a": False, "b": True, "c": False}, False),
        ("(a or b) and c", {"a": True, "b": False, "c": False}, False),
        # `not` binds tighter than `and`: (not a) and b
        ("not a and b", {"a": False, "b": True}, True),
        ("not (a and b)", {"a": True, "b": False}, True),
        ("not not a", {"a": True}, True),
        # comparisons bind tighter than boolean operators
        ("x > 1 and x < 3", {"x": 2}, True),
        ("x > 1 and x < 3", {"x": 3}, False),
        ("not x == 1", {"x": 2}, True),
    ],
)
def test_precedence(text: str, ctx: dict[str, object], expected: bool) -> None:
    assert parse_guard(text).evaluate(ctx) is expected


def test_precedence_shapes_the_tree() -> None:
    root = parse_guard("a or b and not c").root
    assert isinstance(root, BoolOp) and root.op == "or"
    assert root.items[0] == Var("a", 0)
    inner = root.items[1]
    assert isinstance(inner, BoolOp) and inner.op == "and"
    assert isinstance(inner.items[1], Not)


@pytest.mark.parametrize(
    ("text", "ctx", "expected"),
    [
        ("x > -2", {"x": -1}, True),
        ("x > -2", {"x": -3}, False),
        ("x == -1.5", {"x": -1.5}, True),
        ("x >= - 2", {"x": -2}, True),
        ("x < .5", {"x": 0.25}, True),
        ("x <= 1e3", {"x": 1000}, True),
        ("x != 0", {"x": 0}, False),
        ("x == 2.0", {"x": 2}, True),
    ],
)
def test_numbers(text: str, ctx: dict[str, object], expected: bool) -> None:
    assert parse_guard(text).evaluate(ctx) is expected


def test_number_literal_types() -> None:
    lits = [parse_guard(t).root.right for t in ("x == 3", "x == 3.0", "x == -3")]  # type: ignore[union-attr]
    assert [type(lit.value) for lit in lits] == [int, float, int]
    assert lits[2].value == -3


def test_strings_both_quotes_and_escapes() -> None:
    assert ev("kind == 'acid'", kind="acid")
    assert ev('kind == "acid"', kind="acid")
    assert not ev("kind != 'acid'", kind="acid")
    assert ev(r"name == 'O\'Brien'", name="O'Brien")
    assert ev("label == 'a and b'", label="a and b")  # keywords inside strings stay text


def test_booleans_and_keywords_case_insensitive() -> None:
    assert ev("flag == TRUE", flag=True)
    assert ev("flag == False", flag=False)
    assert ev("a AND NOT b Or c", a=True, b=False, c=False)
    assert parse_guard("True").evaluate({}) is True


def test_bare_name_is_truthiness() -> None:
    guard = parse_guard("substance_flammable")
    assert guard.evaluate({"substance_flammable": True}) is True
    assert guard.evaluate({"substance_flammable": False}) is False


def test_names_lists_every_variable() -> None:
    guard = parse_guard("a and (b > 2 or not c) or 'd' == e")
    assert guard.names() == frozenset({"a", "b", "c", "e"})
    assert parse_guard("1 < 2").names() == frozenset()


def test_parse_is_cached() -> None:
    assert parse_guard("cache_me > 1") is parse_guard("cache_me > 1")


def test_short_circuit_skips_unread_names() -> None:
    # `or` stops at the first true item, so the missing name is never read
    assert ev("a or missing", a=True)


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("a ==", 5, "expected a value"),
        ("a = 1", 3, "unexpected character '='"),
        ("a && b", 3, "'&&'"),
        ("(a or b", 8, "expected ')'"),
        ("a < b < c", 7, "chained comparisons"),
        ("x == 'abc", 6, "unterminated string"),
        ("", 1, "empty guard"),
        ("x > - y", 7, "a number after '-'"),
        ("a b", 3, "expected `and`, `or`"),
        ("a and or b", 7, "expected a value"),
        ("x # 1", 3, "unexpected character '#'"),
    ],
)
def test_syntax_errors_point_at_the_column(text: str, column: int, fragment: str) -> None:
    with pytest.raises(GuardSyntaxError) as info:
        parse_guard(text)
    err = info.value
    assert f"column {column}:" in err.what
    assert fragment in err.what
    # the expression and a caret under the offending column
    assert err.what.splitlines()[1:] == [f"    {text}", "    " + " " * (column - 1) + "^"]
    assert err.column == column - 1  # type: ignore[attr-defined]


def test_foreign_operator_gets_a_fix() -> None:
    with pytest.raises(GuardSyntaxError) as info:
        parse_guard("a || b")
    assert info.value.fix == "write `or` instead of `||`"


def test_missing_name_at_evaluation_is_a_user_error() -> None:
    with pytest.raises(ProclabError, match="'volume'"):
        parse_guard("volume > 1").evaluate({})


def test_incomparable_values_are_a_user_error() -> None:
    with pytest.raises(ProclabError, match="cannot compare 'big' > 1"):
        parse_guard("size > 1").evaluate({"size": "big"})


def test_ast_nodes_carry_columns() -> None:
    root = parse_guard("x >= 10").root
    assert root == Compare(">=", Var("x", 0), Lit(10, 5), 2)


VARS = {
    "flag": ContextVar(type="bool", default=False),
    "n": ContextVar(type="int", default=0),
    "vol": ContextVar(type="float", default=0.5),
    "kind": ContextVar(type="str", default="acid", values=["acid", "base"]),
    "note": ContextVar(type="str", default=""),
}


@pytest.mark.parametrize(
    "text",
    [
        "flag",
        "not flag and n > 2",
        "vol >= 1.5 or kind == 'base'",
        "n == vol",  # int and float are both numbers
        "note == 'anything'",  # no `values`: any string
        "unknown_name > 3",  # unknown names are validate.py's business, not a type error
        "(n > 1) == flag",
    ],
)
def test_well_typed_guards(text: str) -> None:
    assert type_errors(parse_guard(text), VARS) == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("n", "the guard is a number, not a condition"),
        ("kind", "the guard is a string"),
        ("flag and n", "`and` needs true/false operands but `n` is a number"),
        ("not vol", "`not` needs true/false operands but `vol` is a number"),
        ("kind == 1", "`==` compares a string with a number"),
        ("flag != 'yes'", "`!=` compares a bool with a string"),
        ("kind > 'a'", "`>` orders numbers only"),
        ("flag < 1", "`<` orders numbers only"),
        ("kind == 'bse'", "'bse' is not a value of 'kind' (did you mean 'base'?)"),
        ("'acdi' == kind", "'acdi' is not a value of 'kind'"),
    ],
)
def test_type_errors(text: str, fragment: str) -> None:
    problems = type_errors(parse_guard(text), VARS)
    assert any(fragment in p for p in problems), problems
