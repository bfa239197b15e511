"""Declarations of layer parameters: their value forms, defaults and ranges.

A declaration is data, so the loader, the inspector's editors and the tests can all be
generated from it; `Param.check` is the one place that decides whether a value is
well-formed and turns it into its canonical Python form.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any


class ParamError(ValueError):
    """A parameter value that the layer refuses; the message names the parameter."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


class Kind(Enum):
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    CHOICE = "choice"
    INT_TUPLE = "int or list of ints"
    FLOAT_TUPLE = "number or list of numbers"
    PADDING = "int, list of ints, 'same' or 'valid'"
    SHAPE = "list of positive ints"
    TEXT = "text"  # a block's own param whose default is a string


PADDING_WORDS = ("same", "valid")


_SAME_AS_DEFAULT = object()


@dataclass(frozen=True)
class Param:
    """One constructor argument of a layer, named as in `torch.nn`.

    `required` arguments have no PyTorch default: a project file must give them, and
    `default` is only what the palette suggests for a new node. `length` is the tuple
    length a list must have (None: any). `nullable` admits None (PyTorch's "not set").
    `inferred` arguments follow from the input; a value written down is checked against it.
    `from_input` computes, from the input's shape, what PyTorch needs written where the
    design leaves the value out (in_channels; LayerNorm's normalized_shape). A list of a
    param with `holes` may hold null for an axis that keeps its size (adaptive pooling).
    """

    name: str
    kind: Kind
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    length: int | None = None
    nullable: bool = False
    required: bool = False
    inferred: bool = False
    exclusive_minimum: bool = False
    help: str = ""
    pytorch_default: Any = _SAME_AS_DEFAULT
    from_input: Callable[[tuple[int, ...]], Any] | None = None
    holes: bool = False

    @property
    def torch_default(self) -> Any:
        """PyTorch's own default, where ours differs (Softmax's dim: ours 1, torch's None)."""
        return self.default if self.pytorch_default is _SAME_AS_DEFAULT else self.pytorch_default

    def check(self, value: Any) -> Any:
        """Return `value` in canonical form (tuples as tuples) or raise ParamError."""
        if value is None:
            if self.nullable:
                return None
            raise ParamError(self.name, f"must be {self.describe()}, got null")
        if _beyond_int64(value):
            raise ParamError(
                self.name,
                f"{show_value(value)} is more than PyTorch can hold (at most 2**63 − 1)",
            )
        checker = _CHECKERS[self.kind]
        result = checker(self, value)
        if result is _INVALID:
            raise ParamError(self.name, f"must be {self.describe()}, got {show_value(value)}")
        return result

    def describe(self) -> str:
        """The accepted values, in words, for messages and tooltips."""
        if self.kind is Kind.BOOL:
            return "true or false"
        if self.kind is Kind.CHOICE:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind is Kind.SHAPE:
            return "a non-empty list of positive ints"
        if self.kind is Kind.TEXT:
            return "a string"
        scalar = self._scalar_words()
        if self.kind in (Kind.INT, Kind.FLOAT):
            return scalar
        plural = scalar.replace("an int", "ints").replace("a number", "numbers")
        plural = plural.replace("a positive int", "positive ints")
        plural = plural.replace("a non-negative int", "non-negative ints")
        plural = plural.replace("a positive number", "positive numbers")
        count = f"{self.length} " if self.length else ""
        text = f"{scalar} or a list of {count}{plural}"
        if self.holes:
            text += " (null for an axis that keeps its size)"
        if self.kind is Kind.PADDING:
            text += ", 'same' or 'valid'"
        return text

    def _scalar_words(self) -> str:
        integral = self.kind in (Kind.INT, Kind.INT_TUPLE, Kind.PADDING)
        noun = "int" if integral else "number"
        lo, hi = self.minimum, self.maximum
        if hi is None and lo == 1 and integral:
            return "a positive int"
        if hi is None and lo == 0 and integral:
            return "a non-negative int"
        if lo == 0 and self.exclusive_minimum:
            return f"a positive {noun}" + ("" if hi is None else f" at most {show_value(hi)}")
        article = "an" if integral else "a"
        if lo is not None and hi is not None:
            return f"{article} {noun} from {show_value(lo)} to {show_value(hi)}"
        if lo is not None:
            relation = ">" if self.exclusive_minimum else "≥"
            return f"{article} {noun} {relation} {show_value(lo)}"
        return f"{article} {noun}"

    def in_range(self, number: float) -> bool:
        if self.minimum is not None and (
            number < self.minimum or (self.exclusive_minimum and number == self.minimum)
        ):
            return False
        return self.maximum is None or number <= self.maximum


_INVALID = object()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


INT64_MAX = 2**63 - 1  # torch's sizes and counts are int64


def _beyond_int64(value: Any) -> bool:
    """An int, or a list holding one, that no torch size or argument can be."""
    if isinstance(value, (list, tuple)):
        return any(_beyond_int64(v) for v in value)
    return _is_int(value) and not -INT64_MAX - 1 <= value <= INT64_MAX


