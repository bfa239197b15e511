"""Grouping nodes into a block and ungrouping an instance (designer.core.block_edits) on
the examples: the flattened design analyses the same (params, MACs, FLOPs, every total)
with the same output shapes; a group's cut edges become its ports; expressions inside a
block become the new block's params; and reverting a step gives back the exact design.
A state machine then mixes groups, ungroups and undos, saving and loading after each."""

from __future__ import annotations

from functools import cache
from typing import Any

import networkx as nx
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from designer.core.analysis import Totals
from designer.core.block_editing import REPEAT, ScopedDesign, members
from designer.core.block_edits import (
    DesignEdit,
    InScope,
    Steps,
    group_into_block,
    new_block_id,
    ungroup,
)
from designer.core.block_flatten import Flat
from designer.core.blocks import BLOCK_INPUT, BLOCK_OUTPUT, PORT_TYPES, join
from designer.core.edits import SetParams
from designer.core.expr import holds_expr
from designer.core.graph import Architecture, GraphError, NodeRecord
from designer.core.propagate import Engine
from designer.io.project import Project, dumps, load, loads
from designer.io.project_format import BlockDesign
from tests.conftest import EXAMPLES

PLAIN = sorted(p.stem for p in EXAMPLES.glob("*.nnd") if load(p).blocks is None)
FAST = settings(max_examples=40, deadline=None)


# helpers ------------------------------------------------------------------------------


def opened(name: str) -> ScopedDesign:
    """An example as the window edits it: with its blocks, or a plain one given them."""
    return scoped(load(EXAMPLES / f"{name}.nnd"))


def scoped(project: Project) -> ScopedDesign:
    blocks = project.blocks
    if blocks is None:
        return ScopedDesign.of(project.arch)
    return ScopedDesign.from_members(project.arch.name, blocks.nodes, blocks.edges, blocks.library)


@cache
def plain_analysis(name: str) -> tuple[Totals, dict[str, tuple]]:
    """A plain example's totals and the shape of each design output, analysed as loaded."""
    engine = Engine(load(EXAMPLES / f"{name}.nnd").arch)
    totals = engine.totals()
    return totals, {o: engine.results[o].shape for o in engine.arch.outputs()}


def analysed(design: ScopedDesign) -> tuple[Flat, Engine]:
    """The design flattened and analysed afresh, as the window does after an edit."""
    _, flat = design.flatten()
    engine = Engine(flat.architecture(design.top.name))
    engine.refresh()
    return flat, engine


def exact(design: ScopedDesign) -> dict[str, Any]:
    """Everything an undo must give back: each scope's node records (params, names,
    positions, file places, shares), edges and, for a block, param defaults."""
    scopes = {"": (None, design.top.nodes(), design.top.edges())}
    for block_id, block in design.blocks.items():
        scopes[block_id] = (dict(block.defaults), block.arch.nodes(), block.arch.edges())
    return scopes


def content(design: ScopedDesign) -> dict[str, Any]:
    """What a file holds of a design: each scope's members (file order) and edges."""
    scopes = {"": (None, members(design.top), design.top.edges())}
    for block_id, block in design.blocks.items():
        scopes[block_id] = (dict(block.defaults), members(block.arch), block.arch.edges())
    return scopes


def saved(design: ScopedDesign) -> str:
    """The file text, written as the window's `Document.blocks()` hands the design over."""
    library, flat = design.flatten()
    top = design.top
    blocks = BlockDesign(library, tuple(members(top)), tuple(top.edges()), flat)
    return dumps(flat.architecture(top.name), {}, blocks)


def convex(arch: Architecture, chosen: list[str]) -> bool:
    """No path leaves the selection and comes back into it (an instance in its place
    would then feed itself)."""
    inside = set(chosen)
    after = set().union(*(nx.descendants(arch.graph, n) for n in chosen)) - inside
    before = set().union(*(nx.ancestors(arch.graph, n) for n in chosen)) - inside
    return not after & before


