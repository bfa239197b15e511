"""Reversible edits of an Architecture: what undo and redo replay.

Each edit records what it needs to undo itself when it is first applied, so `revert`
restores the exact prior state: a removed node comes back in its place in the file with
its edges on their ports. The window wraps each edit in a QUndoCommand; headless code
and tests call `apply` and `revert` directly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from designer.core.graph import Architecture, EdgeRecord, NodeRecord


class Edit(ABC):
    text: str = ""

    @abstractmethod
    def apply(self, arch: Architecture) -> None: ...

    @abstractmethod
    def revert(self, arch: Architecture) -> None: ...


@dataclass
class AddNode(Edit):
    record: NodeRecord

    @property
    def text(self) -> str:
        return f"Add {self.record.type}"

    def apply(self, arch: Architecture) -> None:
        self.record = arch.add_node(self.record)

    def revert(self, arch: Architecture) -> None:
        arch.remove_node(self.record.id)


@dataclass
class RemoveNode(Edit):
    node_id: str
    _removed: tuple[NodeRecord, list[EdgeRecord]] | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        return f"Remove {self.node_id}"

    def apply(self, arch: Architecture) -> None:
        self._removed = arch.remove_node(self.node_id)

    def revert(self, arch: Architecture) -> None:
        assert self._removed is not None, "revert before apply"
        record, edges = self._removed
        arch.add_node(record)
        for edge in edges:
            arch.connect(edge.source, edge.target, edge.port, edge.output)


@dataclass
class Connect(Edit):
    """Feed output slot `output` of `source` into input `port` of `target` (the first free
    port where None)."""

    source: str
    target: str
    port: int | None = None
    output: int = 0

    @property
    def text(self) -> str:
        return f"Connect {self.source} → {self.target}"

    def apply(self, arch: Architecture) -> None:
        self.port = arch.connect(self.source, self.target, self.port, self.output).port

    def revert(self, arch: Architecture) -> None:
        assert self.port is not None, "revert before apply"
        arch.disconnect(EdgeRecord(self.source, self.target, self.port, self.output))


@dataclass
class Disconnect(Edit):
    edge: EdgeRecord

    @property
    def text(self) -> str:
        return f"Disconnect {self.edge.source} → {self.edge.target}"

    def apply(self, arch: Architecture) -> None:
        arch.disconnect(self.edge)

    def revert(self, arch: Architecture) -> None:
        arch.connect(self.edge.source, self.edge.target, self.edge.port, self.edge.output)


@dataclass
class SetParams(Edit):
    """Replace the written params of a node (use `with_param` to change one)."""

    node_id: str
    params: dict[str, Any]
    _old: dict[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def with_param(cls, arch: Architecture, node_id: str, name: str, value: Any) -> SetParams:
        """Set one parameter; None removes it, so it takes its default."""
        params = arch.node(node_id).params
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
        return cls(node_id, params)

    @property
    def text(self) -> str:
        return f"Change {self.node_id}"

    def apply(self, arch: Architecture) -> None:
        old = arch.node(self.node_id).params
        self.params = arch.set_params(self.node_id, self.params)
        self._old = old

    def revert(self, arch: Architecture) -> None:
        assert self._old is not None, "revert before apply"
        arch.set_params(self.node_id, self._old)


@dataclass
class Rename(Edit):
    node_id: str
    name: str | None
    _old: str | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        return f"Rename {self.node_id}"

    def apply(self, arch: Architecture) -> None:
        self._old = arch.node(self.node_id).name
        arch.rename(self.node_id, self.name)

    def revert(self, arch: Architecture) -> None:
        arch.rename(self.node_id, self._old)


@dataclass
class Move(Edit):
    node_id: str
    pos: tuple[float, float] | None
    _old: tuple[float, float] | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        return f"Move {self.node_id}"

    def apply(self, arch: Architecture) -> None:
        self._old = arch.node(self.node_id).pos
        arch.move(self.node_id, self.pos)

    def revert(self, arch: Architecture) -> None:
        arch.move(self.node_id, self._old)


@dataclass
class Place(Edit):
    """Nodes moved together (Arrange): one undo step, announced once, so that the canvas
    follows them in one pass instead of node by node."""

    positions: dict[str, tuple[float, float] | None]
    label: str = "Arrange"
    _old: dict[str, tuple[float, float] | None] = field(default_factory=dict, repr=False)

    @property
    def text(self) -> str:
        return self.label

    def apply(self, arch: Architecture) -> None:
        self._old = {node_id: arch.node(node_id).pos for node_id in self.positions}
        arch.place(self.positions)

    def revert(self, arch: Architecture) -> None:
        arch.place(self._old)


@dataclass
class Compound(Edit):
    """Several edits as one user action (a paste, a multi-delete): one undo step.

    If one part fails, the parts already applied are reverted, so the action is all or
    nothing.
    """

    parts: list[Edit]
    label: str = "Edit"

    @property
    def text(self) -> str:
        return self.label

    def apply(self, arch: Architecture) -> None:
        done: list[Edit] = []
        try:
            for part in self.parts:
                part.apply(arch)
                done.append(part)
        except Exception:
            for part in reversed(done):
                part.revert(arch)
            raise

    def revert(self, arch: Architecture) -> None:
        for part in reversed(self.parts):
            part.revert(arch)
