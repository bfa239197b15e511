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


def _elementwise(name: str, summary: str, *params: Param) -> LayerSpec:
    return LayerSpec(name, "Activation", params, pointwise(1), summary=summary)


def _softmax_spec(name: str, summary: str) -> LayerSpec:
    dim = Param(
        "dim",
        Kind.INT,
        1,
        pytorch_default=None,
        help="counts the batch dimension; 1 is the channels",
    )
    return LayerSpec(name, "Activation", (dim,), _softmax(name), summary=summary)


SPECS = [
    _elementwise("ReLU", "max(0, x)", _INPLACE),
    _elementwise("ReLU6", "min(max(0, x), 6)", _INPLACE),
    _elementwise(
        "LeakyReLU",
        "x, or negative_slope·x below 0",
        Param("negative_slope", Kind.FLOAT, 0.01),
        _INPLACE,
    ),
    _elementwise("ELU", "x, or alpha·(eˣ − 1) below 0", Param("alpha", Kind.FLOAT, 1.0), _INPLACE),
    _elementwise(
        "GELU", "x·Φ(x)", Param("approximate", Kind.CHOICE, "none", choices=("none", "tanh"))
    ),
    _elementwise("SiLU", "x·sigmoid(x)", _INPLACE),
    _elementwise("Sigmoid", "1 / (1 + e⁻ˣ)"),
    _elementwise("Tanh", "tanh(x)"),
    _elementwise("Hardswish", "x·ReLU6(x + 3)/6", _INPLACE),
    _softmax_spec("Softmax", "exponentials normalised to sum to 1 along dim"),
    _softmax_spec("LogSoftmax", "log of Softmax along dim"),
]
