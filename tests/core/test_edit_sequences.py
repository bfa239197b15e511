"""Random edit sequences: the incremental analysis always equals a fresh one, undo
restores the starting graph exactly, and save → load keeps graph and analysis. And random
designs written in any file order: the analysis equals a walk that remembers nothing."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given, settings
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
from designer.core.graph import Architecture, EdgeRecord, GraphError, NodeRecord
from designer.core.params import ParamError
from designer.core.propagate import Engine, analyse
from designer.io.project import dumps, loads
from tests.helpers import assert_agrees, chain

# Inputs of every rank the designer takes: features, sequences, images, volumes, and more.
SHAPES = [[4], [3, 8], [3, 8, 8], [4, 16, 16], [2, 4, 4, 4], [1, 2, 3, 4, 5]]
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
    ("Conv1d", {"out_channels": 4, "kernel_size": 3}),
    ("Conv3d", {"out_channels": 2, "kernel_size": 1}),
    ("MaxPool1d", {"kernel_size": 2}),
    ("BatchNorm1d", {}),
    ("LayerNorm", {}),
    ("Dropout", {}),
    ("Linear", {"out_features": 4}),
]
NEW_INPUTS = [("Input", {"shape": shape}) for shape in SHAPES]
MERGES = [("Add", {}), ("Concat", {}), ("Multiply", {})]
# Small designs whose warnings depend on their neighbours, each layer fed by the one
# before it or, where an index is given, by that one of the motif (-1: the drawn source):
# a Linear after a Linear (through a Dropout) beside an activation of the same shape to
# rewire onto, and a bias a BatchNorm cancels beside an activation.
MOTIFS = [
    [
        ("Flatten", {}, -1),
        ("Linear", {"out_features": 4}, 0),
        ("Dropout", {}, 1),
        ("Linear", {"out_features": 3}, 2),
        ("ReLU", {}, 1),
    ],
    [
        ("Conv2d", {"out_channels": 4, "kernel_size": 1, "bias": True}, -1),
        ("BatchNorm2d", {}, 0),
        ("ReLU", {}, 0),
    ],
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
    *(("shape", shape) for shape in SHAPES),
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

    @rule(choice=st.sampled_from(NEW_NODES + NEW_INPUTS), data=st.data())
    def add_and_connect(self, choice: tuple[str, dict], data: st.DataObject) -> None:
        self.counter += 1
        node_id = f"n{self.counter}"
        kind, params = choice
        if kind == "Input":  # a second input, wired up by later rules
            self._do(AddNode(NodeRecord(node_id, kind, dict(params))))
            return
        source = self._node(data)
        self._do(
            Compound(
                [AddNode(NodeRecord(node_id, kind, dict(params))), Connect(source, node_id)],
                "Insert",
            )
        )

    @rule(motif=st.sampled_from(MOTIFS), data=st.data())
    def add_motif(self, motif: list[tuple[str, dict, int]], data: st.DataObject) -> None:
        # fed by a node with a shape, so that the motif's own warnings are worked out
        fine = [n for n in sorted(self.arch.graph) if self.engine.result(n).shape is not None]
        source = data.draw(st.sampled_from(fine)) if fine else self._node(data)
        ids: list[str] = []
        parts: list[Edit] = []
        for kind, params, feed in motif:
            self.counter += 1
            ids.append(f"n{self.counter}")
            parts += [
                AddNode(NodeRecord(ids[-1], kind, dict(params))),
                Connect(source if feed < 0 else ids[feed], ids[-1]),
            ]
        self._do(Compound(parts, "Insert motif"))

    @precondition(lambda self: self.arch.graph.number_of_edges() > 0)
    @rule(data=st.data())
    def rewire(self, data: st.DataObject) -> None:
        """Move one input of a layer behind another node, as one step: what dragging a
        wire's end from one output to another does."""
        result = self.engine.result
        edges = self.arch.edges()
        shaped = [e for e in edges if result(e.source).shape is not None]
        edge = data.draw(st.sampled_from(shaped if shaped and data.draw(st.booleans()) else edges))
        others = sorted(set(self.arch.graph) - {edge.source})
        # a source of the same shape leaves the target's own figures as they were: only
        # what depends on its neighbours changes, which is where a stale result would hide
        shape = result(edge.source).shape
        downstream = nx.descendants(self.arch.graph, edge.target) | {edge.target}
        alike = [
            n
            for n in others
            if shape is not None and n not in downstream and result(n).shape == shape
        ]
        source = data.draw(st.sampled_from(alike if alike and data.draw(st.booleans()) else others))
        self._do(Compound([Disconnect(edge), Connect(source, edge.target, edge.port)], "Rewire"))

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


