"""PyTorch as the oracle for the tensor operations (Reshape, Permute, MatMul, …), which
have no torch.nn class: each case runs the torch function the type is named after.

The design's shapes are per sample. Where a torch function would treat the batch as one
more dimension of the data (a matrix product or a broadcast of operands of different
ranks), the oracle runs it per sample with `torch.vmap`, which is what the designer
means; everything else runs on the batched tensor as it is. Batches are of 2, so that a
squeeze of every size-1 dimension leaves the batch alone as the designer does.

Operations that take the batch beyond dim 0 (a sequence-first tensor, `Tensor.batch_axis`)
are run again with it there (`MOVED`): a batch of 11, which no drawn size equals, so that
comparing torch's whole shapes with the engine's (its per-sample shape with the batch put
back at its batch_axis) checks where the engine says the batch went.

As in test_torch_oracle: where torch refuses, the engine must refuse; where torch
computes, the engine gives every output slot's shape and dtype, the parameters and the
MACs (FlopCounterMode counts 2 FLOPs per multiply-accumulate: it counts torch.matmul,
vmapped ones included, and scaled_dot_product_attention on the CPU). Where torch computes
an empty tensor, or leaves nothing but the batch, the engine must refuse.
"""

from __future__ import annotations

import contextlib
import functools
import math
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from designer.core import receptive
from designer.core.graph import Architecture, NodeRecord
from designer.core.params import ParamError
from designer.core.propagate import analyse
from designer.core.registry import LAYERS
from designer.core.spec import LayerError, LayerOutput, Shape, Tensor
from tests.helpers import assert_agrees, chain

EXAMPLES_PER_TYPE = 120
MOVED_EXAMPLES = 60
BATCH = 2
MOVED_BATCH = 11

Strategy = st.SearchStrategy


@dataclass(frozen=True)
class OpCase:
    """One operation with the params a user would write, fed tensors of these shapes
    (per sample) and dtypes."""

    name: str
    params: dict[str, Any]
    shapes: tuple[Shape, ...]
    dtypes: tuple[str, ...] = ()
    batch_axes: tuple[int, ...] = ()

    @property
    def input_dtypes(self) -> tuple[str, ...]:
        return self.dtypes or ("float32",) * len(self.shapes)

    @property
    def input_batch_axes(self) -> tuple[int, ...]:
        return self.batch_axes or (0,) * len(self.shapes)

    @property
    def batch(self) -> int:
        return MOVED_BATCH if any(self.input_batch_axes) else BATCH


@dataclass(frozen=True)
class TorchResult:
    shapes: tuple[Shape, ...]  # whole, batch included
    dtypes: tuple[str, ...]
    params: int
    flops: int


# --- drawing ------------------------------------------------------------------------------


def mostly(usual: Strategy, rare: Strategy, odds: int = 8) -> Strategy:
    """`usual` about odds-1 times in odds, else `rare`."""
    return st.sampled_from([usual] * (odds - 1) + [rare]).flatmap(lambda chosen: chosen)


def shapes(ranks: Sequence[int] = (1, 2, 3, 4), side: int = 6) -> Strategy:
    """A per-sample shape of one of `ranks` dimensions, sizes from 1 (often) to `side`."""
    size = mostly(st.integers(1, side), st.just(1), odds=4)
    return st.sampled_from(ranks).flatmap(lambda rank: st.tuples(*[size] * rank))


def dim_of(rank: int, extra: int = 0) -> Strategy:
    """A dim (counting the batch) of a tensor with `rank` dimensions per sample (plus
    `extra` for a dimension the operation adds), never the batch; rarely out of range."""
    ndim = rank + 1 + extra
    inside = st.sampled_from([*range(1, ndim), *range(-ndim + 1, 0)])
    return mostly(inside, st.sampled_from((ndim, -ndim - 1)))


def dims_of(rank: int) -> Strategy:
    """A dim argument of a reduction or a squeeze: null, one dim, or a list of them
    (rarely with a repeat, which torch refuses)."""
    one = dim_of(rank)
    several = st.lists(st.sampled_from(range(1, rank + 1)), min_size=1, max_size=rank, unique=True)
    repeated = st.lists(one, min_size=2, max_size=3)
    return mostly(st.one_of(one, mostly(several, repeated)), st.none(), odds=5)


FLOATS = ("float32", "float64", "float16", "bfloat16")
ANY_DTYPE = (*FLOATS, "int64", "int32", "bool")


def dtype(choices: Sequence[str] = ANY_DTYPE) -> Strategy:
    return mostly(st.just("float32"), st.sampled_from(choices), odds=3)


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def reshape(draw) -> OpCase:
    x = draw(shapes())
    total = math.prod(x)
    sizes: list[int] = []
    left = total
    for _ in range(draw(st.integers(0, 3))):
        size = draw(st.sampled_from(divisors(left)))
        sizes.append(size)
        left //= size
    sizes.append(left)
    if draw(st.booleans()):
        sizes[draw(st.integers(0, len(sizes) - 1))] = -1
    wrong = st.lists(st.integers(-2, 7), min_size=1, max_size=4)
    shape = draw(mostly(st.just(sizes), wrong))
    written = shape[0] if len(shape) == 1 and draw(st.booleans()) else shape
    return OpCase("Reshape", {"shape": written}, (x,), (draw(dtype()),))