def selection(data: st.DataObject, order: list[str]) -> list[str]:
    """A run of nodes contiguous in topological order (always groupable), or any subset."""
    if data.draw(st.booleans(), label="contiguous"):
        first = data.draw(st.integers(0, len(order) - 1), label="first")
        end = data.draw(st.integers(first + 1, len(order)), label="end")
        return order[first:end]
    return data.draw(st.lists(st.sampled_from(order), min_size=1, unique=True), label="subset")


def instances(design: ScopedDesign, scope: str) -> list[str]:
    arch = design.scope(scope)
    return [n for n in arch.file_order() if arch.type_of(n) in design.blocks]


def expressions_in(record: NodeRecord) -> bool:
    return any(holds_expr(v) for v in record.params.values())


# grouping a plain example -------------------------------------------------------------


@FAST
@given(name=st.sampled_from(PLAIN), data=st.data())
def test_grouping_a_plain_example_keeps_its_analysis_and_reverts_exactly(
    name: str, data: st.DataObject
) -> None:
    """Any convex selection of a plain example's layers (every contiguous run in
    topological order is one) grouped into a block: the flattened design has the same
    totals and the same shape at every design output; one input port per distinct output
    feeding the selection, one output slot per distinct output leaving it or design output
    inside; reverting gives back the exact design, without the block. A selection that is
    not convex is refused, and nothing changes."""
    design = opened(name)
    top = design.top
    start, start_members, start_edges = exact(design), members(top), top.edges()
    totals, output_shapes = plain_analysis(name)
    chosen = selection(data, top.report_order())
    inside = set(chosen)
    entering = [e for e in top.edges() if e.source not in inside and e.target in inside]
    leaving = [e for e in top.edges() if e.source in inside and e.target not in inside]
    outputs_inside = [n for n in top.outputs() if n in inside]

    block_id = new_block_id(design)
    step = group_into_block(design, "", chosen, block_id)
    if not convex(top, chosen):
        event("not convex: refused")
        with pytest.raises(GraphError, match="cycle"):
            step.apply(design)
        assert exact(design) == start
        return
    event("grouped")
    step.apply(design)

    (instance,) = instances(design, "")
    assert top.type_of(instance) == block_id and not inside & set(top.graph) - {instance}
    block = design.blocks[block_id].arch
    ports = [r.type for r in block.nodes() if r.type in PORT_TYPES]
    feeds = {(e.source, e.output) for e in entering}  # distinct outputs feeding it
    gives = {(e.source, e.output) for e in leaving}  # distinct outputs leaving it
    assert ports.count(BLOCK_INPUT) == len(feeds)
    assert ports.count(BLOCK_OUTPUT) == len(gives) + len(outputs_inside)
    assert len(top.in_edges(instance)) == ports.count(BLOCK_INPUT)
    assert len(top.edges_of(instance)) - len(top.in_edges(instance)) == len(leaving)

    _, engine = analysed(design)
    assert engine.totals() == totals
    flat_id = {o: join(instance, o.replace(".", "_")) if o in inside else o for o in output_shapes}
    assert sorted(engine.arch.outputs()) == sorted(flat_id.values())
    assert {o: engine.results[flat_id[o]].shape for o in output_shapes} == output_shapes

    step.revert(design)
    assert exact(design) == start
    assert members(top) == start_members and top.edges() == start_edges
    assert not design.blocks and block_id not in design.catalog


@FAST
@given(name=st.sampled_from(PLAIN), data=st.data())
def test_ungrouping_what_was_grouped_keeps_the_analysis_and_reverts_exactly(
    name: str, data: st.DataObject
) -> None:
    """A contiguous run grouped, then its instance ungrouped: the layers are back at the
    top level (ids prefixed by the instance's), the totals and output shapes as before;
    reverting the ungroup gives back the grouped design exactly, and the group the start."""
    design = opened(name)
    order = design.top.report_order()
    first = data.draw(st.integers(0, len(order) - 1), label="first")
    chosen = order[first : data.draw(st.integers(first + 1, len(order)), label="end")]
    start = exact(design)
    totals, output_shapes = plain_analysis(name)
    grouping = group_into_block(design, "", chosen, new_block_id(design))
    grouping.apply(design)
    grouped = exact(design)
    (instance,) = instances(design, "")

    inlining = ungroup(design, "", instance)
    inlining.apply(design)
    assert not instances(design, "") and len(design.top) == len(start[""][1])
    _, engine = analysed(design)
    assert engine.totals() == totals
    shapes = [engine.results[o].shape for o in engine.arch.outputs()]
    assert sorted(map(str, shapes)) == sorted(map(str, output_shapes.values()))

    inlining.revert(design)
    assert exact(design) == grouped
    grouping.revert(design)
    assert exact(design) == start


