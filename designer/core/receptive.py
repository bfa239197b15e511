"""Receptive-field algebra (Araujo, Norris and Sim, Distill 2019), one spatial axis at a time.

A `Field` describes the units of a tensor along one spatial axis in the coordinates of the
network input: how many input pixels one unit sees (`size`), the distance between
neighbouring units (`jump`, the effective stride) and where unit 0 is centred (`centre`).
Layers map the field of their input to the field of their output with the functions below.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

Fields = tuple["Field", ...]

_TOLERANCE = 1e-9
# A jump (a product of strides, layer after layer) is an exact int while it stays within
# what torch can index; beyond, it is carried as a float, which saturates to inf instead of
# growing without bound (an int too large for a float crashes the float arithmetic of
# centres, and one of thousands of digits cannot even be printed).
JUMP_LIMIT = 2**63


def bounded(jump: float) -> float:
    """`jump`, as a float once it is larger than JUMP_LIMIT."""
    return jump if jump <= JUMP_LIMIT else float(jump)


class Field(NamedTuple):
    """One axis of a tensor's receptive field (a NamedTuple: analyses make thousands)."""

    size: float
    jump: float
    centre: float
    extent: int  # the network input's length along this axis, for "sees more than the input"

    @property
    def start(self) -> float:
        """Left edge of unit 0's field; negative where it reaches into the padding."""
        return self.centre - (self.size - 1) / 2


def input_fields(spatial: tuple[int, ...]) -> Fields:
    """Fields of a network input: every pixel sees itself."""
    return shared(tuple(Field(1, 1, 0, n) for n in spatial))


def shared(fields: Fields) -> Fields:
    """The same fields with equal axes as one object, so that later layers can compute a
    square image's field once for both axes (`memo.replay` compares each axis with the one
    before it by identity)."""
    kept: list[Field] = []
    for f in fields:
        kept.append(kept[-1] if kept and kept[-1] == f else f)
    return tuple(kept)


def window(f: Field, kernel: int, stride: float, pad_before: float) -> Field:
    """A sliding window of `kernel` taps (dilation already applied) moved by `stride`."""
    return Field(
        f.size + (kernel - 1) * f.jump,
        bounded(f.jump * stride),
        f.centre + ((kernel - 1) / 2 - pad_before) * f.jump,
        f.extent,
    )


