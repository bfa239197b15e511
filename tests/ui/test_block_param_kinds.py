"""A block param whose default is not a number, a bool or a list of ints (a string, a
padding word, null) takes, in an instance's inspector, the rules of the layer param it is
passed to whole: a mode passed to an Upsample offers every mode, a padding word the
padding editor. Where it is passed to no layer param whole, or to params that disagree,
a string is any text and a list of numbers any numbers (null: its default alone). These
rules guide the inspector only: flattening checks the values, so a file the reader opens
always opens in the window, whatever was edited inside the block since."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QLineEdit, QWidget

from designer.core import registry
from designer.core.block_editing import ScopedDesign
from designer.core.edits import SetParams
from designer.core.params import Kind
from designer.io.project import load
from tests.ui.test_blocks_window import click, showing
from tests.ui.test_inspector import type_into


def upsampling_file(tmp_path: Path, uses: list[dict]) -> Path:
    """input → up (an instance of Up, mode "nearest", pad "same", tag "x"), where Up's
    layers are `uses` between its ports, chained."""
    inside = [{"id": "x", "type": "BlockInput"}, *uses, {"id": "y", "type": "BlockOutput"}]
    design = {
        "format": "nn-designer-project",
        "version": 2,
        "name": "upsampling",
        "nodes": [
            {"id": "input", "type": "Input", "params": {"shape": [4, 8, 8]}, "pos": [0, 0]},
            {"id": "up", "type": "Up", "pos": [0, 140]},
        ],
        "edges": [{"source": "input", "target": "up"}],
        "blocks": [
            {
                "id": "Up",
                "params": {"mode": "nearest", "pad": "same", "tag": "x"},
                "nodes": inside,
                "edges": [{"source": a["id"], "target": b["id"]} for a, b in pairwise(inside)],
            }
        ],
    }
    path = tmp_path / "up.nnd"
    path.write_text(json.dumps(design), encoding="utf-8")
    return path


UP = {"id": "scale", "type": "Upsample", "params": {"scale_factor": 2, "mode": {"expr": "mode"}}}
CONV = {
    "id": "conv",
    "type": "Conv2d",
    "params": {"out_channels": 4, "kernel_size": 3, "padding": {"expr": "pad"}},
}


def block_params(path: Path) -> dict:
    project = load(path)
    blocks = project.blocks
    design = ScopedDesign.from_members("d", blocks.nodes, blocks.edges, blocks.library)
    return design.block_spec("Up").by_name


def test_a_string_param_takes_the_rules_of_the_layer_param_it_is_passed_to(tmp_path) -> None:
    params = block_params(upsampling_file(tmp_path, [UP, CONV]))
    mode = params["mode"]
    assert mode.kind is Kind.CHOICE
    assert mode.choices == registry.LAYERS["Upsample"].by_name["mode"].choices
    assert mode.default == "nearest" and "passed on as Upsample.mode" in mode.help
    assert params["pad"].kind is Kind.PADDING and params["pad"].default == "same"
    assert params["tag"].kind is Kind.TEXT  # passed to nothing whole: any string


def test_params_that_disagree_leave_the_default_alone(tmp_path) -> None:
    line = {
        "id": "line",
        "type": "Conv1d",
        "params": {**CONV["params"], "padding": {"expr": "pad"}},
    }
    params = block_params(upsampling_file(tmp_path, [UP, CONV, line]))
    assert params["pad"].kind is Kind.TEXT  # a Conv2d's padding and a Conv1d's


def test_the_inspector_offers_every_mode_and_the_choice_reaches_the_layers(qtbot, window, tmp_path):
    assert window.open_path(upsampling_file(tmp_path, [UP, CONV]))
    document = window.document
    click(window, "up")
    qtbot.waitUntil(lambda: showing(window, "param_mode"))
    combo = window.inspector.findChild(QWidget, "param_mode").findChild(QComboBox)
    modes = [combo.itemText(i) for i in range(combo.count())]
    assert "bilinear" in modes and "nearest" in modes
    combo.setCurrentIndex(modes.index("bilinear"))
    combo.activated.emit(modes.index("bilinear"))  # as a click on the item does
    qtbot.waitUntil(lambda: document.arch.params_of("up").get("mode") == "bilinear")
    assert document.undo_stack.count() == 1
    flat = {n: document.engine.arch.params_of(n) for n in document.engine.arch.file_order()}
    assert flat["up.scale"]["mode"] == "bilinear"

    words = window.inspector.findChild(QWidget, "param_pad").findChild(QComboBox, "mode")
    words.setCurrentText("valid")
    words.activated.emit(words.currentIndex())
    assert document.arch.params_of("up")["pad"] == "valid"
    assert document.results["up"].shape == (4, 14, 14)  # 16×16, unpadded 3×3
    window.activateWindow()  # as a click on it does: its shortcuts reach it
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    QTest.keyClick(window.canvas.viewport(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert document.results["up"].shape == (4, 16, 16)


def test_an_instance_keeps_a_value_that_an_edit_inside_its_block_no_longer_offers(
    window, tmp_path
) -> None:
    """The instance's mode was one of the Upsample's; the Upsample then took a mode of its
    own: the value is read by nothing, and the design saves and opens again."""
    path = upsampling_file(tmp_path, [UP])
    design = json.loads(path.read_text(encoding="utf-8"))
    design["nodes"][1]["params"] = {"mode": "bilinear"}
    path.write_text(json.dumps(design), encoding="utf-8")
    assert window.open_path(path)
    document = window.document
    document.open_block("Up")
    assert document.push(SetParams.with_param(document.arch, "scale", "mode", "nearest"))
    document.go_up(0)
    assert document.arch.params_of("up") == {"mode": "bilinear"}
    assert document.results["up"].shape == (4, 16, 16)
    saved = tmp_path / "saved.nnd"
    document.save(saved)
    assert window.open_path(saved)
    assert window.document.arch.params_of("up") == {"mode": "bilinear"}


def test_text_numbers_and_null_params_have_editors_that_show_the_instance_s_value(
    qtbot, window, tmp_path
) -> None:
    path = upsampling_file(tmp_path, [UP])
    design = json.loads(path.read_text(encoding="utf-8"))
    design["blocks"][0]["params"].update({"scales": [0.5, 1.5], "nothing": None})
    design["nodes"][1]["params"] = {"tag": "head", "nothing": "something"}
    path.write_text(json.dumps(design), encoding="utf-8")
    assert window.open_path(path)
    document = window.document
    click(window, "up")
    qtbot.waitUntil(lambda: showing(window, "param_tag"))
    tag = window.inspector.findChild(QWidget, "param_tag").findChild(QLineEdit)
    assert tag.text() == "head"
    type_into(qtbot, tag, "tail")
    assert document.arch.params_of("up")["tag"] == "tail"
    scales = window.inspector.findChild(QWidget, "param_scales").findChild(QLineEdit)
    assert scales.text() == "0.5, 1.5"
    nothing = window.inspector.findChild(QWidget, "param_nothing").findChild(QComboBox)
    assert nothing.currentText() == "something"  # none of its choices, shown as it is


def test_leaving_a_field_as_it_was_shown_is_no_edit(qtbot, window, tmp_path) -> None:
    """An instance's tag of 5 (the block's default is text) and a list default read back
    from their fields as '5' and a tuple: leaving them untouched changes nothing."""
    path = upsampling_file(tmp_path, [UP])
    design = json.loads(path.read_text(encoding="utf-8"))
    design["blocks"][0]["params"]["scales"] = [0.5, 1.5]
    design["nodes"][1]["params"] = {"tag": 5}
    path.write_text(json.dumps(design), encoding="utf-8")
    assert window.open_path(path)
    document = window.document
    click(window, "up")
    qtbot.waitUntil(lambda: showing(window, "param_tag"))
    for name in ("tag", "scales"):
        line = window.inspector.findChild(QWidget, f"param_{name}").findChild(QLineEdit)
        line.editingFinished.emit()  # what leaving the field without typing does
    assert document.arch.params_of("up") == {"tag": 5}
    assert document.undo_stack.count() == 0
