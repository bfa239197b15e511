"""Linear, Flatten and Identity: the layers of a classifier head.

All three take the batch wherever torch's tensor holds it (dim 0, or 1 in a sequence-first
layout): Linear works on the last dimension, which must not be the batch; Flatten's dims
count the batch where it is, and it never joins the batch with data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from designer.core import receptive
from designer.core.params import Kind, Param
from designer.core.spec import (
    LayerError,
    LayerOutput,
    LayerSpec,
    Module,
    Tensor,
    check_inferred,
    last_dimension,
    normalise_dim,
    numel,
    pointwise,
    refuse_batch_last,
    torch_dim,
    with_batch,
)


def _linear(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    """y = x·Wᵀ + b over the last dimension; every leading one is kept, as in torch."""
    (x,) = inputs
    refuse_batch_last("Linear", x)
    features = x.shape[-1]
    check_inferred(p, "in_features", features)
    out = p["out_features"]
    shape = (*x.shape[:-1], out)
    rows = math.prod(x.shape[:-1])  # the vectors the layer is applied to, per sample
    weights = features * out
    macs = weights * rows
    fields = None
    if x.fields is not None:  # the last axis is mixed: each output unit sees all of it
        fields = (*x.fields[:-1], receptive.adaptive(x.fields[-1], features, 1))
    return LayerOutput(
        shape,
        fields,
        params=weights + (out if p["bias"] else 0),
        macs=macs,
        flops=2 * macs - (0 if p["bias"] else numel(shape)),
    )


def _flatten(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    batch = x.batch_axis
    start = normalise_dim("Flatten", "start_dim", p["start_dim"], x.shape, batch)
    end = normalise_dim("Flatten", "end_dim", p["end_dim"], x.shape, batch)
    first, last = torch_dim(start, batch), torch_dim(end, batch)
    if start > end:  # PyTorch refuses it rather than returning the input
        raise LayerError(
            f"{_dim_words('start_dim', p['start_dim'], first)} comes after "
            f"{_dim_words('end_dim', p['end_dim'], last)} of a {len(x.shape) + 1}-D tensor "
            f"({with_batch(x.shape, batch)})"
        )
    if first < batch < last:
        raise LayerError(
            f"Flatten from dim {first} to dim {last} would join the batch (dim {batch}) with "
            "data: Transpose dims 0 and 1 first, or flatten the dims after the batch"
        )
    if start == end:  # one dimension joined with itself: nothing changes
        return LayerOutput(x.shape, x.fields)
    merged = math.prod(x.shape[start : end + 1])
    return LayerOutput(
        (*x.shape[:start], merged, *x.shape[end + 1 :]),
        None,
        batch_axis=batch - (end - start) if end < batch else batch,
    )


def _dim_words(name: str, written: int, position: int) -> str:
    """'start_dim -1 (dim 3)': a negative dim also as the position it names."""
    return f"{name} {written}" + (f" (dim {position})" if written < 0 else "")


SPECS = [
    LayerSpec(
        "Linear",
        "Linear",
        (
            Param(
                "in_features",
                Kind.INT,
                None,
                minimum=1,
                nullable=True,
                inferred=True,
                from_input=last_dimension,
            ),
            Param("out_features", Kind.INT, 10, minimum=1, required=True),
            Param("bias", Kind.BOOL, True),
        ),
        _linear,
        summary="fully connected layer on the last dimension (leading ones kept: [L, F] → [L, out])",
        torch_name="Linear",
        written_as=Module(positional=("in_features", "out_features")),
        functions=("linear",),
        weighted=True,
        merges_with_same=True,
        batch_anywhere=True,
    ),
    LayerSpec(
        "Flatten",
        "Linear",
        (
            Param("start_dim", Kind.INT, 1, help="counts the batch dimension, as in PyTorch"),
            Param("end_dim", Kind.INT, -1),
        ),
        _flatten,
        summary="joins dimensions into one (C×H×W → C·H·W)",
        torch_name="Flatten",
        functions=("flatten",),
        methods=("flatten",),
        dtypes="any",
        shape_only=True,
        batch_anywhere=True,
    ),
    LayerSpec(
        "Identity",
        "Linear",
        (),
        pointwise(0),
        summary="passes its input through",
        torch_name="Identity",
        dtypes="any",
        shape_only=True,
        batch_anywhere=True,
    ),
]
