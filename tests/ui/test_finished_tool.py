"""The window as a finished tool (issue 11, and issue 13's shared weights on the canvas):
messages that show, a canvas that grows, inserts and deletes that keep chains, skip
connections that can be seen, clean pictures, a wheel that scrolls, quick insert that
ranks, examples that are never written over, a summary worded for people, an import
dialog that says what it does, text in full, undo from any field, partial totals said
as such, exports named after the design, pastes clear of what is there."""

from __future__ import annotations

import shutil
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFontMetricsF, QImage, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QFileDialog,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from designer.core.edits import AddNode, Move, SetParams
from designer.core.graph import Architecture, NodeRecord
from designer.io.project import Project
from designer.ui import style
from designer.ui.canvas.drawing import label_font
from designer.ui.document import Document
from designer.ui.export_actions import save_picture
from tests.conftest import EXAMPLES
from tests.ui.test_main_window import drop_from_palette, hover_tooltip

CTRL = Qt.KeyboardModifier.ControlModifier


def activate(qtbot, window) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)


def body(item) -> QRectF:
    """A node's body in the scene (without its ports and card)."""
    return QRectF(
        item.pos(), QPointF(item.pos().x() + style.NODE_WIDTH, item.pos().y() + item.height)
    )


def bodies_overlap(window) -> list[tuple[str, str]]:
    items = window.scene.nodes
    return [(a, b) for a, b in combinations(items, 2) if body(items[a]).intersects(body(items[b]))]


def edge_item(window, source: str, target: str):
    return next(
        item
        for edge, item in window.scene.edges.items()
        if (edge.source, edge.target) == (source, target)
    )


# 2: status-bar messages ---------------------------------------------------------------------


def test_status_bar_messages_show_in_full_over_the_totals(qtbot, window) -> None:
    """A message covers the totals for its few seconds (Qt's normal status-bar widget), so
    a long one shows in full even beside ResNet-18's long totals; then the totals return.
    Seen under Xvfb: "Saved /home/…/resnet18.nnd" was cut to "Saved resources/"."""
    window.open_path(EXAMPLES / "resnet18.nnd")
    window.document.push(AddNode(NodeRecord("loose", "ReLU")))  # totals grow: "≥ …, 1 error"
    bar = window.statusBar()
    QApplication.processEvents()
    before = bar.grab().toImage()
    message = "Saved /home/someone/projects/architectures/resnet18-with-a-long-name.nnd"
    window.say(message)
    QApplication.processEvents()
    assert bar.currentMessage() == message
    assert not window.totals_label.isVisible()
    room = window.batch.geometry().left()  # the permanent widgets start here
    width = bar.fontMetrics().horizontalAdvance(message)
    assert room > width + 10
    after = bar.grab().toImage()
    tail = range(max(4, width - 120), width)  # the message's last characters were painted
    changed = sum(
        after.pixel(x, y) != before.pixel(x, y) for x in tail for y in range(after.height())
    )
    assert changed > 20
    bar.clearMessage()
    QApplication.processEvents()
    assert window.totals_label.isVisible() and window.totals_label.text().startswith("Params")


# 3: the canvas grows; Fit shows everything -------------------------------------------------


def test_canvas_grows_to_take_in_nodes_and_fit_shows_them_all(qtbot, window) -> None:
    window.open_path(EXAMPLES / "lenet5.nnd")
    document = window.document
    document.push(Move("input", (2600.0, 1900.0)))
    document.push(AddNode(NodeRecord("far", "ReLU", pos=(-1800.0, 2400.0))))
    rect = window.scene.sceneRect()
    for node_id in ("input", "far"):
        assert rect.contains(window.scene.nodes[node_id].sceneBoundingRect())
    window.fit_action.trigger()
    canvas = window.canvas
    shown = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    for item in window.scene.nodes.values():
        assert shown.contains(body(item)), item.node_id


# 4: inserting, dropping on a connection, deleting from a chain -----------------------------


def test_insert_after_selection_splices_into_the_chain_clear_of_other_nodes(window) -> None:
    window.open_path(EXAMPLES / "seed-04-two-conv-k3.nnd")
    document = window.document
    start = document.snapshot()
    steps = document.undo_stack.count()
    document.select(["conv1"])
    window.palette.activated_type.emit("BatchNorm2d")
    arch = document.arch
    assert arch.inputs("batchnorm2d_1") == [(0, "conv1")]
    assert arch.inputs("relu1") == [(0, "batchnorm2d_1")]
    assert document.selected() == ["batchnorm2d_1"]
    assert document.result("relu2").error is None
    assert not bodies_overlap(window)
    assert document.undo_stack.count() == steps + 1
    document.undo_stack.undo()
    assert document.snapshot() == start


