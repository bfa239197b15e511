"""The inspector, driven through its real widgets: edits reach the document as undoable
steps, refused values are not applied and say why, and results follow the analysis."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QSpinBox, QWidget

from designer.core import registry
from designer.core.edits import AddNode, Connect, RemoveNode, SetParams
from designer.core.graph import NodeRecord
from designer.ui.document import Document
from designer.ui.panels.inspector import ERROR_COLOUR, WARNING_COLOUR, Inspector
from designer.ui.panels.param_editors import ParamEditor
from tests.conftest import EXAMPLES

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "inspector-error.png"


@pytest.fixture
def document() -> Document:
    return Document.open(EXAMPLES / "seed-08-conv-stride2-floor.nnd")


@pytest.fixture
def inspector(qtbot, document: Document) -> Inspector:
    widget = Inspector(document)
    qtbot.addWidget(widget)
    widget.resize(380, 900)
    widget.show()
    document.select(["conv"])
    return widget


def editor(inspector: Inspector, name: str) -> ParamEditor:
    found = inspector.findChild(ParamEditor, f"param_{name}")
    assert found is not None, f"no editor for {name}"
    return found


def result(inspector: Inspector, key: str) -> QLabel:
    return inspector.findChild(QLabel, f"result_{key}")


def error(inspector: Inspector, name: str) -> QLabel:
    return inspector.findChild(QLabel, f"error_{name}")


def type_into(qtbot, widget: QWidget, text: str) -> None:
    """Replace a field's text by typing, then press Enter."""
    line = widget if isinstance(widget, QLineEdit) else widget.lineEdit()
    line.selectAll()
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)


def test_nothing_selected_shows_a_hint(qtbot, document: Document) -> None:
    widget = Inspector(document)
    qtbot.addWidget(widget)
    assert widget.objectName() == "inspector"
    assert not widget.findChild(QLabel, "hint").isHidden()
    document.select(["conv"])
    assert widget.findChild(QLabel, "hint").isHidden()
    assert widget.findChild(QLabel, "node_id").text() == "conv"
    assert widget.findChild(QLabel, "node_type").text() == "Conv2d"


def test_typing_out_channels_pushes_one_edit_and_undo_restores_it(
    qtbot, inspector: Inspector, document: Document
) -> None:
    spin = editor(inspector, "out_channels").findChild(QSpinBox)
    assert spin.value() == 512
    assert result(inspector, "params").text().startswith("410,112")
    assert result(inspector, "output").text() == "512x63x63"

    type_into(qtbot, spin, "256")

    assert document.arch.node("conv").params["out_channels"] == 256
    assert document.undo_stack.count() == 1  # not one step per digit
    assert result(inspector, "params").text().startswith("205,056")  # 256·32·25 + 256
    assert result(inspector, "output").text() == "256x63x63"

    document.undo_stack.undo()
    assert spin.value() == 512
    assert result(inspector, "params").text().startswith("410,112")
    document.undo_stack.redo()
    assert spin.value() == 256


def test_padding_same_with_stride_2_is_refused_beside_the_field(
    qtbot, inspector: Inspector, document: Document
) -> None:
    before = document.arch.node("conv").params
    combo = editor(inspector, "padding").findChild(QComboBox, "mode")
    assert combo.currentText() == "number"

    qtbot.keyClick(combo, Qt.Key.Key_Down)  # number → same

    label = error(inspector, "padding")
    assert not label.isHidden()
    assert label.text() == "'same' needs stride 1 (PyTorch refuses it), got stride 2"
    assert ERROR_COLOUR in label.styleSheet()
    assert document.arch.node("conv").params == before
    assert document.undo_stack.count() == 0
    assert combo.currentText() == "number"


def test_a_later_successful_edit_clears_the_error(
    qtbot, inspector: Inspector, document: Document
) -> None:
    groups = editor(inspector, "groups").findChild(QSpinBox)
    type_into(qtbot, groups, "3")
    assert error(inspector, "groups").text() == "3 does not divide out_channels 512"
    assert not error(inspector, "groups").isHidden()
    assert groups.value() == 1
    assert "groups" not in document.arch.node("conv").params

    type_into(qtbot, groups, "4")
    assert error(inspector, "groups").isHidden()
    assert document.arch.node("conv").params["groups"] == 4


