"""Add, Multiply and Concat: where branches meet.

Add and Multiply (and Subtract and Divide, in the tensor operations) broadcast as torch
does, per sample: shapes align on their last dimensions, an input with fewer dimensions
is extended on the left within the sample (never into the batch), and a size of 1 is
repeated to the other inputs' size. With one input they take `other`, a number (`x * 0.2`).

Every merge takes inputs that hold the batch where torch's tensor has it, at dim 0 or further
in (a sequence-first tensor), as long as all of them hold it at the same dim; with the batch
beyond dim 0, the arithmetic merges take inputs of one rank only (torch broadcasts from the
right, which would pair the batch of one with data of another). Concat's dim counts the batch
where it is.

FLOPs: Add costs (operands − 1) per output element, Multiply, Subtract and Divide 1,
Concat nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from designer.core import receptive
from designer.core.params import Kind, Param
from designer.core.spec import (
    FLOATING,
    Function,
    LayerError,
    LayerOutput,
    LayerSpec,
    Operator,
    Shape,
    Tensor,
    dims,
    normalise_dim,
    numel,
    same_batch_axis,
    torch_dim,
)


def _ports(inputs: Sequence[Tensor]) -> str:
    return ", ".join(f"port {i} is {dims(x.shape)}" for i, x in enumerate(inputs))


def broadcast(
    layer: str, inputs: Sequence[Tensor], mismatch: Callable[[], str] | None = None
) -> Shape:
    """The per-sample shape that `inputs` broadcast to, as torch broadcasts: aligned on the
    right, a missing or size-1 dimension repeated. A LayerError names the dimension
    (counting the batch) where two inputs disagree; `mismatch` gives the whole message."""
    rank = max(len(x.shape) for x in inputs)
    out = [1] * rank
    source = [0] * rank  # the port that gave each dimension its size
    for port, x in enumerate(inputs):
        offset = rank - len(x.shape)
        for axis, n in enumerate(x.shape, start=offset):
            m = out[axis]
            if n == m or n == 1:
                continue
            if m != 1:
                if mismatch is not None:
                    raise LayerError(mismatch())
                first = inputs[source[axis]].shape
                raise LayerError(
                    f"{layer} cannot broadcast {dims(first)} (port {source[axis]}) with "
                    f"{dims(x.shape)} (port {port}): dimension "
                    f"{torch_dim(axis, x.batch_axis)} is {m} against {n}"
                )
            out[axis], source[axis] = n, port
    return tuple(out)


# A float16 and a bfloat16 make float32, as torch promotes them.
_FLOAT_RANK = {"float16": 1, "bfloat16": 1, "float32": 2, "float64": 3}


def promoted(dtypes: Sequence[str]) -> str:
    """The dtype torch computes inputs of these dtypes in: the widest floating type, else
    the widest integer, else bool."""
    kinds = set(dtypes)
    if len(kinds) == 1:
        return dtypes[0]
    floats = kinds & FLOATING
    if floats:
        widest = max(floats, key=_FLOAT_RANK.__getitem__)
        if _FLOAT_RANK[widest] == 1 and len(floats) > 1:
            return "float32"
        return widest
    if "int64" in kinds:
        return "int64"
    return "int32" if "int32" in kinds else "bool"


def elementwise(layer: str, cost: Callable[[int], int], mismatch: bool = False):
    """Add, Subtract, Multiply, Divide: inputs broadcast together, or one input and
    `other`. `cost(operands)` is the FLOPs per output element; `mismatch` keeps Add's
    message for inputs that do not broadcast ("needs inputs of one shape")."""

    def evaluate(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
        other = p.get("other")
        if len(inputs) == 1 and other is None:
            raise LayerError(
                f"{layer} of one input needs other, a number to combine it with (or a second input)"
            )
        if len(inputs) > 1 and other is not None:
            raise LayerError(
                f"{layer} takes other only with one input; it has {len(inputs)} inputs"
            )
        batch = same_batch_axis(layer, inputs)
        if batch and len({len(x.shape) for x in inputs}) > 1:
            raise LayerError(
                f"{layer} broadcasts inputs with the batch at dim {batch} only when they have "
                f"one number of dimensions: {_ports(inputs)}"
            )
        words = (
            (lambda: f"{layer} needs inputs of one shape: {_ports(inputs)}") if mismatch else None
        )
        shape = broadcast(layer, inputs, words)
        _fields_align(layer, inputs, shape)
        operands = len(inputs) + (other is not None)
        full = [x for x in inputs if len(x.shape) == len(shape)]
        fields, warnings = receptive.merged_fields(full, shape)
        return LayerOutput(
            shape,
            fields,
            flops=cost(operands) * numel(shape),
            warnings=warnings,
            dtype=promoted([x.dtype for x in inputs]),
        )

    return evaluate


def _fields_align(layer: str, inputs: Sequence[Tensor], shape: Shape) -> None:
    """Refuse what torch broadcasts but receptive.merged_fields cannot merge yet: it pairs
    its inputs' axes from the left, so an input with spatial axes and fewer dimensions than
    the output is refused; a vector [F], which has none, may broadcast against any shape,
    as long as an input with fields runs along the last axis with it."""
    for port, x in enumerate(inputs):
        if 1 < len(x.shape) < len(shape):
            raise LayerError(
                f"{layer} broadcasts an input with fewer dimensions than the output only "
                f"when it is a vector [F]: port {port} is {dims(x.shape)}, the output "
                f"{dims(shape)} (add an Unsqueeze to give it {len(shape)} dimensions)"
            )
    running = any(len(x.shape) == len(shape) and x.shape[-1] > 1 for x in inputs)
    if len(shape) > 1 and shape[-1] > 1 and not running:
        port = next(i for i, x in enumerate(inputs) if len(x.shape) == 1 < x.shape[0])
        raise LayerError(
            f"{layer} of a vector of {shape[-1]} (port {port}) with inputs of last "
            f"dimension 1 would make a new spatial axis, which the receptive fields "
            f"cannot follow: {_ports(inputs)}"
        )


def other_param(example: str) -> Param:
    return Param(
        "other",
        Kind.FLOAT,
        None,
        nullable=True,
        help=f"a number, with one input only: {example}",
    )


def _concat(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    first = inputs[0].shape
    if any(len(x.shape) != len(first) for x in inputs[1:]):
        raise LayerError(
            f"Concat needs inputs with the same number of dimensions: {_ports(inputs)}"
        )
    batch = same_batch_axis("Concat", inputs)
    axis = normalise_dim("Concat", "dim", p["dim"], first, batch)
    for i, x in enumerate(inputs[1:], start=1):
        for other_axis, (m, n) in enumerate(zip(first, x.shape)):
            if other_axis != axis and m != n:
                raise LayerError(
                    f"Concat along dim {p['dim']} needs every other dimension equal: "
                    f"port 0 is {dims(first)}, port {i} is {dims(x.shape)} "
                    f"(dimension {torch_dim(other_axis, batch)}: {m} against {n})"
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
        (other_param("x + 3"),),
        elementwise("Add", lambda operands: operands - 1, mismatch=True),
        summary="element-wise sum, broadcast as torch does; one input plus a number (x + 3)",
        inputs=(1, None),
        written_as=Operator("+"),
        functions=("add",),
        batch_anywhere=True,
        merges_fields=True,
    ),
    LayerSpec(
        "Multiply",
        "Merge",
        (other_param("x * 0.2"),),
        elementwise("Multiply", lambda operands: 1),
        summary="element-wise product, broadcast as torch does (a C×1×1 gate times C×H×W); "
        "one input times a number (x * 0.2)",
        inputs=(1, 2),
        written_as=Operator("*"),
        functions=("mul",),
        batch_anywhere=True,
        merges_fields=True,
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
        batch_anywhere=True,
        merges_fields=True,
    ),
]
