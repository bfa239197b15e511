"""What a user does, through the real widgets: drop, wire, edit, break, undo, save."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QHelpEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QSpinBox, QToolTip, QWidget

from designer.core.edits import SetParams
from designer.export import report
from designer.io.project import load
from designer.ui.export_actions import save_picture
from designer.ui.panels.palette import LAYER_MIME
from designer.ui.panels.summary_model import REPORT_ROLE
from tests.conftest import EXAMPLES


def hover_tooltip(window, node_id: str) -> str:
    """The tooltip a mouse resting on the node brings up (the help event Qt sends)."""
    view = window.canvas
    view.centre_on(node_id)
    item = window.scene.nodes[node_id]
    at = view.mapFromScene(item.mapToScene(item.shape().boundingRect().center()))  # the body
    viewport = view.viewport()
    QApplication.sendEvent(viewport, QHelpEvent(QEvent.Type.ToolTip, at, viewport.mapToGlobal(at)))
    return QToolTip.text()


def drop_from_palette(window, type_name: str, at: QPoint) -> None:
    """Send the drag-enter, drag-move and drop events a real drag would, with the
    palette's own MIME data (QDrag.exec blocks, so tests deliver the events)."""
    palette = window.palette.findChild(QWidget, "palette")
    model = palette.model()
    matches = model.match(
        model.index(0, 0),
        Qt.ItemDataRole.DisplayRole,
        type_name,
        1,
        Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchRecursive,
    )
    data: QMimeData = model.mimeData(matches)
    assert bytes(data.data(LAYER_MIME)).decode() == type_name
    viewport = window.canvas.viewport()
    actions = Qt.DropAction.CopyAction
    for event in (
        QDragEnterEvent(
            at, actions, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        ),
        QDragMoveEvent(
            at, actions, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        ),
        QDropEvent(
            QPointF(at), actions, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        ),
    ):
        QApplication.sendEvent(viewport, event)


def drag_wire(window, source: str, target: str, port: int = 0) -> None:
    """Press on the source's output port, move, release on the target's input port."""
    canvas = window.canvas
    start = canvas.mapFromScene(window.scene.nodes[source].output_port.scenePos())
    end = canvas.mapFromScene(window.scene.nodes[target].input_ports[port].scenePos())
    viewport = canvas.viewport()
    no_keys = Qt.KeyboardModifier.NoModifier
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, no_keys, start)
    QTest.mouseMove(viewport, (start + end) / 2)
    QTest.mouseMove(viewport, end)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, no_keys, end)


def out_channels_box(window) -> QSpinBox:
    return window.inspector.findChild(QWidget, "param_out_channels").findChild(QSpinBox)


def test_drop_wire_edit_break_undo_redo_save(qtbot, window, tmp_path: Path) -> None:
    source = tmp_path / "start.nnd"
    source.write_text((EXAMPLES / "seed-17-conv-10-filters.nnd").read_text())
    assert window.open_path(source)
    document = window.document
    start = document.snapshot()

    # drop a Conv2d from the palette below the input
    input_item = window.scene.nodes["input"]
    below = window.canvas.mapFromScene(input_item.scenePos() + QPointF(100, 260))
    drop_from_palette(window, "Conv2d", below)
    assert "conv2d_1" in document.arch
    assert document.selected() == ["conv2d_1"]
    dropped = window.scene.nodes["conv2d_1"]
    assert (
        dropped.sceneBoundingRect().center() - window.canvas.mapToScene(below)
    ).manhattanLength() < 20
    assert document.result("conv2d_1").error == "input port 0 is not connected"

    # wire input → conv2d_1 by dragging from port to port
    drag_wire(window, "input", "conv2d_1")
    assert document.arch.inputs("conv2d_1") == [(0, "input")]
    assert dropped.result.shape == (16, 4, 4)
    edge = next(item for e, item in window.scene.edges.items() if e.target == "conv2d_1")
    assert edge.label_text == "3x6x6"

    # change out_channels in the inspector: node, summary row and totals follow
    document.select(["conv2d_1"])
    box = out_channels_box(window)
    box.setValue(24)
    assert document.arch.node("conv2d_1").params["out_channels"] == 24
    assert dropped.result.shape == (24, 4, 4)
    assert dropped.lines()[2] == "→ 24x4x4"
    assert dropped.lines()[3] == f"{24 * 3 * 9 + 24:,} params · 10.4k MACs"
    model = window.summary.model()
    row = model.row_of("conv2d_1")
    assert model.index(row, report.COLUMNS.index("output_shape")).data() == "24x4x4"
    assert model.index(row, report.COLUMNS.index("params")).data() == str(24 * 3 * 9 + 24)
    assert f"Params {280 + 24 * 3 * 9 + 24:,}" in window.totals_label.text()

    # a shape error shows on the node that causes it, with the numbers
    document.push(SetParams.with_param(document.arch, "conv2d_1", "kernel_size", 9))
    assert (
        dropped.result.error
        == "kernel_size 9 is larger than the padded input 6 (6 + 0 padding) along H"
    )
    assert "Error: kernel_size 9 is larger" in hover_tooltip(window, "conv2d_1")
    assert window.scene.nodes["conv"].result.error is None
    assert "1 error," in window.totals_label.text()

    # undo everything, then redo everything
    steps = document.undo_stack.count()
    assert steps == 4
    while document.undo_stack.canUndo():
        document.undo_stack.undo()
    assert document.snapshot() == start
    assert "conv2d_1" not in window.scene.nodes
    while document.undo_stack.canRedo():
        document.undo_stack.redo()
    assert dropped is not window.scene.nodes["conv2d_1"]
    assert window.scene.nodes["conv2d_1"].result.error.startswith("kernel_size 9")
    assert window.isWindowModified()

    # save, reopen, compare
    saved = tmp_path / "saved.nnd"
    assert window._save_to(saved)
    assert not window.isWindowModified()
    assert window.windowTitle() == "saved.nnd[*] — designer"
    before = document.snapshot()
    assert window.open_path(saved)
    assert window.document.snapshot() == before
    assert load(saved).arch.node("conv2d_1").params == {"out_channels": 24, "kernel_size": 9}


