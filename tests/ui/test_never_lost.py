"""Never a traceback, never lost work: the window's failures are shown and survived, and
unsaved work outlives a crash, even one whose restart gets the same process id."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, QSettings, QStandardPaths, Qt
from PySide6.QtGui import QClipboard, QHelpEvent
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QSpinBox,
    QToolTip,
    QWidget,
)

from designer.core.edits import SetParams
from designer.core.graph import Architecture, EdgeRecord, NodeRecord
from designer.core.propagate import analyse
from designer.io.project import Project, dumps
from designer.ui import app as app_module
from designer.ui import clipboard as clipboard_module
from designer.ui.autosave import Autosaver
from designer.ui.document import Document
from designer.ui.main_window import MainWindow
from designer.ui.panels.param_editors import ParamEditor
from tests.conftest import EXAMPLES

LONG = 200  # the most characters a label, tooltip line or cell shows of a name


def new_window(qtbot, folder: Path) -> MainWindow:
    main = MainWindow(autosaver=Autosaver(folder))
    qtbot.addWidget(main)
    main.show()
    return main


def close_cleanly(main: MainWindow) -> None:
    main.document.undo_stack.setClean()
    main.close()


def messages(main: MainWindow) -> list[str]:
    """Every status bar message from now on."""
    shown: list[str] = []
    main.statusBar().messageChanged.connect(lambda text: text and shown.append(text))
    return shown


# 11: autosave across a restart with the same process id ---------------------------------


def test_a_crashed_session_with_this_pid_is_offered_and_never_discarded(
    qtbot, tmp_path: Path, monkeypatch
) -> None:
    QStandardPaths.setTestModeEnabled(True)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings")
    )
    folder = tmp_path / "autosave"
    folder.mkdir()
    # the first session (this process id, as a container's PID 1 always is) autosaves
    # unsaved work, then dies: what it wrote stays, nothing of it runs any more
    first = new_window(qtbot, folder)
    assert first.open_path(EXAMPLES / "lenet5.nnd")
    first.document.push(SetParams.with_param(first.document.arch, "output", "out_features", 7))
    first.autosave_now()
    left = tmp_path / "left"
    shutil.copytree(folder, left)
    close_cleanly(first)
    shutil.rmtree(folder)
    shutil.copytree(left, folder)
    left_behind = sorted(p.name for p in folder.iterdir())
    assert left_behind

    # the restarted app has the same process id: it is still offered the work
    asked: list[str] = []

    def keep(parent, title, text, *args, **kwargs):
        asked.append(text)
        return QMessageBox.StandardButton.No  # not now

    monkeypatch.setattr(QMessageBox, "question", keep)
    second = new_window(qtbot, folder)
    second.offer_recovery()
    assert len(asked) == 1 and "lenet5.nnd" in asked[0]
    # it autosaves its own work and exits cleanly: the crashed session's work stays
    assert second.open_path(EXAMPLES / "lenet5.nnd")
    second.document.push(SetParams.with_param(second.document.arch, "output", "out_features", 3))
    second.autosave_now()
    close_cleanly(second)
    second.autosave_now()
    second.close()
    assert sorted(p.name for p in folder.iterdir()) == left_behind

    # a third start restores it, and then the work is this session's own
    monkeypatch.setattr(
        QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Yes
    )
    third = new_window(qtbot, folder)
    third.offer_recovery()
    assert third.document.arch.node("output").params["out_features"] == 7
    assert third.document.path == EXAMPLES / "lenet5.nnd"
    assert third.isWindowModified()
    close_cleanly(third)


# 12: an edit whose analysis fails ---------------------------------------------------------


def test_an_edit_whose_analysis_fails_is_reverted_and_said(window, monkeypatch) -> None:
    assert window.open_path(EXAMPLES / "lenet5.nnd")
    document = window.document
    before = document.snapshot()
    shown = messages(window)
    real = document.engine.refresh
    calls = []

    def refresh_failing_once():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the analysis broke")
        return real()

    monkeypatch.setattr(document.engine, "refresh", refresh_failing_once)
    document.select(["c1"])
    box = window.inspector.findChild(QWidget, "param_out_channels").findChild(QSpinBox)
    box.setValue(11)  # through the inspector's own spin box
    assert document.snapshot() == before
    assert document.undo_stack.count() == 0
    assert any("the analysis broke" in text for text in shown)
    fresh = analyse(document.arch)
    assert document.engine.results == fresh.results
    assert window.scene.nodes["c1"].result.shape == fresh.results["c1"].shape
    assert box.value() == 6
    # the next edit works, and is one undo step
    box.setValue(12)
    assert document.arch.node("c1").params["out_channels"] == 12
    assert document.undo_stack.count() == 1


def test_an_undo_whose_analysis_fails_is_analysed_again(window, monkeypatch) -> None:
    assert window.open_path(EXAMPLES / "lenet5.nnd")
    document = window.document
    document.push(SetParams.with_param(document.arch, "c1", "out_channels", 11))
    shown = messages(window)
    real = document.engine.refresh
    calls = []

    def refresh_failing_once():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the analysis broke")
        return real()

    monkeypatch.setattr(document.engine, "refresh", refresh_failing_once)
    window.undo_action.trigger()
    assert document.arch.node("c1").params["out_channels"] == 6
    assert document.undo_stack.index() == 0
    assert any("the analysis broke" in text for text in shown)
    assert document.engine.results == analyse(document.arch).results
    assert window.scene.nodes["c1"].result.shape[0] == 6


# 13: a half-typed field of a node that goes away -------------------------------------------


@pytest.mark.parametrize("how", ["delete", "undo its creation"])
def test_a_half_typed_field_of_a_removed_node_commits_nothing(qtbot, window, how) -> None:
    assert window.open_path(EXAMPLES / "lenet5.nnd")
    document = window.document
    if how == "undo its creation":
        document.select([])
        window.insert_after_selection("Conv2d")  # unconnected: its undo only removes it
        node_id = "conv2d_1"
    else:
        node_id = "c3"
    document.select([node_id])
    steps = document.undo_stack.index()
    window.activateWindow()
    spin = window.inspector.findChild(QWidget, "param_out_channels").findChild(QSpinBox)
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "77")  # typed, not committed: no Enter yet
    if how == "delete":
        window.delete_action.trigger()  # hiding the form moves the focus: editingFinished
        steps += 1
    else:  # from the History list (Ctrl+Z would commit the field first: 13, issue 11)
        document.undo_stack.undo()
        steps -= 1
    assert node_id not in document.arch
    after = document.snapshot()
    spin.editingFinished.emit()  # whatever fires it later, it commits nothing
    QApplication.processEvents()
    assert document.snapshot() == after
    assert document.undo_stack.index() == steps


# 14: integers beyond a spin box -------------------------------------------------------------


def test_out_channels_beyond_int32_shows_and_edits(qtbot, window, tmp_path: Path) -> None:
    text = (EXAMPLES / "lenet5.nnd").read_text()
    text = text.replace('"out_channels": 6', '"out_channels": 3000000000')
    path = tmp_path / "huge.nnd"
    path.write_text(text)
    assert window.open_path(path)
    document = window.document
    document.select(["c1"])
    QApplication.processEvents()  # the new form's rows are shown by a queued call
    field = window.inspector.findChild(QWidget, "param_out_channels")
    wide = field.findChild(QLineEdit, "wide")
    assert wide is not None and wide.isVisible()
    assert wide.text() == "3000000000"
    assert not field.findChild(QSpinBox).isVisible()
    wide.selectAll()
    qtbot.keyClicks(wide, "3000000001")
    qtbot.keyClick(wide, Qt.Key.Key_Return)
    assert document.arch.node("c1").params["out_channels"] == 3000000001
    wide.selectAll()
    qtbot.keyClicks(wide, "8")
    qtbot.keyClick(wide, Qt.Key.Key_Return)
    assert document.arch.node("c1").params["out_channels"] == 8
    spin = field.findChild(QSpinBox)
    assert spin.isVisible() and spin.value() == 8 and not wide.isVisible()
    document.undo_stack.undo()
    assert wide.isVisible() and wide.text() == "3000000001"
    # a kernel beyond a spin box, per axis, shows too
    document.push(SetParams.with_param(document.arch, "c1", "kernel_size", [5, 3000000000]))
    kernel = window.inspector.findChild(ParamEditor, "param_kernel_size")
    assert kernel.value() == (5, 3000000000)


# 15: Open and Paste say what went wrong -----------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [OSError(13, "Permission denied"), UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"),
     RecursionError("too deep"), MemoryError()],
    ids=["oserror", "unicode", "recursion", "memory"],
)  # fmt: skip
def test_open_shows_any_failure(window, tmp_path: Path, monkeypatch, failure) -> None:
    assert window.open_path(EXAMPLES / "lenet5.nnd")
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: shown.append(args[2]))
    target = tmp_path / "x.nnd"
    target.write_text((EXAMPLES / "vgg16.nnd").read_text())

    def broken(path):
        raise failure

    monkeypatch.setattr("designer.ui.document.load", broken)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(target), ""))
    window.open_action.trigger()
    assert len(shown) == 1 and str(target) in shown[0]
    assert window.document.path == EXAMPLES / "lenet5.nnd"


def test_open_a_folder_says_so(window, tmp_path: Path, monkeypatch) -> None:
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: shown.append(args[2]))
    assert not window.open_path(tmp_path)
    assert "folder" in shown[0].lower() or "directory" in shown[0].lower()


def test_paste_from_an_empty_clipboard_and_a_failing_loader(window, monkeypatch) -> None:
    assert window.open_path(EXAMPLES / "lenet5.nnd")
    before = window.document.snapshot()
    shown = messages(window)
    monkeypatch.setattr(QClipboard, "mimeData", lambda *args: None)
    window.paste_action.trigger()
    app_module._release_clipboard()
    monkeypatch.undo()
    assert shown and window.document.snapshot() == before

    window.document.select(["c1", "tanh1"])
    window.copy()

    def broken(text):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(clipboard_module, "loads", broken)
    window.paste_action.trigger()
    assert "maximum recursion depth" in shown[-1]
    assert window.document.snapshot() == before


def test_paste_that_the_design_refuses_says_why(window, monkeypatch) -> None:
    assert window.open_path(EXAMPLES / "lenet5.nnd")
    before = window.document.snapshot()
    shown = messages(window)
    window.document.select(["c1", "tanh1"])
    window.copy()
    # ids handed out that clash with the design's: the design refuses the paste
    monkeypatch.setattr(window.document, "new_node_id", lambda type_name, taken=(): "c3")
    window.paste_action.trigger()
    assert window.document.snapshot() == before
    assert shown and "c3" in shown[-1]


# 16: autosave into a folder that cannot be written -------------------------------------------


def test_autosave_into_an_unwritable_folder_says_so_once_and_retries(qtbot, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the folder should be")
    folder = blocker / "autosave"
    main = new_window(qtbot, folder)
    assert main.open_path(EXAMPLES / "lenet5.nnd")
    main.document.push(SetParams.with_param(main.document.arch, "output", "out_features", 7))
    shown = messages(main)
    for _ in range(3):
        main.timer.timeout.emit()  # the minute's autosave, three times
    assert len([text for text in shown if "autosave" in text.lower()]) == 1
    blocker.unlink()
    main.timer.timeout.emit()
    assert any(folder.iterdir())
    close_cleanly(main)
    assert not any(p.suffix == ".nnd" for p in folder.iterdir())


# 17: far positions and very long ids ---------------------------------------------------------


def far_and_long(pos: tuple[float, float], node_id: str = "far") -> Document:
    nodes = [
        NodeRecord("input", "Input", {"shape": [3, 8, 8]}, pos=(0.0, 0.0)),
        NodeRecord(node_id, "ReLU", {}, name=node_id, pos=pos),
        NodeRecord("after", "ReLU", {}, pos=(0.0, 240.0)),
    ]
    edges = [EdgeRecord("input", node_id), EdgeRecord(node_id, "after")]
    return Document(Project(Architecture.build("far", nodes, edges)))


@pytest.mark.parametrize("pos", [(3e9, -3e9), (1e20, 1e20), (-1e300, 5.0)])
def test_far_positions_paint_quickly(qtbot, window, pos) -> None:
    window._replace(far_and_long(pos))
    started = time.perf_counter()
    window.canvas.fit()
    for node_id in ("far", "input"):
        window.canvas.centre_on(node_id)
        window.canvas.viewport().repaint()
        QApplication.processEvents()
    window.canvas.zoom(0.01)
    window.canvas.viewport().repaint()
    assert window.grab().width() > 0
    assert time.perf_counter() - started < 3.0
    item = window.scene.nodes["far"]
    assert abs(item.pos().x()) <= 1e7 and abs(item.pos().y()) <= 1e7
    # the design keeps the position it has; a release of the mouse moves nothing
    assert window.document.arch.node("far").pos == pos
    assert window.scene.moved_nodes() == {}


def test_a_megabyte_id_is_shown_elided_everywhere(qtbot, window) -> None:
    node_id = "n" * 1_000_000
    started = time.perf_counter()
    window._replace(far_and_long((0.0, 120.0), node_id))
    window.document.select([node_id])
    window.canvas.centre_on(node_id)
    window.repaint()
    QApplication.processEvents()
    item = window.scene.nodes[node_id]
    assert all(len(line) <= LONG for line in item.lines())
    assert all(len(line) <= LONG + 40 for line in item.tooltip().splitlines())
    model = window.summary.model()
    row = model.row_of(node_id)
    for column in range(model.columnCount()):
        assert len(model.index(row, column).data() or "") <= LONG
    assert model.index(row, 0).data().startswith("nnn")
    for name in ("node_id", "result_inputs", "result_output"):
        assert len(window.inspector.findChild(QLabel, name).text()) <= LONG + 40
    name_field = window.inspector.findChild(QLineEdit, "name")
    assert len(name_field.text()) <= LONG
    name_field.editingFinished.emit()  # the elided text is not a rename
    assert window.document.undo_stack.count() == 0
    # the next node waits on nothing, but its tooltip names its input: elided too
    view = window.canvas
    view.centre_on("after")
    at = view.mapFromScene(window.scene.nodes["after"].sceneBoundingRect().center())
    viewport = view.viewport()
    QApplication.sendEvent(
        viewport, QHelpEvent(QEvent.Type.ToolTip, at, viewport.mapToGlobal(QPoint(at)))
    )
    assert len(QToolTip.text()) < 1000
    assert time.perf_counter() - started < 3.0


def test_a_megabyte_name_is_elided_and_not_renamed(window) -> None:
    document = far_and_long((0.0, 120.0))
    document.arch.rename("far", "x" * 1_000_000)
    window._replace(document)
    document.select(["far"])
    name_field = window.inspector.findChild(QLineEdit, "name")
    assert len(name_field.text()) <= LONG
    name_field.editingFinished.emit()
    assert document.arch.node("far").name == "x" * 1_000_000
    assert document.undo_stack.count() == 0
    assert dumps(document.arch)  # still the whole name in the file
