"""What a layer type is to the engine: its parameters and how it transforms a tensor.

Each layer family (layers/*.py) declares `LayerSpec`s; everything else (the loader, the
propagation engine, the inspector, the exporters) reads them from the registry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from designer.core.params import Param, ParamError, did_you_mean
from designer.core.receptive import Fields

Shape = tuple[int, ...]

LAYOUTS = {0: "flat F", 1: "C×L", 2: "C×H×W", 3: "C×D×H×W"}
MAX_ELEMENTS = 2**63 - 1  # what one torch tensor can hold (its sizes are int64)

# The value types an edge can carry (contract 1b), with their width in bytes.
DTYPE_BYTES = {
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "float64": 8,
    "int64": 8,
    "int32": 4,
    "bool": 1,
}
FLOATING = frozenset({"float32", "float16", "bfloat16", "float64"})


@lru_cache(maxsize=16)
def spatial_axes(n: int) -> tuple[str, ...]:
    """Names of n spatial axes in messages: L; H, W; D, H, W; beyond three, dim 2, dim 3…
    (counting the batch, as PyTorch does)."""
    named = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
    return named.get(n) or tuple(f"dim {i}" for i in range(2, n + 2))


def layout(n: int) -> str:
    """A tensor's layout in words, by its number of spatial axes."""
    return LAYOUTS.get(n) or "C×" + "×".join(spatial_axes(n))


class LayerError(Exception):
    """The layer cannot take this input; the message names the numbers involved."""


class Tensor(NamedTuple):
    """What flows along an edge: a shape without the batch dimension, its receptive fields
    (None where it has no spatial axes) and its dtype. `batch_axis` is where torch's
    tensor holds the batch: 0, or 1 in a sequence-first layout (what a recurrent or
    attention layer with batch_first=False takes and gives, and every h_n)."""

    shape: Shape
    fields: Fields | None
    dtype: str = "float32"
    batch_axis: int = 0


class LayerOutput(NamedTuple):
    """A layer's figures. `shape` and `fields` are output slot 0; `dtype` and `batch_axis`
    None mean the first input's; `more` holds slots 1… of a layer with several outputs."""

    shape: Shape
    fields: Fields | None
    params: int = 0
    buffers: int = 0
    macs: int = 0
    flops: int = 0
    warnings: tuple[str, ...] = ()
    dtype: str | None = None
    more: tuple[Tensor, ...] = ()
    batch_axis: int | None = None


Evaluate = Callable[[Sequence[Tensor], dict[str, Any]], LayerOutput]
CrossCheck = Callable[[dict[str, Any]], None]
SlotNames = Callable[[dict[str, Any]], tuple[str, ...]]


def one_output(params: dict[str, Any]) -> tuple[str, ...]:
    return ("output",)


Returns = tuple["int | Returns", ...]


@dataclass(frozen=True)
class Module:
    """Exported as a submodule `nn.<torch_name>(...)`; `positional` arguments come first
    without their names, as PyTorch's own examples write them. `returns` is the nesting of
    the output slots in what the module returns where it is not a flat tuple: LSTM's
    `output, (h_n, c_n)` is (0, (1, 2))."""

    positional: tuple[str, ...] = ()
    returns: Returns | None = None


@dataclass(frozen=True)
class Operator:
    """Exported as an infix expression over the inputs: `a + b`."""

    symbol: str


@dataclass(frozen=True)
class Function:
    """Exported as a call taking the inputs as one list: `torch.cat([a, b], dim=1)`."""

    name: str


Writing = Module | Operator | Function