def _is_number(value: Any) -> bool:
    """An int, or a finite float (math.isfinite would overflow on an int no float holds)."""
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _check_int(param: Param, value: Any) -> Any:
    return value if _is_int(value) and param.in_range(value) else _INVALID


def _check_float(param: Param, value: Any) -> Any:
    return float(value) if _is_number(value) and param.in_range(value) else _INVALID


def _check_bool(param: Param, value: Any) -> Any:
    return value if isinstance(value, bool) else _INVALID


def _check_text(param: Param, value: Any) -> Any:
    return value if isinstance(value, str) else _INVALID


def _check_choice(param: Param, value: Any) -> Any:
    return value if isinstance(value, str) and value in param.choices else _INVALID


def _check_sequence(param: Param, value: Any, element_ok) -> Any:
    if element_ok(value):
        return value
    if not isinstance(value, (list, tuple)) or not value:
        return _INVALID
    if param.length is not None and len(value) != param.length:
        return _INVALID
    if not all(element_ok(v) for v in value):
        return _INVALID
    if param.length is not None and len(set(value)) == 1 and value[0] is not None:
        return value[0]  # [3, 3] is 3: one spelling, so a default is a default however written
    return tuple(value)


def _check_int_tuple(param: Param, value: Any) -> Any:
    if param.holes and isinstance(value, (list, tuple)):
        return _check_sequence(
            param, value, lambda v: v is None or (_is_int(v) and param.in_range(v))
        )
    return _check_sequence(param, value, lambda v: _is_int(v) and param.in_range(v))


def _check_float_tuple(param: Param, value: Any) -> Any:
    result = _check_sequence(param, value, lambda v: _is_number(v) and param.in_range(v))
    if result is _INVALID:
        return result
    return tuple(float(v) for v in result) if isinstance(result, tuple) else float(result)


def _check_padding(param: Param, value: Any) -> Any:
    if isinstance(value, str):
        return value if value in PADDING_WORDS else _INVALID
    return _check_int_tuple(param, value)


def _check_shape(param: Param, value: Any) -> Any:
    if _is_int(value) and value >= 1:
        return (value,)
    if isinstance(value, (list, tuple)) and value and all(_is_int(v) and v >= 1 for v in value):
        return tuple(value)
    return _INVALID


_CHECKERS = {
    Kind.INT: _check_int,
    Kind.FLOAT: _check_float,
    Kind.BOOL: _check_bool,
    Kind.CHOICE: _check_choice,
    Kind.INT_TUPLE: _check_int_tuple,
    Kind.FLOAT_TUPLE: _check_float_tuple,
    Kind.PADDING: _check_padding,
    Kind.SHAPE: _check_shape,
    Kind.TEXT: _check_text,
}


def show_value(value: Any) -> str:
    """A value as a user wrote it in JSON: lists in brackets, null, true/false, 10.0 not 10.

    Long lists are clipped, so a message stays one readable line.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        shown = [show_value(v) for v in value[:_LIST_LIMIT]]
        if len(value) > _LIST_LIMIT:
            shown.append(f"… {len(value)} values in all")
        return "[" + ", ".join(shown) + "]"
    if isinstance(value, str):
        return repr(value) if len(value) <= _TEXT_LIMIT else repr(value[:_TEXT_LIMIT]) + "…"
    if isinstance(value, dict):
        return "an object"
    text = str(value)
    if len(text) > _DIGITS_LIMIT and _is_int(value):
        return f"{text[:_DIGITS_LIMIT]}… ({len(text.lstrip('-'))} digits)"
    return text


_LIST_LIMIT = 8
_DIGITS_LIMIT = 24
_TEXT_LIMIT = 60


def expand(value: float | tuple, n: int) -> tuple:
    """An int or a tuple, as a tuple of n values (PyTorch's `_ntuple`)."""
    return value if isinstance(value, tuple) else (value,) * n


def clip_text(text: str, limit: int = 200) -> str:
    """User text inside a message, cut to one readable line."""
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"


# Characters that must not reach a terminal or a line-based file raw: C0 and C1 controls
# (line breaks, ESC, DEL…), the Unicode line and paragraph separators, and the bidirectional
# overrides and isolates that reorder what a reader sees.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _ESCAPES.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )


def printable(text: str) -> str:
    """`text` with every control character written as an escape (`\\n`, `\\x1b`,
    `\\u202e`), so that an id or a name printed on a line can neither break it nor reach the
    terminal as a command."""
    return _UNPRINTABLE.sub(_escape, text) if _UNPRINTABLE.search(text) else text


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """' (did you mean X?)' for near misses, case ignored (relu → ReLU); '' otherwise."""
    by_lower = {name.lower(): name for name in known}
    if word.lower() in by_lower:
        return f" (did you mean {by_lower[word.lower()]}?)"
    close = difflib.get_close_matches(word.lower(), by_lower, n=3)
    return f" (did you mean {', '.join(by_lower[c] for c in close)}?)" if close else ""
