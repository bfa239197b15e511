"""Per-node results of the analysis, their totals, and the warnings that teach.

The warnings here look at a node's neighbours (a bias right before a BatchNorm, two Linear
layers with nothing between them) or at the whole path (a receptive field larger than the
input); warnings about a layer's own arithmetic come from the layer itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from designer.core.receptive import Fields, fmt
from designer.core.spec import DTYPE_BYTES, FLOATING, LayerSpec, Shape, Tensor, spatial_axes

if TYPE_CHECKING:
    from designer.core.graph import Architecture

# Number formats a whole network may be run in (memory figures): the floating dtypes, and
# int8 for a quantised one.
RUN_DTYPES = ("float32", "float16", "bfloat16", "float64", "int8")
_RUN_BYTES = {**DTYPE_BYTES, "int8": 1}


@dataclass(frozen=True)
class Settings:
    """What memory figures assume: how many samples at once, and the number format the
    network runs in. `dtype` None keeps each tensor's own dtype (the Inputs' `dtype`);
    a dtype replaces every floating-point one, as `model.half()` would, while integer
    and bool tensors (token ids, pooling indices) keep theirs."""

    batch_size: int = 1
    dtype: str | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {self.batch_size}")
        if self.dtype is not None and self.dtype not in RUN_DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(RUN_DTYPES)}, got {self.dtype!r}")

    def bytes_of(self, dtype: str) -> int:
        """Bytes of one value of a tensor of `dtype` as the network runs."""
        if self.dtype is not None and dtype in FLOATING:
            return _RUN_BYTES[self.dtype]
        return DTYPE_BYTES[dtype]

    @property
    def bytes_per_parameter(self) -> int:
        return _RUN_BYTES[self.dtype or "float32"]


class NodeResult(NamedTuple):
    """What the engine knows about one node. Without an output, `error` says why.

    `blocked_by` names the upstream node whose error keeps this one from a result.
    Counts are per sample; `memory` is the output's bytes for the whole batch.
    """

    output: Tensor | None
    input_shapes: tuple[Shape, ...] = ()
    params: int = 0
    buffers: int = 0
    macs: int = 0
    flops: int = 0
    memory: int = 0
    warnings: tuple[str, ...] = ()
    error: str | None = None
    blocked_by: str | None = None
    more: tuple[Tensor, ...] = ()  # output slots 1… of a layer with several outputs

    @property
    def shape(self) -> Shape | None:
        return None if self.output is None else self.output.shape

    @property
    def outputs(self) -> tuple[Tensor, ...]:
        """Every output slot, in order (none where there is no result)."""
        return () if self.output is None else (self.output, *self.more)

    def slot(self, index: int) -> Tensor | None:
        """Output slot `index`, or None where the node has no such output."""
        if index == 0:
            return self.output
        return self.more[index - 1] if 0 < index <= len(self.more) else None

    @property
    def fields(self) -> Fields | None:
        return None if self.output is None else self.output.fields

    @property
    def reason(self) -> str:
        """Why there is no result, in one line ('' when there is one)."""
        if self.error:
            return self.error
        if self.blocked_by:
            return f"waits on {self.blocked_by}, which has an error"
        return ""


@dataclass(frozen=True)
class Totals:
    params: int
    buffers: int
    macs: int
    flops: int
    activation_memory: int
    param_memory: int
    errors: int
    blocked: int
    warnings: int

    def as_dict(self) -> dict[str, int]:
        return {
            "params": self.params,
            "trainable_params": self.params,
            "non_trainable_params": self.buffers,
            "macs": self.macs,
            "flops": self.flops,
            "activation_memory": self.activation_memory,
            "param_memory": self.param_memory,
            "errors": self.errors,
            "blocked": self.blocked,
            "warnings": self.warnings,
        }


class Sums(NamedTuple):
    """What totals add up over the nodes, before settings turn them into a Totals."""

    params: int = 0
    buffers: int = 0
    macs: int = 0
    flops: int = 0
    memory: int = 0
    errors: int = 0
    blocked: int = 0
    warnings: int = 0

    @classmethod
    def over(cls, results: Iterable[NodeResult]) -> Sums:
        """The sums over some results, in one pass (it runs after edits)."""
        params = buffers = macs = flops = memory = errors = blocked = warnings = 0
        for r in results:
            params += r.params
            buffers += r.buffers
            macs += r.macs
            flops += r.flops
            memory += r.memory
            if r.error:
                errors += 1
            elif r.blocked_by:
                blocked += 1
            warnings += len(r.warnings)
        return cls(params, buffers, macs, flops, memory, errors, blocked, warnings)

    def replacing(self, old: list[NodeResult], new: list[NodeResult]) -> Sums:
        """These sums after the results `old` gave way to `new`."""
        gone, came = Sums.over(old), Sums.over(new)
        return Sums(*[total - out + into for total, out, into in zip(self, gone, came)])

    def totals(self, settings: Settings) -> Totals:
        return Totals(
            params=self.params,
            buffers=self.buffers,
            macs=self.macs,
            flops=self.flops,
            activation_memory=self.memory,
            param_memory=(self.params + self.buffers) * settings.bytes_per_parameter,
            errors=self.errors,
            blocked=self.blocked,
            warnings=self.warnings,
        )


def looks_at_neighbours(spec: LayerSpec, params: dict[str, Any]) -> bool:
    """Whether `neighbour_warnings` may have something to say on this layer: the engine
    asks once per distinct layer and skips the call for the rest."""
    return spec.merges_with_same or (spec.weighted and bool(params.get("bias")))


def neighbour_warnings(
    arch: Architecture, node_id: str, spec: LayerSpec, params: dict[str, Any]
) -> tuple[str, ...]:
    """Warnings that depend on the layers around this one."""
    found: list[str] = []
    if spec.weighted and params.get("bias"):
        consumers = arch.consumers(node_id)
        if consumers and all(arch.spec(c).cancels_bias for c in consumers):
            channels = params.get("out_channels", params.get("out_features"))
            named = min(consumers)  # not the first wired: a file read back lists them anew
            found.append(
                f"bias is cancelled by the {arch.type_of(named)} that follows "
                f"({named}): bias=False saves {channels} parameters"
            )
    if spec.merges_with_same:
        previous = _previous_through_shape_only(arch, node_id)
        if previous is not None and arch.type_of(previous) == spec.name:
            found.append(
                f"follows {spec.name} {previous} with no activation between: "
                "the two make one linear map"
            )
    return tuple(found)


def _previous_through_shape_only(arch: Architecture, node_id: str) -> str | None:
    """The single producer of this node's input, looking through shape-only layers."""
    current = node_id
    while True:
        producers = arch.producers(current)
        if len(producers) != 1:
            return None
        current = producers[0]
        if not arch.spec(current).shape_only:
            return current


def oversized_field_warning(fields: Fields) -> str:
    axes = spatial_axes(len(fields))
    parts = ", ".join(
        f"{fmt(f.size)} > {f.extent} along {axis}"
        for axis, f in zip(axes, fields)
        if f.size > f.extent
    )
    return f"receptive field is larger than the input ({parts}): its edges see only padding"
