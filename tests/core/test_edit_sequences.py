"""Random edit sequences: the incremental analysis always equals a fresh one, undo
restores the starting graph exactly, and save → load keeps graph and analysis."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from designer.core.edits import (
    AddNode,
    Compound,
    Connect,
    Disconnect,
    Edit,
    Move,
    RemoveNode,
    Rename,
    SetParams,
)
from designer.core.graph import Architecture, GraphError, NodeRecord
from designer.core.params import ParamError
from designer.core.propagate import Engine, analyse
from designer.io.project import dumps, loads
from tests.helpers import assert_agrees

NEW_NODES = [
    ("Conv2d", {"out_channels": 4, "kernel_size": 3}),
    ("Conv2d", {"out_channels": 8, "kernel_size": 1, "bias": False}),
    ("MaxPool2d", {"kernel_size": 2}),
    ("BatchNorm2d", {}),
    ("ReLU", {}),
    ("Add", {}),
    ("Concat", {}),
    ("Flatten", {}),
    ("Linear", {"out_features": 10}),
    ("Upsample", {"scale_factor": 2.0}),
    ("ConvTranspose2d", {"out_channels": 4, "kernel_size": 2, "stride": 2}),
]
PARAM_CHANGES = [
    ("out_channels", 2),
    ("out_channels", 4),
    ("kernel_size", 1),
    ("kernel_size", 5),
    ("padding", 1),
    ("padding", "same"),
    ("stride", 2),
    ("bias", False),
    ("bias", True),
    ("shape", [3, 12, 12]),
    ("shape", [4, 16, 16]),
    ("groups", 2),
    ("kernel_size", 0),
    ("out_features", 3),
    ("dim", 2),
    ("scale_factor", 0.5),
]


def snapshot(arch: Architecture) -> tuple:
    """Everything an undo must restore: nodes with their file places, and edges."""
    return (
        arch.name,
        [(n.id, n.type, n.params, n.name, n.pos, n.seq) for n in arch.nodes()],
        arch.edges(),
    )


class EditSequences(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.arch = Architecture("random")
        self.arch.add_node(NodeRecord("input", "Input", {"shape": [4, 16, 16]}))
        self.arch.add_node(
            NodeRecord("c1", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1})
        )
        self.arch.connect("input", "c1")
        self.engine = Engine(self.arch)
        self.start = snapshot(self.arch)
        self.done: list[Edit] = []
        self.undone: list[Edit] = []
        self.counter = 0

    def _do(self, edit: Edit) -> None:
        before = snapshot(self.arch)
        try:
            edit.apply(self.arch)
        except (GraphError, ParamError):
            assert snapshot(self.arch) == before, "a refused edit changed the graph"
            return
        self.done.append(edit)
        self.undone.clear()

    def _node(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(sorted(self.arch.graph)))

    @rule(choice=st.sampled_from(NEW_NODES), data=st.data())
    def add_and_connect(self, choice: tuple[str, dict], data: st.DataObject) -> None:
        self.counter += 1
        node_id = f"n{self.counter}"
        source = self._node(data)
        kind, params = choice
        self._do(
            Compound(
                [AddNode(NodeRecord(node_id, kind, dict(params))), Connect(source, node_id)],
                "Insert",
            )
        )

    @precondition(lambda self: len(self.arch) > 1)
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        self._do(RemoveNode(self._node(data)))

    @rule(data=st.data(), port=st.one_of(st.none(), st.integers(0, 2)))
    def connect(self, data: st.DataObject, port: int | None) -> None:
        self._do(Connect(self._node(data), self._node(data), port))

    @precondition(lambda self: self.arch.graph.number_of_edges() > 0)
    @rule(data=st.data())
    def disconnect(self, data: st.DataObject) -> None:
        self._do(Disconnect(data.draw(st.sampled_from(self.arch.edges()))))

    @rule(data=st.data(), change=st.sampled_from(PARAM_CHANGES))
    def set_param(self, data: st.DataObject, change: tuple[str, object]) -> None:
        node_id = self._node(data)
        self._do(SetParams.with_param(self.arch, node_id, *change))

    @rule(data=st.data(), name=st.one_of(st.none(), st.text(max_size=5)))
    def rename(self, data: st.DataObject, name: str | None) -> None:
        self._do(Rename(self._node(data), name))

    @rule(data=st.data(), x=st.integers(-50, 50))
    def move(self, data: st.DataObject, x: int) -> None:
        self._do(Move(self._node(data), (float(x), 2.5)))

    @precondition(lambda self: self.done)
    @rule()
    def undo(self) -> None:
        edit = self.done.pop()
        edit.revert(self.arch)
        self.undone.append(edit)

    @precondition(lambda self: self.undone)
    @rule()
    def redo(self) -> None:
        edit = self.undone.pop()
        edit.apply(self.arch)
        self.done.append(edit)

    @invariant()
    def incremental_equals_fresh(self) -> None:
        self.engine.refresh()
        fresh = analyse(self.arch)
        assert self.engine.results == fresh.results
        assert self.engine.totals() == fresh.totals()  # kept by what each edit replaced
        assert_agrees(self.arch, self.engine)

    @invariant()
    def save_and_load_keep_graph_and_analysis(self) -> None:
        loaded = loads(dumps(self.arch)).arch
        assert [(n.id, n.type, n.params, n.name, n.pos) for n in loaded.nodes()] == [
            (n.id, n.type, n.params, n.name, n.pos) for n in self.arch.nodes()
        ]
        assert loaded.edges() == self.arch.edges()
        assert analyse(loaded).results == analyse(self.arch).results

    def teardown(self) -> None:
        while self.done:
            self.done.pop().revert(self.arch)
        assert snapshot(self.arch) == self.start
        self.engine.refresh()
        assert self.engine.results == analyse(self.arch).results


EditSequences.TestCase.settings = settings(max_examples=80, stateful_step_count=30, deadline=None)
test_edit_sequences = EditSequences.TestCase
