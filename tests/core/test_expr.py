"""Block expressions (contract 1b) against Python's own integer arithmetic, and hostile
text refused with a message that says what and where, never run."""

from __future__ import annotations

import builtins
import operator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from designer.core.expr import (
    INT64_MAX,
    INT64_MIN,
    MAX_DEPTH,
    MAX_LENGTH,
    ExprError,
    evaluate,
    expressions,
    parse,
    resolve,
)

_PYTHON = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "//": operator.floordiv,
    "%": operator.mod,
}
NAMES = ("width", "stride", "depth", "k", "groups")
INT64 = st.integers(INT64_MIN, INT64_MAX)


@dataclass(frozen=True)
class Term:
    """An expression's text with what Python's integer arithmetic makes of it: its value,
    or the refusal expected first (evaluating left to right, as the interpreter does).
    `depth` is its nesting of operations; each one also adds a level of brackets."""

    text: str
    value: int | None
    refusal: str | None = None
    depth: int = 1

    @property
    def expected_refusal(self) -> str | None:
        """What parsing refuses before anything is computed, else what computing does."""
        if len(self.text) > MAX_LENGTH:
            return "characters long"
        if self.depth - 1 > MAX_DEPTH:
            return "nests brackets"
        if self.depth > MAX_DEPTH:
            return "nests operations"
        return self.refusal


def _leaf(params: dict[str, int]) -> st.SearchStrategy[Term]:
    edges = st.sampled_from([2**31, 2**32, 2**62, INT64_MAX])  # where products overflow
    number = st.integers(0, 9) | st.integers(0, INT64_MAX) | edges
    literal = number.map(lambda n: Term(str(n), n))
    name = st.sampled_from(sorted(params)).map(lambda n: Term(n, params[n]))
    return literal | name


def _binary(op: str, left: Term, right: Term) -> Term:
    text = f"({left.text}) {op} ({right.text})"
    depth = 1 + max(left.depth, right.depth)
    refusal = left.refusal or right.refusal
    if refusal:
        return Term(text, None, refusal, depth)
    a, b = left.value, right.value
    if op in ("//", "%") and b == 0:
        return Term(text, None, "divides by zero", depth)
    return _bounded(text, _PYTHON[op](a, b), depth)


def _negated(term: Term) -> Term:
    text = f"-({term.text})"
    if term.refusal:
        return Term(text, None, term.refusal, term.depth + 1)
    return _bounded(text, -term.value, term.depth + 1)


def _bounded(text: str, value: int, depth: int) -> Term:
    if INT64_MIN <= value <= INT64_MAX:
        return Term(text, value, depth=depth)
    return Term(text, None, "beyond int64", depth)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Term, dict[str, int]]:
    small = st.integers(-50, 50)  # small values meet zero divisors and exact divisions
    params = draw(st.dictionaries(st.sampled_from(NAMES), small | INT64, min_size=1))

    def extend(children: st.SearchStrategy[Term]) -> st.SearchStrategy[Term]:
        binary = st.builds(_binary, st.sampled_from(["+", "-", "*", "//", "%"]), children, children)
        return binary | children.map(_negated)

    term = draw(st.recursive(_leaf(params), extend, max_leaves=12))
    return term, params