def test_dropping_a_layer_on_a_connection_splices_it_in(qtbot, window) -> None:
    window.open_path(EXAMPLES / "seed-04-two-conv-k3.nnd")
    document = window.document
    steps = document.undo_stack.count()
    edge = edge_item(window, "relu1", "conv2")
    window.canvas.centerOn(edge.path().pointAtPercent(0.5))
    at = window.canvas.mapFromScene(edge.path().pointAtPercent(0.5))
    drop_from_palette(window, "BatchNorm2d", at)
    arch = document.arch
    assert arch.inputs("batchnorm2d_1") == [(0, "relu1")]
    assert arch.inputs("conv2") == [(0, "batchnorm2d_1")]
    assert document.undo_stack.count() == steps + 1
    assert not bodies_overlap(window)


def test_deleting_a_node_in_a_chain_reconnects_its_neighbours(window) -> None:
    window.open_path(EXAMPLES / "seed-04-two-conv-k3.nnd")
    document = window.document
    start = document.snapshot()
    document.select(["relu1"])
    window.delete_action.trigger()
    assert "relu1" not in document.arch
    assert document.arch.inputs("conv2") == [(0, "conv1")]
    assert document.result("relu2").error is None
    assert "reconnected conv1 → conv2" in window.statusBar().currentMessage()
    document.undo_stack.undo()
    assert document.snapshot() == start


def test_deleting_a_branch_of_a_merge_leaves_the_merge_short(window) -> None:
    """The rule joins chains only: a Concat fed by a deleted branch is not fed its input."""
    window.open_path(EXAMPLES / "seed-19-inception-naive.nnd")
    document = window.document
    convs = [n.id for n in document.arch.nodes() if n.type == "Conv2d"]
    document.select(convs[:1])
    window.delete_action.trigger()
    assert "input" not in document.arch.producers("concat")


# 5: skip connections, labels, left to right -------------------------------------------------


def edges_under_nodes(scene) -> list[str]:
    """Each edge that runs under a node other than its two ends, and where."""
    found = []
    for edge, item in scene.edges.items():
        path = item.path()
        others = [
            body(node).adjusted(2, 2, -2, -2)
            for node_id, node in scene.nodes.items()
            if node_id not in (edge.source, edge.target)
        ]
        for step in range(1, 100):
            point = path.pointAtPercent(step / 100)
            if any(box.contains(point) for box in others):
                found.append(f"{edge.source} → {edge.target} at {point}")
                break
    return found


def test_skip_connections_run_beside_the_nodes_they_pass(qtbot, window) -> None:
    window.open_path(EXAMPLES / "resnet18.nnd")
    scene = window.scene
    QApplication.processEvents()
    assert edges_under_nodes(scene) == []
    skips = sum(item.bypass is not None for item in scene.edges.values())
    assert skips >= 3  # the identity connections of layer1 and the others bend out


def test_a_node_added_where_a_skip_connection_runs_sends_it_round(qtbot, window) -> None:
    """A paste, or a layer dropped, onto the path of a skip connection: the edge goes round
    the new node (it ran on under it, hidden, as it was placed before the node came)."""
    window.open_path(EXAMPLES / "resnet18.nnd")
    scene = window.scene
    QApplication.processEvents()
    skip = next(item for item in scene.edges.values() if item.bypass is not None)
    middle = skip.path().pointAtPercent(0.5)
    at = (middle.x() - style.NODE_WIDTH / 2, middle.y() - style.NODE_HEIGHT / 2)
    assert window.document.push(AddNode(NodeRecord("dropped", "ReLU", {}, pos=at)))
    QApplication.processEvents()  # the scene settles the edges once the event is done
    assert edges_under_nodes(scene) == []
    # moved away again, and the move undone: the edge runs as a fresh route runs it
    bent = {edge: item.bypass for edge, item in scene.edges.items()}
    assert window.document.push(Move("dropped", (at[0] + 2000, at[1])))
    QApplication.processEvents()
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    QApplication.processEvents()
    now = {edge: item.bypass for edge, item in scene.edges.items()}
    for item in scene.edges.values():
        item.update_path()
    assert now == {edge: item.bypass for edge, item in scene.edges.items()} != bent


