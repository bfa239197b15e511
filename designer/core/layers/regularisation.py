"""Dropout layers: no parameters, no change of shape; 1 FLOP per element while training."""

from __future__ import annotations

from designer.core.params import Kind, Param
from designer.core.spec import LayerOutput, LayerSpec, Tensor, expect_rank, numel, pointwise


def _params() -> tuple[Param, ...]:
    return (
        Param("p", Kind.FLOAT, 0.5, minimum=0, maximum=1, help="probability of zeroing"),
        Param("inplace", Kind.BOOL, False),
    )


def _dropout2d(inputs: list[Tensor], p: dict) -> LayerOutput:
    (x,) = inputs
    expect_rank("Dropout2d", x, 2)
    return LayerOutput(x.shape, x.fields, flops=numel(x.shape))


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
    ),
    LayerSpec(
        "Dropout2d",
        "Regularisation",
        _params(),
        _dropout2d,
        summary="zeroes random channels",
        torch_name="Dropout2d",
        functions=("dropout2d",),
        shape_only=True,
    ),
]
