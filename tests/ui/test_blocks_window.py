"""Blocks in the window, through its widgets: a selection grouped into a block (Ctrl+G),
a second instance from the palette, the block opened by a double-click with its
breadcrumb, a param edited inside in the inspector changing every instance and the
totals, undo, the way back, and Ungroup; a file with blocks opens as blocks and saves
as blocks."""

from __future__ import annotations

import json
import shutil
from itertools import pairwise
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialog, QSpinBox, QWidget

from designer.core.edits import SetParams
from designer.core.graph import Architecture, EdgeRecord, GraphError, NodeRecord
from designer.io.project import Project, load, save
from tests.conftest import EXAMPLES
from tests.ui.test_inspector import type_into
from tests.ui.test_usability import node_point

CTRL = Qt.KeyboardModifier.ControlModifier
NO_KEYS = Qt.KeyboardModifier.NoModifier
LEFT = Qt.MouseButton.LeftButton


def chain_file(tmp_path: Path) -> Path:
    """input → c1 → r1 → c2 → r2 → pool → flat → fc, laid out top to bottom."""
    layers = [
        ("input", "Input", {"shape": [3, 32, 32]}),
        ("c1", "Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}),
        ("r1", "ReLU", {}),
        ("c2", "Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}),
        ("r2", "ReLU", {}),
        ("pool", "AdaptiveAvgPool2d", {"output_size": 1}),
        ("flat", "Flatten", {}),
        ("fc", "Linear", {"out_features": 10}),
    ]
    nodes = [NodeRecord(i, t, p, pos=(0.0, 140.0 * k)) for k, (i, t, p) in enumerate(layers)]
    edges = [EdgeRecord(a.id, b.id) for a, b in pairwise(nodes)]
    path = tmp_path / "chain.nnd"
    save(path, Architecture.build("chain", nodes, edges))
    return path


def click(window, node_id: str, keys=NO_KEYS) -> QPoint:
    at = node_point(window, node_id)
    QTest.mouseClick(window.canvas.viewport(), LEFT, keys, at)
    return at


def showing(window, name: str) -> bool:
    found = window.inspector.findChild(QWidget, name)
    return found is not None and found.isVisible()


def palette_item(window, text: str):
    model = window.palette.view.model()
    for group in range(model.rowCount()):
        parent = model.index(group, 0)
        for row in range(model.rowCount(parent)):
            index = model.index(row, 0, parent)
            if index.data() == text:
                return index
    raise AssertionError(f"{text} is not in the palette")


def test_group_open_edit_inside_undo_and_ungroup_through_the_widgets(qtbot, window, tmp_path):
    assert window.open_path(chain_file(tmp_path))
    document = window.document
    flat_params = document.totals().params
    assert flat_params == 448 + 2320 + 170

    click(window, "c1")
    click(window, "r1", CTRL)
    assert sorted(document.selected()) == ["c1", "r1"]
    QTest.keyClick(window.canvas.viewport(), Qt.Key.Key_G, CTRL)  # Group into Block
    assert document.block_ids() == ["Block1"]
    assert document.selected() == ["block1"]
    assert {"c1", "r1"}.isdisjoint(document.arch.graph)
    assert document.results["block1"].params == 448
    assert document.results["block1"].shape == (16, 32, 32)
    assert document.totals().params == flat_params
    assert "Grouped 2 nodes into block Block1" in window.statusBar().currentMessage()
    assert window.scene.nodes["block1"].type_name == "Block1"

    # a second instance, from the palette's Blocks group (search, Enter), after the first
    assert palette_item(window, "Block1").parent().data() == "Blocks"
    search = window.palette.search
    QTest.keyClicks(search, "Block1")
    QTest.keyClick(search, Qt.Key.Key_Return)
    second = document.selected()[0]
    assert document.arch.type_of(second) == "Block1"
    assert document.arch.producers(second) == ["block1"]
    assert document.results[second].params == 16 * 16 * 9 + 16
    totals = document.totals().params
    assert totals == flat_params + 2320

    # open the first instance: the canvas shows the block, the breadcrumb the way back
    QTest.mouseDClick(window.canvas.viewport(), LEFT, NO_KEYS, node_point(window, "block1"))
    assert document.scope == "Block1"
    crumb = window.block_actions.breadcrumb
    assert crumb.isVisible()
    assert [b.text() for b in crumb.buttons] == ["chain", "block1 (Block1)"]
    assert set(window.scene.nodes) == {"in", "c1", "r1", "out"}
    assert window.scene.nodes["out"].output_count == 0  # a BlockOutput feeds nothing inside
    assert document.results["c1"].params == 448  # as this instance sees it
    assert document.results["in"].shape == (3, 32, 32)

    # edit out_channels of c1 inside: every instance and the totals follow
    click(window, "c1")
    box = window.inspector.findChild(QWidget, "param_out_channels").findChild(QSpinBox)
    type_into(qtbot, box, "32")
    assert document.arch.params_of("c1")["out_channels"] == 32
    assert document.results["c1"].params == 3 * 32 * 9 + 32
    after = document.totals().params
    first, second_now = 3 * 32 * 9 + 32, 32 * 32 * 9 + 32
    assert after == first + second_now + (32 * 16 * 9 + 16) + 170
    assert window.totals_label.text().startswith(f"Params {after:,}")

    # undo (Ctrl+Z) restores every instance
    QTest.keyClick(window.canvas.viewport(), Qt.Key.Key_Z, CTRL)
    assert document.totals().params == totals
    assert document.arch.params_of("c1")["out_channels"] == 16

    # back to the design by the breadcrumb
    QTest.mouseClick(crumb.buttons[0], LEFT)
    assert document.scope == "" and not crumb.isVisible()
    assert document.results[second].params == 2320

    # ungroup the second instance (Ctrl+Shift+G): its layers inline, the numbers the same
    click(window, second)
    QTest.keyClick(window.canvas.viewport(), Qt.Key.Key_G, CTRL | Qt.KeyboardModifier.ShiftModifier)
    inlined = document.selected()
    assert sorted(document.arch.type_of(n) for n in inlined) == ["Conv2d", "ReLU"]
    assert second not in document.arch.graph
    assert document.totals().params == totals

    # undo all: the plain design it started as
    while document.undo_stack.canUndo():
        document.undo_stack.undo()
    assert document.scope == ""
    assert sorted(document.arch.graph) == sorted(
        ["input", "c1", "r1", "c2", "r2", "pool", "flat", "fc"]
    )
    assert document.block_ids() == []
    assert document.totals().params == flat_params


def test_undo_of_an_edit_inside_a_block_shows_that_block(window) -> None:
    assert window.open_path(EXAMPLES / "resnet50-blocks.nnd")
    document = window.document
    document.open_instance("layer1")
    document.open_instance("rest")
    assert document.scope == "IdentityBottleneck"
    document.select(["conv2"])
    document.push(SetParams.with_param(document.arch, "conv2", "bias", True))
    # bias on every IdentityBottleneck's 3×3: widths 64 ×2, 128 ×3, 256 ×5, 512 ×2
    assert document.totals().params == 25_557_032 + 2 * 64 + 3 * 128 + 5 * 256 + 2 * 512
    document.go_up(0)
    assert document.scope == ""
    document.undo_stack.undo()
    assert document.scope == "IdentityBottleneck"
    assert document.totals().params == 25_557_032


def test_a_design_with_blocks_opens_as_blocks_and_saves_as_blocks(window, tmp_path) -> None:
    path = tmp_path / "resnet50-blocks.nnd"
    shutil.copy(EXAMPLES / "resnet50-blocks.nnd", path)
    assert window.open_path(path)
    document = window.document
    assert window.windowTitle() == "resnet50-blocks.nnd[*] — designer"
    assert document.block_ids() == ["Bottleneck", "IdentityBottleneck", "Stage"]
    assert document.totals().params == 25_557_032
    assert document.totals().macs == 4_089_184_256
    assert document.results["layer3"].params == 7_098_368
    assert window.scene.nodes["layer3"].type_name == "Stage"
    document.open_instance("layer3")
    assert window.scene.nodes["rest"].type_name == "IdentityBottleneck ×depth - 1"
    document.go_up(0)
    document.push(SetParams.with_param(document.arch, "fc", "out_features", 10))
    window.save_action.trigger()  # over the file, blocks and all
    saved = load(path)
    assert saved.blocks is not None
    assert [b.id for b in saved.blocks.library] == ["Bottleneck", "IdentityBottleneck", "Stage"]
    assert saved.arch.params_of("fc") == {"out_features": 10}
    assert saved.arch.node("layer2.first.conv2").type == "Conv2d"
    assert sum(saved.arch.spec(n).inputs[1] != 0 for n in saved.arch.graph) > 100


def test_a_block_used_nowhere_opens_without_numbers(window, tmp_path) -> None:
    project = load(EXAMPLES / "resnet50-blocks.nnd")
    assert project.blocks is not None
    window._replace(type(window.document)(Project(project.arch, blocks=project.blocks)))
    document = window.document
    assert document.group(["fc"])
    block = document.arch.type_of(document.selected()[0])
    document.undo_stack.undo()
    assert block not in document.block_ids()
    document.open_block("Bottleneck")
    assert document.shown_path == "layer1.first"
    assert document.results["conv1"].params == 64 * 64


def test_the_inspector_edits_an_instance_params_and_shows_expressions(qtbot, window) -> None:
    assert window.open_path(EXAMPLES / "resnet50-blocks.nnd")
    document = window.document
    click(window, "layer3")
    assert document.selected() == ["layer3"]
    qtbot.waitUntil(lambda: showing(window, "param_depth"))
    shown = [e.objectName() for e in window.inspector.findChildren(QWidget) if e.isVisible()]
    names = ["param_width", "param_stride", "param_depth", "param_repeat"]
    assert [n for n in shown if n.startswith("param_")] == names
    depth = window.inspector.findChild(QWidget, "param_depth").findChild(QSpinBox)
    assert depth.value() == 6
    type_into(qtbot, depth, "7")
    assert document.arch.params_of("layer3") == {"width": 256, "stride": 2, "depth": 7}
    one_more = 17 * 256 * 256 + 12 * 256  # an IdentityBottleneck(256): convs, BNs
    assert document.totals().params == 25_557_032 + one_more
    assert window.scene.nodes["layer3"].result.params == 7_098_368 + one_more

    QTest.mouseDClick(window.canvas.viewport(), LEFT, NO_KEYS, node_point(window, "layer3"))
    click(window, "rest")
    qtbot.waitUntil(lambda: showing(window, "expr_repeat"))
    repeat = window.inspector.findChild(QWidget, "expr_repeat")
    assert repeat.isVisible() and repeat.text() == "depth - 1"
    type_into(qtbot, repeat, "depth - 2")  # an expression typed in the inspector
    assert document.arch.params_of("rest")["repeat"] == {"expr": "depth - 2"}
    # every stage has one IdentityBottleneck fewer: 17w² + 12w params each; layer3 (depth
    # 7 now) has as many as it started with
    fewer = sum(17 * w * w + 12 * w for w in (64, 128, 512))
    assert document.totals().params == 25_557_032 - fewer
    assert window.scene.nodes["rest"].type_name == "IdentityBottleneck ×depth - 2"
    document.go_up(0)
    assert window.scene.nodes["layer3"].result.params == 7_098_368


def test_import_from_pytorch_keeps_the_model_classes_as_blocks(window, monkeypatch) -> None:
    pytest.importorskip("torch")
    from designer.ui.dialogs import ImportDialog

    models = Path(__file__).resolve().parents[1] / "io" / "models" / "block_models.py"
    monkeypatch.setattr(ImportDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    monkeypatch.setattr(
        ImportDialog, "request", lambda self: (models, "ResNet50", ["3x224x224"], {})
    )
    window.exports.import_model()
    document = window.document
    assert sorted(document.block_ids()) == ["Bottleneck", "BottleneckDownsample"]
    assert len(document.arch) == 16  # the top level: stem, 8 instances, head
    assert document.totals().params == 25_557_032
    assert document.totals().macs == 4_089_184_256


def test_exports_of_a_design_with_blocks_keep_its_blocks(window, tmp_path, monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    assert window.open_path(EXAMPLES / "resnet50-blocks.nnd")
    window.document.open_instance("layer2")  # exports are of the whole design, from anywhere
    code, rows = tmp_path / "resnet50.py", tmp_path / "resnet50.csv"
    for target, trigger in (
        (code, window.exports.export_code),
        (rows, lambda: window.exports.export_report("csv")),
    ):
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, t=target: (str(t), ""))
        trigger()
    source = code.read_text(encoding="utf-8")
    assert "class Bottleneck(nn.Module):" in source and "class Stage(nn.Module):" in source
    assert len(source.splitlines()) < 220
    lines = rows.read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[0] for line in lines[6:10]] == ["layer1", "layer2", "layer3", "layer4"]


def test_a_block_from_the_library_comes_in_with_the_blocks_it_holds(window, tmp_path) -> None:
    assert window.open_path(chain_file(tmp_path))
    document = window.document
    start = document.snapshot()
    assert palette_item(window, "Stage").parent().data() == "Block library"
    click(window, "r2")
    view = window.palette.view
    view.setCurrentIndex(palette_item(window, "Stage"))
    QTest.keyClick(view, Qt.Key.Key_Return)  # the palette adds it after the selection
    stage = document.selected()[0]
    assert document.arch.type_of(stage) == "Stage"
    assert document.block_ids() == ["Bottleneck", "IdentityBottleneck", "Stage"]
    assert palette_item(window, "Stage").parent().data() == "Blocks"
    # Stage's defaults: width 64, depth 3, from the 16 channels of r2
    assert document.results[stage].shape == (256, 32, 32)
    assert document.undo_stack.count() == 1  # the blocks and the instance: one step
    window.undo_action.trigger()
    assert document.block_ids() == [] and stage not in document.arch.graph
    assert document.snapshot() == start
    window.redo_action.trigger()
    assert document.arch.type_of(stage) == "Stage"


def test_a_grouped_block_takes_params_that_its_instances_set(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QApplication, QInputDialog, QToolButton

    assert window.open_path(chain_file(tmp_path))
    document = window.document
    assert document.group(["c1", "r1"])
    QTest.mouseDClick(window.canvas.viewport(), LEFT, NO_KEYS, node_point(window, "block1"))
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("width=16", True))
    QTest.keyClick(window.canvas.viewport(), Qt.Key.Key_P, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert document.block_defaults() == {"width": 16}

    click(window, "c1")  # its out_channels becomes the expression `width`
    qtbot.waitUntil(lambda: showing(window, "use_expr_out_channels"))
    QTest.mouseClick(window.inspector.findChild(QToolButton, "use_expr_out_channels"), LEFT)
    type_into(qtbot, window.inspector.findChild(QWidget, "expr_out_channels"), "width")
    assert document.arch.params_of("c1")["out_channels"] == {"expr": "width"}

    window.activateWindow()  # offscreen, a window is active only when told
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    viewport = window.canvas.viewport()
    QTest.keyClick(viewport, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)  # Up to Parent
    assert document.scope == ""
    click(window, "block1")
    qtbot.waitUntil(lambda: showing(window, "param_width"))
    width = window.inspector.findChild(QWidget, "param_width").findChild(QSpinBox)
    type_into(qtbot, width, "32")
    assert document.arch.params_of("block1") == {"width": 32}
    assert document.results["block1"].shape == (32, 32, 32)
    assert document.results["block1"].params == 3 * 32 * 9 + 32
    while document.undo_stack.canUndo():
        window.undo_action.trigger()
    assert document.block_ids() == [] and document.totals().params == 448 + 2320 + 170


def test_a_refused_group_leaves_a_plain_design_plain(window) -> None:
    assert window.open_path(EXAMPLES / "lenet5.nnd")
    document = window.document
    with pytest.raises(GraphError):
        document.group([])
    assert document.design is None  # still analysed in place, edit by edit
    assert document.results is document.engine.results


def own_bottleneck_file(tmp_path: Path) -> Path:
    """A design of its own Bottleneck block (a ReLU): not the library's, which Stage holds."""
    own = {
        "format": "nn-designer-project",
        "version": 2,
        "name": "own bottleneck",
        "nodes": [
            {"id": "input", "type": "Input", "params": {"shape": [64, 8, 8]}},
            {"id": "b", "type": "Bottleneck"},
        ],
        "edges": [{"source": "input", "target": "b"}],
        "blocks": [
            {
                "id": "Bottleneck",
                "nodes": [
                    {"id": "x", "type": "BlockInput"},
                    {"id": "relu", "type": "ReLU"},
                    {"id": "y", "type": "BlockOutput"},
                ],
                "edges": [{"source": "x", "target": "relu"}, {"source": "relu", "target": "y"}],
            }
        ],
    }
    path = tmp_path / "own.nnd"
    path.write_text(json.dumps(own), encoding="utf-8")
    return path


def test_a_library_block_that_clashes_with_one_of_the_design_is_refused(window, tmp_path):
    path = own_bottleneck_file(tmp_path)
    assert window.open_path(path)
    document = window.document
    start, steps = document.snapshot(), document.undo_stack.count()
    window.insert_after_selection("Stage")
    assert "the design's block Bottleneck differs from the one being brought in" in (
        window.statusBar().currentMessage()
    )
    assert document.snapshot() == start and document.block_ids() == ["Bottleneck"]
    assert document.undo_stack.count() == steps


def test_a_library_block_uses_the_library_blocks_the_design_took_before(window, tmp_path):
    assert window.open_path(chain_file(tmp_path))
    document = window.document
    document.select(["r2"])
    window.insert_after_selection("Bottleneck")
    assert document.block_ids() == ["Bottleneck"]
    window.insert_after_selection("Stage")  # holds the same Bottleneck: only the rest comes
    assert document.block_ids() == ["Bottleneck", "IdentityBottleneck", "Stage"]
    assert document.undo_stack.count() == 2