def test_a_node_dragged_off_a_skip_connection_lets_it_run_straight(qtbot, window) -> None:
    """A drag with the mouse at zoom 1 (whole-pixel places): the edge that went round the
    node is routed again once the drag is done."""
    window.open_path(EXAMPLES / "resnet18.nnd")
    scene, view = window.scene, window.canvas
    QApplication.processEvents()
    skip = next(item for item in scene.edges.values() if item.bypass is not None)
    middle = skip.path().pointAtPercent(0.5)
    at = (round(middle.x() - style.NODE_WIDTH / 2), round(middle.y() - style.NODE_HEIGHT / 2))
    assert window.document.push(AddNode(NodeRecord("dropped", "ReLU", {}, pos=at)))
    QApplication.processEvents()
    view.resetTransform()
    view.centerOn(scene.nodes["dropped"])
    start = view.mapFromScene(scene.nodes["dropped"].sceneBoundingRect().center() + QPointF(0, 8))
    viewport = view.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for dx in range(20, 401, 20):
        QTest.mouseMove(viewport, start + QPoint(dx, 0))
    QTest.mouseRelease(
        viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start + QPoint(400, 0)
    )
    QApplication.processEvents()
    assert window.document.arch.node("dropped").pos != at
    now = {edge: item.bypass for edge, item in scene.edges.items()}
    for item in scene.edges.values():
        item.update_path()
    assert now == {edge: item.bypass for edge, item in scene.edges.items()}


def _label_boxes(window) -> list[QRectF]:
    """Where each edge's label is painted, fitted to its text."""
    boxes = []
    for item in window.scene.edges.values():
        if hasattr(item, "label_rect"):
            box = item.label_rect()
        else:  # how the window placed them before: every edge, at its middle
            text = item.label_text
            width = QFontMetricsF(label_font()).horizontalAdvance(text)
            box = QRectF(*item._label_at, width, 14) if text else None
        if box is not None:
            boxes.append(box)
    return boxes


@pytest.mark.parametrize("name", ["resnet18", "seed-19-inception-naive", "unet-small"])
def test_edge_labels_collide_with_nothing(window, name: str) -> None:
    window.open_path(EXAMPLES / f"{name}.nnd")
    labels = _label_boxes(window)
    assert labels
    for a, b in combinations(labels, 2):
        assert not a.intersects(b), (a, b)
    for box in labels:
        for node in window.scene.nodes.values():
            assert not box.intersects(body(node)), (box, node.node_id)


def test_left_to_right_layout_from_the_view_menu(window) -> None:
    window.open_path(EXAMPLES / "resnet18.nnd")
    document = window.document
    steps = document.undo_stack.count()
    window.direction_actions[True].trigger()
    assert window.scene.horizontal
    arch = document.arch
    for edge in arch.edges():
        assert arch.node(edge.target).pos[0] > arch.node(edge.source).pos[0]
    item = edge_item(window, "conv1", "bn1")
    start = item.path().pointAtPercent(0)
    conv1 = window.scene.nodes["conv1"]
    assert start.x() == pytest.approx(conv1.pos().x() + style.NODE_WIDTH)  # out of its side
    assert not bodies_overlap(window)
    assert document.undo_stack.count() == steps + 1
    window.direction_actions[False].trigger()
    assert not window.scene.horizontal
    for edge in arch.edges():
        assert arch.node(edge.target).pos[1] > arch.node(edge.source).pos[1]


def test_a_design_laid_out_left_to_right_opens_that_way(window, tmp_path: Path) -> None:
    window.open_path(EXAMPLES / "lenet5.nnd")
    window.direction_actions[True].trigger()
    path = tmp_path / "sideways.nnd"
    assert window._save_to(path)
    window.new()
    assert not window.scene.horizontal
    window.open_path(path)
    assert window.scene.horizontal and window.direction_actions[True].isChecked()


# 6: clean pictures -----------------------------------------------------------------------


