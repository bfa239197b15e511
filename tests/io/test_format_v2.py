"""Format version 2 (contract 1b): v1 files open and save as v2, v2 round-trips unchanged,
newer versions are refused by name, and what v2 adds (dtypes, output slots) survives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from designer.core.propagate import analyse
from designer.io.project import ProjectError, dumps, load, loads
from tests.conftest import EXAMPLES

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.nnd"))


def as_version(text: str, version: int) -> str:
    document = json.loads(text)
    document["version"] = version
    return json.dumps(document)


V1_FILES = sorted((Path(__file__).parent / "v1").glob("*.nnd"))


# examples made for version 2: they use its layer types, so no version-1 file can hold them
VERSION_2_EXAMPLES = {
    "blocks-convnext.nnd",
    "blocks-inception.nnd",
    "blocks-mobilenetv2.nnd",
    "blocks-resnet-basic.nnd",
    "blocks-squeeze-excitation.nnd",
    "blocks-transformer.nnd",
    "lstm-text-classifier.nnd",
    "mobilenetv3-se-block.nnd",
    "resnet50-blocks.nnd",
    "transformer-encoder-classifier.nnd",
    "unet-blocks.nnd",
    "vit-tiny.nnd",
}


def test_every_example_from_version_1_has_its_version_1_file() -> None:
    names = {p.name for p in EXAMPLE_FILES}
    assert {p.name for p in V1_FILES} == names - VERSION_2_EXAMPLES
    assert VERSION_2_EXAMPLES <= names


@pytest.mark.parametrize("v1", V1_FILES, ids=lambda p: p.name)
def test_v1_then_v2_then_v2_is_unchanged(v1: Path) -> None:
    """The examples as version 1 wrote them open, save as the version-2 example, and that
    saves unchanged ([6, 6] becomes 6 on the way: one spelling per value)."""
    from_v1 = load(v1)
    assert json.loads(v1.read_text(encoding="utf-8"))["version"] == 1
    assert from_v1.notes == []
    written = dumps(from_v1.arch, from_v1.extras)
    assert json.loads(written)["version"] == 2
    assert written == (EXAMPLES / v1.name).read_text(encoding="utf-8")
    again = loads(written)
    assert dumps(again.arch, again.extras) == written


def test_a_newer_version_is_refused_by_name() -> None:
    text = as_version((EXAMPLES / "lenet5.nnd").read_text(encoding="utf-8"), 3)
    with pytest.raises(ProjectError) as caught:
        loads(text)
    assert caught.value.problems == [
        (
            "version: this designer reads versions 1 and 2, got 3; the file was written by a "
            "newer designer"
        )
    ]


V2_DESIGN = {
    "format": "nn-designer-project",
    "version": 2,
    "name": "pool with indices",
    "nodes": [
        {"id": "x", "type": "Input", "params": {"dtype": "float64", "shape": [3, 8, 8]}},
        {"id": "pool", "type": "MaxPool2d", "params": {"kernel_size": 2, "return_indices": True}},
        {"id": "values", "type": "ReLU"},
        {"id": "where", "type": "Flatten"},
    ],
    "edges": [
        {"source": "x", "target": "pool"},
        {"source": "pool", "target": "values"},
        {"source": "pool", "target": "where", "output": 1},
    ],
}


def test_dtypes_and_output_slots_round_trip_and_analyse() -> None:
    text = json.dumps(V2_DESIGN)
    project = loads(text)
    written = dumps(project.arch, project.extras)
    assert loads(written).arch.edges() == project.arch.edges()
    assert '{"source": "pool", "target": "where", "output": 1}' in written
    assert '"dtype": "float64"' in written
    results = analyse(project.arch).results
    assert [t.shape for t in results["pool"].outputs] == [(3, 4, 4), (3, 4, 4)]
    assert [t.dtype for t in results["pool"].outputs] == ["float64", "int64"]
    assert results["where"].output.dtype == "int64"
    assert results["where"].shape == (48,)
    # values float64 (8 bytes) and indices int64 (8 bytes), 48 each
    assert results["pool"].memory == 48 * 8 + 48 * 8


def test_a_default_in_another_spelling_is_not_written() -> None:
    design = json.loads(json.dumps(V2_DESIGN))
    design["nodes"][1]["params"] |= {"stride": [2, 2], "dilation": [1, 1], "padding": 0}
    design["nodes"][0]["params"]["dtype"] = "float32"
    written = dumps(loads(json.dumps(design)).arch)
    assert '"params": {"kernel_size": 2, "stride": 2, "return_indices": true}' in written
    assert '"dtype"' not in written


def test_an_edge_from_a_missing_output_slot_is_an_error_on_its_target() -> None:
    design = json.loads(json.dumps(V2_DESIGN))
    del design["nodes"][1]["params"]["return_indices"]
    results = analyse(loads(json.dumps(design)).arch).results
    assert results["where"].error == "reads output 1 of pool, which has 1 output (0)"
    assert results["values"].error is None


@pytest.mark.parametrize("output", [-1, "1", True, 1.5])
def test_a_malformed_output_slot_is_refused(output: object) -> None:
    design = json.loads(json.dumps(V2_DESIGN))
    design["edges"][2]["output"] = output
    with pytest.raises(ProjectError) as caught:
        loads(json.dumps(design))
    assert caught.value.problems[0].startswith("edges[2].output: must be a non-negative int")


SHARED = {
    "format": "nn-designer-project",
    "version": 2,
    "nodes": [
        {"id": "x", "type": "Input", "params": {"shape": [3, 8, 8]}},
        {"id": "a", "type": "Conv2d", "params": {"out_channels": 3, "kernel_size": 3}},
        {
            "id": "b",
            "type": "Conv2d",
            "params": {"out_channels": 3, "kernel_size": 3},
            "shares": "a",
        },
    ],
    "edges": [{"source": "x", "target": "a"}, {"source": "a", "target": "b"}],
}


def test_shared_weights_round_trip_and_count_once() -> None:
    project = loads(json.dumps(SHARED))
    assert project.arch.node("b").shares == "a"
    written = dumps(project.arch)
    assert '"shares": "a"' in written
    assert loads(written).arch.nodes() == project.arch.nodes()
    engine = analyse(project.arch)
    assert engine.totals().params == 3 * 3 * 9 + 3


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"shares": "zz"}, "nodes[2].shares: there is no node 'zz'"),
        ({"shares": 3}, "nodes[2].shares: must be the id of another node, got 3"),
        (
            {"params": {"out_channels": 4, "kernel_size": 3}},
            (
                "nodes[2].shares: 'a' is a Conv2d with other params: a node that uses its weights "
                "must be the same layer"
            ),
        ),
    ],
)
def test_a_node_that_cannot_share_is_refused_by_place(change: dict, problem: str) -> None:
    design = json.loads(json.dumps(SHARED))
    design["nodes"][2] |= change
    with pytest.raises(ProjectError) as caught:
        loads(json.dumps(design))
    assert caught.value.problems == [problem]