def test_a_selection_a_path_leaves_and_reenters_is_refused() -> None:
    """LeNet's c1 and s2 without the tanh between them: the instance would feed the tanh
    that feeds it. Refused as a cycle, and nothing changes (the block is not added)."""
    design = opened("lenet5")
    start = exact(design)
    with pytest.raises(GraphError, match="cycle"):
        group_into_block(design, "", ["c1", "s2"], "Block1").apply(design)
    assert exact(design) == start and not design.blocks


def test_ids_holding_dots_are_renamed_inside_the_block() -> None:
    """torchvision's ids (`features.0`) cannot be ids inside a block, where '.' joins the
    parts of a path: grouped, they are `features_0` there, and the design flattens and
    analyses the same (found by the property above: AlexNet, VGG-16, ResNet-18 and the
    small U-Net could not be grouped; the block was refused when flattened)."""
    design = opened("alexnet")
    totals, _ = plain_analysis("alexnet")
    step = group_into_block(design, "", ["features.0", "features.1", "features.2"], "Stem")
    step.apply(design)
    inner = [r.id for r in design.blocks["Stem"].arch.nodes()]
    assert inner == ["features_0", "features_1", "features_2", "in", "out"]
    flat, engine = analysed(design)
    assert [n.id for n in flat.nodes[1:4]] == [f"stem.features_{i}" for i in range(3)]
    assert engine.totals() == totals


# inside a block ------------------------------------------------------------------------

RESNET50 = (25_557_032, 4_089_184_256)


@pytest.mark.parametrize(
    ("scope", "chosen", "reads"),
    [
        ("Bottleneck", ["conv2", "bn2", "relu2"], ["stride", "width"]),
        ("Bottleneck", ["conv3", "bn3", "down_conv", "down_bn", "add"], ["stride", "width"]),
        ("Bottleneck", ["bn1", "relu1"], []),
        ("IdentityBottleneck", ["conv1", "bn1", "relu1", "conv2"], ["width"]),
        ("Stage", ["first", "rest"], ["depth", "stride", "width"]),  # instances, a repeat
    ],
)
def test_grouping_inside_a_block_takes_the_names_its_expressions_read(
    scope: str, chosen: list[str], reads: list[str]
) -> None:
    """Nodes of a block definition grouped: the new block's params are the names their
    expressions read (the outer block's defaults as defaults), the instance passes each on
    as `{"expr": name}`, and ResNet-50 keeps its 25,557,032 params and 4,089,184,256 MACs;
    reverting gives back the exact design."""
    design = opened("resnet50-blocks")
    start = exact(design)
    outer = design.blocks[scope]
    step = group_into_block(design, scope, chosen, "Inner")
    step.apply(design)

    assert design.blocks["Inner"].defaults == {name: outer.defaults[name] for name in reads}
    (instance,) = instances(design, scope)
    assert outer.arch.node(instance).params == {name: {"expr": name} for name in reads}
    totals = analysed(design)[1].totals()
    assert (totals.params, totals.macs) == RESNET50
    assert totals == analysed(opened("resnet50-blocks"))[1].totals()

    step.revert(design)
    assert exact(design) == start


