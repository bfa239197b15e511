"""Just enough of a Python expression model to print code the way `ruff format` does.

Generated code must pass `ruff format --check` without ruff being installed, so the
few statement shapes the exporter writes (calls, lists, tuples, chains of + or *) are
laid out with ruff's (Black's) rules: one line if it fits in 88 columns; otherwise the
last bracket's contents on their own line; otherwise one element per line with a
trailing comma, each element split the same way if it is still too long.
"""

from __future__ import annotations

from dataclasses import dataclass

LINE_LENGTH = 88
INDENT = "    "


@dataclass(frozen=True)
class Code:
    """An atom: a name, a literal, an attribute path."""

    text: str

    def flat(self) -> str:
        return self.text


@dataclass(frozen=True)
class Keyword:
    name: str
    value: Expr

    def flat(self) -> str:
        return f"{self.name}={self.value.flat()}"


@dataclass(frozen=True)
class Bracketed:
    """A call `func(...)`, a list `[...]` or a parenthesised tuple `(...)`."""

    opener: str  # "f(", "[" or "("
    items: tuple[Expr | Keyword, ...]
    closer: str  # ")" or "]"

    def flat(self) -> str:
        inner = ", ".join(item.flat() for item in self.items)
        if self.opener == "(" and len(self.items) == 1:
            inner += ","
        return f"{self.opener}{inner}{self.closer}"


@dataclass(frozen=True)
class Chain:
    """Operands joined by one binary operator: a + b + c."""

    operator: str
    operands: tuple[Expr, ...]

    def flat(self) -> str:
        return f" {self.operator} ".join(o.flat() for o in self.operands)


Expr = Code | Bracketed | Chain


def call(func: str, *items: Expr | Keyword) -> Bracketed:
    return Bracketed(f"{func}(", items, ")")


def list_of(*items: Expr) -> Bracketed:
    return Bracketed("[", items, "]")


def statement(depth: int, prefix: str, expr: Expr | Keyword, suffix: str = "") -> list[str]:
    """`prefix + expr + suffix` at an indent of `depth` levels, split as ruff would."""
    indent = INDENT * depth
    line = f"{indent}{prefix}{expr.flat()}{suffix}"
    if len(line) <= LINE_LENGTH:
        return [line]
    if isinstance(expr, Keyword):
        return statement(depth, f"{prefix}{expr.name}=", expr.value, suffix)
    if isinstance(expr, Code):
        return [line]  # an atom cannot be split
    if isinstance(expr, Chain):
        return _split_chain(depth, prefix, expr, suffix)
    if prefix.endswith(" = ") and len(f"{indent}{prefix}{expr.opener}") > LINE_LENGTH:
        # a long assignment target (a, b, c = ...): ruff puts the value in parentheses
        inner = statement(depth + 1, "", expr)
        return [f"{indent}{prefix}(", *inner, f"{indent}){suffix}"]
    return _split_brackets(depth, prefix, expr, suffix)


def _split_brackets(depth: int, prefix: str, expr: Bracketed, suffix: str) -> list[str]:
    head = f"{INDENT * depth}{prefix}{expr.opener}"
    tail = f"{INDENT * depth}{expr.closer}{suffix}"
    body = ", ".join(item.flat() for item in expr.items)
    is_tuple = expr.opener == "("  # ruff never hugs a tuple's items on one line
    if not is_tuple and len(INDENT * (depth + 1) + body) <= LINE_LENGTH:
        return [head, INDENT * (depth + 1) + body, tail]
    lines = [head]
    for item in expr.items:
        lines += statement(depth + 1, "", item, ",")
    return [*lines, tail]


def _split_chain(depth: int, prefix: str, expr: Chain, suffix: str) -> list[str]:
    """Black wraps an over-long chain in parentheses, then one operand per line."""
    head = f"{INDENT * depth}{prefix}("
    tail = f"{INDENT * depth}){suffix}"
    inner = INDENT * (depth + 1)
    if len(inner + expr.flat()) <= LINE_LENGTH:
        return [head, inner + expr.flat(), tail]
    first, *rest = expr.operands
    lines = [head, inner + first.flat()]
    lines += [f"{inner}{expr.operator} {operand.flat()}" for operand in rest]
    return [*lines, tail]


def literal(value: object) -> str:
    """A parameter value as Python source: ints, floats, bools, None, strings, tuples."""
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)