def _count(image: QImage, colour: QColor) -> int:
    """Pixels of exactly that colour."""
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    pixels = np.frombuffer(image.constBits(), np.uint32, image.sizeInBytes() // 4)
    return int(np.count_nonzero(pixels == np.uint32(colour.rgb())))


def test_exported_picture_has_no_selection_ports_or_marks(window, tmp_path: Path) -> None:
    window.open_path(EXAMPLES / "resnet18.nnd")
    assert window.document.result("conv1").warnings  # a warning dot on the canvas
    window.document.select(["conv1"])
    port = window.scene.nodes["conv1"].output_port
    port._hover = True  # the mouse rests on a port
    target = tmp_path / "design.png"
    save_picture(window.scene, target)
    image = QImage(str(target))
    assert _count(image, style.SELECTED) == 0  # no selection border, no lit port
    assert _count(image, style.WARNING) == 0  # no warning dot the picture cannot explain
    assert window.scene.nodes["conv1"].isSelected()  # the window keeps its selection


# 7: the wheel over the inspector ----------------------------------------------------------


def test_wheel_over_the_inspector_changes_no_parameter(qtbot, window) -> None:
    window.open_path(EXAMPLES / "seed-04-two-conv-k3.nnd")
    window.document.select(["conv1"])
    start = window.document.snapshot()
    spin = window.inspector.findChild(QWidget, "param_out_channels").findChild(QSpinBox)
    combo = window.inspector.findChild(QWidget, "param_padding_mode").findChild(QComboBox)
    for widget in (spin, combo):
        assert not widget.hasFocus()
        at = QPointF(widget.rect().center())
        event = QWheelEvent(
            at,
            QPointF(widget.mapToGlobal(at.toPoint())),
            QPoint(0, 0),
            QPoint(0, -120),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(widget, event)
        assert not event.isAccepted()  # left to the scroll area
    assert window.document.snapshot() == start
    assert spin.focusPolicy() == Qt.FocusPolicy.StrongFocus


# 8: quick insert ------------------------------------------------------------------------------


def test_quick_insert_ranks_matches_and_enter_takes_the_first(qtbot, window) -> None:
    from designer.ui.dialogs import QuickInsert

    window.open_path(EXAMPLES / "lenet5.nnd")
    window.document.select(["output"])

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QuickInsert):
            QTimer.singleShot(10, answer)
            return
        QTest.keyClicks(box.field, "soft")  # a partial name
        QTest.keyClick(box.field, Qt.Key.Key_Return)

    QTimer.singleShot(0, answer)
    window.quick_insert()
    assert window.document.arch.inputs("softmax_1") == [(0, "output")]

    dialog = QuickInsert(window)
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.field, "norm")
    shown = [dialog.matches.item(i).text() for i in range(dialog.matches.count())]
    assert shown[:3] == ["RMSNorm", "GroupNorm", "LayerNorm"]  # a word's start, shortest first
    assert dialog.chosen() == "RMSNorm"
    QTest.keyClick(dialog.field, Qt.Key.Key_Down)
    assert dialog.chosen() == "GroupNorm"
    dialog.field.clear()
    qtbot.keyClicks(dialog.field, "bn2")  # letters in order
    assert dialog.chosen() == "BatchNorm2d"
    dialog.field.clear()
    qtbot.keyClicks(dialog.field, "RELU")  # the name in full comes first, then its kin
    assert dialog.chosen() == "ReLU"
    QTest.keyClick(dialog.field, Qt.Key.Key_Down)
    assert dialog.chosen() == "ReLU6"  # the highlight, once moved, is what Enter takes


# 9: examples are never written over --------------------------------------------------------


def test_saving_an_opened_example_asks_for_a_path(window, tmp_path: Path, monkeypatch) -> None:
    from designer.ui import examples

    shipped = tmp_path / "examples"
    shipped.mkdir()
    shutil.copy(EXAMPLES / "lenet5.nnd", shipped / "lenet5.nnd")
    monkeypatch.setattr(examples, "EXAMPLES", shipped)
    original = (shipped / "lenet5.nnd").read_text()
    assert window.open_path(shipped / "lenet5.nnd")
    assert "(example copy)" in window.windowTitle()
    document = window.document
    document.push(SetParams.with_param(document.arch, "output", "out_features", 7))
    asked = []
    mine = tmp_path / "mine.nnd"

    def ask(*args, **kwargs):
        asked.append(args)
        return str(mine), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", ask)
    window.save_action.trigger()
    assert len(asked) == 1 and str(shipped) not in asked[0][2]
    assert (shipped / "lenet5.nnd").read_text() == original
    assert '"out_features": 7' in mine.read_text()
    assert window.document.path == mine