@dataclass(frozen=True)
class LayerSpec:
    """A layer type: `evaluate` maps input tensors and resolved params to a LayerOutput.

    `check` refuses combinations of parameters that PyTorch's constructor or forward would
    refuse whatever the input (it raises ParamError); input-dependent refusals are
    LayerErrors raised by `evaluate`. `inputs` is the (fewest, most) number of inputs;
    most None means any number.

    What other parts of the designer need to know lives here too, so adding a type is
    one declaration: `torch_name` is the torch.nn class, `written_as` how exported code
    writes it, `functions`/`methods` the torch functions and Tensor methods an import maps
    onto it; `slots` names its outputs for given params; `dtypes` is "float" where only
    floating-point inputs are taken, "any" otherwise. Analysis traits: `weighted` (a
    weight and an optional bias), `cancels_bias` (a bias before it is redundant),
    `shape_only` (moves or drops values but computes nothing), `merges_with_same` (two in a
    row with nothing between make one layer). `batch_anywhere`: takes inputs whose batch
    is not at dim 0 (pointwise layers, tensor operations, sequence layers); every other
    layer refuses them. `ports` names the input ports where their roles differ
    (query, key, value); the canvas writes the names beside them. `merges_fields`: a layer
    of several inputs whose output positions are its inputs' positions (Add, Concat), so
    the engine merges their receptive fields; other layers of several inputs (MatMul,
    attention, Stack) see every position of every input: their output has no field.
    """

    name: str
    category: str
    params: tuple[Param, ...]
    evaluate: Evaluate
    summary: str
    inputs: tuple[int, int | None] = (1, 1)
    check: CrossCheck | None = None
    suggested: dict[str, Any] = field(default_factory=dict)
    torch_name: str | None = None
    written_as: Writing = Module()
    functions: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    slots: SlotNames = one_output
    dtypes: str = "float"
    weighted: bool = False
    cancels_bias: bool = False
    shape_only: bool = False
    merges_with_same: bool = False
    batch_anywhere: bool = False
    ports: tuple[str, ...] = ()
    merges_fields: bool = False
    defaults: dict[str, Any] = field(init=False, repr=False, compare=False)
    takes_several_inputs: bool = field(init=False, repr=False, compare=False)
    takes_one_input: bool = field(init=False, repr=False, compare=False)
    by_name: dict[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in self.params})
        defaults = {p.name: p.default for p in self.params if not p.inferred}
        object.__setattr__(self, "defaults", defaults)
        object.__setattr__(
            self, "takes_several_inputs", self.inputs[1] is None or self.inputs[1] > 1
        )
        object.__setattr__(self, "takes_one_input", self.inputs == (1, 1))

    def starting_params(self) -> dict[str, Any]:
        """What a node dropped from the palette starts with: required values, suggestions."""
        required = {p.name: p.default for p in self.params if p.required}
        return {**required, **self.suggested}

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        """The params to store: canonical forms, defaults dropped; or the first ParamError.

        Dropping values equal to the default keeps one spelling per design, so a value
        set back to its default saves, loads and compares like one never set.
        """
        canonical, problems = self.examine(params)
        if problems:
            raise problems[0]
        return self.explicit(canonical)

    def examine(self, params: dict[str, Any]) -> tuple[dict[str, Any], list[ParamError]]:
        """Canonical forms of the well-formed params, and every problem found.

        Unknown names and missing required ones are problems, and so are values that
        PyTorch would refuse alone or, once each value is well-formed, in combination.
        """
        canonical: dict[str, Any] = {}
        problems: list[ParamError] = []
        for name, value in params.items():
            param = self.by_name.get(name)
            if param is None:
                hint = did_you_mean(name, self.by_name)
                problems.append(ParamError(name, f"{self.name} has no parameter {name!r}{hint}"))
                continue
            try:
                canonical[name] = param.check(value)
            except ParamError as error:
                problems.append(error)
        for param in self.params:
            if param.required and param.name not in params:
                problems.append(ParamError(param.name, f"is required ({param.describe()})"))
        if not problems and self.check is not None:
            try:
                self.check(self.resolve(canonical))
            except ParamError as error:
                problems.append(error)
        return canonical, problems

    def resolve(self, params: dict[str, Any]) -> dict[str, Any]:
        """Explicit params over the defaults: what the layer is built with."""
        return {**self.defaults, **params}

    def explicit(self, params: dict[str, Any]) -> dict[str, Any]:
        """Only what differs from the default (required ones always): what a file holds."""
        return {
            p.name: params[p.name]
            for p in self.params
            if p.name in params and (p.required or params[p.name] != p.default)
        }

    def apply(self, inputs: Sequence[Tensor], params: dict[str, Any]) -> LayerOutput:
        """`evaluate`, with what every layer shares: only floating-point inputs where the
        layer takes only those, the output's dtype filled in, and no tensor larger than
        torch can hold (a LayerError says which)."""
        if self.dtypes == "float":
            for port, x in enumerate(inputs):
                if x.dtype not in FLOATING:
                    where = f" on port {port}" if len(inputs) > 1 else ""
                    raise LayerError(
                        f"{self.name} takes floating-point input, got {x.dtype}{where}"
                    )
        if not self.batch_anywhere:
            for port, x in enumerate(inputs):
                if x.batch_axis != 0:
                    where = f" on port {port}" if len(inputs) > 1 else ""
                    raise LayerError(
                        f"{self.name} takes the batch at dim 0, got a tensor with the batch at "
                        f"dim {x.batch_axis}{where} (sequence-first); set batch_first=True "
                        "upstream, or Transpose dims 0 and 1 before it"
                    )
        out = self.evaluate(inputs, params)
        if out.dtype is None:
            out = out._replace(dtype=inputs[0].dtype if inputs else "float32")
        if out.batch_axis is None:
            out = out._replace(batch_axis=inputs[0].batch_axis if inputs else 0)
        for slot, shape in enumerate((out.shape, *(t.shape for t in out.more))):
            if math.prod(shape) > MAX_ELEMENTS:
                which = f"output {slot}" if out.more else "the output"
                raise LayerError(
                    f"{which} would be {dims(shape)} = {math.prod(shape):,} elements per sample, "
                    "more than a torch tensor can hold (2**63 − 1)"
                )
        if out.params > MAX_ELEMENTS:
            raise LayerError(
                f"{out.params:,} parameters: more than a torch tensor can hold (2**63 − 1)"
            )
        return out

    def filled_from_input(self, params: dict[str, Any], input_shape: Shape) -> dict[str, Any]:
        """The arguments PyTorch needs that the design leaves to the input, with their
        values for an input of `input_shape`."""
        return {
            p.name: p.from_input(input_shape)
            for p in self.params
            if p.from_input is not None and params.get(p.name) is None
        }

    def output_names(self, params: dict[str, Any]) -> tuple[str, ...]:
        """The names of this layer's output slots, given its written params."""
        return self.slots(self.resolve(params))