def test_wiring_that_would_make_a_cycle_is_refused(qtbot, window) -> None:
    window.open_path(EXAMPLES / "seed-04-two-conv-k3.nnd")
    before = window.document.snapshot()
    window.scene.nodes["relu1"].set_ports(2)
    drag_wire(window, "relu2", "relu1", port=1)
    assert window.document.snapshot() == before
    assert "cycle" in window.statusBar().currentMessage()


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.nnd")), ids=lambda p: p.stem)
def test_summary_table_equals_designer_report(window, path: Path, capsys) -> None:
    from designer.cli import main

    assert window.open_path(path)
    main(["report", str(path)])  # a design with blocks: its top level, an instance a row
    expected = list(csv.reader(io.StringIO(capsys.readouterr().out)))[1:]
    model = window.summary.model()
    shown = [  # as the report writes them: the window words them for people (REPORT_ROLE)
        [model.index(r, c).data(REPORT_ROLE) for c in range(model.columnCount())]
        for r in range(model.rowCount())
    ]
    assert shown == expected


def test_delete_copy_paste_are_single_steps(window) -> None:
    window.open_path(EXAMPLES / "seed-19-inception-naive.nnd")
    document = window.document
    convs = [n.id for n in document.arch.nodes() if n.type == "Conv2d"]
    document.select(convs)
    window.copy()
    window.paste()
    assert document.undo_stack.count() == 1
    assert len(document.arch) == 6 + len(convs)
    document.select(convs)
    window.delete_selection()
    assert document.undo_stack.count() == 2
    assert not any(c in document.arch for c in convs)
    assert document.result("concat").error == "input port 0 is not connected"
    document.undo_stack.undo()
    assert all(c in document.arch for c in convs)
    assert document.result("concat").shape == (672, 28, 28)


def test_palette_double_click_inserts_after_the_selection(window) -> None:
    window.open_path(EXAMPLES / "seed-16-linear.nnd")
    window.document.select(["fc"])
    window.palette.activated_type.emit("ReLU")
    assert window.document.arch.inputs("relu_1") == [(0, "fc")]
    assert window.document.selected() == ["relu_1"]


def test_statistic_overlay_scales_bars_to_the_largest(window) -> None:
    window.open_path(EXAMPLES / "vgg16.nnd")
    window.overlay_actions["params"].trigger()
    bars = {node_id: item.overlay for node_id, item in window.scene.nodes.items()}
    largest = max(bars, key=lambda n: window.document.result(n).params)
    assert bars[largest][1] == 1.0
    assert bars[largest][0] == f"{window.document.result(largest).params:,} params"
    window.overlay_actions[None].trigger()
    assert all(item.overlay is None for item in window.scene.nodes.values())


