"""BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, GroupNorm, LayerNorm, RMSNorm and
LocalResponseNorm.

FLOPs per element: BatchNorm 2 (its statistics fold into one scale and shift at
inference), and InstanceNorm with track_running_stats, which normalises with its running
statistics at inference as BatchNorm does; InstanceNorm otherwise, GroupNorm and LayerNorm
compute statistics per sample, 5; RMSNorm 4 (LayerNorm's without the mean subtracted);
LocalResponseNorm size + 4 (a square, size − 1 adds across the window of channels, a scale
and a shift, a power and a divide).

Receptive fields pass unchanged: normalisation layers are treated as pointwise
(LocalResponseNorm's window runs across channels, not space).

LayerNorm and RMSNorm, which work on the trailing dimensions, take the batch wherever
torch's tensor holds it (dim 0, or 1 in a sequence-first layout), as long as the dimensions
they normalise come after it; the others read the channels at dim 1 and take it at dim 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from designer.core.layers.activation import check_fits
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
    with_batch,
)

_EPS = Param("eps", Kind.FLOAT, 1e-5, minimum=0, exclusive_minimum=True)
_NORMALIZED_SHAPE = Param(  # LayerNorm's and RMSNorm's
    "normalized_shape",
    Kind.SHAPE,
    None,
    nullable=True,
    help="the trailing dimensions to normalise; defaults to the last one",
    from_input=last_dimension,
)
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


def _normalized_elements(x: Tensor, p: dict[str, Any]) -> int:
    """LayerNorm's and RMSNorm's normalized_shape (the last dimension where not given),
    which must be the input's trailing dimensions, after the batch; the number of elements
    it spans."""
    normalized = p["normalized_shape"] or x.shape[-1:]
    if x.shape[-len(normalized) :] != normalized or len(normalized) > len(x.shape):
        raise LayerError(
            f"normalized_shape {list(normalized)} does not match the input's last "
            f"dimension(s): the input is {dims(x.shape)}"
        )
    if len(normalized) > len(x.shape) - x.batch_axis:
        raise LayerError(
            f"normalized_shape {list(normalized)} would reach across the batch: the input is "
            f"{with_batch(x.shape, x.batch_axis)}; normalise the dims after it"
        )
    return math.prod(normalized)


def _layer_norm(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    elements = _normalized_elements(x, p)
    affine = p["elementwise_affine"]
    params = elements * (1 + (1 if p["bias"] else 0)) if affine else 0
    return LayerOutput(x.shape, x.fields, params=params, flops=5 * numel(x.shape))


def _rms_norm(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    elements = _normalized_elements(x, p)
    params = elements if p["elementwise_affine"] else 0  # a scale, no shift
    return LayerOutput(x.shape, x.fields, params=params, flops=4 * numel(x.shape))


def _instance_norm(layer: str, n: int):
    def evaluate(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
        (x,) = inputs
        expect_rank(layer, x, n)
        channels = x.shape[0]
        check_inferred(p, "num_features", channels)
        tracking = p["track_running_stats"]
        warnings: tuple[str, ...] = ()
        if numel(x.shape[1:]) == 1:
            if not tracking:
                raise LayerError(
                    f"{layer} normalises each channel over its own values, and the input "
                    f"{dims(x.shape)} has one per channel: PyTorch refuses that (it needs more "
                    "than 1 spatial element)"
                )
            warning = (
                "one value per channel: PyTorch refuses that while training, when it "
                "normalises with the sample's own statistics"
            )
            warnings = (warning,)
        return LayerOutput(
            x.shape,
            x.fields,
            params=_affine_params(channels, p),
            buffers=2 * channels if tracking else 0,
            flops=(2 if tracking else 5) * numel(x.shape),
            warnings=warnings,
        )

    return evaluate


def _local_response_norm(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    if len(x.shape) < 2:
        raise LayerError(
            f"LocalResponseNorm expects an input with spatial axes (C×L, C×H×W, …), got "
            f"{dims(x.shape)} ({len(x.shape)}-D)"
        )
    if x.dtype in ("float16", "bfloat16"):  # its power converts beta to the input's dtype
        check_fits("beta", p["beta"], x.dtype)
    return LayerOutput(x.shape, x.fields, flops=(p["size"] + 4) * numel(x.shape))


_NUM_FEATURES = Param(
    "num_features",
    Kind.INT,
    None,
    minimum=1,
    nullable=True,
    inferred=True,
    from_input=first_dimension,
)
_MOMENTUM = Param("momentum", Kind.FLOAT, 0.1, minimum=0, maximum=1, nullable=True)


def _batch_norm_spec(n: int) -> LayerSpec:
    ranks = {1: (0, 1), 2: (2,), 3: (3,)}[n]
    return LayerSpec(
        f"BatchNorm{n}d",
        "Normalisation",
        (
            _NUM_FEATURES,
            _EPS,
            _MOMENTUM,
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


def _instance_norm_spec(n: int) -> LayerSpec:
    name = f"InstanceNorm{n}d"
    return LayerSpec(
        name,
        "Normalisation",
        (
            _NUM_FEATURES,
            _EPS,
            _MOMENTUM,
            Param("affine", Kind.BOOL, False),
            Param(
                "track_running_stats",
                Kind.BOOL,
                False,
                help="keep running statistics and normalise with them at inference",
            ),
            _BIAS,
        ),
        _instance_norm(name, n),
        summary="normalises each channel of each sample over its spatial axes",
        torch_name=name,
        written_as=Module(positional=("num_features",)),
        cancels_bias=True,
    )


SPECS = [
    *(_batch_norm_spec(n) for n in (1, 2, 3)),
    *(_instance_norm_spec(n) for n in (1, 2, 3)),
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
            _NORMALIZED_SHAPE,
            _EPS,
            Param("elementwise_affine", Kind.BOOL, True),
            Param("bias", Kind.BOOL, True),
        ),
        _layer_norm,
        summary="normalises the trailing dimensions per sample",
        torch_name="LayerNorm",
        written_as=Module(positional=("normalized_shape",)),
        batch_anywhere=True,
    ),
    LayerSpec(
        "RMSNorm",
        "Normalisation",
        (
            _NORMALIZED_SHAPE,
            Param(
                "eps",
                Kind.FLOAT,
                None,
                minimum=0,
                exclusive_minimum=True,
                nullable=True,
                help="null: the dtype's machine epsilon",
            ),
            Param("elementwise_affine", Kind.BOOL, True),
        ),
        _rms_norm,
        summary="scales the trailing dimensions by their root mean square, per sample",
        torch_name="RMSNorm",
        written_as=Module(positional=("normalized_shape",)),
        batch_anywhere=True,
    ),
    LayerSpec(
        "LocalResponseNorm",
        "Normalisation",
        (
            Param(
                "size",
                Kind.INT,
                5,
                minimum=1,
                required=True,
                help="neighbouring channels to normalise over",
            ),
            Param("alpha", Kind.FLOAT, 1e-4),
            Param("beta", Kind.FLOAT, 0.75),
            Param("k", Kind.FLOAT, 1.0),
        ),
        _local_response_norm,
        summary="divides by the activity of neighbouring channels (AlexNet)",
        torch_name="LocalResponseNorm",
        functions=("local_response_norm",),
        written_as=Module(positional=("size",)),
    ),
]