def test_ungrouping_a_repeated_instance_inlines_its_copies_in_a_chain() -> None:
    """A Transformer encoder block repeated 3 times, ungrouped: 3 copies of its layers
    (`encoder_0_…`, `encoder_1_…`, `encoder_2_…`), each fed by the one before (the first
    by what fed the instance, the last feeding what it fed), with the same totals and
    output shape; reverting gives back the exact design."""
    design = opened("blocks-transformer")
    top = design.top
    InScope("", SetParams.with_param(top, "encoder", REPEAT, 3)).apply(design)
    before = exact(design)
    _, engine = analysed(design)
    totals, shape = engine.totals(), engine.results["classifier"].shape
    layers = [r.id for r in design.blocks["EncoderBlock"].arch.nodes() if r.type not in PORT_TYPES]

    step = ungroup(design, "", "encoder")
    step.apply(design)
    copies = [[f"encoder_{k}_{n}" for n in layers] for k in range(3)]
    assert all(n in top for copy in copies for n in copy) and "encoder" not in top
    copy_of = {n: k for k, copy in enumerate(copies) for n in copy}
    crossing = {
        (copy_of.get(e.source, e.source), copy_of.get(e.target, e.target))
        for e in top.edges()
        if copy_of.get(e.source) != copy_of.get(e.target)
    }
    assert crossing == {("embedded", 0), (0, 1), (1, 2), (2, "widen")}
    _, engine = analysed(design)
    assert engine.totals() == totals and engine.results["classifier"].shape == shape

    step.revert(design)
    assert exact(design) == before


@pytest.mark.parametrize("instance", ["first", "rest"])
def test_an_instance_whose_params_are_expressions_is_not_ungrouped(instance: str) -> None:
    """Inside ResNet-50's Stage, `first` passes `{"expr": "width"}` on and `rest` repeats
    `depth - 1` times: only an instance can say what those are, so ungrouping is refused,
    naming the instance."""
    design = opened("resnet50-blocks")
    with pytest.raises(GraphError, match=f"^{instance}'s params are expressions"):
        ungroup(design, "Stage", instance)


@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        (["x", "conv1", "bn1"], "x is a port of this block"),
        (["bn3", "add", "relu", "y"], "y is a port of this block"),
    ],
)
def test_a_port_is_not_grouped(chosen: list[str], message: str) -> None:
    """A block's BlockInput and BlockOutput are its ports: they stay in it."""
    design = opened("resnet50-blocks")
    start = exact(design)
    with pytest.raises(GraphError, match=message):
        group_into_block(design, "Bottleneck", chosen, "Inner")
    assert exact(design) == start


def sharing() -> ScopedDesign:
    """x → a → r → b, where b is a called again (it uses a's weights)."""
    arch = Architecture("twice")
    conv = {"out_channels": 4, "kernel_size": 3, "padding": 1}
    arch.add_node(NodeRecord("x", "Input", {"shape": [4, 8, 8]}))
    arch.add_node(NodeRecord("a", "Conv2d", conv))
    arch.add_node(NodeRecord("r", "ReLU"))
    arch.add_node(NodeRecord("b", "Conv2d", conv, shares="a"))
    for source, target in [("x", "a"), ("a", "r"), ("r", "b")]:
        arch.connect(source, target)
    return ScopedDesign.of(arch)


@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        (["a"], "a shares weights with b"),
        (["b"], "b shares weights with a"),
        (["r", "b"], "b shares weights with a"),
    ],
)
def test_half_of_a_weight_sharing_pair_is_not_grouped(chosen: list[str], message: str) -> None:
    """Two calls of one module move together or not at all."""
    design = sharing()
    with pytest.raises(GraphError, match=message):
        group_into_block(design, "", chosen, "Inner")
    assert not design.blocks


def test_a_weight_sharing_pair_groups_and_ungroups_together() -> None:
    """Both calls grouped: the block holds the pair (its weights counted once, as before);
    ungrouped, the pair is back, `block1_b` using `block1_a`'s weights; all reverts."""
    design = sharing()
    start = exact(design)
    totals = analysed(design)[1].totals()
    grouping = group_into_block(design, "", ["a", "r", "b"], "Twice")
    grouping.apply(design)
    assert design.blocks["Twice"].arch.owner_of("b") == "a"
    assert analysed(design)[1].totals() == totals
    inlining = ungroup(design, "", "twice")
    inlining.apply(design)
    assert design.top.owner_of("twice_b") == "twice_a"
    assert analysed(design)[1].totals() == totals
    inlining.revert(design)
    grouping.revert(design)
    assert exact(design) == start


