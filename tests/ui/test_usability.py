"""Issue 11, through the real widgets: find, the minimap, context menus, Help, the View
menu's panels, wheel and Ctrl+wheel, editing several nodes at once, examples and recent
files."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QAction, QContextMenuEvent, QHelpEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLineEdit,
    QMenu,
    QSpinBox,
    QToolTip,
    QWidget,
)

import designer
from designer import cli
from designer.core.edits import Rename
from designer.ui import help as help_pages
from designer.ui.dialogs import QuickInsert
from designer.ui.examples import DESCRIPTIONS
from tests.conftest import EXAMPLES

README = Path(__file__).resolve().parents[2] / "README.md"
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
NO_KEYS = Qt.KeyboardModifier.NoModifier


def activate(qtbot, window) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def menu_of(window, title: str) -> QMenu:
    for action in window.menuBar().actions():
        if action.text().replace("&", "") == title:
            return action.menu()
    raise AssertionError(f"no {title} menu")


def node_point(window, node_id: str) -> QPoint:
    """A point of the canvas's viewport over the node's body (the node brought into view)."""
    window.canvas.centre_on(node_id)
    item = window.scene.nodes[node_id]
    return window.canvas.mapFromScene(item.mapToScene(QPointF(100, 30)))


def right_click(window, at: QPoint) -> QMenu:
    """The context menu event Qt sends for a right click there; the menu it opens."""
    viewport = window.canvas.viewport()
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at, viewport.mapToGlobal(at))
    QApplication.sendEvent(viewport, event)
    menu = window.context_menus.last_menu
    assert menu is not None and menu.isVisible()
    return menu


def entry(menu: QMenu, text: str) -> QAction:
    found = [a for a in menu.actions() if a.text().replace("&", "") == text]
    assert found, f"{text!r} not in {[a.text() for a in menu.actions()]}"
    return found[0]


def click_entry(qtbot, menu: QMenu, text: str) -> None:
    """Click the entry where the menu draws it."""
    action = entry(menu, text)
    QTest.mouseClick(menu, Qt.MouseButton.LeftButton, NO_KEYS, menu.actionGeometry(action).center())


def answer_quick_insert(type_name: str) -> None:
    """Type into the quick insert box when it comes up (it blocks until answered)."""

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QuickInsert):
            QTimer.singleShot(10, answer)
            return
        QTest.keyClicks(dialog.field, type_name)
        QTest.keyClick(dialog.field, Qt.Key.Key_Return)

    QTimer.singleShot(0, answer)


# find ---------------------------------------------------------------------------------------


def test_ctrl_f_finds_by_id_name_and_type_and_enter_f3_step_esc_closes(qtbot, window) -> None:
    window.open_path(EXAMPLES / "seed-19-inception-naive.nnd")
    activate(qtbot, window)
    window.canvas.setFocus()
    bar = window.find_bar
    assert not bar.isVisible()
    QTest.keyClick(window.canvas, Qt.Key.Key_F, CTRL)
    assert bar.isVisible() and bar.field.hasFocus()

    qtbot.keyClicks(bar.field, "CONV")  # case-insensitive; by type (Conv2d) and by name
    assert bar.matches() == ["b1x1", "b3x3", "b5x5"]
    assert window.document.selected() == ["b1x1"]
    assert bar.count.text() == "1 of 3"
    qtbot.keyClick(bar.field, Qt.Key.Key_Return)
    assert window.document.selected() == ["b3x3"]
    QTest.keyClick(bar.field, Qt.Key.Key_F3)
    assert window.document.selected() == ["b5x5"]
    assert bar.count.text() == "3 of 3"
    QTest.keyClick(bar.field, Qt.Key.Key_F3)  # wraps round
    assert window.document.selected() == ["b1x1"]
    QTest.keyClick(bar.field, Qt.Key.Key_F3, SHIFT)
    assert window.document.selected() == ["b5x5"]
    qtbot.keyClick(bar.field, Qt.Key.Key_Return, SHIFT)
    assert window.document.selected() == ["b3x3"]
    canvas = window.canvas
    centre = canvas.mapToScene(canvas.viewport().rect().center())
    assert (
        window.scene.nodes["b3x3"].sceneBoundingRect().adjusted(-60, -60, 60, 60).contains(centre)
    )

    bar.field.clear()
    qtbot.keyClicks(bar.field, "max pool")  # by name only ("3×3 max pool")
    assert bar.matches() == ["bpool"]
    bar.field.clear()
    qtbot.keyClicks(bar.field, "CAT")  # by id and type: concat / Concat
    assert bar.matches() == ["concat"]
    bar.field.clear()
    qtbot.keyClicks(bar.field, "nothing like it")
    assert bar.matches() == [] and bar.count.text() == "no match"

    qtbot.keyClick(bar.field, Qt.Key.Key_Escape)
    assert not bar.isVisible()
    assert window.canvas.hasFocus()


def test_find_follows_renames_and_the_opened_file(qtbot, window) -> None:
    window.open_path(EXAMPLES / "lenet5.nnd")
    window.find_action.trigger()
    qtbot.keyClicks(window.find_bar.field, "classifier")
    assert window.find_bar.matches() == []
    window.document.push(Rename("f6", "Classifier head"))
    window.find_next_action.trigger()
    assert window.document.selected() == ["f6"]
    window.document.undo_stack.setClean()
    window.open_path(EXAMPLES / "seed-16-linear.nnd")
    window.find_bar.field.clear()
    qtbot.keyClicks(window.find_bar.field, "linear")
    assert window.find_bar.matches() == [
        n
        for n in window.document.arch.file_order()
        if "linear" in n.lower() or window.document.arch.node(n).type == "Linear"
    ]
    assert window.find_bar.matches()


# minimap --------------------------------------------------------------------------------------


def test_minimap_dock_shows_the_whole_design_and_the_view_and_moves_the_canvas(
    qtbot, window
) -> None:
    window.open_path(EXAMPLES / "resnet18.nnd")
    dock = window.minimap.parentWidget()
    assert isinstance(dock, QDockWidget) and not dock.isVisible()
    view_menu = menu_of(window, "View")
    toggle = entry(view_menu, "Minimap")
    toggle.trigger()
    assert dock.isVisible()
    minimap = window.minimap
    assert minimap.scene() is window.scene
    qtbot.waitUntil(lambda: not minimap._refit.isActive())
    seen = minimap.mapToScene(minimap.viewport().rect()).boundingRect()
    assert seen.contains(window.scene.design_rect())

    canvas = window.canvas
    canvas.centre_on("conv1")
    assert minimap._shown == minimap.canvas_rect()
    top = minimap._shown
    middle = window.scene.nodes["layer3.0.conv1"].sceneBoundingRect().center()
    at = minimap.mapFromScene(middle)
    QTest.mouseClick(minimap.viewport(), Qt.MouseButton.LeftButton, NO_KEYS, at)
    centre = canvas.mapToScene(canvas.viewport().rect().center())
    reach = 2 / minimap.transform().m11()  # a pixel of the minimap, in the scene
    assert abs(centre.y() - middle.y()) < reach and abs(centre.x() - middle.x()) < reach
    assert minimap._shown != top and minimap._shown.contains(middle)

    grabbed = minimap.grab().toImage()  # the rectangle is drawn in the selection colour
    box = minimap.mapFromScene(minimap._shown).boundingRect()
    edge = grabbed.pixelColor(box.center().x(), max(box.top() + 1, 1))
    assert edge.blue() > edge.red() + 60


# context menus -----------------------------------------------------------------------------


def test_node_menu_has_its_entries_and_deletes_and_disconnects(qtbot, window) -> None:
    window.open_path(EXAMPLES / "seed-19-inception-naive.nnd")
    menu = right_click(window, node_point(window, "b3x3"))
    assert menu.objectName() == "node_menu"
    assert window.document.selected() == ["b3x3"]
    texts = [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]
    for wanted in ("Insert Layer After…", "Rename…", "Copy", "Disconnect All", "Delete"):
        assert wanted in texts
    assert entry(menu, "Group into Block").isEnabled()
    assert "Ungroup" not in texts  # b3x3 is a layer, not an instance

    steps = window.document.undo_stack.count()
    click_entry(qtbot, menu, "Disconnect All")
    assert window.document.arch.edges_of("b3x3") == []
    assert window.document.undo_stack.count() == steps + 1
    window.document.undo_stack.undo()
    assert len(window.document.arch.edges_of("b3x3")) == 2

    menu = right_click(window, node_point(window, "b5x5"))
    click_entry(qtbot, menu, "Delete")
    assert "b5x5" not in window.document.arch
    window.document.undo_stack.undo()
    assert "b5x5" in window.document.arch


def test_node_menu_rename_copy_and_insert_after(qtbot, window) -> None:
    window.open_path(EXAMPLES / "seed-19-inception-naive.nnd")
    activate(qtbot, window)
    menu = right_click(window, node_point(window, "b1x1"))
    click_entry(qtbot, menu, "Rename…")
    field = window.inspector.findChild(QLineEdit, "name")
    assert field.hasFocus() and field.selectedText() == "1×1 conv"
    qtbot.keyClicks(field, "squeeze")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert window.document.arch.node("b1x1").name == "squeeze"

    menu = right_click(window, node_point(window, "b1x1"))
    click_entry(qtbot, menu, "Copy")
    assert "b1x1" in QApplication.clipboard().text()

    menu = right_click(window, node_point(window, "bpool"))
    answer_quick_insert("ReLU")
    click_entry(qtbot, menu, "Insert Layer After…")
    qtbot.waitUntil(lambda: "relu_1" in window.document.arch)
    assert any(e.source == "bpool" and e.target == "relu_1" for e in window.document.arch.edges())


def test_edge_menu_inserts_a_layer_on_it_and_deletes_it(qtbot, window) -> None:
    window.open_path(EXAMPLES / "seed-04-two-conv-k3.nnd")
    arch = window.document.arch
    (edge,) = [e for e in arch.edges() if e.source == "conv1"]
    item = window.scene.edges[edge]
    window.canvas.centerOn(item.path().pointAtPercent(0.3))
    at = window.canvas.mapFromScene(item.path().pointAtPercent(0.3))
    menu = right_click(window, at)
    assert menu.objectName() == "edge_menu"
    steps = window.document.undo_stack.count()
    answer_quick_insert("BatchNorm2d")
    click_entry(qtbot, menu, "Insert Layer Here…")
    qtbot.waitUntil(lambda: "batchnorm2d_1" in arch)
    assert [(e.source, e.target) for e in arch.edges() if "batchnorm2d_1" in (e.source, e.target)]
    assert {(e.source, e.target) for e in arch.edges()} >= {
        ("conv1", "batchnorm2d_1"),
        ("batchnorm2d_1", edge.target),
    }
    assert edge not in arch.edges()
    assert window.document.result("batchnorm2d_1").error is None
    assert window.document.undo_stack.count() == steps + 1  # one step
    window.document.undo_stack.undo()
    assert "batchnorm2d_1" not in arch and edge in arch.edges()

    item = window.scene.edges[edge]
    window.canvas.centerOn(item.path().pointAtPercent(0.3))
    menu = right_click(window, window.canvas.mapFromScene(item.path().pointAtPercent(0.3)))
    click_entry(qtbot, menu, "Delete Connection")
    assert edge not in arch.edges()


def test_canvas_menu_pastes_and_adds_where_clicked_and_arranges(qtbot, window) -> None:
    window.open_path(EXAMPLES / "seed-16-linear.nnd")
    window.document.select(["fc"])
    window.copy()
    canvas = window.canvas
    design = window.scene.design_rect()
    spot = QPointF(design.right() + 300, design.top())
    canvas.centerOn(spot)
    at = canvas.mapFromScene(spot)
    menu = right_click(window, at)
    assert menu.objectName() == "canvas_menu"
    for wanted in ("Paste Here", "Add Layer Here…", "Arrange", "Fit to View"):
        assert entry(menu, wanted).isEnabled()
    click_entry(qtbot, menu, "Paste Here")
    (pasted,) = window.document.selected()
    x, y = window.document.arch.node(pasted).pos
    clicked = canvas.mapToScene(at)
    assert abs(x - clicked.x()) < 1 and abs(y - clicked.y()) < 1

    menu = right_click(window, at + QPoint(0, 200))
    answer_quick_insert("Flatten")
    click_entry(qtbot, menu, "Add Layer Here…")
    qtbot.waitUntil(lambda: "flatten_1" in window.document.arch)
    item = window.scene.nodes["flatten_1"]
    assert item.sceneBoundingRect().contains(canvas.mapToScene(at + QPoint(0, 200)))


# help -----------------------------------------------------------------------------------------


def test_help_shortcuts_lists_every_action_shortcut(qtbot, window) -> None:
    help_menu = menu_of(window, "Help")
    entry(help_menu, "Keyboard Shortcuts").trigger()
    dialog = window.shortcuts_dialog
    assert dialog.isVisible()
    rows = dialog.rows()
    listed = {(action, keys) for _, action, keys in rows}
    with_keys = [a for a in window.findChildren(QAction) if a.shortcuts() and a.text()]
    assert len(with_keys) > 10
    for action in with_keys:
        assert (help_pages.plain(action.text()), help_pages.shortcut_text(action)) in listed
    assert ("Edit", "Find", "Ctrl+F") in rows
    assert ("Canvas", "Ctrl+Wheel", "Zoom") in [(m, k, d) for m, d, k in rows]


def test_help_numbers_is_the_readme_section(qtbot, window) -> None:
    entry(menu_of(window, "Help"), "What the Numbers Mean").trigger()
    text = window.numbers_dialog.text.toPlainText()
    for term in ("params", "MACs", "FLOPs", "rf_stride", "rf_start", "memory", "non-trainable"):
        assert term in text
    assert "FlopCounterMode" in text and "twice" in text  # MACs vs FLOPs
    section = README.read_text().split("## What the numbers mean")[1].split("\n## ")[0]
    for phrase in re.findall(r"\*\*([^*]+)\*\*", section):
        for word in re.split(r"\s*/\s*", phrase):
            assert word.lower() in text.lower()
    assert "Araujo, Norris and Sim" in text and "model.half()" in text


def test_about_and_version(qtbot, window, capsys) -> None:
    assert designer.__version__ == importlib.metadata.version("designer")
    entry(menu_of(window, "Help"), "About designer").trigger()
    box = window.about_box
    assert box.isVisible() and designer.__version__ in box.text()
    box.close()
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"designer {designer.__version__}\n"


def test_version_falls_back_without_package_metadata(monkeypatch) -> None:
    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    monkeypatch.delattr(designer, "__version__", raising=False)
    assert designer.__version__ == "0.1.0"
    monkeypatch.undo()
    del designer.__version__  # looked up again, from the metadata


def test_summary_headers_and_status_totals_have_tooltips(qtbot, window) -> None:
    window.open_path(EXAMPLES / "lenet5.nnd")
    header = window.summary.horizontalHeader()
    model = window.summary.model()
    key_role = Qt.ItemDataRole.UserRole + 2  # the report's column name (KEY_ROLE)
    for column in range(model.columnCount()):
        key = model.headerData(column, Qt.Orientation.Horizontal, key_role)
        tip = model.headerData(column, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
        assert tip and tip == help_pages.COLUMN_TIPS[key]
    column = [
        model.headerData(c, Qt.Orientation.Horizontal, key_role) for c in range(model.columnCount())
    ]
    macs = column.index("macs")
    header.scrollTo = None
    at = QPoint(header.sectionViewportPosition(macs) + 5, header.height() // 2)
    viewport = header.viewport()
    QApplication.sendEvent(viewport, QHelpEvent(QEvent.Type.ToolTip, at, viewport.mapToGlobal(at)))
    assert QToolTip.text() == help_pages.COLUMN_TIPS["macs"]
    assert "MACs" in window.totals_label.toolTip()
    assert "Help ▸ What the numbers mean" in window.totals_label.toolTip()


# the View menu, the wheel, arrange -------------------------------------------------------------


def test_view_menu_reopens_every_closed_panel(qtbot, window) -> None:
    view_menu = menu_of(window, "View")
    docks = window.findChildren(QDockWidget)
    assert {d.windowTitle() for d in docks} >= {"Layers", "Inspector", "Summary", "Minimap"}
    for dock in docks:
        assert dock.toggleViewAction() in view_menu.actions()
        dock.show()
        dock.close()
        assert not dock.isVisible()
        dock.toggleViewAction().trigger()
        assert dock.isVisible()


def wheel(window, modifiers, delta: int = -120) -> None:
    viewport = window.canvas.viewport()
    at = QPointF(viewport.rect().center())
    event = QWheelEvent(
        at,
        QPointF(viewport.mapToGlobal(at.toPoint())),
        QPoint(),
        QPoint(0, delta),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, event)


def test_wheel_scrolls_and_ctrl_wheel_zooms(qtbot, window) -> None:
    window.open_path(EXAMPLES / "vgg16.nnd")
    canvas = window.canvas
    bar = canvas.verticalScrollBar()
    bar.setValue(bar.minimum())
    scale = canvas.transform().m11()
    wheel(window, NO_KEYS)
    assert bar.value() > bar.minimum()
    assert canvas.transform().m11() == scale
    wheel(window, CTRL, 120)
    assert canvas.transform().m11() == pytest.approx(scale * 1.15)
    wheel(window, CTRL, -120)
    assert canvas.transform().m11() == pytest.approx(scale)


def test_arrange_fits_the_view_again(qtbot, window) -> None:
    window.open_path(EXAMPLES / "seed-19-inception-naive.nnd")
    canvas = window.canvas
    canvas.zoom(4.0)
    canvas.centerOn(5000, 5000)
    window.arrange_action.trigger()
    shown = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    assert shown.contains(window.scene.design_rect())


# several nodes in the inspector ---------------------------------------------------------------


def test_several_nodes_show_their_totals_and_edit_together_in_one_step(qtbot, window) -> None:
    window.open_path(EXAMPLES / "seed-19-inception-naive.nnd")
    document = window.document
    inspector = window.inspector
    convs = ["b1x1", "b3x3", "b5x5"]
    document.select(convs)
    totals = inspector.findChild(QWidget, "selection_totals")
    assert totals.isVisible()
    results = [document.result(n) for n in convs]

    def shown(key: str) -> str:
        return inspector.findChild(QWidget, f"selection_{key}").text()

    assert shown("count").startswith("3 nodes: 3 Conv2d")
    assert shown("params").startswith(f"{sum(r.params for r in results):,}")
    assert shown("macs").startswith(f"{sum(r.macs for r in results):,}")
    memory = sum(r.memory for r in results)
    assert shown("memory").split()[0] in {f"{memory / 1024**2:.3g}", f"{memory / 1024:.3g}"}
    assert not inspector.findChild(QWidget, "result_params").isVisible()
    assert "kernel_size (mixed)" in [
        label.text() for label in inspector.findChildren(QWidget) if hasattr(label, "buddy")
    ]

    box = inspector.findChild(QWidget, "param_out_channels").findChild(QSpinBox)
    qtbot.waitUntil(box.isVisible)  # a layout shows new rows at the next event round
    steps = document.undo_stack.count()
    box.setValue(64)
    assert [document.arch.params_of(n)["out_channels"] for n in convs] == [64, 64, 64]
    assert document.undo_stack.count() == steps + 1
    qtbot.waitUntil(
        lambda: shown("params").startswith(f"{sum(document.result(n).params for n in convs):,}")
    )
    document.undo_stack.undo()
    assert [document.arch.params_of(n)["out_channels"] for n in convs] == [128, 192, 96]

    document.select(["b1x1", "bpool"])  # two types: totals, no editors
    assert totals.isVisible()
    assert not inspector.findChild(QWidget, "param_out_channels").isVisible()
    assert shown("count") == "2 nodes: 1 Conv2d, 1 MaxPool2d"
    document.select(["b3x3"])
    assert not totals.isVisible()
    assert inspector.findChild(QWidget, "result_params").isVisible()
    assert "kernel_size" in [
        label.text() for label in inspector.findChildren(QWidget) if hasattr(label, "buddy")
    ]


# examples and recent files ---------------------------------------------------------------------


def test_examples_menu_has_titles_and_descriptions(qtbot, window) -> None:
    menu = window.examples_menu
    actions = {a.objectName(): a for a in menu.findChildren(QAction) if a.objectName()}
    for path in EXAMPLES.glob("*.nnd"):
        action = actions[f"example_{path.stem}"]
        assert action.text() == window.document.arch.name or action.text()
        assert path.stem in DESCRIPTIONS and action.toolTip() == DESCRIPTIONS[path.stem]
    assert actions["example_lenet5"].text() == "LeNet-5"
    assert actions["example_seed-19-inception-naive"] not in menu.actions()  # a submenu
    library = menu.findChild(QMenu, "block_library")
    assert actions["example_blocks-convnext"] in library.actions()
    assert actions["example_resnet50-blocks"] in menu.actions()  # a network, not a part
    assert menu.toolTipsVisible()
    actions["example_espcn"].trigger()
    assert window.document.path == EXAMPLES / "espcn.nnd"


def test_open_recent_shows_names_with_the_path_in_the_tooltip(qtbot, window) -> None:
    window.open_path(EXAMPLES / "lenet5.nnd")
    window.open_path(EXAMPLES / "espcn.nnd")
    actions = window.recent_menu.actions()
    assert [a.text() for a in actions[:2]] == ["espcn.nnd", "lenet5.nnd"]
    assert actions[0].toolTip() == str(EXAMPLES / "espcn.nnd")
    assert window.recent_menu.toolTipsVisible()


def test_a_long_network_laid_left_to_right_is_shown_from_its_input(qtbot, window) -> None:
    """Too long to show readable whole: the view starts where the network does, its input
    in view and the whole height of the row too (it showed the middle, skip connections cut
    off at the top)."""
    window.open_path(EXAMPLES / "unet-blocks.nnd")
    window.direction_actions[True].trigger()
    canvas = window.canvas
    shown = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    assert shown.contains(window.scene.nodes["input"].sceneBoundingRect())
    design = window.scene.design_rect()
    assert shown.top() <= design.top() and shown.bottom() >= design.bottom()
