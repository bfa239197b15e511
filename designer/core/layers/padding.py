"""Padding layers: ZeroPad, ConstantPad, ReflectionPad, ReplicationPad and CircularPad in
1, 2 and 3 dimensions.

`PadNd` takes a C×… input with n spatial axes and pads both ends of each: `padding` is one
int for every side, or 2n ints, last axis first as `F.pad` reads them: (left, right), then
(top, bottom), then (front, back). Negative values crop. Padding computes nothing: 0 FLOPs,
no parameters. An output unit sees what the input unit it copies sees, so the receptive
field moves by the padding before it, as in front of a convolution.

What torch refuses, per axis of size s padded by (before, after), checked against it for
every small case:

- zeros, constant: torch crops before it pads, so the crop (−before)⁺ + (−after)⁺ ≤ s;
- reflect: before < s and after < s (a reflection never reaches past the far edge);
- replicate: nothing beyond the output's size;
- circular: before ≤ s and after ≤ s (a wrap goes round at most once), and the copies torch
  makes must fit; with a batch of 1 and one channel torch also refuses copies that overlap
  in memory, which a warning says;
- every mode: at least one element along every axis (an empty output is refused).

ConstantPad's value must fit the input's dtype (65504 in float16), or torch refuses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from designer.core import receptive
from designer.core.layers.activation import check_fits
from designer.core.params import Kind, Param, expand, show_value
from designer.core.spec import (
    LayerError,
    LayerOutput,
    LayerSpec,
    Module,
    Tensor,
    dims,
    expect_rank,
    spatial_axes,
)

_SIDES = {
    1: "left, right",
    2: "left, right, top, bottom",
    3: "left, right, top, bottom, front, back",
}


def _sides(padding: Any, n: int) -> list[tuple[int, int]]:
    """(before, after) per spatial axis, in the input's order (D, H, W)."""
    flat = expand(padding, 2 * n)
    return [(flat[2 * i], flat[2 * i + 1]) for i in reversed(range(n))]


def _length(size: int, start: int, stop: int) -> tuple[int, int]:
    """Where torch's slice [start:stop] of an axis of `size` begins, and its length (negative
    bounds count from the end, then clamp, as Python's slices do)."""
    kept = range(size)[start:stop]
    return (kept.start if kept else 0), len(kept)


def _circular_copies(size: int, before: int, after: int) -> tuple[bool, bool]:
    """Whether torch's circular padding of one axis fits (its copies take a slice of one
    length into a slice of that length, or broadcast one element), and whether one of its
    wrap-around copies overlaps itself in memory (refused where the slices are contiguous:
    a batch of 1, one channel). Follows `_pad_circular_symint` in ATen's PadNd.cpp."""
    out = size + before + after
    _, into = _length(out, max(before, 0), out - max(after, 0))
    _, taken = _length(size, max(-before, 0), size - max(-after, 0))
    if taken not in (into, 1):
        return False, False
    copies = []
    if before > 0:
        copies.append(((0, before), (out - before - max(after, 0), out - max(after, 0))))
    if after > 0:
        copies.append(((out - after, out), (max(before, 0), max(before, 0) + after)))
    overlaps = False
    for target, source in copies:
        (t0, tn), (s0, sn) = _length(out, *target), _length(out, *source)
        if sn not in (tn, 1):
            return False, False
        if tn and sn and (t0, tn) != (s0, sn) and t0 < s0 + sn and s0 < t0 + tn:
            overlaps = True
    return True, overlaps


def _pad(layer: str, n: int, mode: str):
    def evaluate(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
        (x,) = inputs
        expect_rank(layer, x, n)
        if "value" in p:  # torch converts it to the input's dtype
            check_fits("value", p["value"], x.dtype)
        padding = show_value(p["padding"])
        sides = _sides(p["padding"], n)
        axes = spatial_axes(n)
        overlapping = []
        for axis, size, (before, after) in zip(axes, x.shape[1:], sides):
            if mode == "constant":
                crop = -min(before, 0) - min(after, 0)
                if crop > size:  # PyTorch crops before it pads, so the crop alone must fit
                    raise LayerError(
                        f"padding {padding} crops {crop} from {axis} {size}, "
                        f"more than there is (PyTorch crops before it pads)"
                    )
            elif mode == "reflect" and max(before, after) >= size:
                raise LayerError(
                    f"padding {padding} is {max(before, after)} on one side of {axis} {size}: "
                    "reflection padding must be smaller than the input on each side"
                )
            elif mode == "circular":
                if max(before, after) > size:
                    raise LayerError(
                        f"padding {padding} is {max(before, after)} on one side of {axis} "
                        f"{size}: circular padding wraps around at most once, so it takes at "
                        "most the input's size on each side"
                    )
                if size + before + after >= 1:
                    fits, overlaps = _circular_copies(size, before, after)
                    if not fits:
                        raise LayerError(
                            f"padding {padding} crops and wraps {axis} {size} in a way PyTorch's "
                            f"circular padding refuses (its copies do not fit)"
                        )
                    if overlaps:
                        overlapping.append(axis)
        spatial = tuple(size + before + after for size, (before, after) in zip(x.shape[1:], sides))
        shape = (x.shape[0], *spatial)
        if min(spatial) < 1:
            raise LayerError(f"padding {padding} crops {dims(x.shape)} to nothing")
        fields = None
        if x.fields is not None:
            fields = tuple(
                receptive.window(f, 1, 1, before) for f, (before, _) in zip(x.fields, sides)
            )
        return LayerOutput(shape, fields, warnings=_overlap_warning(x, spatial, overlapping))

    return evaluate


def _overlap_warning(x: Tensor, spatial: tuple[int, ...], axes: list[str]) -> tuple[str, ...]:
    """Torch refuses a wrap-around copy that overlaps itself only where the copied slices
    are contiguous: one channel, and length 1 along the axes before, for a batch of 1."""
    names = spatial_axes(len(spatial))
    refused = [
        axis
        for axis in axes
        if x.shape[0] == 1 and all(size == 1 for size in spatial[: names.index(axis)])
    ]
    if not refused:
        return ()
    warning = (
        f"the wrap-around along {refused[0]} overlaps what it copies: with one channel, "
        "PyTorch refuses it for a batch of 1"
    )
    return (warning,)


def _padding(n: int) -> Param:
    return Param(
        "padding",
        Kind.INT_TUPLE,
        1,
        length=2 * n,
        required=True,
        help=f"{_SIDES[n]}; negative values crop",
    )


def _spec(family: str, n: int, mode: str, summary: str) -> LayerSpec:
    name = f"{family}{n}d"
    params = (_padding(n),)
    positional: tuple[str, ...] = ("padding",)
    if family == "ConstantPad":
        params += (Param("value", Kind.FLOAT, 0.0, required=True, help="the value padded in"),)
        positional += ("value",)
    return LayerSpec(
        name,
        "Padding",
        params,
        _pad(name, n, mode),
        summary=summary,
        torch_name=name,
        written_as=Module(positional=positional),
    )


_FAMILIES = (
    ("ZeroPad", "constant", "pads (or crops) the borders with zeros"),
    ("ConstantPad", "constant", "pads (or crops) the borders with a constant value"),
    ("ReflectionPad", "reflect", "pads with the input reflected at its borders"),
    ("ReplicationPad", "replicate", "pads by repeating the border values"),
    ("CircularPad", "circular", "pads by wrapping the input around"),
)

SPECS = [_spec(family, n, mode, summary) for family, mode, summary in _FAMILIES for n in (1, 2, 3)]
