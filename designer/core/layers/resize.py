"""Layers that resize or rearrange without weights: Upsample, PixelShuffle, PixelUnshuffle
and ChannelShuffle (the padding layers have their own family, padding.py).

FLOPs of Upsample: nearest costs nothing; the interpolating modes cost 2·taps − 1 per output
element, taps being 2 per axis for (bi/tri)linear and 4 per axis for bicubic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from designer.core import receptive
from designer.core.params import Kind, Param, ParamError, expand, show_value
from designer.core.spec import (
    LayerError,
    LayerOutput,
    LayerSpec,
    Module,
    Tensor,
    dims,
    expect_rank,
    layout,
    numel,
    spatial_axes,
)

MAX_SCALE = 2.0**63
_MODE_AXES = {"linear": (1,), "bilinear": (2,), "bicubic": (2,), "trilinear": (3,)}
_TAPS = {"nearest": 1, "linear": 2, "bilinear": 2, "trilinear": 2, "bicubic": 4}


def _check_upsample(p: dict[str, Any]) -> None:
    if p["size"] is not None and p["scale_factor"] is not None:
        raise ParamError(
            "scale_factor",
            f"give size or scale_factor, not both (size {show_value(p['size'])}, "
            f"scale_factor {show_value(p['scale_factor'])})",
        )
    if p["size"] is None and p["scale_factor"] is None:
        raise ParamError("size", "give size or scale_factor")
    for scale in expand(p["scale_factor"], 1) if p["scale_factor"] is not None else ():
        if scale > MAX_SCALE:  # any input then gives an output beyond int64 along that axis
            raise ParamError(
                "scale_factor",
                f"{show_value(p['scale_factor'])} is more than PyTorch can scale by: at most "
                "2**63, beyond which every output has more than 2**63 − 1 elements",
            )
    if p["recompute_scale_factor"] and p["size"] is not None:
        raise ParamError(
            "recompute_scale_factor", "is not meaningful with an explicit size (PyTorch refuses it)"
        )
    if p["mode"] == "nearest" and p["align_corners"] is not None:
        raise ParamError(
            "align_corners", "can only be set with an interpolating mode, not 'nearest'"
        )


def _upsample(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    mode = p["mode"]
    expect_rank(f"Upsample mode {mode!r}", x, _MODE_AXES.get(mode, (1, 2, 3)))
    n = len(x.shape) - 1
    for name in ("size", "scale_factor"):
        value = p[name]
        if isinstance(value, tuple) and len(value) != n:
            raise LayerError(
                f"{name} {show_value(value)} has {len(value)} values for a {layout(n)} input "
                f"({dims(x.shape)}), which has {n} spatial axes"
            )
    if p["size"] is not None:
        spatial = expand(p["size"], n)
    else:
        scales = expand(p["scale_factor"], n)
        spatial = tuple(int(size * s) for size, s in zip(x.shape[1:], scales))
        for axis, size, s, out in zip(spatial_axes(n), x.shape[1:], scales, spatial):
            if out < 1:
                raise LayerError(
                    f"scale_factor {s:g} turns {size} into {out} along {axis}; the output must be at least 1"
                )
    shape = (x.shape[0], *spatial)
    taps = _TAPS[mode]
    fields = None
    if x.fields is not None:
        fields = tuple(
            receptive.resample(f, out / size, taps)
            for f, size, out in zip(x.fields, x.shape[1:], spatial)
        )
    flops = 0 if taps == 1 else (2 * taps**n - 1) * numel(shape)
    return LayerOutput(shape, fields, flops=flops)


def _pixel_shuffle(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    expect_rank("PixelShuffle", x, 2)
    r = p["upscale_factor"]
    channels, height, width = x.shape
    if channels % (r * r):
        raise LayerError(
            f"channels {channels} are not divisible by upscale_factor² = {r}² = {r * r}"
        )
    fields = None if x.fields is None else tuple(receptive.resample(f, r, 1) for f in x.fields)
    return LayerOutput((channels // (r * r), height * r, width * r), fields)


def _pixel_unshuffle(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    expect_rank("PixelUnshuffle", x, 2)
    r = p["downscale_factor"]
    channels, height, width = x.shape
    for axis, size in (("H", height), ("W", width)):
        if size % r:
            raise LayerError(f"{axis} {size} is not divisible by downscale_factor {r}")
    fields = None if x.fields is None else tuple(receptive.window(f, r, r, 0) for f in x.fields)
    return LayerOutput((channels * r * r, height // r, width // r), fields)


def _channel_shuffle(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    if len(x.shape) < 2:
        raise LayerError(
            f"ChannelShuffle expects an input with spatial axes (C×L, C×H×W, …), got "
            f"{dims(x.shape)} ({len(x.shape)}-D)"
        )
    channels, groups = x.shape[0], p["groups"]
    if channels % groups:
        raise LayerError(
            f"channels {channels} (from the input {dims(x.shape)}) are not divisible by "
            f"groups {groups}"
        )
    return LayerOutput(x.shape, x.fields)


SPECS = [
    LayerSpec(
        "Upsample",
        "Resize",
        (
            Param("size", Kind.INT_TUPLE, None, minimum=1, nullable=True),
            Param(
                "scale_factor",
                Kind.FLOAT_TUPLE,
                None,
                minimum=0,
                exclusive_minimum=True,
                nullable=True,
            ),
            Param("mode", Kind.CHOICE, "nearest", choices=tuple(_TAPS)),
            Param("align_corners", Kind.BOOL, None, nullable=True),
            Param(
                "recompute_scale_factor",
                Kind.BOOL,
                None,
                nullable=True,
                help="interpolate with the scale the output size implies, not the one given",
            ),
        ),
        _upsample,
        summary="resizes by interpolation",
        check=_check_upsample,
        suggested={"scale_factor": 2.0},
        torch_name="Upsample",
        functions=("interpolate", "upsample"),
    ),
    LayerSpec(
        "PixelShuffle",
        "Resize",
        (Param("upscale_factor", Kind.INT, 2, minimum=1, required=True),),
        _pixel_shuffle,
        summary="C·r²×H×W → C×rH×rW (sub-pixel up-sampling)",
        torch_name="PixelShuffle",
        functions=("pixel_shuffle",),
    ),
    LayerSpec(
        "PixelUnshuffle",
        "Resize",
        (Param("downscale_factor", Kind.INT, 2, minimum=1, required=True),),
        _pixel_unshuffle,
        summary="C×rH×rW → C·r²×H×W",
        torch_name="PixelUnshuffle",
        functions=("pixel_unshuffle",),
    ),
    LayerSpec(
        "ChannelShuffle",
        "Resize",
        (Param("groups", Kind.INT, 2, minimum=1, required=True),),
        _channel_shuffle,
        summary="interleaves the channels of groups (ShuffleNet)",
        torch_name="ChannelShuffle",
        functions=("channel_shuffle", "native_channel_shuffle"),
        written_as=Module(positional=("groups",)),
        dtypes="any",
        shape_only=True,
    ),
]
