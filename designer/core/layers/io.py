"""The network input: a tensor of a given shape, batch left out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from designer.core import receptive
from designer.core.params import Kind, Param
from designer.core.spec import DTYPE_BYTES, LayerOutput, LayerSpec, Tensor


def _input(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    shape = p["shape"]
    fields = receptive.input_fields(shape[1:]) if len(shape) > 1 else None
    return LayerOutput(shape, fields, dtype=p["dtype"])


SPECS = [
    LayerSpec(
        "Input",
        "Input/Output",
        (
            Param(
                "shape",
                Kind.SHAPE,
                (3, 224, 224),
                required=True,
                help="channels first, without the batch: [C, H, W], [C, L], [C, D, H, W] or [F]",
            ),
            Param(
                "dtype",
                Kind.CHOICE,
                "float32",
                choices=tuple(DTYPE_BYTES),
                help="the values' type: int64 for token ids",
            ),
        ),
        _input,
        summary="the network's input tensor",
        inputs=(0, 0),
        dtypes="any",
    ),
]
