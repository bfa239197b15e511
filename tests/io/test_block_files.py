"""Files with blocks (contract 1b): read into blocks and instances, analysed flattened (ids
are paths), saved back as written; every problem said at its place in the file, or by path
where an instance's values cause it; expressions refused, never run; files without blocks
read as before, on their own path."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from designer.core.blocks import Instance
from designer.core.graph import EdgeRecord
from designer.core.propagate import analyse
from designer.io import block_reader, project
from designer.io.project import ProjectError, dumps, load, loads
from tests.conftest import EXAMPLES

RESNET50 = EXAMPLES / "resnet50-blocks.nnd"
V1_FILES = sorted((Path(__file__).parent / "v1").glob("*.nnd"))


def document(nodes: list[Any], edges: list[Any], blocks: Any = None) -> dict[str, Any]:
    doc = {"format": "nn-designer-project", "version": 2, "nodes": nodes, "edges": edges}
    if blocks is not None:
        doc["blocks"] = blocks
    return doc


WIDE = {
    "id": "Wide",
    "params": {"width": 8},
    "nodes": [
        {"id": "x", "type": "BlockInput"},
        {
            "id": "c",
            "type": "Conv2d",
            "params": {"out_channels": {"expr": "width * 2"}, "kernel_size": 3, "padding": 1},
        },
        {"id": "y", "type": "BlockOutput"},
    ],
    "edges": [{"source": "x", "target": "c"}, {"source": "c", "target": "y"}],
}
TOP = [
    {"id": "in", "type": "Input", "params": {"shape": [3, 8, 8]}},
    {"id": "w", "type": "Wide", "params": {"width": 4}},
    {"id": "r", "type": "ReLU", "repeat": 3},
]
TOP_EDGES = [{"source": "in", "target": "w"}, {"source": "w", "target": "r"}]
DESIGN = document(TOP, TOP_EDGES, [WIDE])


def refusal(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(ProjectError) as caught:
        loads(json.dumps(doc))
    return caught.value.problems


# reading and saving -------------------------------------------------------------------------


def test_the_example_reads_as_blocks_and_instances_and_analyses_flattened() -> None:
    loaded = load(RESNET50)
    design = loaded.blocks
    assert design is not None and loaded.notes == [] and loaded.extras == {}
    assert [b.id for b in design.library] == ["Bottleneck", "IdentityBottleneck", "Stage"]
    layer2 = next(m for m in design.nodes if m.id == "layer2")
    assert layer2 == Instance("layer2", "Stage", {"width": 128, "stride": 2, "depth": 4})
    rest = next(m for m in design.library["Stage"].nodes if m.id == "rest")
    assert rest.repeat == {"expr": "depth - 1"}
    ids = [n.id for n in loaded.arch.nodes()]
    assert ids[5:7] == ["layer1.first.conv1", "layer1.first.bn1"]
    assert "layer3.rest.4.conv3" in ids and "layer3.rest.5.conv3" not in ids
    assert all(pos is None for _, pos in loaded.arch.graph.nodes(data="pos"))  # laid out anew
    totals = analyse(loaded.arch).totals()
    assert (totals.params, totals.macs, totals.errors) == (25_557_032, 4_089_184_256, 0)


def test_saving_writes_the_blocks_and_top_level_back_unchanged() -> None:
    text = RESNET50.read_text(encoding="utf-8")
    loaded = loads(text)
    assert dumps(loaded.arch, loaded.extras, loaded.blocks) == text
    assert '"layer1.first' not in text  # never the flattened graph


def test_a_canonical_file_with_ports_slots_names_positions_and_extras_round_trips() -> None:
    pair = {
        "id": "Pair",
        "params": {"scale": 2, "mode": "sum"},
        "nodes": [
            {"id": "a", "type": "BlockInput", "pos": [0, 0]},
            {"id": "b", "type": "BlockInput", "params": {"index": 1}},
            {"id": "sum", "type": "Add", "name": "a + b"},
            {"id": "grow", "type": "Conv2d", "params": {"out_channels": {"expr": "scale * 8"}, "kernel_size": 1}},
            {"id": "twice", "type": "Conv2d", "params": {"out_channels": {"expr": "scale * 8"}, "kernel_size": 1}, "shares": "grow"},
            {"id": "out", "type": "BlockOutput", "pos": [1.5, -2.25]},
            {"id": "out_b", "type": "BlockOutput", "params": {"index": 1}},
        ],
        "edges": [
            {"source": "a", "target": "sum", "port": 0},
            {"source": "b", "target": "sum", "port": 1},
            {"source": "sum", "target": "grow"},
            {"source": "grow", "target": "twice"},
            {"source": "twice", "target": "out"},
            {"source": "b", "target": "out_b"},
        ],
    }  # fmt: skip
    nodes = [
        {"id": "in", "type": "Input", "params": {"shape": [16, 4, 4]}},
        {"id": "relu", "type": "ReLU"},
        {"id": "p", "type": "Pair", "name": "the pair", "params": {"scale": 2}, "pos": [10, 20]},
        {"id": "head", "type": "Conv2d", "params": {"out_channels": 16, "kernel_size": 1}, "repeat": 2},
        {"id": "cat", "type": "Concat"},
    ]  # fmt: skip
    edges = [
        {"source": "in", "target": "relu"},
        {"source": "in", "target": "p", "port": 0},
        {"source": "relu", "target": "p", "port": 1},
        {"source": "p", "target": "head"},
        {"source": "head", "target": "cat", "port": 0},
        {"source": "p", "target": "cat", "port": 1, "output": 1},
    ]
    doc = {**document(nodes, edges, [pair]), "name": "pairs", "view": {"zoom": 2}}
    first = loads(json.dumps(doc))
    assert first.notes == ["view: not read by this version; kept as it is when saving"]
    text = dumps(first.arch, first.extras, first.blocks)
    assert json.loads(text) == {**doc, "format": "nn-designer-project", "version": 2}
    again = loads(text)
    assert dumps(again.arch, again.extras, again.blocks) == text
    arch = again.arch
    assert arch.owner_of("p.twice") == "p.grow"
    assert arch.name_of("p.sum") == "a + b"
    assert [e for e in arch.edges() if e.target == "cat"] == [
        EdgeRecord("head.1", "cat", 0),
        EdgeRecord("relu", "cat", 1),
    ]
    assert analyse(arch).result("cat").shape == (32, 4, 4)


def test_a_design_of_repeats_alone_is_read_and_saved_without_blocks() -> None:
    nodes = [
        {"id": "in", "type": "Input", "params": {"shape": [16]}},
        {"id": "hidden", "type": "Linear", "params": {"out_features": 16}, "repeat": 3},
    ]
    text = dumps(
        *_parts(loads(json.dumps(document(nodes, [{"source": "in", "target": "hidden"}]))))
    )
    assert '"blocks"' not in text
    assert '{"id": "hidden", "type": "Linear", "params": {"out_features": 16}, "repeat": 3}' in text
    assert [n.id for n in loads(text).arch.nodes()] == ["in", "hidden.0", "hidden.1", "hidden.2"]


def _parts(loaded: project.Project) -> tuple[Any, ...]:
    return loaded.arch, loaded.extras, loaded.blocks


def test_unknown_keys_inside_blocks_are_dropped_with_a_note() -> None:
    doc = copy.deepcopy(DESIGN)
    doc["blocks"][0]["colour"] = "red"
    doc["blocks"][0]["nodes"][1]["style"] = 1
    doc["blocks"][0]["edges"][0]["bend"] = 2
    assert loads(json.dumps(doc)).notes == [
        "blocks[0].colour: not read by this version; dropped",
        "blocks[0].nodes[1].style: not read by this version; dropped",
        "blocks[0].edges[0].bend: not read by this version; dropped",
    ]


# problems by place ----------------------------------------------------------------------------


def mutated(change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(DESIGN)
    change(doc)
    return doc


def _set(path: list[Any], value: Any) -> Any:
    def change(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


CONV = ["blocks", 0, "nodes", 1, "params"]
PROBLEMS = {
    "a misspelt param in an expression": (
        _set([*CONV, "out_channels"], {"expr": "widht * 2"}),
        [
            (
                "blocks[0].nodes[1].params.out_channels: widht * 2: widht is not a param of the "
                "block (did you mean width?) (its params: width)"
            )
        ],
    ),
    "plain values the layer refuses": (
        lambda doc: doc["blocks"][0]["nodes"][1]["params"].update(kernel_size=0, bogus=1),
        [
            (
                "blocks[0].nodes[1].params.kernel_size: must be a positive int or a list of 2 "
                "positive ints, got 0"
            ),
            "blocks[0].nodes[1].params.bogus: Conv2d has no parameter 'bogus'",
        ],
    ),
    "an instance's param that the block lacks": (
        _set(["nodes", 1, "params"], {"widht": 3}),
        ["nodes[1]: Wide has no param 'widht' (did you mean width?)"],
    ),
    "a repeat of 0": (
        _set(["nodes", 2, "repeat"], 0),
        ["nodes[2].repeat: must be an int ≥ 1, got 0"],
    ),
    "a repeat of true": (
        _set(["nodes", 2, "repeat"], True),
        ["nodes[2].repeat: must be an int ≥ 1, got true"],
    ),
    "a param name that is not a word": (
        lambda doc: doc["blocks"][0]["params"].update({"two words": 1}),
        ["blocks[0].params['two words']: a param name is a word (letters, digits, _)"],
    ),
    "block ids that are a layer type or not CapWords": (
        lambda doc: doc["blocks"].extend(
            [{"id": "ReLU", "nodes": [], "edges": []}, {"id": "small", "nodes": [], "edges": []}]
        ),
        [
            "blocks[1].id: ReLU is a layer type; a block needs another id",
            "blocks[2].id: a block id is CapWords (letters and digits, a capital first)",
        ],
    ),
    "a block that holds itself": (
        lambda doc: (
            doc["blocks"][0]["nodes"].append({"id": "inner", "type": "Wide"}),
            doc["blocks"][0]["edges"].append({"source": "c", "target": "inner"}),
        ),
        ["blocks[0].nodes[3]: a block may not hold an instance of itself"],
    ),
    "an edge into a port the block lacks": (
        lambda doc: doc["edges"].append({"source": "in", "target": "w", "port": 1}),
        ["edges[2]: feeds input 1 of w, a Wide with 1 input"],
    ),
    "an edge to a missing node in a block": (
        _set(["blocks", 0, "edges", 1, "target"], "z"),
        ["blocks[0].edges[1].target: there is no node 'z'"],
    ),
    "an unfed BlockOutput": (
        lambda doc: doc["blocks"][0]["edges"].pop(),
        ["blocks[0].nodes[2]: nothing feeds this BlockOutput"],
    ),
    "a cycle in a block": (
        lambda doc: (
            doc["blocks"][0]["nodes"].extend(
                [{"id": "r1", "type": "ReLU"}, {"id": "r2", "type": "ReLU"}]
            ),
            doc["blocks"][0]["edges"].extend(
                [{"source": "r1", "target": "r2"}, {"source": "r2", "target": "r1"}]
            ),
        ),
        ["blocks[0]: the edges make a cycle: r1 → r2 → r1"],
    ),
    "two blocks of one id": (
        lambda doc: doc["blocks"].append(copy.deepcopy(WIDE)),
        ["blocks[1].id: duplicate id 'Wide' (also blocks[0])"],
    ),
    "blocks that are not blocks": (
        lambda doc: doc["blocks"].extend([5, {"id": 3, "nodes": 4}]),
        [
            "blocks[1]: must be an object, got the number 5",
            "blocks[2].id: must be a string, got the number 3",
            "blocks[2].nodes: must be a list, got the number 4",
            "blocks[2].edges: missing (a list is required)",
        ],
    ),
    "a port taking params it has not": (
        _set(["blocks", 0, "nodes", 0, "params"], {"index": 0, "size": 2}),
        ["blocks[0].nodes[0]: BlockInput takes only 'index', not 'size'"],
    ),
    "a repeated node that shares": (
        lambda doc: doc["nodes"][2].update(shares="in"),
        ["nodes[2].shares: an instance of a block, or a repeated node, has its own weights"],
    ),
    # what only an instance's values cause is said by path
    "a width that gives no channels": (
        _set(["nodes", 1, "params", "width"], 0),
        ["w.c: out_channels: must be a positive int, got 0"],
    ),
    "a division by zero": (
        _set([*CONV, "out_channels"], {"expr": "width // (width - 4)"}),
        ["w.c: out_channels: width // (width - 4): divides by zero: width - 4 is 0"],
    ),
}


@pytest.mark.parametrize("case", sorted(PROBLEMS))
def test_problems_are_said_by_place(case: str) -> None:
    change, expected = PROBLEMS[case]
    assert refusal(mutated(change)) == expected


def test_a_dotted_id_inside_a_block_is_refused_by_place() -> None:
    def dotted(doc: dict[str, Any]) -> None:
        doc["blocks"][0]["nodes"][1]["id"] = "c.1"
        for edge in doc["blocks"][0]["edges"]:
            for end in ("source", "target"):
                edge[end] = "c.1" if edge[end] == "c" else edge[end]

    assert refusal(mutated(dotted)) == [
        (
            "blocks[0].nodes[1].id: an id inside a block may not hold '.', which joins the parts of "
            "a path"
        )
    ]


def test_errors_of_the_analysis_name_their_layer_by_path() -> None:
    doc = mutated(_set(["nodes", 0, "params", "shape"], [3, 2, 2]))
    doc["blocks"][0]["nodes"][1]["params"]["padding"] = 0
    results = analyse(loads(json.dumps(doc)).arch).results
    assert results["w.c"].error.startswith("kernel_size 3 is larger than the padded input 2")
    assert results["r.0"].blocked_by == "w.c"


# expressions are data -------------------------------------------------------------------------

HOSTILE = {
    "__import__('os').system('touch pwned')": "it is a call",
    "width.__class__.__mro__": "it is an attribute",
    "(lambda: 1)()": "it is a call",
    "9 ** 9 ** 9": "** is not allowed",
    "[width] * 10 ** 9": "[width] is a list",
    "width if width else 1": "it is a conditional",
    "'a' * 1000": "'a' is a string, not an integer",
    "1" + " + 1" * 300: "at most 500",
    "(" * 40 + "width" + ")" * 40: "nests brackets 40 deep; at most 32",
    "width\nimport os": "must be one line",
    "open('/etc/passwd').read()": "it is a call",
}


@pytest.mark.parametrize("text", sorted(HOSTILE), ids=range(len(HOSTILE)))
def test_hostile_expressions_are_refused_never_run(
    text: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("ran code from a file")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os, "system", never)
    monkeypatch.setattr("builtins.open", never)
    monkeypatch.setattr("builtins.eval", never)
    monkeypatch.setattr("builtins.exec", never)
    (problem,) = refusal(mutated(_set([*CONV, "out_channels"], {"expr": text})))
    assert problem.startswith("blocks[0].nodes[1].params.out_channels: ")
    assert HOSTILE[text] in problem
    assert list(tmp_path.iterdir()) == []


def test_a_value_beyond_int64_is_refused_by_path() -> None:
    big = {"expr": "width * 1000000000 * 1000000000 * 1000000000"}
    (problem,) = refusal(mutated(_set([*CONV, "out_channels"], big)))
    assert problem.startswith("w.c: out_channels: width * 1000000000")
    assert "beyond int64" in problem


def test_a_repeat_too_large_to_flatten_is_refused_before_it_is_built() -> None:
    (problem,) = refusal(mutated(_set(["nodes", 2, "repeat"], {"expr": "1000 * 1000 * 1000"})))
    assert problem == (
        "the design flattens to more than 2,000,000 layers; use fewer or smaller repeats"
    )


# files without blocks ------------------------------------------------------------------------


@pytest.mark.parametrize("v1", V1_FILES[:4], ids=lambda p: p.name)
def test_version_1_files_beside_a_file_with_blocks_read_as_before(
    v1: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file with blocks read first changes nothing for the next file: its block ids are
    no layer types there, and a file without blocks never takes the blocks' path."""
    assert load(RESNET50).blocks is not None
    monkeypatch.setattr(block_reader.BlockReader, "read", lambda *args: pytest.fail("slow path"))
    flat = load(v1)
    assert flat.blocks is None and flat.notes == []
    assert dumps(flat.arch, flat.extras) == (EXAMPLES / v1.name).read_text(encoding="utf-8")
    doc = json.loads(v1.read_text(encoding="utf-8"))
    doc["nodes"].append({"id": "extra", "type": "Bottleneck"})
    problems = refusal(doc)
    assert problems == [f"nodes[{len(doc['nodes']) - 1}].type: unknown layer type 'Bottleneck'"]


def test_only_a_file_with_blocks_or_a_repeat_takes_the_blocks_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read = block_reader.BlockReader.read
    taken: list[bool] = []
    monkeypatch.setattr(
        block_reader.BlockReader,
        "read",
        lambda self, *args: taken.append(True) or read(self, *args),
    )
    plain = document(TOP[:1] + [{"id": "r", "type": "ReLU", "colour": 1}], TOP_EDGES[:0])
    loads(json.dumps(plain))
    assert taken == []
    loads(json.dumps(document(TOP[:1] + [{"id": "r", "type": "ReLU", "repeat": 2}], [])))
    assert taken == [True]