def test_an_error_about_another_param_names_it(qtbot, document: Document) -> None:
    document.push(AddNode(NodeRecord("pool", "MaxPool2d", {"kernel_size": 3, "padding": 1})))
    document.push(Connect("input", "pool"))
    widget = Inspector(document)
    qtbot.addWidget(widget)
    document.select(["pool"])
    kernel = editor(widget, "kernel_size").findChildren(QSpinBox)[0]
    type_into(qtbot, kernel, "1")
    assert error(widget, "kernel_size").text() == "padding: 1 must be at most half of kernel_size 1"
    assert kernel.value() == 3
    assert document.arch.node("pool").params["kernel_size"] == 3


def test_per_axis_values_write_a_tuple(qtbot, inspector: Inspector, document: Document) -> None:
    kernel = editor(inspector, "kernel_size")
    same = kernel.findChild(QCheckBox, "same")
    second = kernel.findChildren(QSpinBox)[1]
    assert same.isChecked() and not second.isEnabled()

    same.click()  # [5, 5] is 5: unticking alone changes nothing, it frees the other axes
    assert document.arch.node("conv").params["kernel_size"] == 5
    assert not same.isChecked() and second.isEnabled()
    assert document.undo_stack.count() == 0
    type_into(qtbot, second, "3")
    assert document.arch.node("conv").params["kernel_size"] == (5, 3)
    assert result(inspector, "output").text() == "512x63x64"
    assert result(inspector, "rf").text() == "5 × 3, stride 2 × 2"

    same.click()
    assert document.arch.node("conv").params["kernel_size"] == 5
    assert second.value() == 5 and not second.isEnabled()


def test_values_change_in_place_without_rebuilding_the_form(
    qtbot, inspector: Inspector, document: Document
) -> None:
    spin = editor(inspector, "out_channels")
    document.push(SetParams.with_param(document.arch, "conv", "out_channels", 64))
    assert editor(inspector, "out_channels") is spin
    assert spin.findChild(QSpinBox).value() == 64
    document.undo_stack.undo()
    assert editor(inspector, "out_channels") is spin
    assert len(inspector.findChildren(ParamEditor, "param_out_channels")) == 1


def test_a_shape_error_shows_in_the_results(
    qtbot, inspector: Inspector, document: Document
) -> None:
    kernel = editor(inspector, "kernel_size").findChildren(QSpinBox)[0]
    type_into(qtbot, kernel, "200")
    output = result(inspector, "output")
    assert "kernel_size 200 is larger than the padded input 130" in output.text()
    assert ERROR_COLOUR in output.styleSheet()
    assert result(inspector, "inputs").text() == "32x128x128"
    assert result(inspector, "params").text() == "—"

    document.push(AddNode(NodeRecord("relu", "ReLU", {})))
    document.push(Connect("conv", "relu"))
    document.select(["relu"])
    assert result(inspector, "output").text() == "waits on conv, which has an error"


def test_results_show_field_memory_and_warnings(inspector: Inspector) -> None:
    assert result(inspector, "rf").text() == "5 × 5, stride 2 × 2"
    assert result(inspector, "macs").text() == "1,625,702,400 (1.63 G)"  # 512·63²·32·25
    assert result(inspector, "flops").text() == "3,251,404,800 (3.25 G)"
    assert result(inspector, "buffers").text() == "0"
    assert result(inspector, "memory").text() == "7.75 MiB"  # 512·63²·4 bytes
    warnings = result(inspector, "warnings")
    assert "floors to 63" in warnings.text()
    assert WARNING_COLOUR in warnings.styleSheet()


