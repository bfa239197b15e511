"""Random edit sequences on a design with blocks, as the window makes them: an instance's
params and repeat, a layer inside a definition, a block param's default, an instance added
or removed at the end of the chain. After every step the design saved and loaded again
(through the file's text) analyses the same, node by node, and writes the same text; each
instance's totals add up to the design's; a refused edit names its place and changes
nothing; and undoing everything gives back the start's totals and text exactly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple, dataclass, replace
from typing import Any

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from designer.core.analysis import Sums, Totals
from designer.core.block_flatten import Flat, flatten, instance_totals
from designer.core.blocks import BlockDef, BlockError, Instance, Library, Member
from designer.core.graph import Architecture, EdgeRecord
from designer.core.propagate import Engine, analyse
from designer.io.project import ProjectError, dumps, loads
from designer.io.project_format import BlockDesign
from tests.core.test_blocks import E, conv, node
from tests.core.test_blocks import chain as edges_along

NAME = "small-resnet"


def chain(ids: list[str]) -> tuple[EdgeRecord, ...]:
    """Edges along `ids`, as a tuple: the machine's states are immutable."""
    return tuple(edges_along(*ids))


def bottleneck() -> BlockDef:
    """A projected Bottleneck: 1×1 down to `width`, 3×3 (strided), 1×1 up to 4 × width,
    added to a strided 1×1 projection of its input."""
    body = [
        conv("c1", E("width"), 1),
        node("bn1", "BatchNorm2d"),
        node("relu1", "ReLU"),
        conv("c2", E("width"), 3, E("stride")),
        node("bn2", "BatchNorm2d"),
        node("relu2", "ReLU"),
        conv("c3", E("width * 4"), 1),
        node("bn3", "BatchNorm2d"),
    ]
    down = [conv("down", E("width * 4"), 1, E("stride")), node("down_bn", "BatchNorm2d")]
    nodes = [node("x", "BlockInput"), *body, *down, node("add", "Add"), node("relu", "ReLU")]
    edges = chain(["x", *(n.id for n in body)]) + chain(["x", "down", "down_bn"])
    edges += (EdgeRecord("bn3", "add", 0), EdgeRecord("down_bn", "add", 1))
    edges += chain(["add", "relu", "y"])
    return BlockDef(
        "Bottleneck", {"width": 4, "stride": 1}, [*nodes, node("y", "BlockOutput")], edges
    )


def stage() -> BlockDef:
    """A strided Bottleneck, then `depth - 1` more: a ResNet stage."""
    return BlockDef(
        "Stage",
        {"width": 8, "stride": 2, "depth": 2},
        [
            node("x", "BlockInput"),
            Instance("first", "Bottleneck", {"width": E("width"), "stride": E("stride")}),
            Instance("rest", "Bottleneck", {"width": E("width")}, repeat=E("depth - 1")),
            node("y", "BlockOutput"),
        ],
        chain(["x", "first", "rest", "y"]),
    )


HEAD = [
    node("input", "Input", shape=[3, 16, 16]),
    conv("stem", 16, 3),
]
TAIL = [
    node("gap", "AdaptiveAvgPool2d", output_size=1),
    node("flat", "Flatten"),
    node("fc", "Linear", out_features=10),
]
START_CHAIN = [
    Instance("b1", "Bottleneck"),  # the block's defaults
    Instance("b2", "Bottleneck", {"width": 4, "stride": 2}, repeat=2),
    Instance("s1", "Stage", {"width": 8}),
]


@dataclass(frozen=True)
class State:
    """A design with blocks as the window holds it: the blocks and the top level."""

    library: Library
    nodes: tuple[Member, ...]
    edges: tuple[EdgeRecord, ...]


def with_chain(library: Library, middle: list[Member]) -> State:
    """The stem, `middle` one after another, then the classifier."""
    nodes = (*HEAD, *middle, *TAIL)
    return State(library, nodes, chain([n.id for n in nodes]))


