"""Dropout layers: no parameters, no change of shape, receptive fields kept.

FLOPs per element, counted as while training (at inference they do nothing): Dropout,
Dropout1d, Dropout2d and Dropout3d 1 (the mask's product, its scale folded in);
AlphaDropout 2 (the mask, then an affine map that keeps the mean and variance).

Dropout1d, Dropout2d and Dropout3d zero whole channels of a C×L, C×H×W or C×D×H×W input:
torch reads an input with one axis fewer as an unbatched sample, and Dropout3d takes any
other rank with a deprecation warning; the designer takes only the one rank. They read the
channels at dim 1, so they take only a batch-first input; Dropout and AlphaDropout, which
work element by element, take the batch wherever it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from designer.core.params import Kind, Param
from designer.core.spec import LayerOutput, LayerSpec, Tensor, expect_rank, numel, pointwise


def _params() -> tuple[Param, ...]:
    return (
        Param("p", Kind.FLOAT, 0.5, minimum=0, maximum=1, help="probability of zeroing"),
        Param("inplace", Kind.BOOL, False),
    )


def _channel_dropout(layer: str, spatial: int):
    def evaluate(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
        (x,) = inputs
        expect_rank(layer, x, spatial)
        return LayerOutput(x.shape, x.fields, flops=numel(x.shape))

    return evaluate


def _channel_spec(n: int) -> LayerSpec:
    name = f"Dropout{n}d"
    return LayerSpec(
        name,
        "Regularisation",
        _params(),
        _channel_dropout(name, n),
        summary="zeroes random channels",
        torch_name=name,
        functions=(f"dropout{n}d",),
        shape_only=True,
    )


SPECS = [
    LayerSpec(
        "Dropout",
        "Regularisation",
        _params(),
        pointwise(1),
        summary="zeroes random elements",
        torch_name="Dropout",
        functions=("dropout",),
        shape_only=True,
        batch_anywhere=True,
    ),
    _channel_spec(2),
    _channel_spec(1),
    _channel_spec(3),
    LayerSpec(
        "AlphaDropout",
        "Regularisation",
        _params(),
        pointwise(2),
        summary="drops elements keeping the mean and variance (for SELU networks)",
        torch_name="AlphaDropout",
        functions=("alpha_dropout", "alpha_dropout_"),
        shape_only=True,
        batch_anywhere=True,
    ),
]
