"""Tensor operations named after their torch function: reshaping and selecting here; the
reductions, products and arithmetic real models are written with in tensor_math.

Arguments are torch's. Dimension arguments count the batch dimension where torch's tensor
holds it (`Tensor.batch_axis`: 0, or 1 after a sequence-first layer) and may not name it,
except in `Transpose` and `Permute`, which may move the batch (dims 0 and 1 of a batch-first
tensor make it sequence-first, and back). An operation that removes or inserts dimensions
before the batch moves its index with them: `h_n[-1]` (Select dim 0 of an h_n, which holds
the batch at dim 1) gives a batch-first vector. `Reshape`, `MatMul` and
`ScaledDotProductAttention` take the batch at dim 0 only. `Reshape` and `Parameter` take a
shape per sample, the batch left out. Two conventions of
the designer's own, where torch's None would reach into the batch: `Squeeze` with `dim`
None squeezes every size-1 dimension of the sample, and `Mean`, `Sum` and `Amax` with `dim`
None reduce every dimension of the sample. No operation may leave only the batch (a shape
of nothing per sample): `keepdim` keeps the reduced dimensions as 1.

Receptive fields: an operation that moves or renames axes (Reshape, Permute, Transpose,
Unflatten, Squeeze, Unsqueeze, Select, a reduction without keepdim) gives none unless it
leaves the shape as it was; slicing along a spatial axis moves the field like a window
(stride = step); a reduction with keepdim sees the whole of each reduced axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from designer.core import receptive
from designer.core.params import Kind, Param, ParamError, show_value
from designer.core.receptive import Fields
from designer.core.spec import (
    Function,
    LayerError,
    LayerOutput,
    LayerSpec,
    Module,
    Shape,
    Tensor,
    dims,
    normalise_dim,
    numel,
    torch_dim,
    with_batch,
)

CATEGORY = "Tensor ops"


def _batched(x: Tensor) -> str:
    return f"a {len(x.shape) + 1}-D tensor ({with_batch(x.shape, x.batch_axis)})"


def batch_after_removing(x: Tensor, removed: Sequence[int]) -> int:
    """Where the batch is once the per-sample axes `removed` are gone: earlier by each
    one that came before it."""
    return x.batch_axis - sum(1 for axis in removed if axis < x.batch_axis)


def not_only_batch(layer: str, shape: Shape, hint: str) -> None:
    """Refuse an output with nothing left but the batch dimension."""
    if not shape:
        raise LayerError(f"{layer} would leave only the batch dimension; {hint}")


def dim_list(layer: str, value: int | tuple[int, ...], x: Tensor) -> list[int]:
    """Indices into the per-sample shape of a dim argument (an int or a list), each once."""
    written = value if isinstance(value, tuple) else (value,)
    axes = [normalise_dim(layer, "dim", d, x.shape, x.batch_axis) for d in written]
    for index, axis in enumerate(axes):
        if axis in axes[:index]:
            repeated = written[index] % (len(x.shape) + 1)
            raise LayerError(f"dim {repeated} appears more than once in dim {show_value(value)}")
    return axes


def _kept_fields(x: Tensor, shape: Shape) -> Fields | None:
    """The input's fields where the output has the input's shape, else none."""
    return x.fields if shape == x.shape else None


def without_holes(name: str):
    """A cross-check: at most one -1 (inferred) size, and no size of 0."""

    def check(p: dict[str, Any]) -> None:
        value = p[name]
        sizes = value if isinstance(value, tuple) else (value,)
        if sizes.count(-1) > 1:
            raise ParamError(name, f"only one size may be -1 (inferred), got {show_value(value)}")
        if 0 in sizes:
            raise ParamError(name, f"a size of 0 would make the output empty: {show_value(value)}")

    return check


def _inferred_sizes(layer: str, sizes: tuple[int, ...], total: int, what: str) -> Shape:
    """`sizes` with its -1 filled in so that they hold `total` elements, or a LayerError."""
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes:
        if total % known:
            raise LayerError(
                f"{layer} cannot make {show_value(sizes)} of {what}: "
                f"{total:,} is not a multiple of {known:,}"
            )
        return tuple(total // known if s == -1 else s for s in sizes)
    if known != total:
        raise LayerError(f"{layer} cannot make {show_value(sizes)} ({known:,} elements) of {what}")
    return sizes


# --- reshaping ---------------------------------------------------------------------------


def _reshape(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    written = p["shape"] if isinstance(p["shape"], tuple) else (p["shape"],)
    total = numel(x.shape)
    shape = _inferred_sizes(
        "Reshape", written, total, f"an input of {dims(x.shape)} = {total:,} elements per sample"
    )
    return LayerOutput(shape, _kept_fields(x, shape))


def _whole_dim(name: str, dim: int, x: Tensor) -> int:
    """A dim of the whole tensor (the batch may be named), made non-negative."""
    ndim = len(x.shape) + 1
    if not -ndim <= dim < ndim:
        raise LayerError(f"{name} {dim} is out of range for {_batched(x)}")
    return dim % ndim


def _rearranged(x: Tensor, order: Sequence[int]) -> LayerOutput:
    """The tensor whose dim i is dim `order[i]` of x (counting the batch, which may move).
    Fields stay where the sample's own axes keep their order."""
    batch = x.batch_axis
    axes = [d - 1 if d > batch else d for d in order if d != batch]  # per-sample indices
    shape = tuple(x.shape[a] for a in axes)
    return LayerOutput(
        shape, x.fields if axes == sorted(axes) else None, batch_axis=order.index(batch)
    )


