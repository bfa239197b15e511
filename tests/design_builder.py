"""A small builder for designer designs in tests: each call adds one layer fed by the
given nodes and returns its id, so a network reads like its forward pass."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from designer.core.analysis import Totals
from designer.core.graph import Architecture, NodeRecord
from designer.core.propagate import Engine, analyse

# A node's output: its id (slot 0), or (id, output slot) for layers with several outputs.
Source = str | tuple[str, int]


class Design:
    """An Architecture grown layer by layer from one Input."""

    def __init__(self, name: str, shape: Sequence[int]) -> None:
        self.arch = Architecture(name)
        self._count = 0
        self.input = self.add("Input", shape=list(shape))

    def add(self, kind: str, *sources: Source, **params: Any) -> str:
        """A `kind` layer with `params`, fed by `sources` on ports 0, 1, …; its id."""
        self._count += 1
        node_id = f"{kind.lower()}_{self._count}"
        self.arch.add_node(NodeRecord(node_id, kind, params))
        for port, source in enumerate(sources):
            node, slot = (source, 0) if isinstance(source, str) else source
            self.arch.connect(node, node_id, port, slot)
        return node_id

    def chain(self, x: Source, *layers: tuple[str, dict[str, Any]]) -> str:
        """Layers one after another from `x`; the last one's id."""
        for kind, params in layers:
            x = self.add(kind, x, **params)
        return x  # type: ignore[return-value]

    def analyse(self) -> Engine:
        return analyse(self.arch)

    def totals(self) -> Totals:
        """The engine's sums over every node; a design with a refused node fails here."""
        engine = self.analyse()
        totals = engine.totals()
        refused = {n: r.error for n, r in engine.results.items() if r.error}
        assert totals.errors == 0 and totals.blocked == 0, refused
        return totals


# --- blocks shared by several networks ------------------------------------------------


def conv_bn_act(
    d: Design,
    x: Source,
    channels: int,
    kernel: int,
    stride: int = 1,
    groups: int = 1,
    activation: str | None = "ReLU",
) -> str:
    """A bias-free k×k conv padded to keep the size (before the stride), BatchNorm2d, and
    an activation (none where None): torchvision's Conv2dNormActivation."""
    x = d.add(
        "Conv2d",
        x,
        out_channels=channels,
        kernel_size=kernel,
        stride=stride,
        padding=(kernel - 1) // 2,
        groups=groups,
        bias=False,
    )
    x = d.add("BatchNorm2d", x)
    return d.add(activation, x) if activation else x


def squeeze_excitation(
    d: Design, x: Source, channels: int, squeezed: int, activation: str, gate: str
) -> str:
    """x times a per-channel gate: pool to 1×1, 1×1 conv down, activation, 1×1 conv up,
    gate (Multiply broadcasts C×1×1 over C×H×W)."""
    scale = d.chain(
        x,
        ("AdaptiveAvgPool2d", {"output_size": 1}),
        ("Conv2d", {"out_channels": squeezed, "kernel_size": 1}),
        (activation, {}),
        ("Conv2d", {"out_channels": channels, "kernel_size": 1}),
        (gate, {}),
    )
    return d.add("Multiply", x, scale)


def mlp(d: Design, x: Source, dim: int, hidden: int) -> str:
    """A transformer's feed-forward block: Linear, GELU, Dropout, Linear, Dropout."""
    return d.chain(
        x,
        ("Linear", {"out_features": hidden}),
        ("GELU", {}),
        ("Dropout", {"p": 0.0}),
        ("Linear", {"out_features": dim}),
        ("Dropout", {"p": 0.0}),
    )


def layer_norm_2d(d: Design, x: Source, eps: float = 1e-6) -> str:
    """LayerNorm over the channels of a C×H×W tensor: to channels last and back."""
    return d.chain(
        x,
        ("Permute", {"dims": [0, 2, 3, 1]}),
        ("LayerNorm", {"eps": eps}),
        ("Permute", {"dims": [0, 3, 1, 2]}),
    )


def roll(d: Design, x: Source, shift: int, dim: int) -> str:
    """torch.roll(x, shift, dim) written as two Slices and a Concat: the last `shift`
    positions move to the front (a negative shift moves the first ones to the back)."""
    tail = d.add("Slice", x, dim=dim, start=-shift)
    head = d.add("Slice", x, dim=dim, end=-shift)
    return d.add("Concat", tail, head, dim=dim)