def start() -> State:
    """The design every sequence starts from, built afresh: no edit can have reached it."""
    return with_chain(Library([bottleneck(), stage()]), START_CHAIN)


@dataclass(frozen=True)
class Analysed:
    """A state flattened, analysed and written."""

    flat: Flat
    arch: Architecture
    engine: Engine
    text: str

    @property
    def errors(self) -> int:
        """Layers the engine gives an error (an Add of two shapes, say)."""
        return self.engine.totals().errors


def analysed(state: State) -> Analysed:
    """Flatten, analyse and write `state` (a BlockError where it is refused)."""
    flat = flatten(state.nodes, state.edges, state.library)
    arch = flat.architecture(NAME)
    design = BlockDesign(state.library, state.nodes, state.edges, flat)
    return Analysed(flat, arch, analyse(arch), dumps(arch, {}, design))


def figures(engine: Engine) -> dict[str, tuple]:
    """Each node's shape, params, MACs and error: what a report shows of it."""
    return {
        node_id: (r.shape, r.params, r.macs, r.flops, r.error, r.blocked_by)
        for node_id, r in engine.results.items()
    }


def add(totals: list[Totals]) -> tuple[int, ...]:
    return tuple(map(sum, zip(*(astuple(t) for t in totals), strict=True)))


# Edits, each with values a layer or a check refuses among the ones it takes.
INSTANCE_PARAMS = [
    ("width", 2),
    ("width", 4),
    ("width", 8),
    ("width", 0),  # out_channels 0: refused by path
    ("width", "wide"),  # width * 4: not an integer
    ("stride", 1),
    ("stride", 2),
    ("stride", 0),
    ("depth", 1),  # a Stage's rest repeats 0 times: refused; no param of a Bottleneck
    ("depth", 3),
]
INNER_EDITS = [
    ("c2", {"kernel_size": 1, "padding": 0}),
    ("c2", {"kernel_size": 3, "padding": 1}),
    ("c2", {"kernel_size": 5, "padding": 2}),
    ("c1", {"bias": True}),
    ("c1", {"bias": False}),
    ("c3", {"out_channels": E("width * 2")}),  # the Add's inputs then differ: an error
    ("c3", {"out_channels": E("width * 4")}),
    ("c1", {"out_channels": E("width + 1")}),
    ("c1", {"out_channels": E("widht")}),  # refused: no such param
    ("c2", {"kernel_size": 0}),  # refused by the layer, at every instance's path
]
DEFAULTS = [
    ("Bottleneck", "width", 2),
    ("Bottleneck", "width", 4),
    ("Bottleneck", "width", 0),
    ("Bottleneck", "stride", 2),
    ("Bottleneck", "stride", 1),
    ("Stage", "width", 4),
    ("Stage", "width", 16),
    ("Stage", "depth", 1),
    ("Stage", "depth", 3),
    ("Stage", "stride", 1),
    ("Bottleneck", "width", E("4")),  # refused: a default is a value
]
REFUSED = (BlockError, ProjectError)