# sequences ----------------------------------------------------------------------------

MACHINE_EXAMPLES = ["lenet5", "resnet18", "unet-blocks", "blocks-transformer", "resnet50-blocks"]


class GroupUngroupSequences(RuleBasedStateMachine):
    """Groups, ungroups and undos on a ScopedDesign, each step a DesignEdit kept for undo.
    Neither changes what the design computes, so after every step the totals are the
    start's; and the design saved and loaded is the same design."""

    @initialize(name=st.sampled_from(MACHINE_EXAMPLES))
    def open(self, name: str) -> None:
        self.design = opened(name)
        self.done: list[DesignEdit] = []
        self.start = exact(self.design)
        self.start_text = saved(self.design)
        self.totals = analysed(self.design)[1].totals()

    def _scopes(self) -> list[str]:
        return ["", *self.design.blocks]

    @rule(data=st.data())
    def group(self, data: st.DataObject) -> None:
        """A contiguous run of one scope grouped: refused just where it holds a port or
        is not convex (a run that takes a port's neighbours past the port, say)."""
        scope = data.draw(st.sampled_from(self._scopes()), label="scope")
        arch = self.design.scope(scope)
        order = arch.report_order()
        first = data.draw(st.integers(0, len(order) - 1), label="first")
        chosen = order[first : data.draw(st.integers(first + 1, len(order)), label="end")]
        refused = any(arch.type_of(n) in PORT_TYPES for n in chosen) or not convex(arch, chosen)
        before = exact(self.design)
        try:
            step: Steps = group_into_block(self.design, scope, chosen, new_block_id(self.design))
            step.apply(self.design)
        except GraphError:
            assert refused, chosen
            assert exact(self.design) == before
            event("group: refused")
            return
        assert not refused, chosen
        self.done.append(step)
        event(f"group: {'top level' if scope == '' else 'in a block'}")

    @precondition(lambda self: any(instances(self.design, s) for s in self._scopes()))
    @rule(data=st.data())
    def ungroup(self, data: st.DataObject) -> None:
        """An instance ungrouped: refused just where its params are expressions."""
        found = [(s, n) for s in self._scopes() for n in instances(self.design, s)]
        scope, instance = data.draw(st.sampled_from(found), label="instance")
        refused = expressions_in(self.design.scope(scope).node(instance))
        before = exact(self.design)
        try:
            step = ungroup(self.design, scope, instance)
        except GraphError:
            assert refused, instance
            assert exact(self.design) == before
            event("ungroup: refused")
            return
        assert not refused, instance
        step.apply(self.design)
        self.done.append(step)
        event("ungroup")

    @precondition(lambda self: self.done)
    @rule()
    def undo(self) -> None:
        self.done.pop().revert(self.design)

    @precondition(lambda self: self.done)
    @rule()
    def undo_all(self) -> None:
        """Every step reverted, last first: the exact start, written as it was."""
        event(f"undo_all: {len(self.done)} steps")
        while self.done:
            self.done.pop().revert(self.design)
        assert exact(self.design) == self.start
        assert saved(self.design) == self.start_text

    @invariant()
    def totals_are_the_starts(self) -> None:
        """A fresh analysis of the flattened design: the start's totals, every one."""
        assert analysed(self.design)[1].totals() == self.totals

    @invariant()
    def saved_and_loaded_is_the_same(self) -> None:
        """The file's text, loaded: the same scopes (members, edges, defaults), the same
        totals analysed, and the same text written again."""
        text = saved(self.design)
        project = loads(text)
        assert project.notes == [] and project.extras == {}
        loaded = scoped(project)
        assert content(loaded) == content(self.design)
        assert Engine(project.arch).totals() == self.totals
        assert saved(loaded) == text


GroupUngroupSequences.TestCase.settings = settings(
    max_examples=25, stateful_step_count=10, deadline=None
)
test_group_ungroup_sequences = GroupUngroupSequences.TestCase