# 10: the summary, worded for people ----------------------------------------------------------


def test_summary_headers_numbers_and_memory_for_people(window) -> None:
    from designer.ui.panels.summary_model import HEADERS

    window.open_path(EXAMPLES / "vgg16.nnd")
    model = window.summary.model()
    horizontal = Qt.Orientation.Horizontal
    titles = [model.headerData(c, horizontal) for c in range(model.columnCount())]
    assert "output_shape" not in titles and "macs" not in titles
    assert {"output shape", "MACs", "FLOPs", "receptive field", "memory"} <= set(titles)
    row = model.row_of("features.28")  # the last 3×3 conv: 2,359,808 params
    params = model.index(row, HEADERS.index("params"))
    assert params.data() == f"{window.document.result('features.28').params:,}"
    assert "," in params.data()
    memory = model.index(row, HEADERS.index("memory")).data()
    assert memory.endswith(("KiB", "MiB", "GiB", "TiB"))

    from designer.ui.panels.summary_model import KEY_ROLE, REPORT_ROLE

    keys = [model.headerData(c, horizontal, KEY_ROLE) for c in range(model.columnCount())]
    assert keys == list(HEADERS)  # scripts read the report's column names
    assert params.data(REPORT_ROLE) == str(window.document.result("features.28").params)


def test_summary_columns_are_sized_for_the_first_rows_after_new(qtbot, window) -> None:
    window.new()
    window.palette.activated_type.emit("Conv2d")
    view = window.summary
    metrics = view.fontMetrics()
    for key, text in (("id", "conv2d_1"), ("error", "input port 0 is not connected")):
        from designer.ui.panels.summary_model import HEADERS

        assert view.columnWidth(HEADERS.index(key)) >= metrics.horizontalAdvance(text), key


# 11: import from PyTorch ----------------------------------------------------------------------


def test_import_dialog_offers_the_file_classes_and_shows_its_warning(qtbot, tmp_path) -> None:
    from designer.ui.dialogs import ImportDialog

    model = tmp_path / "model.py"
    model.write_text(
        "import torch.nn as nn\n\nclass Helper:\n    pass\n\n"
        "class Block(nn.Module):\n    pass\n\nclass Net(nn.Module):\n    pass\n"
        "raise SystemExit('never run')\n"
    )
    dialog = ImportDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.file.setText(str(model))
    combo = dialog.findChild(QComboBox, "import_class")
    assert [combo.itemText(i) for i in range(combo.count())] == ["Block", "Net", "Helper"]
    combo.setCurrentText("Net")
    assert dialog.request()[1] == "Net"
    warning = dialog.findChild(QLabel, "import_warning")
    assert "runs this file's code" in warning.text()
    QApplication.processEvents()
    assert warning.wordWrap() and warning.height() >= warning.heightForWidth(warning.width())