class BlockEditSequences(RuleBasedStateMachine):
    """Edits to a design with blocks, each a new immutable State kept in `history`."""

    def __init__(self) -> None:
        super().__init__()
        self.history: list[State] = [start()]
        self.start = analysed(self.state)
        self.current = self.start
        self.counter = 0

    @property
    def state(self) -> State:
        return self.history[-1]

    def _do(self, edit: str, make: Callable[[], State]) -> None:
        """Apply an edit (`make` gives the new state): kept where the design takes it;
        where refused, the refusal names a place and the state is as it was."""
        before = self.state
        try:
            state = make()
            result = analysed(state)
        except REFUSED as error:
            event(f"{edit}: refused")
            assert error.problems, "a refusal without a problem"
            for problem in error.problems:
                place = problem.split(":", 1)[0]
                assert place and ("block " in place or "the design" in place or "." in place), (
                    f"a refusal without its place: {problem}"
                )
            assert self.state is before and self.history[-1] == before
            self._file_refuses_too(make)
            return
        event(f"{edit}: kept" + (" (errors in the analysis)" if result.errors else ""))
        self.history.append(state)
        self.current = result

    def _file_refuses_too(self, make: Callable[[], State]) -> None:
        """A design whose blocks check but whose layers refuse their values is refused by
        the loader too, naming a path."""
        try:
            state = make()
            flat = flatten(state.nodes, state.edges, state.library)
        except REFUSED:
            return
        design = BlockDesign(state.library, state.nodes, state.edges, flat)
        text = dumps(Architecture(NAME), {}, design)
        with pytest.raises(ProjectError) as refused:
            loads(text)
        assert all("." in p.split(":", 1)[0] for p in refused.value.problems)

    def _instances(self) -> list[Instance]:
        return [m for m in self.state.nodes if isinstance(m, Instance)]

    def _chain(self) -> list[Member]:
        return list(self.state.nodes[len(HEAD) : len(self.state.nodes) - len(TAIL)])

    def _uses(self, block_id: str) -> bool:
        """Whether the top level holds an instance of `block_id`, or of a block holding one."""
        held = {block_id} | ({"Stage"} if block_id == "Bottleneck" else set())
        return any(m.type in held for m in self.state.nodes)

    def _replace_top(self, old: Member, new: Member) -> State:
        nodes = tuple(new if m is old else m for m in self.state.nodes)
        return replace(self.state, nodes=nodes)

    # rules ------------------------------------------------------------------------------

    @precondition(lambda self: self._instances())
    @rule(data=st.data(), change=st.sampled_from(INSTANCE_PARAMS))
    def set_instance_param(self, data: st.DataObject, change: tuple[str, Any]) -> None:
        """What the inspector does to an instance's param."""
        old = data.draw(st.sampled_from(self._instances()))
        name, value = change
        new = replace(old, params={**old.params, name: value})
        self._do("set_instance_param", lambda: self._replace_top(old, new))

    @precondition(lambda self: self._instances())
    @rule(data=st.data(), count=st.integers(0, 3))
    def set_repeat(self, data: st.DataObject, count: int) -> None:
        old = data.draw(st.sampled_from(self._instances()))
        self._do("set_repeat", lambda: self._replace_top(old, replace(old, repeat=count)))

    @rule(repeat=st.sampled_from([E("depth - 1"), E("depth"), 1, 2, E("depth - 2"), E("dpth")]))
    def set_inner_repeat(self, repeat: Any) -> None:
        """The repeat of the Stage's `rest`: an expression over its params, or a number."""
        block = self.state.library["Stage"]
        nodes = [replace(m, repeat=repeat) if m.id == "rest" else m for m in block.nodes]
        self._do(
            "set_inner_repeat",
            lambda: replace(
                self.state, library=self.state.library.replacing(replace(block, nodes=nodes))
            ),
        )

    @rule(edit=st.sampled_from(INNER_EDITS))
    def edit_inner_layer(self, edit: tuple[str, dict[str, Any]]) -> None:
        """A layer inside the Bottleneck's definition edited: every instance changes."""
        node_id, params = edit
        block = self.state.library["Bottleneck"]
        nodes = [
            replace(m, params={**m.params, **params}) if m.id == node_id else m for m in block.nodes
        ]
        self._do(
            "edit_inner_layer",
            lambda: replace(
                self.state, library=self.state.library.replacing(replace(block, nodes=nodes))
            ),
        )

    @rule(default=st.sampled_from(DEFAULTS))
    def set_default(self, default: tuple[str, str, Any]) -> None:
        block_id, name, value = default
        block = self.state.library[block_id]
        edited = replace(block, params={**block.params, name: value})
        self._do(
            "set_default", lambda: replace(self.state, library=self.state.library.replacing(edited))
        )

    @rule(
        kind=st.sampled_from(["Bottleneck", "Stage"]),
        params=st.sampled_from([{}, {"width": 2}, {"width": 8, "stride": 2}, {"width": 0}]),
    )
    def add_instance(self, kind: str, params: dict[str, Any]) -> None:
        """An instance dropped at the end of the chain, before the classifier."""
        self.counter += 1
        new = Instance(f"n{self.counter}", kind, dict(params))
        self._do("add_instance", lambda: with_chain(self.state.library, [*self._chain(), new]))

    @precondition(lambda self: self._chain())
    @rule()
    def remove_last(self) -> None:
        self._do("remove_last", lambda: with_chain(self.state.library, self._chain()[:-1]))

    @precondition(lambda self: len(self.history) > 1)
    @rule()
    def undo(self) -> None:
        self.history.pop()
        self.current = analysed(self.state)
        event("undo")

    @precondition(lambda self: len(self.history) > 1)
    @rule()
    def undo_all(self) -> None:
        event(f"undo_all: {len(self.history) - 1} edits")
        del self.history[1:]
        self.current = analysed(self.state)
        fresh = start()  # built anew: nothing an edit did can have reached its values
        assert list(self.state.library) == list(fresh.library)
        assert (self.state.nodes, self.state.edges) == (fresh.nodes, fresh.edges)
        assert self.current.engine.totals() == self.start.engine.totals()
        assert self.current.text == self.start.text
        assert figures(self.current.engine) == figures(self.start.engine)

    # invariants -------------------------------------------------------------------------

    @invariant()
    def saved_and_loaded_is_the_same(self) -> None:
        """The file's text, loaded, is the design: the same blocks and top level, the same
        figures node by node, and the same text written again."""
        text = self.current.text
        loaded = loads(text)
        design = loaded.blocks
        assert design is not None and loaded.notes == [] and loaded.extras == {}
        assert list(design.library) == list(self.state.library)
        assert design.nodes == self.state.nodes and design.edges == self.state.edges
        assert [n.id for n in loaded.arch.nodes()] == [n.id for n in self.current.flat.nodes]
        again = analyse(loaded.arch)
        assert figures(again) == figures(self.current.engine)
        assert again.results == self.current.engine.results  # warnings and tensors too
        assert dumps(loaded.arch, loaded.extras, design) == text

    @invariant()
    def instances_add_up_to_the_design(self) -> None:
        """The top level's instances and layers add up to the design's totals; each
        instance's row to its copies', its nested instances' and its own layers'."""
        flat, engine = self.current.flat, self.current.engine
        rows = instance_totals(engine, flat)
        assert rows.keys() == flat.instances.keys()
        settings_ = engine.settings

        def own(scope: str) -> list[Totals]:
            """The rows just inside `scope`, and a row for the layers it holds itself."""
            inner = [rows[p].totals for p, info in flat.instances.items() if info.scope == scope]
            layers = [r for n, r in engine.results.items() if flat.origins[n].scope == scope]
            return [*inner, Sums.over(layers).totals(settings_)]

        assert add(own("")) == astuple(engine.totals())
        for path, info in flat.instances.items():
            parts = [rows[p].totals for p in info.copies] if info.copies else own(path)
            assert add(parts) == astuple(rows[path].totals), path


BlockEditSequences.TestCase.settings = settings(
    derandomize=True, max_examples=80, stateful_step_count=25, deadline=None
)
test_block_edit_sequences = BlockEditSequences.TestCase


def test_an_unused_block_with_a_refused_value_is_refused_in_memory_as_in_the_file() -> None:
    """A block whose conv has kernel_size 0 is refused where it is made, though nothing
    uses it, as loading refuses it (found by the machine above: Library used to take it,
    and the file it saved could not be opened)."""
    bad = BlockDef(
        "Bad",
        {},
        [node("x", "BlockInput"), node("c", "Conv2d", out_channels=4, kernel_size=0),
         node("y", "BlockOutput")],
        chain(["x", "c", "y"]),
    )  # fmt: skip
    with pytest.raises(BlockError) as refused:
        Library([bad])
    assert refused.value.problems[0].startswith("block Bad, c: kernel_size: must be a positive")
