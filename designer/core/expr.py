"""Integer expressions in block parameters (contract 1b): `{"expr": "width * 4"}`.

A block's layers take values computed from the block's params: integer literals, param
names, `+ - * // %` (floor division and modulo as Python's), unary minus and parentheses.
A bare param name passes that param's value as it is (an int, a bool, a string, a list).

A project file is data, so an expression is parsed by Python's `ast` and walked by the
small interpreter here over a whitelist of node types; Python never runs it. Its size is
bounded (length, nesting) and so is every value it computes: within int64, as every size
and count in the designer, so no expression can make the interpreter slow or its numbers
huge. Refusals are ExprErrors that quote the expression and the part refused.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from designer.core.params import INT64_MAX, clip_text, did_you_mean, printable, show_value

INT64_MIN = -INT64_MAX - 1
MAX_LENGTH = 500  # characters: a formula, never a program
MAX_DEPTH = 32  # nesting of operations, and of brackets
GRAMMAR = "integers, param names, + - * // %, unary minus and parentheses"

_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//", ast.Mod: "%"}
_REFUSED_OPERATORS = {
    ast.Pow: "**",
    ast.Div: "/",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
}
_REFUSED_UNARY = {ast.UAdd: "unary +", ast.Not: "not", ast.Invert: "~"}
_KINDS = {  # what a refused node is, in words
    ast.Call: "a call",
    ast.Attribute: "an attribute",
    ast.Subscript: "a subscript",
    ast.Compare: "a comparison",
    ast.BoolOp: "a boolean operation",
    ast.IfExp: "a conditional",
    ast.Lambda: "a lambda",
    ast.List: "a list",
    ast.Tuple: "a tuple",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.JoinedStr: "an f-string",
    ast.NamedExpr: "an assignment",
    ast.Starred: "a starred expression",
}


class ExprError(ValueError):
    """An expression refused: the message quotes it, then says what is wrong and where."""

    def __init__(self, text: str, message: str) -> None:
        super().__init__(f"{clip_text(printable(text), 80)}: {message}")
        self.text = text
        self.message = message


@dataclass(frozen=True)
class Expr:
    """A parsed, checked expression; `names` are the params it reads."""

    text: str
    names: frozenset[str]
    tree: ast.expr = field(repr=False, compare=False)

    def evaluate(self, params: Mapping[str, Any]) -> Any:
        """Its value for these params; an ExprError names an unknown param, a value that
        is not an integer where one is needed, a division by zero or a value beyond int64."""
        if isinstance(self.tree, ast.Name):
            return self._lookup(self.tree, params)
        return self._integer(self.tree, params)

    def _integer(self, node: ast.expr, params: Mapping[str, Any]) -> int:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            value = self._lookup(node, params)
            if type(value) is not int:
                raise ExprError(self.text, f"{node.id} is {show_value(value)}, not an integer")
            return value
        if isinstance(node, ast.UnaryOp):
            return self._bounded(node, -self._integer(node.operand, params))
        assert isinstance(node, ast.BinOp)  # parse lets nothing else through
        left = self._integer(node.left, params)
        right = self._integer(node.right, params)
        op = type(node.op)
        if op is ast.Add:
            return self._bounded(node, left + right)
        if op is ast.Sub:
            return self._bounded(node, left - right)
        if op is ast.Mult:
            return self._bounded(node, left * right)
        if right == 0:
            divisor = _segment(self.text, node.right)
            zero = "" if divisor == "0" else f": {divisor} is 0"
            raise ExprError(self.text, f"{_part(self.text, node)}divides by zero{zero}")
        if op is ast.FloorDiv:
            return self._bounded(node, left // right)
        return self._bounded(node, left % right)

    def _lookup(self, node: ast.Name, params: Mapping[str, Any]) -> Any:
        try:
            return params[node.id]
        except KeyError:
            known = ", ".join(params) if params else "none"
            hint = did_you_mean(node.id, params)
            raise ExprError(
                self.text, f"{node.id} is not a param of this block{hint} (its params: {known})"
            ) from None

    def _bounded(self, node: ast.expr, value: int) -> int:
        if not INT64_MIN <= value <= INT64_MAX:
            raise ExprError(
                self.text,
                f"{_part(self.text, node)}gives {show_value(value)}, beyond int64 "
                "(from −2**63 to 2**63 − 1)",
            )
        return value


def is_expr(value: Any) -> bool:
    """Whether a param value is an expression (`{"expr": ...}`) rather than a value."""
    return isinstance(value, dict) and "expr" in value


def holds_expr(value: Any) -> bool:
    """Whether a param value is, or holds in its list, an expression (`{"expr": …}`)."""
    if isinstance(value, list):
        return any(map(holds_expr, value))
    return is_expr(value)


def expressions(value: Any) -> list[Expr]:
    """The parsed expressions in a param value (itself, or its list's items)."""
    if isinstance(value, (list, tuple)):
        return [found for item in value for found in expressions(item)]
    return [parse(_text_of(value))] if is_expr(value) else []


def resolve(value: Any, params: Mapping[str, Any]) -> Any:
    """A param value with its expressions (itself, or a list's items) evaluated against
    `params`; values without one come back as they are."""
    if isinstance(value, (list, tuple)):
        resolved = [resolve(item, params) for item in value]
        return resolved if isinstance(value, list) else tuple(resolved)
    if is_expr(value):
        return parse(_text_of(value)).evaluate(params)
    return value


def evaluate(text: str, params: Mapping[str, Any]) -> Any:
    """The value of the expression `text` for these params."""
    return parse(text).evaluate(params)


def _text_of(value: dict[str, Any]) -> str:
    text = value["expr"]
    if not isinstance(text, str):
        raise ExprError(show_value(value), f"an expression is a string, got {show_value(text)}")
    if len(value) > 1:
        others = ", ".join(repr(key) for key in value if key != "expr")
        raise ExprError(text, f"an expression holds only 'expr', not {clip_text(others, 80)}")
    return text


@lru_cache(maxsize=4096)
def parse(text: str) -> Expr:
    """The expression `text`, checked against the grammar; an ExprError says what is refused."""
    if not isinstance(text, str):
        raise ExprError(show_value(text), "an expression is a string")
    code = text.strip()
    if not code:
        raise ExprError(repr(text), "is empty; write an integer expression such as width * 4")
    if len(code) > MAX_LENGTH:
        raise ExprError(code, f"is {len(code):,} characters long; at most {MAX_LENGTH}")
    if "\n" in code or "\r" in code:
        raise ExprError(code, "must be one line")
    brackets = _bracket_depth(code)
    if brackets > MAX_DEPTH:
        raise ExprError(code, f"nests brackets {brackets} deep; at most {MAX_DEPTH}")
    try:
        tree = ast.parse(code, mode="eval").body
    except SyntaxError as error:
        where = f" at column {error.offset}" if error.offset else ""
        raise ExprError(code, f"is not an expression: {error.msg}{where}") from None
    except (RecursionError, MemoryError):
        raise ExprError(code, "nests too deeply") from None
    return Expr(code, frozenset(_checked_names(code, tree)), tree)


def _checked_names(code: str, tree: ast.expr) -> set[str]:
    """The param names the tree reads, once every node is found in the grammar."""
    names: set[str] = set()
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExprError(code, f"nests operations more than {MAX_DEPTH} deep")
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Constant):
            _check_constant(code, node)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub):
                refused = _REFUSED_UNARY[type(node.op)]
                raise ExprError(code, f"{refused} is not allowed (only unary minus)")
            stack.append((node.operand, depth + 1))
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _OPERATORS:
                symbol = _REFUSED_OPERATORS[type(node.op)]
                hint = "; // divides integers" if symbol == "/" else ""
                raise ExprError(
                    code,
                    f"{_part(code, node)}{symbol} is not allowed (only + - * // %){hint}",
                )
            stack += [(node.right, depth + 1), (node.left, depth + 1)]
        else:
            kind = _KINDS.get(type(node), f"a {type(node).__name__}")
            part = _segment(code, node)
            subject = "it" if part == code else part
            raise ExprError(code, f"{subject} is {kind}; an expression holds only {GRAMMAR}")
    return names


def _check_constant(code: str, node: ast.Constant) -> None:
    value = node.value
    shown = _segment(code, node)
    if type(value) is int:
        if value > INT64_MAX:
            raise ExprError(code, f"{show_value(value)} is beyond int64 (at most 2**63 − 1)")
        return
    if isinstance(value, str):
        raise ExprError(code, f"{shown} is a string, not an integer")
    raise ExprError(code, f"{shown} is not an integer")


def _bracket_depth(code: str) -> int:
    deepest = depth = 0
    for char in code:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


def _part(code: str, node: ast.AST) -> str:
    """Where in the expression a refusal is: '' for the whole of it, else the part and ': '."""
    part = _segment(code, node)
    return "" if part == code else f"in {part}: "


def _segment(code: str, node: ast.AST) -> str:
    """The part of the expression a node was parsed from, clipped to stay readable."""
    return clip_text(ast.get_source_segment(code, node) or ast.unparse(node), 60)