@st.composite
def permute(draw) -> OpCase:
    x = draw(shapes())
    ndim = len(x) + 1
    order = [0, *draw(st.permutations(range(1, ndim)))]
    order = [d - ndim if d and draw(st.booleans()) else d for d in order]
    if draw(mostly(st.just(False), st.just(True))):
        order = draw(st.lists(st.integers(-ndim, ndim), min_size=1, max_size=ndim + 1))
        order[0] = 0
    return OpCase("Permute", {"dims": order}, (x,), (draw(dtype()),))


@st.composite
def transpose(draw) -> OpCase:
    x = draw(shapes())
    params = {"dim0": draw(dim_of(len(x))), "dim1": draw(dim_of(len(x)))}
    return OpCase("Transpose", params, (x,), (draw(dtype()),))


@st.composite
def unflatten(draw) -> OpCase:
    x = draw(shapes(side=12))
    dim = draw(dim_of(len(x)))
    length = x[(dim % (len(x) + 1)) - 1] if -len(x) - 1 <= dim <= len(x) else 6
    sizes: list[int] = []
    left = length
    for _ in range(draw(st.integers(0, 2))):
        size = draw(st.sampled_from(divisors(left)))
        sizes.append(size)
        left //= size
    sizes.append(left)
    if draw(st.booleans()):
        sizes[draw(st.integers(0, len(sizes) - 1))] = -1
    wrong = st.lists(st.integers(-1, 6), min_size=1, max_size=3) | st.integers(1, 6)
    return OpCase(
        "Unflatten",
        {"dim": dim, "unflattened_size": draw(mostly(st.just(sizes), wrong))},
        (x,),
        (draw(dtype()),),
    )


@st.composite
def squeeze(draw) -> OpCase:
    x = draw(shapes())
    params = draw(st.sampled_from(({}, {"dim": draw(dims_of(len(x)))})))
    return OpCase("Squeeze", params, (x,), (draw(dtype()),))


@st.composite
def unsqueeze(draw) -> OpCase:
    x = draw(shapes())
    return OpCase("Unsqueeze", {"dim": draw(dim_of(len(x), extra=1))}, (x,), (draw(dtype()),))


@st.composite
def split(draw) -> OpCase:
    x = draw(shapes(side=9))
    dim = draw(dim_of(len(x)))
    length = x[(dim % (len(x) + 1)) - 1] if -len(x) - 1 <= dim <= len(x) else 6
    sections: list[int] = []
    left = length
    while left:
        piece = draw(st.integers(1, left))
        sections.append(piece)
        left -= piece
    wrong = st.lists(st.integers(1, 5), min_size=1, max_size=4)
    value = draw(st.one_of(st.integers(1, 10), mostly(st.just(sections), wrong)))
    params = {"split_size_or_sections": value, **draw(st.sampled_from(({}, {"dim": dim})))}
    return OpCase("Split", params, (x,), (draw(dtype()),))


@st.composite
def chunk(draw) -> OpCase:
    x = draw(shapes(side=9))
    params = {"chunks": draw(st.integers(1, 10))}
    if draw(st.booleans()):
        params["dim"] = draw(dim_of(len(x)))
    return OpCase("Chunk", params, (x,), (draw(dtype()),))


@st.composite
def select(draw) -> OpCase:
    x = draw(mostly(shapes((2, 3, 4)), shapes((1,))))
    dim = draw(dim_of(len(x)))
    length = x[(dim % (len(x) + 1)) - 1] if -len(x) - 1 <= dim <= len(x) else 6
    index = mostly(st.integers(-length, length - 1), st.integers(-7, 7))
    params = {"dim": dim, "index": draw(index)}
    return OpCase("Select", params, (x,), (draw(dtype()),))


@st.composite
def slicing(draw) -> OpCase:
    x = draw(shapes(side=9))
    params: dict[str, Any] = {}
    if draw(st.booleans()):
        params["dim"] = draw(dim_of(len(x)))
    for name in ("start", "end"):
        if draw(st.booleans()):
            params[name] = draw(st.none() | st.integers(-10, 10))
    if draw(st.booleans()):
        params["step"] = draw(mostly(st.integers(1, 4), st.integers(-1, 0)))
    return OpCase("Slice", params, (x,), (draw(dtype()),))


@st.composite
def reduction(draw, name: str, choices: Sequence[str]) -> OpCase:
    x = draw(shapes())
    params: dict[str, Any] = {"dim": draw(dims_of(len(x)))}
    if params["dim"] is None and draw(st.booleans()):
        del params["dim"]  # the default: every dimension of the sample
    if draw(st.booleans()):
        params["keepdim"] = draw(mostly(st.just(True), st.just(False), odds=3))
    return OpCase(name, params, (x,), (draw(dtype(choices)),))


@st.composite
def matmul(draw) -> OpCase:
    """Operands that mostly fit: vectors, matrices and stacks of them, whose leading
    dimensions broadcast (rarely not)."""
    k = draw(st.integers(1, 5))

    def operand(last: tuple[int, ...]) -> Strategy:
        leading = st.lists(st.sampled_from((1, 2, 3)), max_size=2).map(tuple)
        return st.one_of(st.just((k,)), leading.map(lambda lead: (*lead, *last)))

    a = draw(operand((draw(st.integers(1, 4)), k)))
    b = draw(operand((k, draw(st.integers(1, 4)))))
    if draw(mostly(st.just(False), st.just(True))):
        b = draw(shapes(ranks=(1, 2, 3), side=5))
    kind = draw(mostly(st.just("float32"), st.sampled_from(("float64", "float16"))))
    return OpCase("MatMul", {}, (a, b), (kind, kind))