def test_text_fields_parse_and_refuse(qtbot, inspector: Inspector, document: Document) -> None:
    document.select(["input"])
    line = editor(inspector, "shape").findChild(QLineEdit)
    assert line.text() == "32x128x128"
    type_into(qtbot, line, "3, 64, 64")
    assert document.arch.node("input").params["shape"] == (3, 64, 64)
    assert line.text() == "3x64x64"

    type_into(qtbot, line, "3x0x64")
    assert error(inspector, "shape").text().startswith("must be a non-empty list of positive ints")
    assert line.text() == "3x64x64"
    assert document.arch.node("input").params["shape"] == (3, 64, 64)


def test_nullable_params_can_be_set_to_none(qtbot, document: Document) -> None:
    document.push(AddNode(NodeRecord("pool", "MaxPool2d", {"kernel_size": 2})))
    document.push(AddNode(NodeRecord("bn", "BatchNorm2d", {})))
    widget = Inspector(document)
    qtbot.addWidget(widget)

    document.select(["pool"])
    stride = editor(widget, "stride")
    none = stride.findChild(QCheckBox, "none")
    assert none.text() == "default" and none.isChecked()
    none.click()
    assert document.arch.node("pool").params["stride"] == 1
    none.click()
    assert "stride" not in document.arch.node("pool").params

    document.select(["bn"])  # momentum=None is not its default: the box reads "none"
    none = editor(widget, "momentum").findChild(QCheckBox, "none")
    assert none.text() == "none" and not none.isChecked()
    none.click()
    assert document.arch.node("bn").params == {"momentum": None}
    document.undo_stack.undo()
    assert not none.isChecked()
    assert editor(widget, "momentum").findChild(QLineEdit).text() == "0.1"


def test_renaming_is_an_undoable_edit(qtbot, inspector: Inspector, document: Document) -> None:
    name = inspector.findChild(QLineEdit, "name")
    type_into(qtbot, name, "stem")
    assert document.arch.node("conv").name == "stem"
    document.undo_stack.undo()
    assert name.text() == ""
    assert document.arch.node("conv").name is None


@pytest.mark.parametrize("type_name", sorted(registry.LAYERS))
def test_every_layer_type_gets_a_form(qtbot, document: Document, type_name: str) -> None:
    widget = Inspector(document)
    qtbot.addWidget(widget)
    spec = registry.LAYERS[type_name]
    document.push(AddNode(NodeRecord("new", type_name, spec.starting_params())))
    document.select(["new"])
    values = document.arch.resolved_params("new")
    for param in spec.params:
        found = widget.findChild(ParamEditor, f"param_{param.name}")
        if param.inferred:
            assert found is None
            continue
        assert found is not None, param.name
        assert found.value() == values[param.name], param.name
        assert "PyTorch default" in found.toolTip() or param.required
        assert error(widget, param.name).isHidden()


def test_a_removed_node_leaves_the_hint(inspector: Inspector, document: Document) -> None:
    document.push(RemoveNode("conv"))
    assert not inspector.findChild(QLabel, "hint").isHidden()
    document.undo_stack.undo()
    assert not inspector.findChild(QLabel, "hint").isHidden()  # no longer selected


def test_switching_documents(qtbot, inspector: Inspector, document: Document) -> None:
    other = Document.open(EXAMPLES / "lenet5.nnd")
    inspector.set_document(other)
    assert not inspector.findChild(QLabel, "hint").isHidden()
    first = other.arch.nodes()[1].id
    other.select([first])
    assert inspector.findChild(QLabel, "node_id").text() == first
    document.select(["input"])  # the old document no longer drives it
    assert inspector.findChild(QLabel, "node_id").text() == first


def test_screenshot_with_an_error(qtbot, inspector: Inspector, tmp_path: Path) -> None:
    """Renders the panel with a refused value; DESIGNER_SCREENSHOTS=1 refreshes the
    picture in docs/screenshots."""
    qtbot.keyClick(editor(inspector, "padding").findChild(QComboBox, "mode"), Qt.Key.Key_Down)
    qtbot.wait(50)  # let the word-wrapped rows settle
    picture = inspector.grab()
    assert not picture.isNull() and picture.width() >= 300
    targets = [tmp_path / "inspector-error.png"]
    if os.environ.get("DESIGNER_SCREENSHOTS"):
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        targets.append(SCREENSHOT)
    for target in targets:
        assert picture.save(str(target))
