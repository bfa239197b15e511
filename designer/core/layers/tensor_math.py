"""Tensor operations that compute (reductions, products, arithmetic with broadcasting, a
learned tensor) rather than move elements: the second half of the "Tensor ops" family,
whose conventions (dims counting the batch, the batch never left alone) tensor.py sets
out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from designer.core import receptive
from designer.core.layers.merge import broadcast, elementwise, other_param, promoted
from designer.core.layers.tensor import (
    CATEGORY,
    batch_after_removing,
    dim_list,
    dim_param,
    inserted,
    not_only_batch,
)
from designer.core.params import Kind, Param, ParamError
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
    numel,
    pointwise,
    same_batch_axis,
)

# --- reductions ---------------------------------------------------------------------------


def reduced_axes(x: Tensor, dim: int | tuple[int, ...] | None, layer: str) -> list[int]:
    """Indices into x's per-sample shape of the dimensions a reduction works on: every one
    where dim is None."""
    return list(range(len(x.shape))) if dim is None else dim_list(layer, dim, x)


def _reduction(layer: str, kind: str):
    """Mean (FLOPs: one per element read), Sum and Amax (one per element read less one per
    output element)."""

    def evaluate(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
        (x,) = inputs
        axes = reduced_axes(x, p["dim"], layer)
        batch = x.batch_axis
        if p["keepdim"]:
            shape = tuple(1 if axis in axes else n for axis, n in enumerate(x.shape))
            fields = x.fields
            if fields is not None and any(axis > 0 for axis in axes):
                fields = tuple(
                    receptive.adaptive(f, x.shape[axis], 1) if axis in axes else f
                    for axis, f in enumerate(fields, start=1)
                )
        else:
            shape = tuple(n for axis, n in enumerate(x.shape) if axis not in axes)
            not_only_batch(layer, shape, "keepdim=true keeps the reduced dimensions as 1")
            fields = None
            batch = batch_after_removing(x, axes)
        read = numel(x.shape)
        dtype = x.dtype
        if kind == "sum" and dtype not in FLOATING:
            dtype = "int64"  # torch sums integers and bools as int64
        return LayerOutput(
            shape,
            fields,
            flops=read if kind == "mean" else read - numel(shape),
            dtype=dtype,
            batch_axis=batch,
        )

    return evaluate


def _reduction_spec(name: str, function: str, summary: str, dtypes: str) -> LayerSpec:
    return LayerSpec(
        name,
        CATEGORY,
        (
            Param(
                "dim",
                Kind.INT_TUPLE,
                None,
                nullable=True,
                help="counts the batch; null: every dimension of the sample",
            ),
            Param("keepdim", Kind.BOOL, False),
        ),
        _reduction(name, function),
        summary=summary,
        written_as=Function(f"torch.{function}"),
        functions=(function,),
        dtypes=dtypes,
        batch_anywhere=True,
    )


# --- products -----------------------------------------------------------------------------


def matmul_shape(a: Shape, b: Shape) -> tuple[Shape, int]:
    """torch.matmul's output for one sample of each operand, and the contracted size."""
    if len(a) == 1 and len(b) == 1:
        raise LayerError(
            f"MatMul of two vectors ({dims(a)} and {dims(b)}) would leave only the batch dimension"
        )
    left = (1, *a) if len(a) == 1 else a  # a vector is a row…
    right = (*b, 1) if len(b) == 1 else b  # …or a column, removed again afterwards
    if left[-1] != right[-2]:
        raise LayerError(
            f"MatMul needs the last dimension of port 0 to equal the second-to-last of "
            f"port 1: {dims(a)} @ {dims(b)} ({left[-1]} against {right[-2]})"
        )
    stack = (
        broadcast(
            "MatMul",
            [Tensor(left[:-2], None), Tensor(right[:-2], None)],
            lambda: (
                f"MatMul cannot broadcast the leading dimensions of {dims(a)} (port 0) and "
                f"{dims(b)} (port 1)"
            ),
        )
        if len(left) > 2 or len(right) > 2
        else ()
    )
    rows = () if len(a) == 1 else (left[-2],)
    columns = () if len(b) == 1 else (right[-1],)
    return (*stack, *rows, *columns), left[-1]