def transposed_window(f: Field, kernel: int, stride: int, padding: int) -> Field:
    """A transposed convolution: each output unit gathers floor((kernel-1)/stride)+1 inputs."""
    return Field(
        f.size + ((kernel - 1) // stride) * f.jump,
        f.jump / stride,
        f.centre + (padding - (kernel - 1) / 2) / stride * f.jump,
        f.extent,
    )


def resample(f: Field, scale: float, taps: int) -> Field:
    """Up- or down-sampling by `scale`, each output interpolating `taps` neighbours."""
    return Field(
        f.size + (taps - 1) * f.jump,
        f.jump / scale,
        f.centre + (0.5 / scale - 0.5) * f.jump,
        f.extent,
    )


def adaptive(f: Field, length: int, out: int) -> Field:
    """Adaptive pooling: window i spans [floor(i·in/out), ceil((i+1)·in/out))."""
    if length % out == 0:  # windows of one width (an axis that keeps its size, say)
        widest = first = length // out
    else:  # out is bounded here (adaptive pooling's output_size is at most 65,536)
        widest = max(-(-(i + 1) * length // out) - (i * length) // out for i in range(out))
        first = -(-length // out)
    return Field(
        f.size + (widest - 1) * f.jump,
        f.jump * length / out,
        f.centre + (first - 1) / 2 * f.jump,
        f.extent,
    )


def merge(inputs: list[Fields]) -> tuple[Fields, bool]:
    """Fields where paths meet: the largest size per axis, and whether the paths align.

    Paths align when they agree on jump and centre; when they do not, units that are added
    or concatenated together look at different places of the input.
    """
    aligned = True
    merged = list(inputs[0])
    for other in inputs[1:]:
        for axis, b in enumerate(other):
            a = merged[axis]
            if a is b:
                continue
            if (a.jump != b.jump or a.centre != b.centre) and (
                abs(a.jump - b.jump) > _TOLERANCE or abs(a.centre - b.centre) > _TOLERANCE
            ):
                aligned = False
            if b.size > a.size:
                merged[axis] = b
    return tuple(merged), aligned


def merged_fields(
    inputs: Sequence[tuple], shape: tuple[int, ...]
) -> tuple[Fields | None, tuple[str, ...]]:
    """The fields of a merge's output of `shape` from its (shape, fields, …) inputs, and a
    warning where inputs of the output's full size do not align.

    Along an axis where an input has length 1 and the output more (a squeeze-and-
    excitation gate of C×1×1 times C×H×W), that input is broadcast: every output unit
    sees its one unit, so it widens the field to cover that unit's field from every
    output unit, but the units' spacing and centres are those of the inputs that run
    along the axis.
    """
    if len(shape) < 2:
        return None, ()
    with_fields = [x for x in inputs if x[1] is not None]
    if not with_fields:
        return None, ()
    spatial = shape[1:]
    full_size = [x[1] for x in with_fields if x[0][1:] == spatial]
    if any(_broadcast(x[0][1:], spatial) for x in with_fields):
        merged = _merged_broadcast(with_fields, spatial)
        aligned = len(full_size) < 2 or merge(full_size)[1]
    else:  # the usual case
        merged, aligned = merge([x[1] for x in with_fields])
    if aligned:
        return merged, ()
    if len(full_size) > 1 and not merge(full_size)[1]:
        reason = describe_misalignment(full_size)
        return merged, (
            f"paths not aligned: the inputs have {reason}, so merged units look at different places",
        )
    return merged, ()


def _broadcast(spatial: tuple[int, ...], out: tuple[int, ...]) -> bool:
    """Whether an input of these spatial lengths is broadcast along some output axis."""
    return any(n == 1 < m for n, m in zip(spatial, out))


def _merged_broadcast(inputs: Sequence[tuple], spatial: tuple[int, ...]) -> Fields:
    """Axis by axis: the largest field of the inputs that run along the axis, widened to
    reach every unit of the field of the inputs broadcast along it."""
    merged = []
    for axis, length in enumerate(spatial):
        spread = [x[1][axis] for x in inputs if x[0][axis + 1] == 1 < length]
        running = [x[1][axis] for x in inputs if not x[0][axis + 1] == 1 < length]
        if not running:  # pieces of length 1 joined along the axis (Concat): none broadcasts
            running, spread = spread, []
        ((field,), _) = merge([(f,) for f in running])
        first, last = field.centre, field.centre + (length - 1) * field.jump
        reach = 0.0
        for broadcast in spread:
            low, high = broadcast.start, broadcast.start + broadcast.size - 1
            reach = max(
                reach, abs(low - first), abs(high - first), abs(low - last), abs(high - last)
            )
        if 2 * reach + 1 > field.size:
            field = Field(2 * reach + 1, field.jump, field.centre, field.extent)
        merged.append(field)
    return shared(tuple(merged))


def describe_misalignment(inputs: list[Fields]) -> str:
    """Words for the first axis on which merging paths disagree."""
    first = inputs[0]
    for other in inputs[1:]:
        for a, b in zip(first, other):
            if abs(a.jump - b.jump) > _TOLERANCE:
                return f"effective strides {fmt(a.jump)} and {fmt(b.jump)}"
            if abs(a.centre - b.centre) > _TOLERANCE:
                return f"first units centred at input pixel {fmt(a.centre)} and {fmt(b.centre)}"
    return ""


def fmt(number: float) -> str:
    """A field quantity as people write it: 5, 0.5, 0.333333; 1.2e+40 for an int of more
    than 30 digits or a float beyond 1e15, whose last digits mean nothing; inf where it
    outgrew a float."""
    if type(number) is int:
        if -(10**30) < number < 10**30:
            return str(number)
        try:
            return f"{float(number):.6g}"
        except OverflowError:  # beyond any float (the fields never grow so large)
            return "inf" if number > 0 else "-inf"
    if number.is_integer() and -1e15 < number < 1e15:  # finite and whole
        return str(int(number))
    return f"{number:.6g}"
