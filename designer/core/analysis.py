"""Per-node results of the analysis, their totals, and the warnings that teach.

The warnings here look at a node's neighbours (a bias right before a BatchNorm, two Linear
layers with nothing between them) or at the whole path (a receptive field larger than the
input); warnings about a layer's own arithmetic come from the layer itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import networkx as nx

from designer.core.receptive import Fields, fmt
from designer.core.spec import SPATIAL_AXES, Shape, Tensor

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}


@dataclass(frozen=True)
class Settings:
    """What memory figures assume: how many samples at once, and in which number format."""

    batch_size: int = 1
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {self.batch_size}")
        if self.dtype not in DTYPE_BYTES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPE_BYTES)}, got {self.dtype!r}")

    @property
    def bytes_per_value(self) -> int:
        return DTYPE_BYTES[self.dtype]


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

    @property
    def shape(self) -> Shape | None:
        return None if self.output is None else self.output.shape

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
            param_memory=(self.params + self.buffers) * settings.bytes_per_value,
            errors=self.errors,
            blocked=self.blocked,
            warnings=self.warnings,
        )


_WEIGHTED = (
    {f"Conv{n}d" for n in (1, 2, 3)} | {f"ConvTranspose{n}d" for n in (1, 2, 3)} | {"Linear"}
)
_BATCH_NORMS = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d"}
_SHAPE_ONLY = {"Identity", "Dropout", "Flatten"}


def looks_at_neighbours(kind: str, params: dict[str, Any]) -> bool:
    """Whether `neighbour_warnings` may have something to say on this layer: the engine
    asks once per distinct layer and skips the call for the rest."""
    return kind == "Linear" or (kind in _WEIGHTED and bool(params.get("bias")))


def neighbour_warnings(
    graph: nx.MultiDiGraph, node_id: str, kind: str, params: dict[str, Any]
) -> tuple[str, ...]:
    """Warnings that depend on the layers around this one."""
    found: list[str] = []
    if kind in _WEIGHTED and params.get("bias"):
        consumers = list(graph.successors(node_id))
        if consumers and all(graph.nodes[c]["type"] in _BATCH_NORMS for c in consumers):
            channels = params.get("out_channels", params.get("out_features"))
            found.append(
                f"bias is cancelled by the BatchNorm that follows ({consumers[0]}): "
                f"bias=False saves {channels} parameters"
            )
    if kind == "Linear":
        previous = _previous_through(graph, node_id, _SHAPE_ONLY)
        if previous is not None and graph.nodes[previous]["type"] == "Linear":
            found.append(
                f"follows Linear {previous} with no activation between: the two make one linear map"
            )
    return tuple(found)


def _previous_through(graph: nx.MultiDiGraph, node_id: str, transparent: set[str]) -> str | None:
    """The single producer of this node's input, looking through shape-only layers."""
    current = node_id
    while True:
        producers = list(graph.predecessors(current))
        if len(producers) != 1:
            return None
        current = producers[0]
        if graph.nodes[current]["type"] not in transparent:
            return current


def oversized_field_warning(fields: Fields) -> str:
    axes = SPATIAL_AXES[len(fields)]
    parts = ", ".join(
        f"{fmt(f.size)} > {f.extent} along {axis}"
        for axis, f in zip(axes, fields)
        if f.size > f.extent
    )
    return f"receptive field is larger than the input ({parts}): its edges see only padding"
