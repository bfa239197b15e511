"""Numbers no float can hold never reach float arithmetic or str() unguarded: receptive
fields saturate, adaptive pooling counts an axis it keeps instead of walking it, and
messages and cells print any number they are given."""

from __future__ import annotations

import math

import pytest

from designer.core import memo, receptive
from designer.core.layers.pool import _reads
from designer.core.params import Kind, Param, _is_number, printable
from designer.core.receptive import Field, fmt


def test_an_int_beyond_any_float_is_a_number_not_an_overflow() -> None:
    assert _is_number(10**400) and _is_number(-(10**400))
    assert not _is_number(float("inf")) and not _is_number(True)
    param = Param("p", Kind.FLOAT, 0.5, minimum=0, maximum=1)
    assert not param.in_range(10**400)


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (5, "5"),
        (5.0, "5"),
        (-2.0, "-2"),
        (-0.0, "0"),
        (0.5, "0.5"),
        (1 / 3, "0.333333"),
        (2**62, "4611686018427387904"),
        (10**40, "1e+40"),
        (10**400, "inf"),
        (1e300, "1e+300"),
        (float("inf"), "inf"),
        (float("nan"), "nan"),
    ],
)
def test_fmt_writes_any_number(number: float, text: str) -> None:
    assert fmt(number) == text


def test_fmt_of_an_int_of_5000_digits_is_no_error() -> None:
    assert fmt(10**5000) == "inf" and fmt(-(10**5000)) == "-inf"


def test_a_jump_beyond_int64_is_carried_as_a_float_and_saturates() -> None:
    field = Field(1, 1, 0, 1)
    unit = receptive.window(Field(1, 1, 0, 0), 1, 2**62, 0)
    for _ in range(17):  # 2**1054: beyond the largest float
        field = memo._shifted(field, unit)
    assert field.jump == math.inf and field.size == 1 and field.centre == 0
    grown = memo._shifted(field, receptive.window(Field(1, 1, 0, 0), 3, 2, 1))
    assert grown.size == math.inf and grown.jump == math.inf


def test_a_jump_within_int64_stays_exact() -> None:
    field = Field(1, 1, 0, 1)
    unit = receptive.window(Field(1, 1, 0, 0), 3, 2**31, 1)
    field = memo._shifted(memo._shifted(field, unit), unit)
    assert field.jump == 2**62 and type(field.jump) is int
    assert receptive.bounded(2**63) == 2**63 and type(receptive.bounded(2**64)) is float


@pytest.mark.parametrize("size", range(1, 40))
@pytest.mark.parametrize("out", range(1, 12))
def test_adaptive_counts_agree_with_walking_every_window(size: int, out: int) -> None:
    walked = sum(math.ceil((i + 1) * size / out) - (i * size) // out for i in range(out))
    assert _reads(size, out) == walked
    widest = max(math.ceil((i + 1) * size / out) - (i * size) // out for i in range(out))
    field = receptive.adaptive(Field(1, 1, 0, size), size, out)
    assert field.size == widest
    assert field.centre == (math.ceil(size / out) - 1) / 2


def test_an_axis_adaptive_pooling_keeps_is_not_walked() -> None:
    assert _reads(2**62, 2**62) == 2**62
    assert receptive.adaptive(Field(1, 1, 0, 2**62), 2**62, 2**62).size == 1


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain", "plain"),
        ("in\nput", "in\\nput"),
        ("\x1b[2J", "\\x1b[2J"),
        ("a\rb\tc", "a\\rb\\tc"),
        ("\x7f\x9b", "\\x7f\\x9b"),
        ("left\u202eright\u2028", "left\\u202eright\\u2028"),
        ("ünïcode →", "ünïcode →"),
    ],
)
def test_printable_escapes_what_would_command_a_terminal(text: str, shown: str) -> None:
    assert printable(text) == shown