def test_import_shows_that_it_is_working(window, monkeypatch) -> None:
    from designer.io import pytorch_import
    from designer.ui.dialogs import ImportDialog

    seen = []
    arch = Architecture("imported")
    arch.add_node(NodeRecord("input", "Input", {"shape": [3, 8, 8]}))

    def trace(*args):
        cursor = QApplication.overrideCursor()
        seen.append((cursor and cursor.shape(), window.statusBar().currentMessage()))
        return Project(arch)

    monkeypatch.setattr(ImportDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    monkeypatch.setattr(
        ImportDialog, "request", lambda self: (Path("model.py"), "Net", ["3x8x8"], {})
    )
    monkeypatch.setattr(pytorch_import, "import_project", trace)
    window.exports.import_model()
    ((cursor, message),) = seen
    assert cursor == Qt.CursorShape.WaitCursor
    assert "Importing Net from model.py" in message
    assert QApplication.overrideCursor() is None
    assert "input" in window.document.arch


# 12: node text in full ------------------------------------------------------------------------


def test_node_text_fits_or_shows_in_full_when_selected(qtbot, window) -> None:
    window.open_path(EXAMPLES / "resnet18.nnd")
    assert window.scene.nodes["bn1"].lines()[0] == "BatchNorm2d"
    assert window.scene.nodes["layer2.0.downsample.0"].lines()[0] == "Conv2d"
    document = window.document
    document.push(SetParams.with_param(document.arch, "layer1.0.conv1", "kernel_size", 99))
    item = window.scene.nodes["layer1.0.conv1"]
    error = document.result("layer1.0.conv1").error
    assert item.lines()[2] != f"⚠ {error}"  # cut on the node itself
    document.select(["layer1.0.conv1"])
    assert error in item.card_text()  # shown in full beside it
    card = item._card_box()
    assert item.boundingRect().contains(card)
    assert error in hover_tooltip(window, "layer1.0.conv1")
    document.select([])
    assert item.boundingRect().width() < card.left()  # the card goes with the selection


# 13: undo from any field ------------------------------------------------------------------------


def test_ctrl_z_in_an_inspector_field_undoes_the_design(qtbot, window) -> None:
    window.open_path(EXAMPLES / "seed-04-two-conv-k3.nnd")
    document = window.document
    start = document.snapshot()
    document.select(["conv1"])
    spin = window.inspector.findChild(QWidget, "param_out_channels").findChild(QSpinBox)
    spin.setValue(48)
    assert document.arch.node("conv1").params["out_channels"] == 48
    activate(qtbot, window)
    name = window.inspector.findChild(QLineEdit, "name")
    name.setFocus()
    qtbot.waitUntil(name.hasFocus)
    QTest.keyClick(name, Qt.Key.Key_Z, CTRL)
    assert document.snapshot() == start
    QTest.keyClick(name, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert document.arch.node("conv1").params["out_channels"] == 48

    # a half-typed number is committed, then undone: the design is as before the typing
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "77")
    QTest.keyClick(spin, Qt.Key.Key_Z, CTRL)
    assert document.arch.node("conv1").params["out_channels"] == 48
    assert spin.value() == 48


# 14 and 15: nodes without results, partial totals, wording -----------------------------------


def test_nodes_without_results_show_no_figures_and_totals_say_partial(window) -> None:
    from designer.ui.panels.summary_model import HEADERS

    window.open_path(EXAMPLES / "seed-04-two-conv-k3.nnd")
    document = window.document
    document.push(SetParams.with_param(document.arch, "conv2", "kernel_size", 99))
    model = window.summary.model()
    for node_id in ("conv2", "relu2"):  # the error, and what waits on it
        row = model.row_of(node_id)
        for key in ("params", "macs", "flops", "memory", "output_shape", "rf"):
            assert model.index(row, HEADERS.index(key)).data() == "—", (node_id, key)
    text = window.totals_label.text()
    assert "Params ≥ " in text and "MACs ≥ " in text
    assert "2 nodes without results" in text
    assert "1 error (1 waiting)" in text


def test_wording_plurals_macs_and_tebibytes(window) -> None:
    window.open_path(EXAMPLES / "vgg16.nnd")
    assert window.overlay_actions["macs"].text() == "MACs"
    assert "9 warnings" in window.totals_label.text() or " warning" in window.totals_label.text()
    assert "0 errors" in window.totals_label.text()
    window.batch.setValue(65_536)
    text = window.totals_label.text()
    activations = text.split("activations ")[1].split("  ·")[0]
    assert activations.endswith("TiB") and float(activations.split()[0].replace(",", "")) < 1024


def test_a_refused_number_shows_the_layer_reason(qtbot, window) -> None:
    window.open_path(EXAMPLES / "seed-04-two-conv-k3.nnd")
    document = window.document
    document.select(["conv1"])
    start = document.snapshot()
    editor = window.inspector.findChild(QWidget, "param_kernel_size")
    spin = editor.findChild(QSpinBox)
    QApplication.processEvents()  # the form's new rows are shown by a queued call
    activate(qtbot, window)
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "0")
    QTest.keyClick(spin, Qt.Key.Key_Return)
    error = window.inspector.findChild(QLabel, "error_kernel_size")
    assert error.isVisible() and error.text().startswith("must be a positive int")
    assert document.snapshot() == start
    assert spin.value() == 3


# 16: exports named after the design -----------------------------------------------------------


