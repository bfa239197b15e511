"""Copy and paste of block instances and repeated layers, through the keys: the fragment
carries the blocks its instances use, a paste brings the ones the design lacks with the
instances in one undo step, into this design or a plain one, and refuses (changing
nothing) where a block of the same name differs or where the instance would hold itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from designer.io.project import loads
from designer.ui import clipboard
from tests.conftest import EXAMPLES
from tests.ui.test_blocks_window import chain_file, click, own_bottleneck_file

CTRL = Qt.KeyboardModifier.ControlModifier


def keys(window, key: Qt.Key) -> None:
    QTest.keyClick(window.canvas.viewport(), key, CTRL)


def test_an_instance_pastes_into_a_plain_design_with_its_blocks_as_one_step(window, tmp_path):
    assert window.open_path(EXAMPLES / "resnet50-blocks.nnd")
    document = window.document
    layer1 = document.results["layer1"]
    stem = ["input", "conv1", "bn1", "relu", "maxpool", "layer1"]
    click(window, stem[0])
    for node_id in stem[1:]:
        click(window, node_id, CTRL)
    keys(window, Qt.Key.Key_C)
    copied = loads(clipboard.clipboard_text())
    assert copied.blocks is not None
    assert [b.id for b in copied.blocks.library] == ["Bottleneck", "IdentityBottleneck", "Stage"]

    assert window.open_path(chain_file(tmp_path))  # a plain design, no blocks
    document = window.document
    start, before = document.snapshot(), set(document.arch.graph)
    click(window, "r2")
    keys(window, Qt.Key.Key_V)
    pasted = sorted(set(document.arch.graph) - before)
    assert sorted(document.selected()) == pasted and len(pasted) == len(stem)
    assert document.block_ids() == ["Bottleneck", "IdentityBottleneck", "Stage"]
    (stage,) = [n for n in pasted if document.arch.type_of(n) == "Stage"]
    assert document.results[stage] == layer1  # the same blocks and edges, to the number
    assert document.undo_stack.count() == 1  # the blocks and the nodes: one step
    keys(window, Qt.Key.Key_Z)
    assert document.snapshot() == start and document.block_ids() == []
    keys(window, Qt.Key.Key_Y)
    assert sorted(set(document.arch.graph) - before) == pasted
    assert document.results[stage] == layer1


def test_a_repeated_instance_keeps_its_repeat_and_a_paste_in_the_same_design_adds_no_block(
    window, tmp_path
):
    assert window.open_path(EXAMPLES / "blocks-convnext.nnd")
    document = window.document
    blocks = document.block_ids()
    assert document.arch.params_of("stage1")["repeat"] == 2
    click(window, "stage1")
    keys(window, Qt.Key.Key_C)
    before = set(document.arch.graph)
    keys(window, Qt.Key.Key_V)
    (copy,) = set(document.arch.graph) - before
    assert document.arch.params_of(copy) == document.arch.params_of("stage1")
    assert document.results[copy].error == "input port 0 is not connected"  # as a layer's
    title = window.scene.nodes[copy].lines()[0]  # beside a long id the type is cut, not ×2
    assert title.startswith("ConvNe") and title.endswith("… ×2"), title
    assert document.block_ids() == blocks
    assert document.undo_stack.count() == 1


def test_a_repeated_layer_keeps_its_repeat(window, tmp_path) -> None:
    design = {
        "format": "nn-designer-project",
        "version": 2,
        "name": "repeats",
        "nodes": [
            {"id": "input", "type": "Input", "params": {"shape": [3, 8, 8]}, "pos": [0, 0]},
            {"id": "relu", "type": "ReLU", "repeat": 3, "pos": [0, 140]},
        ],
        "edges": [{"source": "input", "target": "relu"}],
    }
    path = tmp_path / "repeats.nnd"
    path.write_text(json.dumps(design), encoding="utf-8")
    assert window.open_path(path)
    document = window.document
    click(window, "input")
    click(window, "relu", CTRL)
    keys(window, Qt.Key.Key_C)
    keys(window, Qt.Key.Key_V)
    (copy,) = [n for n in document.selected() if document.arch.type_of(n) == "ReLU"]
    assert document.arch.params_of(copy)["repeat"] == 3
    assert document.results[copy].shape == (3, 8, 8)


def test_a_block_that_differs_from_the_design_s_own_is_refused(window, tmp_path) -> None:
    assert window.open_path(EXAMPLES / "resnet50-blocks.nnd")
    click(window, "layer1")
    keys(window, Qt.Key.Key_C)
    path = own_bottleneck_file(tmp_path)
    assert window.open_path(path)
    document = window.document
    start = document.snapshot()
    keys(window, Qt.Key.Key_V)
    message = window.statusBar().currentMessage()
    assert message.startswith("Not pasted: the design's block Bottleneck differs"), message
    assert document.snapshot() == start and document.block_ids() == ["Bottleneck"]
    assert document.undo_stack.count() == 0


def test_an_instance_pasted_inside_its_own_block_is_refused(window) -> None:
    assert window.open_path(EXAMPLES / "resnet50-blocks.nnd")
    document = window.document
    click(window, "layer1")
    keys(window, Qt.Key.Key_C)
    window.block_actions.open_selected()
    assert document.scope == "Stage"
    start, steps = document.snapshot(), document.undo_stack.count()
    keys(window, Qt.Key.Key_V)
    assert document.snapshot() == start and document.undo_stack.count() == steps
    assert "Stage" in window.statusBar().currentMessage()


def test_block_ports_and_expressions_are_not_copied(window) -> None:
    assert window.open_path(EXAMPLES / "resnet50-blocks.nnd")
    document = window.document
    click(window, "layer1")
    window.block_actions.open_selected()
    port = next(n for n in document.arch.file_order() if document.arch.type_of(n) == "BlockInput")
    document.select([port])
    assert not window.copy()
    assert "not a layer or a block instance" in window.statusBar().currentMessage()


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.nnd")), ids=lambda p: p.stem)
def test_every_example_copied_whole_pastes_into_a_new_design_with_its_totals(window, path):
    assert window.open_path(path)
    document = window.document
    totals = document.totals()
    window.select_all()
    assert window.copy()
    window.new()
    pasted = window.paste()
    assert len(pasted) == len(window.document.arch) > 0
    assert window.document.totals() == totals


def two_blocks_file(tmp_path: Path, name: str, blocks: list[str]) -> Path:
    """input → an instance of the first of `blocks`; Y holds a ReLU, X an instance of Y."""
    inside = {"Y": "ReLU", "X": "Y"}
    design = {
        "format": "nn-designer-project",
        "version": 2,
        "name": name,
        "nodes": [
            {"id": "input", "type": "Input", "params": {"shape": [3, 8, 8]}, "pos": [0, 0]},
            {"id": "it", "type": blocks[0], "pos": [0, 140]},
        ],
        "edges": [{"source": "input", "target": "it"}],
        "blocks": [
            {
                "id": block,
                "nodes": [
                    {"id": "x", "type": "BlockInput"},
                    {"id": "a", "type": inside[block]},
                    {"id": "y", "type": "BlockOutput"},
                ],
                "edges": [{"source": "x", "target": "a"}, {"source": "a", "target": "y"}],
            }
            for block in reversed(blocks)
        ],
    }
    path = tmp_path / f"{name}.nnd"
    path.write_text(json.dumps(design), encoding="utf-8")
    return path


def test_a_paste_refused_after_its_blocks_came_in_leaves_nothing_behind(window, tmp_path):
    """X holds Y; an instance of X pasted inside Y would hold itself: refused, and X, which
    the paste brought, goes with it (it stayed, with an undo step, before)."""
    assert window.open_path(two_blocks_file(tmp_path, "source", ["X", "Y"]))
    window.document.select(["it"])
    assert window.copy()
    assert window.open_path(two_blocks_file(tmp_path, "target", ["Y"]))
    document = window.document
    start = document.snapshot()
    document.open_block("Y")
    assert window.paste() == []
    assert "hold themselves" in window.statusBar().currentMessage()
    assert document.block_ids() == ["Y"] and document.undo_stack.count() == 0
    assert document.snapshot() == start


def test_a_repeated_layer_pastes_into_a_new_design(window, tmp_path) -> None:
    assert window.open_path(repeated_relu(tmp_path))
    window.document.select(["relu"])
    assert window.copy()
    window.new()  # a plain design: it takes repeats for the paste
    start = window.document.snapshot()
    (pasted,) = window.paste()
    assert window.document.arch.params_of(pasted)["repeat"] == 3
    window.undo_action.trigger()
    assert window.document.snapshot() == start


def repeated_relu(tmp_path: Path) -> Path:
    design = {
        "format": "nn-designer-project",
        "version": 2,
        "name": "repeats",
        "nodes": [{"id": "relu", "type": "ReLU", "repeat": 3}],
        "edges": [],
    }
    path = tmp_path / "repeats.nnd"
    path.write_text(json.dumps(design), encoding="utf-8")
    return path


def test_copy_never_flattens_what_it_copies(window, tmp_path) -> None:
    """A block used nowhere holds an instance repeated 3,000,000 times: copying it is a
    fragment of one node (flattening it to write the fragment raised out of the action)."""
    path = two_blocks_file(tmp_path, "huge", ["X", "Y"])
    design = json.loads(path.read_text(encoding="utf-8"))
    design["nodes"][1]["type"] = "Y"  # X is used nowhere
    design["blocks"][1]["nodes"][1]["repeat"] = 3_000_000
    path.write_text(json.dumps(design), encoding="utf-8")
    assert window.open_path(path)
    document = window.document
    document.open_block("X")
    document.select(["a"])
    window.copy_action.trigger()
    copied = json.loads(clipboard.clipboard_text())
    assert [node["repeat"] for node in copied["nodes"]] == [3_000_000]
    window.new()  # pasted alone, it is a design too large to analyse: said
    assert window.paste() == []
    message = window.statusBar().currentMessage()
    assert message.startswith("Cannot paste: the design flattens to more than"), message