@st.composite
def designs(draw: st.DrawFn) -> tuple[list[NodeRecord], list[EdgeRecord], list[int]]:
    """A random design: its nodes in topological order (each fed by nodes before it),
    its edges, and the order to write the nodes in the file."""
    records = [NodeRecord("input", "Input", {"shape": list(draw(st.sampled_from(SHAPES)))})]
    edges: list[EdgeRecord] = []
    for index in range(1, draw(st.integers(1, 9)) + 1):
        node_id = f"n{index}"
        what = draw(st.sampled_from(["layer"] * 6 + ["merge"] * 2 + ["input"]))
        if what == "input":
            shape = draw(st.sampled_from(SHAPES))
            records.append(NodeRecord(node_id, "Input", {"shape": list(shape)}))
            continue
        kind, params = draw(st.sampled_from(NEW_NODES if what == "layer" else MERGES))
        count = 1 if what == "layer" else 2
        sources = draw(st.lists(st.sampled_from(records), min_size=count, max_size=count))
        records.append(NodeRecord(node_id, kind, dict(params)))
        edges += [EdgeRecord(s.id, node_id, port) for port, s in enumerate(sources)]
    return records, edges, draw(st.permutations(range(len(records))))


def build(records: list[NodeRecord], edges: list[EdgeRecord], order: list[int]) -> Architecture:
    arch = Architecture("shuffled")
    for index in order:
        arch.add_node(records[index])
    for edge in edges:
        arch.connect(edge.source, edge.target, edge.port)
    return arch


@settings(max_examples=150, deadline=None)
@given(design=designs())
def test_designs_in_any_file_order_agree_with_a_walk_that_remembers_nothing(
    design: tuple[list[NodeRecord], list[EdgeRecord], list[int]],
) -> None:
    records, edges, order = design
    arch = build(records, edges, order)
    assert [n.id for n in arch.nodes()] == [records[i].id for i in order]
    engine = analyse(arch)
    assert_agrees(arch, engine)
    in_topological_order = build(records, edges, list(range(len(records))))
    assert engine.results == analyse(in_topological_order).results

    # the same design grown edit by edit in file order, the engine refreshed after each
    grown = Architecture("grown")
    engine = Engine(grown)
    for index in order:
        new = grown.add_node(records[index]).id
        for edge in edges:  # its wires to the nodes already there
            if new in (edge.source, edge.target) and edge.source in grown and edge.target in grown:
                grown.connect(edge.source, edge.target, edge.port)
        engine.refresh()
    assert grown.edges() == arch.edges()
    assert engine.results == analyse(arch).results


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"rank{len(s)}")
def test_inputs_of_every_rank_agree_with_a_walk_that_remembers_nothing(
    shape: list[int],
) -> None:
    arch = chain(
        tuple(shape),
        ("ReLU", {}),
        ("LayerNorm", {}),
        ("Dropout", {}),
        ("Flatten", {}),
        ("Linear", {"out_features": 3}),
    )
    engine = analyse(arch)
    assert engine.results["l5"].shape == (3,)
    assert_agrees(arch, engine)