def _permute(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    order = p["dims"] if isinstance(p["dims"], tuple) else (p["dims"],)
    if len(order) != len(x.shape) + 1:
        raise LayerError(
            f"dims {show_value(order)} names {len(order)} dimensions, the input is {_batched(x)}"
        )
    positions = [_whole_dim("dims entry", d, x) for d in order]
    if len(set(positions)) != len(positions):
        raise LayerError(f"dims {show_value(order)} names a dimension twice")
    return _rearranged(x, positions)


def _transpose(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    a = _whole_dim("dim0", p["dim0"], x)
    b = _whole_dim("dim1", p["dim1"], x)
    order = list(range(len(x.shape) + 1))
    order[a], order[b] = order[b], order[a]
    return _rearranged(x, order)


def _unflatten(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    axis = normalise_dim("Unflatten", "dim", p["dim"], x.shape, x.batch_axis)
    sizes = _inferred_sizes(
        "Unflatten",
        p["unflattened_size"],
        x.shape[axis],
        f"dimension {torch_dim(axis, x.batch_axis)} of size {x.shape[axis]}",
    )
    shape = (*x.shape[:axis], *sizes, *x.shape[axis + 1 :])
    batch = x.batch_axis + (len(sizes) - 1 if axis < x.batch_axis else 0)
    return LayerOutput(shape, _kept_fields(x, shape), batch_axis=batch)


def _check_unflatten(p: dict[str, Any]) -> None:
    if not isinstance(p["unflattened_size"], tuple):  # nn.Unflatten takes a list only
        raise ParamError(
            "unflattened_size",
            f"must be a list of sizes, got {show_value(p['unflattened_size'])}: "
            f"write [{show_value(p['unflattened_size'])}]",
        )
    without_holes("unflattened_size")(p)


def squeezed_axes(x: Tensor, dim: int | tuple[int, ...] | None) -> list[int]:
    """The indices into x's per-sample shape that Squeeze removes: the size-1 ones of
    `dim`, or every size-1 one where dim is None."""
    if dim is None:
        return [axis for axis, n in enumerate(x.shape) if n == 1]
    return [axis for axis in dim_list("Squeeze", dim, x) if x.shape[axis] == 1]


def _squeeze(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    removed = squeezed_axes(x, p["dim"])
    shape = tuple(n for axis, n in enumerate(x.shape) if axis not in removed)
    not_only_batch("Squeeze", shape, "name the dimensions to squeeze in dim")
    return LayerOutput(shape, _kept_fields(x, shape), batch_axis=batch_after_removing(x, removed))


def inserted(layer: str, dim: int, x: Tensor) -> tuple[int, int]:
    """Where a new dimension at torch's `dim` goes in the per-sample shape, and where the
    batch is then: a new dimension may go anywhere but where the batch is."""
    axis = normalise_dim(layer, "dim", dim, (*x.shape, 1), x.batch_axis)
    return axis, x.batch_axis + (1 if axis < x.batch_axis else 0)


def _unsqueeze(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    axis, batch = inserted("Unsqueeze", p["dim"], x)
    return LayerOutput((*x.shape[:axis], 1, *x.shape[axis:]), None, batch_axis=batch)


# --- splitting and selecting ------------------------------------------------------------


def _pieces(x: Tensor, axis: int, sizes: list[int]) -> LayerOutput:
    """Slots of consecutive pieces of `sizes` along `axis`."""
    tensors = []
    start = 0
    for size in sizes:
        shape = (*x.shape[:axis], size, *x.shape[axis + 1 :])
        tensors.append(Tensor(shape, _slice_fields(x, axis, start, 1), x.dtype, x.batch_axis))
        start += size
    first, *more = tensors
    return LayerOutput(first.shape, first.fields, dtype=x.dtype, more=tuple(more))


def _split(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    axis = normalise_dim("Split", "dim", p["dim"], x.shape, x.batch_axis)
    length = x.shape[axis]
    value = p["split_size_or_sections"]
    if isinstance(value, tuple):
        if sum(value) != length:
            raise LayerError(
                f"split_size_or_sections {show_value(value)} adds up to {sum(value)}, "
                f"but dimension {torch_dim(axis, x.batch_axis)} is {length}"
            )
        sizes = list(value)
    else:
        sizes = [value] * (length // value) + ([length % value] if length % value else [])
    return _pieces(x, axis, sizes)


def _split_slots(p: dict[str, Any]) -> tuple[str, ...]:
    """One slot per piece. With a split size the count follows from the input, which
    slot names cannot see: two are named, and further ones are read by their index
    (`output 2`, as the window and the exporter name a slot beyond the names)."""
    value = p["split_size_or_sections"]
    return _numbered(len(value) if isinstance(value, tuple) else 2)


def _numbered(count: int) -> tuple[str, ...]:
    return tuple(f"output {i}" for i in range(count))


def _chunk(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    axis = normalise_dim("Chunk", "dim", p["dim"], x.shape, x.batch_axis)
    length = x.shape[axis]
    size = -(-length // p["chunks"])  # torch's chunk size; it may make fewer chunks
    sizes = [size] * (length // size) + ([length % size] if length % size else [])
    return _pieces(x, axis, sizes)


def _chunk_slots(p: dict[str, Any]) -> tuple[str, ...]:
    """One slot per chunk asked for (torch may make fewer), the first 64 of a count so
    large that the window could not show a port for each."""
    return _numbered(min(p["chunks"], 64))


def _select(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    axis = normalise_dim("Select", "dim", p["dim"], x.shape, x.batch_axis)
    length, index = x.shape[axis], p["index"]
    if not -length <= index < length:
        raise LayerError(
            f"index {index} is out of range for dimension {torch_dim(axis, x.batch_axis)} "
            f"of size {length}"
        )
    shape = x.shape[:axis] + x.shape[axis + 1 :]
    not_only_batch("Select", shape, "use Slice to keep the dimension")
    return LayerOutput(shape, None, batch_axis=batch_after_removing(x, [axis]))


def slice_indices(p: dict[str, Any], length: int) -> range:
    """The positions `x[start:end:step]` keeps along an axis of `length`, as Python's."""
    return range(length)[slice(p["start"], p["end"], p["step"])]


def _slice_fields(x: Tensor, axis: int, start: int, step: int) -> Fields | None:
    """Fields after keeping every step-th unit from `start` along `axis`: the channel axis
    leaves them as they are; a spatial axis moves like a window of one unit."""
    if x.fields is None or axis == 0 or (start == 0 and step == 1):
        return x.fields
    fields = list(x.fields)
    fields[axis - 1] = receptive.window(fields[axis - 1], 1, step, -start)
    return tuple(fields)


def _slice(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    axis = normalise_dim("Slice", "dim", p["dim"], x.shape, x.batch_axis)
    kept = slice_indices(p, x.shape[axis])
    if not kept:
        raise LayerError(
            f"start {show_value(p['start'])}, end {show_value(p['end'])} and step {p['step']} "
            f"keep nothing of dimension {torch_dim(axis, x.batch_axis)} (size {x.shape[axis]})"
        )
    shape = (*x.shape[:axis], len(kept), *x.shape[axis + 1 :])
    return LayerOutput(shape, _slice_fields(x, axis, kept.start, p["step"]))


def dim_param(default: int, help: str = "counts the batch dimension", torch: Any = None) -> Param:
    """A dim argument whose default the designer sets where torch's names the batch."""
    if torch is None:
        return Param("dim", Kind.INT, default, help=help)
    return Param("dim", Kind.INT, default, help=help, pytorch_default=torch)


SPECS = [
    LayerSpec(
        "Reshape",
        CATEGORY,
        (
            Param(
                "shape",
                Kind.INT_TUPLE,
                -1,
                minimum=-1,
                required=True,
                help="per sample, the batch left out; one size may be -1 (inferred)",
            ),
        ),
        _reshape,
        summary="the same elements in another shape per sample (x.reshape(N, *shape))",
        check=without_holes("shape"),
        written_as=Function("torch.reshape"),
        dtypes="any",
        shape_only=True,
    ),
    LayerSpec(
        "Permute",
        CATEGORY,
        (
            Param(
                "dims",
                Kind.INT_TUPLE,
                (0, 2, 1),
                required=True,
                help="every dimension, counting the batch (0), which may move",
            ),
        ),
        _permute,
        summary="reorders dimensions: [0, 2, 1] turns C×L into L×C",
        written_as=Function("torch.permute"),
        functions=("permute",),
        methods=("permute",),
        dtypes="any",
        shape_only=True,
        batch_anywhere=True,
    ),
    LayerSpec(
        "Transpose",
        CATEGORY,
        (
            Param("dim0", Kind.INT, 1, required=True, help="counts the batch dimension"),
            Param("dim1", Kind.INT, 2, required=True, help="counts the batch dimension"),
        ),
        _transpose,
        summary="swaps two dimensions; dims 0 and 1 turn batch-first into sequence-first",
        written_as=Function("torch.transpose"),
        functions=("transpose",),
        methods=("transpose",),
        dtypes="any",
        shape_only=True,
        batch_anywhere=True,
    ),
    LayerSpec(
        "Unflatten",
        CATEGORY,
        (
            Param("dim", Kind.INT, 1, required=True, help="counts the batch dimension"),
            Param(
                "unflattened_size",
                Kind.INT_TUPLE,
                (2, -1),
                minimum=-1,
                required=True,
                help="the sizes dim becomes; one may be -1 (inferred)",
            ),
        ),
        _unflatten,
        summary="splits one dimension into several (C·H·W → C×H×W)",
        check=_check_unflatten,
        torch_name="Unflatten",
        written_as=Module(positional=("dim", "unflattened_size")),
        dtypes="any",
        shape_only=True,
        batch_anywhere=True,
    ),
    LayerSpec(
        "Squeeze",
        CATEGORY,
        (
            Param(
                "dim",
                Kind.INT_TUPLE,
                None,
                nullable=True,
                help="counts the batch; null: every size-1 dimension of the sample",
            ),
        ),
        _squeeze,
        summary="removes dimensions of size 1 (never the batch)",
        written_as=Function("torch.squeeze"),
        functions=("squeeze",),
        dtypes="any",
        shape_only=True,
        batch_anywhere=True,
    ),
    LayerSpec(
        "Unsqueeze",
        CATEGORY,
        (Param("dim", Kind.INT, 1, required=True, help="where the new dimension goes"),),
        _unsqueeze,
        summary="inserts a dimension of size 1",
        written_as=Function("torch.unsqueeze"),
        functions=("unsqueeze",),
        methods=("unsqueeze",),
        dtypes="any",
        shape_only=True,
        batch_anywhere=True,
    ),
    LayerSpec(
        "Split",
        CATEGORY,
        (
            Param(
                "split_size_or_sections",
                Kind.INT_TUPLE,
                2,
                minimum=1,
                required=True,
                help="the size of each piece, or a list of the pieces' sizes",
            ),
            dim_param(1, "counts the batch dimension; 1 splits channels", torch=0),
        ),
        _split,
        summary="cuts into pieces along dim, one output per piece",
        written_as=Function("torch.split"),
        methods=("split",),  # torch.split names its tensor `tensor`, which import misses
        slots=_split_slots,
        dtypes="any",
        shape_only=True,
        batch_anywhere=True,
    ),
    LayerSpec(
        "Chunk",
        CATEGORY,
        (
            Param("chunks", Kind.INT, 2, minimum=1, required=True),
            dim_param(1, "counts the batch dimension; 1 splits channels", torch=0),
        ),
        _chunk,
        summary="cuts into chunks pieces of one size along dim (torch may make fewer)",
        written_as=Function("torch.chunk"),
        functions=("chunk",),
        methods=("chunk",),
        slots=_chunk_slots,
        dtypes="any",
        shape_only=True,
        batch_anywhere=True,
    ),
    LayerSpec(
        "Select",
        CATEGORY,
        (
            Param("dim", Kind.INT, 1, required=True, help="counts the batch dimension"),
            Param("index", Kind.INT, 0, required=True, help="negative counts from the end"),
        ),
        _select,
        summary="one position along dim, which goes away (x[:, 0])",
        written_as=Function("torch.select"),
        functions=("select",),
        methods=("select",),
        dtypes="any",
        shape_only=True,
        batch_anywhere=True,
    ),
    LayerSpec(
        "Slice",
        CATEGORY,
        (
            dim_param(1),
            Param("start", Kind.INT, None, nullable=True),
            Param("end", Kind.INT, None, nullable=True),
            Param("step", Kind.INT, 1, minimum=1),
        ),
        _slice,
        summary="x[:, start:end:step] along dim, as Python slices",
        written_as=Function("slice"),
        dtypes="any",
        shape_only=True,
        batch_anywhere=True,
    ),
]