@st.composite
def attention(draw) -> OpCase:
    """Query [..., L, E], key [..., S, E], value [..., S, Ev] of one rank, the leading
    dimensions (heads) equal, 1 or fewer for grouped-query attention; rarely a misfit."""
    rank = draw(st.sampled_from((2, 3, 3, 4)))
    heads = draw(st.sampled_from((1, 2, 4)))
    lead = () if rank == 2 else (*([2] * (rank - 3)), heads)
    kv_heads = st.sampled_from(sorted({1, heads, max(heads // 2, 1)}))
    kv_lead = () if rank == 2 else (*lead[:-1], draw(kv_heads))
    length, source = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    embed, value_embed = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    q = (*lead, length, embed)
    k = (*kv_lead, source, embed)
    v = (*kv_lead, source, value_embed)
    if draw(mostly(st.just(False), st.just(True))):  # one rank (DELIBERATE_REFUSALS)
        misfit = shapes(ranks=(draw(st.sampled_from((2, 3))),), side=4)
        q, k, v = (draw(misfit) for _ in range(3))
    params: dict[str, Any] = {}
    for name, value in (
        ("dropout_p", mostly(st.sampled_from((0.0, 0.1)), st.just(1.5))),
        ("is_causal", st.booleans()),
        ("scale", st.none() | st.floats(0.1, 2.0)),
        ("enable_gqa", st.booleans()),
    ):
        if draw(st.booleans()):
            params[name] = draw(value)
    return OpCase("ScaledDotProductAttention", params, (q, k, v), ("float32",) * 3)


@st.composite
def arithmetic(draw, name: str, most: int) -> OpCase:
    """Inputs that broadcast (each dimension its size or 1; a vector or fewer dimensions
    now and then; rarely a misfit), or one input and `other`."""
    x = draw(shapes())
    if draw(mostly(st.just(False), st.just(True), odds=4)):
        params: dict[str, Any] = {"other": draw(st.integers(-3, 3) | st.floats(-2.0, 2.0))}
        if draw(mostly(st.just(False), st.just(True))):
            params = {}  # one input without other: refused
        return OpCase(name, params, (x,), (draw(dtype(FLOATS)),))

    def operand(shape: Shape) -> Strategy:
        same = st.tuples(*(mostly(st.sampled_from((n, 1)), st.integers(1, 6)) for n in shape))
        return mostly(same, st.sampled_from((shape[-1:], (1,))), odds=4)

    count = draw(st.integers(2, most))
    inputs = [draw(operand(x)) for _ in range(count)]
    if len(x) > 1 and not any(len(s) > 1 and s[-1] > 1 for s in inputs):
        inputs[0] = x  # an input with fields runs along the last axis (DELIBERATE_REFUSALS)
    inputs = tuple(inputs)
    kinds = tuple(draw(mostly(st.just("float32"), st.sampled_from(FLOATS))) for _ in inputs)
    params = draw(mostly(st.just({}), st.just({"other": 1.0})))
    return OpCase(name, params, inputs, kinds)


@st.composite
def clamp(draw) -> OpCase:
    x = draw(shapes())
    bound = st.integers(-3, 3) | st.floats(-2.0, 2.0)
    given = draw(st.sampled_from((("min",), ("max",), ("min", "max"))))
    params = {name: draw(mostly(bound, st.none())) for name in given}  # rarely neither
    return OpCase("Clamp", params, (x,), (draw(dtype(FLOATS)),))


@st.composite
def stack(draw) -> OpCase:
    x = draw(shapes())
    count = draw(st.integers(1, 3))
    inputs = [x] * count
    if count > 1 and draw(mostly(st.just(False), st.just(True))):
        inputs[-1] = draw(shapes())
    params = draw(st.sampled_from(({}, {"dim": draw(dim_of(len(x), extra=1))})))
    kinds = tuple(draw(dtype()) for _ in inputs)
    return OpCase("Stack", params, tuple(inputs), kinds)


@st.composite
def parameter(draw) -> OpCase:
    shape = draw(st.lists(st.integers(1, 8), min_size=1, max_size=4))
    return OpCase("Parameter", {"shape": draw(mostly(st.just(shape), st.just([0, 3])))}, ())


CASES: dict[str, Strategy] = {
    "Reshape": reshape(),
    "Permute": permute(),
    "Transpose": transpose(),
    "Unflatten": unflatten(),
    "Squeeze": squeeze(),
    "Unsqueeze": unsqueeze(),
    "Split": split(),
    "Chunk": chunk(),
    "Select": select(),
    "Slice": slicing(),
    "Mean": reduction("Mean", FLOATS),
    "Sum": reduction("Sum", ANY_DTYPE),
    "Amax": reduction("Amax", ANY_DTYPE),
    "MatMul": matmul(),
    "ScaledDotProductAttention": attention(),
    "Subtract": arithmetic("Subtract", 2),
    "Divide": arithmetic("Divide", 2),
    "Clamp": clamp(),
    "Stack": stack(),
    "Parameter": parameter(),
}


# --- the batch beyond dim 0 ---------------------------------------------------------------


@st.composite
def moved_input(draw, ranks: Sequence[int] = (1, 2, 3), side: int = 6) -> tuple[Shape, int]:
    """A per-sample shape and a batch axis beyond 0 (at most its rank: the batch last)."""
    x = draw(shapes(ranks, side))
    return x, draw(st.integers(1, len(x)))


def dim_beside(ndim: int, batch: int) -> Strategy:
    """A dim of a tensor of `ndim` dimensions that holds the batch at `batch`: never the
    batch; rarely out of range."""
    inside = [d for d in range(ndim) if d != batch]
    return mostly(
        st.sampled_from([*inside, *(d - ndim for d in inside)]),
        st.sampled_from((ndim, -ndim - 1)),
    )


def dims_beside(ndim: int, batch: int) -> Strategy:
    """A reduction's or a squeeze's dim: null, one dim, or a list of them, never the batch."""
    several = st.lists(
        st.sampled_from([d for d in range(ndim) if d != batch]), min_size=1, unique=True
    )
    return mostly(st.one_of(dim_beside(ndim, batch), several), st.none(), odds=5)


def _sizes_of(draw, length: int) -> list[int]:
    """Sizes that multiply to `length`, one of them sometimes -1 (inferred)."""
    sizes: list[int] = []
    for _ in range(draw(st.integers(0, 2))):
        size = draw(st.sampled_from(divisors(length)))
        sizes.append(size)
        length //= size
    sizes.append(length)
    if draw(st.booleans()):
        sizes[draw(st.integers(0, len(sizes) - 1))] = -1
    return sizes


def _length(x: Shape, dim: int, batch: int) -> int:
    """The size of torch's `dim` of a sample x with the batch at `batch` (6 out of range)."""
    ndim = len(x) + 1
    if not -ndim <= dim < ndim:
        return 6
    position = dim % ndim
    return x[position - 1 if position > batch else position]


@st.composite
def moved(draw, name: str) -> OpCase:
    """An operation fed tensors that hold the batch beyond dim 0. Transpose and Permute may
    name the batch (moving it); the others name every dim but the batch."""
    x, batch = draw(moved_input())
    ndim = len(x) + 1
    dim = draw(dim_beside(ndim, batch))
    kind = draw(dtype())
    params: dict[str, Any]
    inputs = [x]
    if name == "Transpose":
        whole = mostly(st.integers(-ndim, ndim - 1), st.sampled_from((ndim, -ndim - 1)))
        params = {"dim0": draw(whole), "dim1": draw(whole)}
    elif name == "Permute":
        params = {"dims": list(draw(st.permutations(range(ndim))))}
    elif name == "Unflatten":
        params = {"dim": dim, "unflattened_size": _sizes_of(draw, _length(x, dim, batch))}
    elif name == "Squeeze":
        params = {"dim": draw(dims_beside(ndim, batch))}
    elif name in ("Unsqueeze", "Stack"):
        places = [d for d in range(ndim + 1) if d != batch]
        params = {"dim": draw(st.sampled_from([*places, *(d - ndim - 1 for d in places)]))}
        inputs = [x] * (1 if name == "Unsqueeze" else draw(st.integers(1, 3)))
    elif name in ("Split", "Chunk"):
        count = st.integers(1, max(_length(x, dim, batch), 1))
        params = {"split_size_or_sections" if name == "Split" else "chunks": draw(count)}
        params["dim"] = dim
    elif name == "Select":
        length = _length(x, dim, batch)
        params = {"dim": dim, "index": draw(st.integers(-length, length - 1))}
    elif name == "Slice":
        bounds = st.none() | st.integers(-7, 7)
        params = {"dim": dim, "start": draw(bounds), "end": draw(bounds)}
        params["step"] = draw(st.integers(1, 3))
    elif name in ("Mean", "Sum", "Amax"):
        kind = draw(dtype(FLOATS if name == "Mean" else ANY_DTYPE))
        params = {"dim": draw(dims_beside(ndim, batch)), "keepdim": draw(st.booleans())}
    elif name == "Concat":
        params = {"dim": dim}
        count = draw(st.integers(1, 3))
        if -ndim <= dim < ndim:
            # the first piece is longer than 1 along dim: receptive.merged_fields cannot
            # yet merge a spatial axis made only of length-1 pieces (an IndexError)
            axis = dim % ndim - (dim % ndim > batch)
            lengths = [draw(st.integers(2, 4))]
            lengths += [draw(st.integers(1, 4)) for _ in range(count - 1)]
            inputs = [(*x[:axis], n, *x[axis + 1 :]) for n in lengths]
    elif name == "Clamp":
        kind = draw(dtype(FLOATS))
        params = {"min": draw(st.floats(-2.0, 0.0)), "max": draw(st.floats(0.0, 2.0))}
    else:  # Add, Subtract, Multiply, Divide: operands of one rank
        kind = draw(dtype(FLOATS))
        if draw(mostly(st.just(False), st.just(True), odds=4)):
            params = {"other": draw(st.floats(-2.0, 2.0))}
        else:
            params = {}
            operand = st.tuples(*(st.sampled_from((n, 1)) for n in x))
            inputs = [x, *(draw(operand) for _ in range(draw(st.integers(1, 2))))]
    return OpCase(name, params, tuple(inputs), (kind,) * len(inputs), (batch,) * len(inputs))


MOVED = [
    "Transpose",
    "Permute",
    "Unflatten",
    "Squeeze",
    "Unsqueeze",
    "Split",
    "Chunk",
    "Select",
    "Slice",
    "Mean",
    "Sum",
    "Amax",
    "Add",
    "Subtract",
    "Multiply",
    "Divide",
    "Concat",
    "Stack",
    "Clamp",
]


# --- torch's side -------------------------------------------------------------------------


def _dims(p: dict[str, Any], x: torch.Tensor) -> Any:
    """A reduction's dim: every dimension of the sample where the design leaves it null."""
    dim = p.get("dim")
    return tuple(range(1, x.dim())) if dim is None else dim


def _sliced(x: torch.Tensor, p: dict[str, Any]) -> torch.Tensor:
    dim = p.get("dim", 1)
    if not -x.dim() <= dim < x.dim():
        raise IndexError(f"dim {dim} of a {x.dim()}-D tensor")
    index = [slice(None)] * (dim % x.dim())
    return x[(*index, slice(p.get("start"), p.get("end"), p.get("step", 1)))]


def _elementwise(operation: Callable) -> Callable:
    """Per sample (operands of fewer dimensions broadcast within it), or with `other`.
    Operands of one rank broadcast per sample as they do whole, wherever the batch is."""

    def run(xs: list[torch.Tensor], p: dict[str, Any]) -> torch.Tensor:
        other = p.get("other")
        if (other is None) == (len(xs) == 1):  # torch has no spelling for either
            raise TypeError(f"{len(xs)} tensors and other={other}")
        if other is not None:
            return operation(*xs, other)
        if len({x.dim() for x in xs}) == 1:
            return functools.reduce(operation, xs)
        return torch.vmap(lambda *each: functools.reduce(operation, each))(*xs)

    return run


def _learned(xs: list[torch.Tensor], p: dict[str, Any]) -> torch.Tensor:
    shape = p["shape"] if isinstance(p["shape"], list) else [p["shape"]]
    return nn.Parameter(torch.zeros(1, *shape)).expand(BATCH, *shape)


TORCH: dict[str, Callable[[list[torch.Tensor], dict[str, Any]], Any]] = {
    "Reshape": lambda xs, p: torch.reshape(
        xs[0], (BATCH, *(p["shape"] if isinstance(p["shape"], list) else [p["shape"]]))
    ),
    "Permute": lambda xs, p: torch.permute(xs[0], p["dims"]),
    "Transpose": lambda xs, p: torch.transpose(xs[0], p["dim0"], p["dim1"]),
    "Unflatten": lambda xs, p: nn.Unflatten(p["dim"], p["unflattened_size"])(xs[0]),
    "Squeeze": lambda xs, p: (
        torch.squeeze(xs[0], p["dim"])
        if "dim" in p and p["dim"] is not None
        else torch.squeeze(xs[0])
    ),
    "Unsqueeze": lambda xs, p: torch.unsqueeze(xs[0], p["dim"]),
    "Split": lambda xs, p: torch.split(xs[0], p["split_size_or_sections"], p.get("dim", 1)),
    "Chunk": lambda xs, p: torch.chunk(xs[0], p["chunks"], p.get("dim", 1)),
    "Select": lambda xs, p: torch.select(xs[0], p["dim"], p["index"]),
    "Slice": lambda xs, p: _sliced(xs[0], p),
    "Mean": lambda xs, p: torch.mean(xs[0], _dims(p, xs[0]), p.get("keepdim", False)),
    "Sum": lambda xs, p: torch.sum(xs[0], _dims(p, xs[0]), p.get("keepdim", False)),
    "Amax": lambda xs, p: torch.amax(xs[0], _dims(p, xs[0]), p.get("keepdim", False)),
    "MatMul": lambda xs, p: torch.vmap(torch.matmul)(*xs),
    "ScaledDotProductAttention": lambda xs, p: F.scaled_dot_product_attention(*xs, **p),
    "Add": _elementwise(torch.add),
    "Subtract": _elementwise(torch.sub),
    "Multiply": _elementwise(torch.mul),
    "Divide": _elementwise(torch.div),
    "Clamp": lambda xs, p: torch.clamp(xs[0], p.get("min"), p.get("max")),
    "Stack": lambda xs, p: torch.stack(xs, p.get("dim", 1)),
    "Concat": lambda xs, p: torch.cat(xs, p.get("dim", 1)),
    "Parameter": _learned,
}


# FlopCounterMode does not count the fused attention kernel torch 2.13 takes on the CPU
# for some shapes (_scaled_dot_product_flash_attention_for_cpu): FLOPs are counted on
# torch's math backend, whose two batched products it counts.
COUNTED: dict[str, Callable[[], Any]] = {
    "ScaledDotProductAttention": lambda: sdpa_kernel(SDPBackend.MATH),
}


def _tensor(shape: Shape, kind: str, batch: int, batch_axis: int) -> torch.Tensor:
    """A tensor of `batch` samples of `shape`, the batch at dim `batch_axis`."""
    if kind == "bool":
        x = torch.rand(batch, *shape) > 0.5
    elif kind in ("int64", "int32"):
        x = torch.randint(-5, 5, (batch, *shape), dtype=getattr(torch, kind))
    else:
        x = torch.randn(batch, *shape).to(getattr(torch, kind))
    return x.movedim(0, batch_axis)


def torch_params(case: OpCase) -> dict[str, Any]:
    """The case's params as torch takes them: a reduction's null dim (every dimension of
    the sample) written out, wherever the batch is."""
    params = dict(case.params)
    if case.name in ("Mean", "Sum", "Amax") and params.get("dim") is None:
        batch = case.input_batch_axes[0]
        params["dim"] = tuple(d for d in range(len(case.shapes[0]) + 1) if d != batch)
    return params


def run_torch(case: OpCase) -> TorchResult | Exception:
    """Torch's whole output shapes and dtypes, parameters and FLOPs, or its refusal. The
    forward runs once outside FlopCounterMode, which decides refusals."""
    inputs = [
        _tensor(s, k, case.batch, axis)
        for s, k, axis in zip(case.shapes, case.input_dtypes, case.input_batch_axes)
    ]
    forward = functools.partial(TORCH[case.name], p=torch_params(case))
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            y = forward(inputs)
            counter = FlopCounterMode(display=False)
            with counter, COUNTED.get(case.name, contextlib.nullcontext)():
                forward(inputs)
    except Exception as refusal:  # noqa: BLE001 - torch refuses with many types
        return refusal
    outputs = tuple(y) if isinstance(y, (tuple, list)) else (y,)
    return TorchResult(
        tuple(tuple(t.shape) for t in outputs),
        tuple(str(t.dtype).removeprefix("torch.") for t in outputs),
        math.prod(case.params["shape"]) if case.name == "Parameter" else 0,
        counter.get_total_flops(),
    )


def run_engine(case: OpCase) -> LayerOutput | ParamError | LayerError:
    spec = LAYERS[case.name]
    tensors = [
        Tensor(s, receptive.input_fields(s[1:]) if len(s) > 1 else None, k, axis)
        for s, k, axis in zip(case.shapes, case.input_dtypes, case.input_batch_axes)
    ]
    try:
        explicit = spec.validate(case.params)
        return spec.apply(tensors, spec.resolve(explicit))
    except (ParamError, LayerError) as refusal:
        return refusal


def whole(x: Tensor, batch: int) -> Shape:
    """The engine's tensor as torch holds it: `batch` samples at its batch_axis."""
    return (*x.shape[: x.batch_axis], batch, *x.shape[x.batch_axis :])


def agree(case: OpCase) -> str:
    """Assert that engine and torch agree on `case`; say whether both refused or compared."""
    expected = run_torch(case)
    got = run_engine(case)
    if isinstance(expected, Exception) or any(
        len(shape) < 2 or 0 in shape for shape in expected.shapes
    ):
        if isinstance(expected, Exception):
            why = f"refuses ({type(expected).__name__}: {expected})"
        else:
            why = f"gives {expected.shapes} (empty, or only the batch)"
        assert isinstance(got, Exception), f"torch {why} for {case}, but the engine gives {got}"
        return "refused"
    assert not isinstance(got, Exception), (
        f"the engine refuses {case} ({got}), but torch gives {expected}"
    )
    slots = (Tensor(got.shape, got.fields, got.dtype, got.batch_axis), *got.more)
    assert tuple(whole(t, case.batch) for t in slots) == expected.shapes, case
    assert tuple(t.dtype for t in slots) == expected.dtypes, case
    assert got.params == expected.params, case
    assert 2 * got.macs * case.batch == expected.flops, case
    return "compared"


# --- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_engine_agrees_with_torch(name: str) -> None:
    outcomes: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES_PER_TYPE,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(CASES[name])
    def agrees(case: OpCase) -> None:
        outcomes[agree(case)] += 1

    agrees()
    assert outcomes["compared"] >= EXAMPLES_PER_TYPE // 4, outcomes


@pytest.mark.parametrize("name", MOVED)
def test_engine_agrees_with_torch_with_the_batch_moved(name: str) -> None:
    outcomes: Counter[str] = Counter()

    @settings(
        max_examples=MOVED_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(moved(name))
    def agrees(case: OpCase) -> None:
        outcomes[agree(case)] += 1

    agrees()
    assert outcomes["compared"] >= MOVED_EXAMPLES // 4, outcomes


def test_the_last_layer_of_h_n_is_batch_first() -> None:
    """`h_n[-1]`: Select dim 0 of an h_n (layers × batch × hidden) is batch × hidden."""
    case = OpCase("Select", {"dim": 0, "index": -1}, ((2, 8),), batch_axes=(1,))
    got = run_engine(case)
    assert (got.shape, got.batch_axis) == ((8,), 0)
    assert agree(case) == "compared"


def test_transposing_dims_0_and_1_moves_the_batch_and_back() -> None:
    there = run_engine(OpCase("Transpose", {"dim0": 0, "dim1": 1}, ((5, 8),)))
    assert (there.shape, there.batch_axis) == ((5, 8), 1)
    back = run_engine(OpCase("Transpose", {"dim0": 1, "dim1": 0}, ((5, 8),), batch_axes=(1,)))
    assert (back.shape, back.batch_axis) == ((5, 8), 0)


# Add and Multiply take the same generators here (they keep their place in
# test_torch_oracle, which runs them too): broadcasting, other, and the FLOPs they keep.
@pytest.mark.parametrize("name", ["Add", "Multiply"])
def test_add_and_multiply_broadcast_as_torch(name: str) -> None:
    @settings(max_examples=EXAMPLES_PER_TYPE, deadline=None)
    @given(arithmetic(name, 4 if name == "Add" else 2))
    def agrees(case: OpCase) -> None:
        agree(case)

    agrees()


def test_add_and_multiply_keep_their_flops() -> None:
    add = run_engine(OpCase("Add", {}, ((3, 4, 4), (3, 1, 4), (4,))))
    assert add.shape == (3, 4, 4) and add.flops == 2 * 48
    assert run_engine(OpCase("Add", {"other": 3}, ((3, 4),))).flops == 12
    assert run_engine(OpCase("Multiply", {}, ((3, 4, 4), (3, 1, 1)))).flops == 48
    assert run_engine(OpCase("Multiply", {"other": 0.2}, ((5,),))).flops == 5


def test_attention_macs_are_the_two_products_per_head() -> None:
    """Q·Kᵀ is L·S·E and the weights times V L·S·Ev, for each head of each sample; with
    grouped-query attention, for each query head."""
    out = run_engine(OpCase("ScaledDotProductAttention", {}, ((4, 5, 8), (4, 7, 8), (4, 7, 6))))
    assert out.shape == (4, 5, 6) and out.macs == 4 * 5 * 7 * (8 + 6)
    gqa = OpCase(
        "ScaledDotProductAttention",
        {"enable_gqa": True},
        ((2, 4, 5, 8), (2, 2, 7, 8), (2, 1, 7, 6)),
    )
    assert run_engine(gqa).macs == 2 * 4 * 5 * 7 * (8 + 6)
    assert agree(gqa) == "compared"


def test_matmul_macs_count_the_broadcast_output() -> None:
    out = run_engine(OpCase("MatMul", {}, ((3, 1, 4, 5), (2, 5, 6))))
    assert out.shape == (3, 2, 4, 6) and out.macs == 3 * 2 * 4 * 6 * 5
    vector = run_engine(OpCase("MatMul", {}, ((5,), (3, 5, 6))))
    assert vector.shape == (3, 6) and vector.macs == 3 * 6 * 5


# Inputs torch takes that the engine refuses on purpose: (why, layer, params, shapes).
_BATCH_DIM = "the dim names the batch"
_ONLY_BATCH = "nothing would be left but the batch"
_BATCH_INTO_DATA = "torch would pair the batch with a dimension of the sample"
# Until receptive.merged_fields aligns inputs of different ranks from the right, an input
# with spatial axes and fewer dimensions than the output, and a vector that alone gives
# the last axis its length, are refused (designer.core.layers.merge._fields_align).
_FIELDS = "receptive fields of these operands cannot be merged yet"
DELIBERATE_REFUSALS = [
    (_BATCH_DIM, "Unflatten", {"dim": 0, "unflattened_size": [1, 2]}, [(3, 4)]),
    (_BATCH_DIM, "Squeeze", {"dim": 0}, [(3, 4)]),
    (_BATCH_DIM, "Unsqueeze", {"dim": 0}, [(3, 4)]),
    (_BATCH_DIM, "Unsqueeze", {"dim": -4}, [(3, 4)]),
    (
        "torch's default dim, 0, is the batch",
        "Split",
        {"split_size_or_sections": 1, "dim": 0},
        [(3,)],
    ),
    ("torch's default dim, 0, is the batch", "Chunk", {"chunks": 2, "dim": 0}, [(3,)]),
    (_BATCH_DIM, "Select", {"dim": 0, "index": 0}, [(3, 4)]),
    (_BATCH_DIM, "Slice", {"dim": 0, "start": 1}, [(3, 4)]),
    (_BATCH_DIM, "Mean", {"dim": [0, 1]}, [(3, 4)]),
    (_BATCH_DIM, "Stack", {"dim": 0}, [(3, 4), (3, 4)]),
    (_ONLY_BATCH, "Select", {"dim": 1, "index": 0}, [(5,)]),
    (_ONLY_BATCH, "Squeeze", {}, [(1, 1)]),
    (_ONLY_BATCH, "Sum", {}, [(3, 4)]),
    (_ONLY_BATCH, "Amax", {"dim": 1}, [(3,)]),
    (_ONLY_BATCH, "MatMul", {}, [(3,), (3,)]),
    (_BATCH_INTO_DATA, "ScaledDotProductAttention", {}, [(4,), (4,), (4,)]),
    (_BATCH_INTO_DATA, "ScaledDotProductAttention", {}, [(3, 4), (2, 5, 4), (2, 5, 4)]),
    (_FIELDS, "Add", {}, [(3, 4, 4), (4, 4)]),
    (_FIELDS, "Subtract", {}, [(4, 4), (3, 4, 4)]),
    (_FIELDS, "Multiply", {}, [(1, 1), (2,)]),
]


@pytest.mark.parametrize(
    ("why", "name", "params", "shapes"),
    DELIBERATE_REFUSALS,
    ids=[f"{r[1]}-{i}" for i, r in enumerate(DELIBERATE_REFUSALS)],
)
def test_deliberate_refusals(
    why: str, name: str, params: dict[str, Any], shapes: list[Shape]
) -> None:
    case = OpCase(name, params, tuple(shapes))
    expected = run_torch(case)
    assert isinstance(expected, TorchResult), f"torch refuses it too: not deliberate: {expected}"
    assert isinstance(run_engine(case), (ParamError, LayerError)), why


# Inputs holding the batch beyond dim 0 that torch takes and the engine refuses on purpose:
# (why, layer, params, shapes, batch axes).
_ACROSS = "torch would broadcast the batch of one operand with data of the other"
_PER_SAMPLE = "a shape per sample means the batch at dim 0"
MOVED_REFUSALS = [
    (_BATCH_DIM, "Select", {"dim": 1, "index": 0}, [(3, 4)], (1,)),
    (_BATCH_DIM, "Squeeze", {"dim": 1}, [(3, 4)], (1,)),
    (_BATCH_DIM, "Mean", {"dim": [0, 1]}, [(3, 4)], (1,)),
    (_BATCH_DIM, "Split", {"split_size_or_sections": 1, "dim": 1}, [(3, 4)], (1,)),
    (_BATCH_DIM, "Unsqueeze", {"dim": 1}, [(3, 4)], (1,)),
    (_BATCH_DIM, "Concat", {"dim": 1}, [(3, 4), (3, 4)], (1, 1)),
    (_ACROSS, "Add", {}, [(1, 1), (1,)], (1, 1)),
    (_ACROSS, "Add", {}, [(1, 4), (1, 4)], (1, 0)),
    (_PER_SAMPLE, "Reshape", {"shape": [-1]}, [(3, 4)], (1,)),
]


@pytest.mark.parametrize(
    ("why", "name", "params", "shapes", "axes"),
    MOVED_REFUSALS,
    ids=[f"{r[1]}-{i}" for i, r in enumerate(MOVED_REFUSALS)],
)
def test_deliberate_refusals_with_the_batch_moved(
    why: str, name: str, params: dict[str, Any], shapes: list[Shape], axes: tuple[int, ...]
) -> None:
    case = OpCase(name, params, tuple(shapes), batch_axes=axes)
    expected = run_torch(case)
    assert isinstance(expected, TorchResult), f"torch refuses it too: not deliberate: {expected}"
    assert isinstance(run_engine(case), (ParamError, LayerError)), why


# --- receptive fields ---------------------------------------------------------------------


def _fields(shape: Shape, *layers: tuple[str, dict[str, Any]]) -> tuple:
    arch = chain(shape, *layers)
    engine = analyse(arch)
    assert_agrees(arch, engine)  # the memo's replay equals a walk on the real fields
    return engine.results[f"l{len(layers)}"].fields


def test_a_slice_along_a_spatial_axis_moves_the_field_like_a_window() -> None:
    conv = ("Conv2d", {"out_channels": 2, "kernel_size": 3, "stride": 2})
    (h, w) = _fields((1, 17, 17), conv, ("Slice", {"dim": 3, "start": 2, "step": 3}))
    assert (h.size, h.jump, h.centre) == (3, 2, 1)
    assert (w.size, w.jump, w.centre) == (3, 6, 1 + 2 * 2)
    assert _fields((4, 9), ("Slice", {"dim": 1, "end": 2})) == receptive.input_fields((9,))


def test_reductions_with_keepdim_see_the_whole_axis() -> None:
    (h, w) = _fields((2, 6, 8), ("Mean", {"dim": -1, "keepdim": True}))
    assert (h.size, w.size, w.extent) == (1, 8, 8)
    assert _fields((2, 6, 8), ("Mean", {"dim": -1})) is None
    assert _fields((2, 6, 8), ("Sum", {"dim": 1, "keepdim": True})) == receptive.input_fields(
        (6, 8)
    )


def test_shape_moving_operations_keep_fields_only_where_nothing_moves() -> None:
    assert _fields((3, 8, 8), ("Permute", {"dims": [0, 1, 2, 3]})) is not None
    assert _fields((3, 8, 8), ("Permute", {"dims": [0, 1, 3, 2]})) is None
    assert _fields((3, 8, 8), ("Transpose", {"dim0": 2, "dim1": 3})) is None
    assert _fields((3, 8, 8), ("Reshape", {"shape": [3, 8, 8]})) is not None
    assert _fields((3, 8, 8), ("Reshape", {"shape": [3, 64]})) is None
    assert _fields((3, 8, 8), ("Squeeze", {})) is not None  # nothing of size 1
    assert _fields((3, 8, 8), ("Unsqueeze", {"dim": 1})) is None
    assert _fields((3, 8, 8), ("Select", {"dim": 1, "index": 0})) is None
    assert _fields((4, 8, 8), ("Chunk", {"chunks": 2})) == receptive.input_fields((8, 8))


def test_linear_mixes_the_last_axis_only() -> None:
    (h, w) = _fields((3, 5, 7), ("Linear", {"out_features": 4}))
    assert (h.size, h.jump) == (1, 1)
    assert (w.size, w.centre) == (7, 3)
    assert _fields((7,), ("Linear", {"out_features": 4})) is None


def test_split_pieces_start_where_they_cut() -> None:
    arch = chain((2, 10), ("Split", {"split_size_or_sections": [3, 7], "dim": 2}))
    engine = analyse(arch)
    first, second = engine.results["l1"].outputs
    assert (first.shape, second.shape) == ((2, 3), (2, 7))
    assert first.fields[0].centre == 0 and second.fields[0].centre == 3


def test_a_parameter_is_a_source_with_parameters() -> None:
    arch = Architecture("tokens")
    arch.add_node(NodeRecord("x", "Input", {"shape": [196, 768]}))
    arch.add_node(NodeRecord("cls", "Parameter", {"shape": [1, 768]}))
    arch.add_node(NodeRecord("cat", "Concat", {"dim": 1}))
    arch.connect("cls", "cat", 0)
    arch.connect("x", "cat", 1)
    engine = analyse(arch)
    assert engine.results["cat"].shape == (197, 768)
    assert engine.results["cls"].params == 768
    assert engine.totals().params == 768
