"""The canvas keys a drawing tool has: arrows nudge the selected nodes (Shift, five times
as far), one undo step a press; with nothing selected they scroll. Escape clears the
selection; Backspace deletes as Delete does, but never the text of a field being typed."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit

from designer.ui.canvas.view import NUDGE
from tests.conftest import EXAMPLES
from tests.ui.test_blocks_window import click

SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL = Qt.KeyboardModifier.ControlModifier


def press(window, key: Qt.Key, keys=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(window.canvas.viewport(), key, keys)


def test_arrows_nudge_the_selected_nodes_one_step_a_press(window) -> None:
    assert window.open_path(EXAMPLES / "lenet5.nnd")
    document = window.document
    first, second = document.arch.file_order()[1:3]
    click(window, first)
    click(window, second, CTRL)
    before = {n: document.arch.node(n).pos for n in (first, second)}
    steps = document.undo_stack.count()
    press(window, Qt.Key.Key_Right)
    press(window, Qt.Key.Key_Down, SHIFT)
    for node_id, (x, y) in before.items():
        assert document.arch.node(node_id).pos == (x + NUDGE, y + 5 * NUDGE)
        assert window.scene.nodes[node_id].pos().x() == x + NUDGE
    assert document.undo_stack.count() == steps + 2
    for _ in range(40):  # far to the right: the view follows
        press(window, Qt.Key.Key_Right, SHIFT)
    shown = window.canvas.mapToScene(window.canvas.viewport().rect()).boundingRect()
    assert shown.intersects(window.scene.nodes[first].sceneBoundingRect())
    for _ in range(40):
        document.undo_stack.undo()
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert {n: document.arch.node(n).pos for n in before} == before


def test_arrows_with_nothing_selected_scroll_and_escape_clears_the_selection(window) -> None:
    assert window.open_path(EXAMPLES / "vgg16.nnd")  # taller than the view
    document = window.document
    click(window, document.arch.file_order()[0])
    press(window, Qt.Key.Key_Escape)
    assert document.selected() == []
    bar = window.canvas.verticalScrollBar()
    start, steps = bar.value(), document.undo_stack.count()
    press(window, Qt.Key.Key_Down)
    assert bar.value() > start and document.undo_stack.count() == steps


def test_backspace_deletes_the_selection_but_not_a_field_s_text(qtbot, window) -> None:
    assert window.open_path(EXAMPLES / "lenet5.nnd")
    document = window.document
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    node_id = document.arch.file_order()[-1]
    click(window, node_id)
    name = window.inspector.findChild(QLineEdit, "name")
    name.setFocus()
    QTest.keyClicks(name, "head")
    QTest.keyClick(name, Qt.Key.Key_Backspace)
    assert name.text() == "hea" and node_id in document.arch
    click(window, node_id)
    window.canvas.setFocus()
    press(window, Qt.Key.Key_Backspace)
    assert node_id not in document.arch