def test_arrange_is_undoable(window) -> None:
    window.open_path(EXAMPLES / "lenet5.nnd")
    before = {n.id: n.pos for n in window.document.arch.nodes()}
    window.document.arch.move("input", (500.0, 500.0))
    window.arrange()
    assert window.document.arch.node("input").pos == before["input"]
    window.document.undo_stack.undo()
    assert window.document.arch.node("input").pos == (500.0, 500.0)


def test_unreadable_file_changes_nothing(window, tmp_path: Path, monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: shown.append(args[2]))
    window.open_path(EXAMPLES / "lenet5.nnd")
    broken = tmp_path / "broken.nnd"
    broken.write_text('{"format": "nn-designer-project", "version": 7, "nodes": [], "edges": []}')
    assert not window.open_path(broken)
    assert "version: this designer reads versions 1 and 2, got 7" in shown[0]
    assert window.document.path == EXAMPLES / "lenet5.nnd"


def test_autosave_and_recovery(window, monkeypatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    from designer.ui.autosave import NOTE_KEY

    window.open_path(EXAMPLES / "lenet5.nnd")
    window.document.push(SetParams.with_param(window.document.arch, "output", "out_features", 7))
    window.autosave_now()
    snapshot = window.autosaver.snapshot
    assert load(snapshot).arch.node("output").params["out_features"] == 7  # a project file
    # the same snapshot as another session wrote it, one that is gone
    crashed = snapshot.with_name("0123456789abcdef.nnd")
    text = snapshot.read_text().replace(window.autosaver.session, "0123456789abcdef")
    assert f'"{NOTE_KEY}"' in text and "0123456789abcdef" in text
    crashed.write_text(text)
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Yes)
    window.document.undo_stack.setClean()
    window.offer_recovery()
    assert window.document.arch.node("output").params["out_features"] == 7
    assert window.document.path == EXAMPLES / "lenet5.nnd"
    assert window.isWindowModified()
    assert NOTE_KEY not in window.document.extras
    assert not crashed.exists()  # the work is this session's autosave now
    assert load(snapshot).arch.node("output").params["out_features"] == 7


def test_pictures(window, tmp_path: Path) -> None:
    window.open_path(EXAMPLES / "espcn.nnd")
    save_picture(window.scene, tmp_path / "design.png")
    save_picture(window.scene, tmp_path / "design.svg")
    assert (tmp_path / "design.png").stat().st_size > 10_000
    assert "<svg" in (tmp_path / "design.svg").read_text()


def _edge_places(window) -> dict:
    return {
        edge: (item._ends, item.bypass, item.boundingRect())
        for edge, item in window.scene.edges.items()
    }


@pytest.mark.parametrize("example", ["resnet18", "unet-small", "blocks-inception"])
def test_an_arrangement_moves_in_one_step_and_routes_as_a_rebuild_does(window, example) -> None:
    """Arrange moves every node in one announced step (`Place`): the canvas follows in
    one pass, and its edges end up where a canvas built afresh puts them; so does undo."""
    window.open_path(EXAMPLES / f"{example}.nnd")
    arch = window.document.arch
    for i, node in enumerate(arch.nodes()):  # scattered, so that every node moves
        arch.move(node.id, (float((i * 7919) % 2000), float(i * 90)))
    window.scene.settle()
    scattered = {n.id: n.pos for n in arch.nodes()}
    heard = []
    arch.subscribe(heard.append)
    window.arrange()
    assert len(heard) == 1 and len(heard[0].nodes) == len(arch)
    arranged = _edge_places(window)
    window.scene.rebuild()
    assert arranged == _edge_places(window)
    window.document.undo_stack.undo()
    assert {n.id: n.pos for n in arch.nodes()} == scattered
    window.scene.settle()
    undone = _edge_places(window)
    window.scene.rebuild()
    assert undone == _edge_places(window)


def test_a_drop_that_fails_unexpectedly_is_said_not_raised(qtbot, window, monkeypatch) -> None:
    window.open_path(EXAMPLES / "seed-16-linear.nnd")
    start = window.document.snapshot()

    def broken(*args, **kwargs):
        raise RuntimeError("something broke")

    monkeypatch.setattr(window.canvas, "add_layer", broken)
    with qtbot.captureExceptions() as raised:
        drop_from_palette(window, "ReLU", QPoint(20, 20))
    assert not raised
    assert window.statusBar().currentMessage() == "Not added: something broke"
    assert window.document.snapshot() == start