def test_design_name_is_undoable_and_names_the_exports(window, tmp_path: Path, monkeypatch) -> None:
    from designer.ui.dialogs import DesignProperties

    path = tmp_path / "net.nnd"
    shutil.copy(EXAMPLES / "lenet5.nnd", path)
    window.open_path(path)

    def answer(self) -> int:
        self.name.setText("Tiny Net")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(DesignProperties, "exec", answer)
    window.properties_action.trigger()
    assert window.document.arch.name == "Tiny Net"
    proposed = []

    def ask(parent, caption, directory, *rest):
        proposed.append(directory)
        return directory, ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", ask)
    window.exports.export_code_action.trigger()
    assert proposed == [str(tmp_path / "tiny_net.py")]
    assert "class TinyNet(nn.Module)" in (tmp_path / "tiny_net.py").read_text()
    window.exports.picture_actions["png"].trigger()
    assert proposed[-1] == str(tmp_path / "tiny_net.png")
    window.document.undo_stack.undo()
    assert window.document.arch.name != "Tiny Net"


# 17: paste clear of what is there -------------------------------------------------------------


def test_paste_lands_clear_of_existing_nodes(window) -> None:
    window.open_path(EXAMPLES / "lenet5.nnd")
    document = window.document
    document.select(["c1", "s2"])
    window.copy()
    window.paste()
    pasted = document.selected()
    assert len(pasted) == 2
    assert not bodies_overlap(window)
    original = window.scene.nodes["c1"].pos()
    copy = window.scene.nodes[pasted[0]].pos()
    assert (copy - original).manhattanLength() < 2000  # near, not far away


# issue 13: shared weights on the canvas ----------------------------------------------------------


def test_a_node_that_shares_weights_says_so(qtbot, window) -> None:
    arch = Architecture("shared")
    conv = {"out_channels": 3, "kernel_size": 3, "padding": 1}
    arch.add_node(NodeRecord("input", "Input", {"shape": [3, 8, 8]}, pos=(0.0, 0.0)))
    arch.add_node(NodeRecord("conv", "Conv2d", dict(conv), pos=(0.0, 120.0)))
    arch.add_node(NodeRecord("again", "Conv2d", dict(conv), pos=(0.0, 240.0), shares="conv"))
    arch.connect("input", "conv")
    arch.connect("conv", "again")
    window._replace(Document(Project(arch)))  # as an import makes it (files do not say it)
    item = window.scene.nodes["again"]
    assert item.lines()[3].startswith("shares conv")
    assert "Shares the weights of conv" in hover_tooltip(window, "again")
    assert "also used by again" in hover_tooltip(window, "conv")
    window.document.select(["again"])
    QApplication.processEvents()
    weights = window.inspector.findChild(QLabel, "weights")
    assert weights.isVisible() and weights.text().startswith("shares conv")
    window.document.select(["conv"])
    assert weights.isVisible() and "also used by again" in weights.text()
    window.document.select(["input"])
    assert not weights.isVisible()


def test_a_click_on_a_port_connects_nothing_and_says_nothing(window) -> None:
    """Seen under Xvfb: a plain click on LSTM's c_n port said "Not connected: connecting
    'lstm' to 'lstm' would make a cycle". A wire released on its own node is no wire."""
    window.open_path(EXAMPLES / "lstm-text-classifier.nnd")
    canvas, document = window.canvas, window.document
    lstm = window.scene.nodes["lstm"]
    steps = document.undo_stack.count()
    viewport = canvas.viewport()
    for port in (*lstm.output_ports, *lstm.input_ports):
        at = canvas.mapFromScene(port.scenePos())
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at)
        assert window.statusBar().currentMessage() == ""
    inside = canvas.mapFromScene(lstm.mapToScene(QPointF(100, 30)))
    start = canvas.mapFromScene(lstm.output_ports[2].scenePos())
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(viewport, inside)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, inside)
    assert window.statusBar().currentMessage() == ""
    assert document.undo_stack.count() == steps


@pytest.mark.parametrize(
    ("type_text", "shown"),
    [("ConvNeXtBlock ×2", "ConvNe"), ("InvertedResidualBlock ×stage_depth", "InvertedResid…")],
)
def test_a_repeated_node_s_title_keeps_its_count_only_beside_enough_of_its_type(
    qtbot, type_text: str, shown: str
) -> None:
    from designer.ui.canvas.node_text import fitted_lines

    _, (title, *_) = fitted_lines(None, type_text, "a_long_node_label", None, None)
    assert title.startswith(shown), title  # never ' ×stage_depth' alone
    assert title.endswith(" ×2") == type_text.endswith(" ×2")