def _matmul(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    a, b = inputs
    if a.dtype != b.dtype:
        raise LayerError(f"MatMul needs inputs of one dtype, got {a.dtype} and {b.dtype}")
    shape, contracted = matmul_shape(a.shape, b.shape)
    macs = numel(shape) * contracted
    return LayerOutput(shape, None, macs=macs, flops=2 * macs)


def _attention(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    q, k, v = inputs
    names = ("query", "key", "value")
    if len({x.dtype for x in inputs}) > 1:
        raise LayerError(
            "ScaledDotProductAttention needs query, key and value of one dtype, got "
            + ", ".join(x.dtype for x in inputs)
        )
    if len(q.shape) < 2 or len({len(x.shape) for x in inputs}) > 1:
        raise LayerError(
            "ScaledDotProductAttention needs query, key and value with the same number of "
            "dimensions, at least 2 per sample ([..., L, E]): "
            + ", ".join(f"{n} is {dims(x.shape)}" for n, x in zip(names, inputs))
        )
    *_, length, embed = q.shape
    *_, source, key_embed = k.shape
    *_, value_source, value_embed = v.shape
    if key_embed != embed:
        raise LayerError(f"the key's last dimension {key_embed} must equal the query's {embed}")
    if value_source != source:
        raise LayerError(
            f"value has {value_source} positions (second-to-last dimension), key {source}"
        )
    leading = [x.shape[:-2] for x in inputs]
    if p["enable_gqa"] and len(q.shape) >= 3:
        heads = q.shape[-3]
        for name, x in zip(names[1:], inputs[1:]):
            if heads % x.shape[-3]:
                raise LayerError(
                    f"enable_gqa needs the {name}'s heads (dimension {len(x.shape) - 2}, "
                    f"{x.shape[-3]}) to divide the query's {heads}"
                )
        leading = [(*shape[:-1], heads) for shape in leading]

    def together(shapes: list[Shape]) -> Shape:
        if not shapes[0]:
            return ()
        return broadcast(
            "ScaledDotProductAttention",
            [Tensor(s, None) for s in shapes],
            lambda: (
                "ScaledDotProductAttention cannot broadcast the leading dimensions of "
                + ", ".join(f"{n} {dims(x.shape)}" for n, x in zip(names, inputs))
            ),
        )

    # Q·Kᵀ runs over the query's and key's leading dimensions, the weights times V over
    # all three (a value with more of them than query and key repeats the weights)
    scores = numel(together(leading[:2])) * length * source
    batch = together(leading)
    macs = scores * embed + numel(batch) * length * source * value_embed
    return LayerOutput(
        (*batch, length, value_embed),
        None,
        macs=macs,
        flops=2 * macs + 4 * scores,  # scaling and the softmax's 3 per weight
    )


# --- joining and learned tensors ---------------------------------------------------------


def _stack(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    first = inputs[0].shape
    for port, x in enumerate(inputs[1:], start=1):
        if x.shape != first:
            raise LayerError(
                f"Stack needs inputs of one shape: port 0 is {dims(first)}, "
                f"port {port} is {dims(x.shape)}"
            )
    same_batch_axis("Stack", inputs)
    axis, batch = inserted("Stack", p["dim"], inputs[0])
    shape = (*first[:axis], len(inputs), *first[axis:])
    return LayerOutput(shape, None, dtype=promoted([x.dtype for x in inputs]), batch_axis=batch)


def _parameter(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    shape = p["shape"]
    return LayerOutput(shape, None, params=numel(shape))


def _check_clamp(p: dict[str, Any]) -> None:
    if p["min"] is None and p["max"] is None:
        raise ParamError("min", "Clamp needs min or max (or both); both are null")


SPECS = [
    _reduction_spec("Mean", "mean", "average over dim", "float"),
    _reduction_spec("Sum", "sum", "sum over dim (integers sum as int64)", "any"),
    _reduction_spec("Amax", "amax", "maximum over dim", "any"),
    LayerSpec(
        "MatMul",
        CATEGORY,
        (),
        _matmul,
        summary="matrix product of port 0 and port 1 per sample, as torch.matmul "
        "(vectors and broadcast leading dimensions included)",
        inputs=(2, 2),
        written_as=Operator("@"),
        functions=("matmul",),
        methods=("matmul",),
    ),
    LayerSpec(
        "ScaledDotProductAttention",
        CATEGORY,
        (
            Param("dropout_p", Kind.FLOAT, 0.0, minimum=0, maximum=1),
            Param("is_causal", Kind.BOOL, False),
            Param(
                "scale",
                Kind.FLOAT,
                None,
                nullable=True,
                help="null: 1/sqrt(E), E the query's last dimension",
            ),
            Param("enable_gqa", Kind.BOOL, False, help="key and value may have fewer heads"),
        ),
        _attention,
        summary="softmax(Q·Kᵀ·scale)·V: ports 0 query [..., L, E], 1 key [..., S, E], "
        "2 value [..., S, Ev]",
        inputs=(3, 3),
        ports=("query", "key", "value"),
        written_as=Function("nn.functional.scaled_dot_product_attention"),
    ),
    LayerSpec(
        "Subtract",
        CATEGORY,
        (other_param("x - 1"),),
        elementwise("Subtract", lambda operands: 1),
        summary="port 0 minus port 1, broadcast as torch does; one input minus a number",
        inputs=(1, 2),
        written_as=Operator("-"),
        functions=("sub", "subtract"),
        batch_anywhere=True,
        merges_fields=True,
    ),
    LayerSpec(
        "Divide",
        CATEGORY,
        (other_param("x / 2"),),
        elementwise("Divide", lambda operands: 1),
        summary="port 0 divided by port 1, broadcast as torch does; one input by a number",
        inputs=(1, 2),
        written_as=Operator("/"),
        functions=("div", "divide", "truediv"),
        batch_anywhere=True,
        merges_fields=True,
    ),
    LayerSpec(
        "Clamp",
        CATEGORY,
        (
            Param("min", Kind.FLOAT, None, nullable=True),
            Param("max", Kind.FLOAT, None, nullable=True),
        ),
        pointwise(1),
        summary="limits values to [min, max]",
        check=_check_clamp,
        suggested={"min": 0.0},
        written_as=Function("torch.clamp"),
        functions=("clamp", "clip"),
        methods=("clamp", "clip"),
        batch_anywhere=True,
    ),
    LayerSpec(
        "Stack",
        CATEGORY,
        (dim_param(1, "counts the batch dimension, where the new one goes", torch=0),),
        _stack,
        summary="joins inputs of one shape along a new dimension",
        inputs=(1, None),
        written_as=Function("torch.stack"),
        functions=("stack",),
        dtypes="any",
        batch_anywhere=True,
    ),
    LayerSpec(
        "Parameter",
        CATEGORY,
        (
            Param(
                "shape",
                Kind.SHAPE,
                (1, 768),
                required=True,
                help="per sample: a class token [1, 768], a position table [197, 768]",
            ),
        ),
        _parameter,
        summary="a learned tensor (class token, position embedding): no input; its "
        "elements are parameters",
        inputs=(0, 0),
        written_as=Function("nn.Parameter"),
        dtypes="any",
    ),
]