@settings(max_examples=400, deadline=None)
@given(cases())
def test_random_expressions_compute_as_python_integers(case: tuple[Term, dict[str, int]]) -> None:
    term, params = case
    refusal = term.expected_refusal
    event(refusal or "a value")
    if refusal is None:
        assert evaluate(term.text, params) == term.value
    else:
        with pytest.raises(ExprError, match=refusal):
            evaluate(term.text, params)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(NAMES),
    st.one_of(INT64, st.booleans(), st.text(max_size=5), st.lists(st.integers(0, 9), max_size=3)),
)
def test_a_bare_name_passes_its_value_as_it_is(name: str, value: Any) -> None:
    assert evaluate(name, {name: value}) == value
    assert evaluate(f" ({name}) ", {name: value}) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("width * 4.0", "width * 4.0: 4.0 is not an integer"),
        ("__import__('os')", "__import__('os'): it is a call; an expression holds only integers"),
        ("__import__('os').system('true')", "is a call"),
        ("(lambda: 1)()", "(lambda: 1)(): it is a call"),
        ("width + (lambda: 1)()", "width + (lambda: 1)(): (lambda: 1)() is a call"),
        ("1e9", "1e9: 1e9 is not an integer"),
        ("'a'*9**9", "'a'*9**9: 'a' is a string, not an integer"),
        ("2**64", "2**64: ** is not allowed (only + - * // %)"),
        ("width + 2**64", "width + 2**64: in 2**64: ** is not allowed"),
        ("width / 2", "width / 2: / is not allowed (only + - * // %); // divides integers"),
        ("width < 3", "width < 3: it is a comparison"),
        ("width.real", "width.real: it is an attribute"),
        ("[width][0]", "[width][0]: it is a subscript"),
        ("width if 1 else 2", "it is a conditional"),
        ("+width", "+width: unary + is not allowed (only unary minus)"),
        ("~width", "~width: ~ is not allowed"),
        ("True", "True: True is not an integer"),
        ("width << 2", "width << 2: << is not allowed"),
        ("wdth * 2", "wdth * 2: wdth is not a param of this block (did you mean width?)"),
        ("width // 0", "width // 0: divides by zero"),
        ("width % (width - width)", "width % (width - width): divides by zero: width - width is 0"),
        ("9223372036854775808", "9223372036854775808 is beyond int64 (at most 2**63 − 1)"),
        ("9223372036854775807 + 1", "gives 9223372036854775808, beyond int64"),
        ("width * 4611686018427387904", "gives 295147905179352825856, beyond int64"),
        ("2 * (width * 4611686018427387904)", "in width * 4611686018427387904: gives"),
        ("(" * 40 + "1" + ")" * 40, f"nests brackets 40 deep; at most {MAX_DEPTH}"),
        ("-" * 40 + "1", f"nests operations more than {MAX_DEPTH} deep"),
        ("1 + " * 40 + "1", f"nests operations more than {MAX_DEPTH} deep"),
        ("1" * 501, "is 501 characters long; at most 500"),
        ("width +", "width +: is not an expression: invalid syntax"),
        ("width\n+ 1", "width\\n+ 1: must be one line"),
        ("", "'': is empty"),
    ],
)
def test_hostile_and_malformed_text_is_refused_with_what_and_where(text: str, message: str) -> None:
    ran: list[str] = []
    called: list[str] = []
    params = {"width": 64, "f": lambda: called.append("f")}
    with pytest.MonkeyPatch.context() as patch:
        for name in ("eval", "exec", "__import__"):
            patch.setattr(builtins, name, lambda *args, name=name, **kwargs: ran.append(name))
        try:
            evaluate(text, params)
        except ExprError as error:
            refused: ExprError | None = error
        else:
            refused = None
    assert ran == [] and called == []
    assert isinstance(refused, ValueError), f"{text!r} was not refused"
    assert message in str(refused), str(refused)


def test_a_param_holding_a_function_is_never_called() -> None:
    called: list[str] = []
    params = {"f": lambda: called.append("f") or 1, "width": 2}
    for text in ("f()", "width + f()", "f"):
        try:
            value = evaluate(text, params)
        except ExprError as error:
            assert "is a call" in str(error)
        else:
            assert value is params["f"]  # a bare name passes the value, uncalled
    assert called == []


def test_a_name_used_in_arithmetic_must_hold_an_integer() -> None:
    with pytest.raises(ExprError, match="width \\* 2: width is 'wide', not an integer"):
        evaluate("width * 2", {"width": "wide"})
    with pytest.raises(ExprError, match="width is true, not an integer"):
        evaluate("width + 1", {"width": True})
    with pytest.raises(ExprError, match=r"width is \[1, 2\], not an integer"):
        evaluate("-width", {"width": [1, 2]})


def test_values_resolve_inside_lists_and_keep_their_form() -> None:
    params = {"k": 3, "width": 16}
    assert resolve({"expr": "k // 2"}, params) == 1
    assert resolve([{"expr": "k"}, 1], params) == [3, 1]
    assert resolve(({"expr": "k"}, 5), params) == (3, 5)
    assert resolve("same", params) == "same"
    assert [e.names for e in expressions([{"expr": "k * width"}, 2])] == [{"k", "width"}]
    assert parse("width * 4 + k").names == {"width", "k"}


def test_an_expression_object_holds_one_string() -> None:
    with pytest.raises(ExprError, match="an expression is a string, got 4"):
        resolve({"expr": 4}, {})
    with pytest.raises(ExprError, match="holds only 'expr', not 'note'"):
        resolve({"expr": "1", "note": "x"}, {})