def numel(shape: Shape) -> int:
    return math.prod(shape)


@lru_cache(maxsize=4096)
def dims(shape: Shape) -> str:
    """A shape as the report writes it: 64x56x56 (cached: tables and canvases ask for the
    same few shapes thousands of times)."""
    return "x".join(str(d) for d in shape)


def expect_rank(layer: str, x: Tensor, spatial: int | tuple[int, ...]) -> None:
    """Refuse an input whose number of spatial axes the layer does not take."""
    allowed = (spatial,) if isinstance(spatial, int) else spatial
    have = len(x.shape) - 1
    if have in allowed:
        return
    wanted = " or ".join(layout(n) for n in allowed)
    raise LayerError(
        f"{layer} expects a {wanted} input, got {dims(x.shape)} ({len(x.shape)}-D)"
        + ("; add a Flatten before it" if allowed == (0,) and have > 0 else "")
    )


def first_dimension(shape: Shape) -> int:
    """in_channels, num_features, num_channels: the input's channels."""
    return shape[0]


def last_dimension(shape: Shape) -> int:
    """in_features, LayerNorm's normalized_shape: the input's last dimension."""
    return shape[-1]


def check_inferred(params: dict[str, Any], name: str, actual: int) -> None:
    """A written-down in_channels (from imported code) must agree with the input."""
    declared = params.get(name)
    if declared is not None and declared != actual:
        raise LayerError(f"{name} is {declared} in the design, but the input has {actual}")


def with_batch(shape: Shape, batch_axis: int = 0) -> str:
    """A per-sample shape as the whole tensor torch holds, in words: `batch + 3x4`, or
    `7x16 with the batch at dim 1`."""
    if batch_axis == 0:
        return f"batch + {dims(shape)}"
    return f"{dims(shape)} with the batch at dim {batch_axis}"


def torch_dim(axis: int, batch_axis: int = 0) -> int:
    """The torch dim (counting the batch) of index `axis` into a per-sample shape."""
    return axis + 1 if axis >= batch_axis else axis


def normalise_dim(layer: str, name: str, dim: int, shape: Shape, batch_axis: int = 0) -> int:
    """A PyTorch dim (counting the batch, which is at `batch_axis`) as an index into
    `shape` (without it)."""
    ndim = len(shape) + 1
    if not -ndim <= dim < ndim:
        raise LayerError(
            f"{name} {dim} is out of range for a {ndim}-D tensor ({with_batch(shape, batch_axis)})"
        )
    positive = dim % ndim
    if positive == batch_axis:
        where = "" if batch_axis == 0 else f" here (dim {batch_axis})"
        raise LayerError(
            f"{name} {dim} is the batch dimension{where}; {layer} cannot work across it"
        )
    return positive - 1 if positive > batch_axis else positive


def refuse_batch_last(layer: str, x: Tensor) -> None:
    """Refuse a tensor whose last dim, which the layer works on, holds the batch."""
    if x.batch_axis and x.batch_axis == len(x.shape):
        raise LayerError(
            f"{layer} works on the last dimension, which holds the batch here "
            f"({with_batch(x.shape, x.batch_axis)}): Transpose it away first"
        )


def same_batch_axis(layer: str, inputs: Sequence[Tensor]) -> int:
    """The batch position that all of a merge's inputs share; a LayerError where they
    hold the batch in different places (torch would pair the batch with data)."""
    axes = [x.batch_axis for x in inputs]
    if len(set(axes)) > 1:
        where = ", ".join(f"port {port} at dim {axis}" for port, axis in enumerate(axes))
        raise LayerError(
            f"{layer} needs its inputs to hold the batch at the same dim: {where}; "
            "Transpose dims 0 and 1 of one of them"
        )
    return axes[0] if axes else 0


def pointwise(cost_per_element: int) -> Evaluate:
    """Layers that keep shape and fields, costing a fixed number of FLOPs per element."""

    def evaluate(inputs: Sequence[Tensor], params: dict[str, Any]) -> LayerOutput:
        (x,) = inputs
        return LayerOutput(x.shape, x.fields, flops=cost_per_element * numel(x.shape))

    return evaluate
