"""BatchNorm1d/2d/3d, GroupNorm and LayerNorm.

FLOPs: BatchNorm costs 2 per element (its statistics fold into one scale and shift at
inference); GroupNorm and LayerNorm compute statistics per sample, 5 per element.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from designer.core.params import Kind, Param
from designer.core.spec import (
    LayerError,
    LayerOutput,
    LayerSpec,
    Module,
    Tensor,
    check_inferred,
    dims,
    expect_rank,
    first_dimension,
    last_dimension,
    numel,
)

_EPS = Param("eps", Kind.FLOAT, 1e-5, minimum=0, exclusive_minimum=True)
_BIAS = Param("bias", Kind.BOOL, True, help="with affine: a learned shift beside the scale")


def _affine_params(channels: int, p: dict[str, Any]) -> int:
    """A learned scale per channel, and a shift unless bias is off; none without affine."""
    return channels * (2 if p["bias"] else 1) if p["affine"] else 0


def _batch_norm(layer: str, spatial: tuple[int, ...]):
    def evaluate(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
        (x,) = inputs
        expect_rank(layer, x, spatial)
        channels = x.shape[0]
        check_inferred(p, "num_features", channels)
        batch_statistics = not p["track_running_stats"] and numel(x.shape[1:]) == 1
        return LayerOutput(
            x.shape,
            x.fields,
            params=_affine_params(channels, p),
            buffers=2 * channels if p["track_running_stats"] else 0,
            flops=2 * numel(x.shape),
            warnings=(
                (
                    (
                        "without running statistics it normalises over the batch, one value per "
                        "channel per sample here: PyTorch refuses that for a batch of 1"
                    ),
                )
                if batch_statistics
                else ()
            ),
        )

    return evaluate


def _group_norm(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    channels = x.shape[0]
    check_inferred(p, "num_channels", channels)
    if channels % p["num_groups"]:
        raise LayerError(
            f"num_channels {channels} (from the input {dims(x.shape)}) is not divisible by "
            f"num_groups {p['num_groups']}"
        )
    per_group = channels // p["num_groups"] * numel(x.shape[1:])
    single = (
        (
            (
                f"each group holds a single value ({channels} channels in {p['num_groups']} "
                f"groups of {dims(x.shape)}): PyTorch refuses that for a batch of 1"
            ),
        )
        if per_group == 1
        else ()
    )
    return LayerOutput(
        x.shape,
        x.fields,
        params=_affine_params(channels, p),
        flops=5 * numel(x.shape),
        warnings=single,
    )


def _layer_norm(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    normalized = p["normalized_shape"] or x.shape[-1:]
    if x.shape[-len(normalized) :] != normalized or len(normalized) > len(x.shape):
        raise LayerError(
            f"normalized_shape {list(normalized)} does not match the input's last "
            f"dimension(s): the input is {dims(x.shape)}"
        )
    elements = math.prod(normalized)
    affine = p["elementwise_affine"]
    params = elements * (1 + (1 if p["bias"] else 0)) if affine else 0
    return LayerOutput(x.shape, x.fields, params=params, flops=5 * numel(x.shape))


def _batch_norm_spec(n: int) -> LayerSpec:
    ranks = {1: (0, 1), 2: (2,), 3: (3,)}[n]
    return LayerSpec(
        f"BatchNorm{n}d",
        "Normalisation",
        (
            Param(
                "num_features",
                Kind.INT,
                None,
                minimum=1,
                nullable=True,
                inferred=True,
                from_input=first_dimension,
            ),
            _EPS,
            Param("momentum", Kind.FLOAT, 0.1, minimum=0, maximum=1, nullable=True),
            Param("affine", Kind.BOOL, True),
            Param("track_running_stats", Kind.BOOL, True),
            _BIAS,
        ),
        _batch_norm(f"BatchNorm{n}d", ranks),
        summary="normalises each channel over the batch",
        torch_name=f"BatchNorm{n}d",
        written_as=Module(positional=("num_features",)),
        cancels_bias=True,
    )


SPECS = [
    *(_batch_norm_spec(n) for n in (1, 2, 3)),
    LayerSpec(
        "GroupNorm",
        "Normalisation",
        (
            Param("num_groups", Kind.INT, 8, minimum=1, required=True),
            Param(
                "num_channels",
                Kind.INT,
                None,
                minimum=1,
                nullable=True,
                inferred=True,
                from_input=first_dimension,
            ),
            _EPS,
            Param("affine", Kind.BOOL, True),
            _BIAS,
        ),
        _group_norm,
        summary="normalises groups of channels per sample",
        torch_name="GroupNorm",
        written_as=Module(positional=("num_groups", "num_channels")),
    ),
    LayerSpec(
        "LayerNorm",
        "Normalisation",
        (
            Param(
                "normalized_shape",
                Kind.SHAPE,
                None,
                nullable=True,
                help="the trailing dimensions to normalise; defaults to the last one",
                from_input=last_dimension,
            ),
            _EPS,
            Param("elementwise_affine", Kind.BOOL, True),
            Param("bias", Kind.BOOL, True),
        ),
        _layer_norm,
        summary="normalises the trailing dimensions per sample",
        torch_name="LayerNorm",
        written_as=Module(positional=("normalized_shape",)),
    ),
]
