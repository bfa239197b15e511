"""Add, Multiply and Concat: where branches meet.

FLOPs: Add costs (inputs − 1) per output element, Multiply 1, Concat nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from designer.core import receptive
from designer.core.params import Kind, Param
from designer.core.spec import (
    Function,
    LayerError,
    LayerOutput,
    LayerSpec,
    Operator,
    Tensor,
    dims,
    normalise_dim,
    numel,
)


def _ports(inputs: Sequence[Tensor]) -> str:
    return ", ".join(f"port {i} is {dims(x.shape)}" for i, x in enumerate(inputs))


def _add(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    shape = inputs[0].shape
    for x in inputs:
        if x.shape != shape:
            raise LayerError(f"Add needs inputs of one shape: {_ports(inputs)}")
    fields, warnings = receptive.merged_fields(inputs, shape)
    return LayerOutput(shape, fields, 0, 0, 0, (len(inputs) - 1) * numel(shape), warnings)


def _multiply(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    a, b = inputs
    if len(a.shape) != len(b.shape):
        raise LayerError(
            f"Multiply needs inputs with the same number of dimensions: {_ports(inputs)}"
        )
    shape = []
    for axis, (m, n) in enumerate(zip(a.shape, b.shape)):
        if m != n and 1 not in (m, n):
            raise LayerError(
                f"Multiply cannot broadcast {dims(a.shape)} (port 0) with {dims(b.shape)} (port 1): "
                f"dimension {axis + 1} is {m} against {n}"
            )
        shape.append(max(m, n))
    out = tuple(shape)
    fields, warnings = receptive.merged_fields(inputs, out)
    return LayerOutput(out, fields, flops=numel(out), warnings=warnings)


def _concat(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    first = inputs[0].shape
    if any(len(x.shape) != len(first) for x in inputs[1:]):
        raise LayerError(
            f"Concat needs inputs with the same number of dimensions: {_ports(inputs)}"
        )
    axis = normalise_dim("Concat", "dim", p["dim"], first)
    for i, x in enumerate(inputs[1:], start=1):
        for other_axis, (m, n) in enumerate(zip(first, x.shape)):
            if other_axis != axis and m != n:
                raise LayerError(
                    f"Concat along dim {p['dim']} needs every other dimension equal: "
                    f"port 0 is {dims(first)}, port {i} is {dims(x.shape)} "
                    f"(dimension {other_axis + 1}: {m} against {n})"
                )
    shape = list(first)
    shape[axis] = sum(x.shape[axis] for x in inputs)
    out = tuple(shape)
    fields, warnings = receptive.merged_fields(inputs, out)
    return LayerOutput(out, fields, warnings=warnings)


SPECS = [
    LayerSpec(
        "Add",
        "Merge",
        (),
        _add,
        summary="element-wise sum of inputs of one shape",
        inputs=(2, None),
        written_as=Operator("+"),
        functions=("add",),
    ),
    LayerSpec(
        "Multiply",
        "Merge",
        (),
        _multiply,
        summary="element-wise product, broadcast as torch does (a C×1×1 gate times C×H×W)",
        inputs=(2, 2),
        written_as=Operator("*"),
        functions=("mul",),
    ),
    LayerSpec(
        "Concat",
        "Merge",
        (Param("dim", Kind.INT, 1, help="counts the batch dimension; 1 joins channels"),),
        _concat,
        summary="joins inputs along dim (channels by default); one input passes through",
        inputs=(1, None),
        written_as=Function("torch.cat"),
        functions=("cat", "concat"),
        dtypes="any",
    ),
]
