"""Activation functions: no parameters, shape kept; 1 FLOP per element, Softmax 3."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from designer.core.params import Kind, Param
from designer.core.spec import LayerOutput, LayerSpec, Tensor, normalise_dim, numel, pointwise

_INPLACE = Param("inplace", Kind.BOOL, False)


def _softmax(layer: str):
    def evaluate(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
        (x,) = inputs
        normalise_dim(layer, "dim", p["dim"], x.shape)
        return LayerOutput(x.shape, x.fields, flops=3 * numel(x.shape))

    return evaluate


def _elementwise(
    name: str, summary: str, *params: Param, function: str, method: bool = False
) -> LayerSpec:
    """A pointwise activation, imported from torch's `function` (and the Tensor method of
    that name where `method`)."""
    return LayerSpec(
        name,
        "Activation",
        params,
        pointwise(1),
        summary=summary,
        torch_name=name,
        functions=(function, f"{function}_"),
        methods=(function, f"{function}_") if method else (),
    )


def _softmax_spec(name: str, summary: str) -> LayerSpec:
    dim = Param(
        "dim",
        Kind.INT,
        1,
        pytorch_default=None,
        help="counts the batch dimension; 1 is the channels",
    )
    function = "softmax" if name == "Softmax" else "log_softmax"
    return LayerSpec(
        name,
        "Activation",
        (dim,),
        _softmax(name),
        summary=summary,
        torch_name=name,
        functions=(function,),
        methods=(function,),
    )


SPECS = [
    _elementwise("ReLU", "max(0, x)", _INPLACE, function="relu", method=True),
    _elementwise("ReLU6", "min(max(0, x), 6)", _INPLACE, function="relu6"),
    _elementwise(
        "LeakyReLU",
        "x, or negative_slope·x below 0",
        Param("negative_slope", Kind.FLOAT, 0.01),
        _INPLACE,
        function="leaky_relu",
    ),
    _elementwise(
        "ELU",
        "x, or alpha·(eˣ − 1) below 0",
        Param("alpha", Kind.FLOAT, 1.0),
        _INPLACE,
        function="elu",
    ),
    _elementwise(
        "GELU",
        "x·Φ(x)",
        Param("approximate", Kind.CHOICE, "none", choices=("none", "tanh")),
        function="gelu",
    ),
    _elementwise("SiLU", "x·sigmoid(x)", _INPLACE, function="silu"),
    _elementwise("Sigmoid", "1 / (1 + e⁻ˣ)", function="sigmoid", method=True),
    _elementwise("Tanh", "tanh(x)", function="tanh", method=True),
    _elementwise("Hardswish", "x·ReLU6(x + 3)/6", _INPLACE, function="hardswish"),
    _softmax_spec("Softmax", "exponentials normalised to sum to 1 along dim"),
    _softmax_spec("LogSoftmax", "log of Softmax along dim"),
]
