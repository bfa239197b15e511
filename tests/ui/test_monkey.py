"""A monkey at the window: a few hundred random actions per run, seeded, through the
window's own actions, signals and widgets (add layers from the palette's catalog, wire
random ports, set random and bad parameters, delete, cut, copy, paste, undo, redo, select,
arrange, rename, change batch and dtype, group into blocks, ungroup, open a block and go
back up). Any exception, raised here or inside a Qt slot
or virtual method, fails the test; at the end, undoing everything gives back the design
it started from, to the character."""

from __future__ import annotations

import random
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox, QWidget

from designer.core.edits import Connect, Move, SetParams
from designer.ui.canvas.view import ARROWS
from designer.ui.panels.palette import mime_for
from designer.ui.panels.param_editors import ParamEditor
from tests.conftest import EXAMPLES

ACTIONS_PER_SEED = 150
SEEDS = (1, 2, 3, 4)
STARTS = ("lenet5", "seed-19-inception-naive", "seed-17-conv-10-filters", "blocks-inception")

# values a parameter may be set to: sensible, odd and plainly wrong
VALUES: tuple[Any, ...] = (
    1, 2, 3, 5, 16, 64, 0, -1, 3_000_000_000, 10**30, 0.5, 1e-5, -0.0, float("inf"),
    float("nan"), True, False, None, "same", "valid", "nearest", "bilinear", "x", "",
    [1, 1], [2, 3], [3, 3, 3], [0, 0], [], [1, -1], [3, 224, 224], [2**40, 2], {"a": 1},
)  # fmt: skip


def palette_types(window) -> list[str]:
    """Every layer type the palette offers."""
    model = window.palette.findChild(QWidget, "palette").model()
    found = []
    for row in range(model.rowCount()):
        header = model.index(row, 0)
        for child in range(model.rowCount(header)):
            found.append(model.index(child, 0, header).data())
    return found


class Monkey:
    def __init__(self, window, seed: int) -> None:
        self.window = window
        self.random = random.Random(seed)
        self.types = palette_types(window)
        self.log: list[str] = []

    @property
    def document(self):
        return self.window.document

    def nodes(self) -> list[str]:
        return self.document.arch.file_order()

    def some_nodes(self) -> list[str]:
        nodes = self.nodes()
        return self.random.sample(nodes, self.random.randint(0, min(3, len(nodes))))

    def one_node(self) -> str | None:
        nodes = self.nodes()
        return self.random.choice(nodes) if nodes else None

    # the actions ------------------------------------------------------------------------

    def add_after_selection(self) -> None:
        self.document.select(self.some_nodes()[:1])
        self.window.palette.activated_type.emit(self.random.choice(self.types))

    def drop(self) -> None:
        """A drag from the palette, dropped on the canvas: the events a real one sends."""
        viewport = self.window.canvas.viewport()
        at = QPoint(
            self.random.randint(20, viewport.width() - 20),
            self.random.randint(20, viewport.height() - 20),
        )
        data = mime_for(self.random.choice(self.types))
        actions, left, none = (
            Qt.DropAction.CopyAction,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
        for event in (
            QDragEnterEvent(at, actions, data, left, none),
            QDragMoveEvent(at, actions, data, left, none),
            QDropEvent(QPointF(at), actions, data, left, none),
        ):
            QApplication.sendEvent(viewport, event)

    def connect(self) -> None:
        source, target = self.one_node(), self.one_node()
        if source is None:
            return
        port = self.random.choice([None, None, 0, 1, 2, 5, -1])
        output = self.random.choice([0, 0, 0, 1, 2])
        self.window._push(Connect(source, target, port, output))

    def wire_by_hand(self) -> None:
        """Press on an output port, release on an input port, as the canvas sees it."""
        source, target = self.one_node(), self.one_node()
        if source is None:
            return
        scene = self.window.scene
        outputs, inputs = scene.nodes[source].output_ports, scene.nodes[target].input_ports
        if outputs and inputs:
            start = self.random.choice(outputs)
            end = self.random.choice(inputs)
            self.window.canvas._finish_wire(start, [end])

    def set_param(self) -> None:
        node_id = self.one_node()
        if node_id is None:
            return
        spec = self.document.arch.spec(node_id)
        names = [p.name for p in spec.params if not p.inferred] or ["nonsense"]
        value = self.random.choice(VALUES)
        try:
            edit = SetParams.with_param(
                self.document.arch, node_id, self.random.choice(names), value
            )
        except (ValueError, TypeError):
            return  # refused before it is an edit: nothing to push
        self.window._push(edit)

    def edit_in_inspector(self) -> None:
        """A value typed into the inspector's editor: its own `changed` signal."""
        node_id = self.one_node()
        if node_id is None:
            return
        self.document.select([node_id])
        editors = self.window.inspector.findChildren(ParamEditor)
        editors = [e for e in editors if e.objectName().startswith("param_")]
        if editors:
            self.random.choice(editors).changed.emit(self.random.choice(VALUES))

    def rename(self) -> None:
        node_id = self.one_node()
        if node_id is None:
            return
        self.document.select([node_id])
        field = self.window.inspector.findChild(QLineEdit, "name")
        field.setText(self.random.choice(["", "block", "x" * 300, "conv ✓", node_id]))
        field.editingFinished.emit()

    def move(self) -> None:
        node_id = self.one_node()
        if node_id is not None:
            x = self.random.choice([0.0, 120.5, -3e9, 1e20, 500.0])
            self.window._push(Move(node_id, (x, self.random.uniform(-1000, 1000))))

    def nudge(self) -> None:
        """An arrow key (Shift at times) on the canvas, or Escape, Backspace."""
        self.select()
        key = self.random.choice([*ARROWS, Qt.Key.Key_Escape, Qt.Key.Key_Backspace])
        shift = self.random.random() < 0.3
        keys = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
        QTest.keyClick(self.window.canvas.viewport(), key, keys)

    def paste_here(self) -> None:
        at = QPointF(self.random.uniform(-500, 1500), self.random.uniform(-500, 3000))
        self.window.paste(at)  # as the canvas menu's Paste Here does

    def select(self) -> None:
        self.document.select(self.some_nodes())

    def delete(self) -> None:
        self.select()
        self.window.delete_action.trigger()

    def cut(self) -> None:
        self.select()
        self.window.cut_action.trigger()

    def copy(self) -> None:
        self.select()
        self.window.copy_action.trigger()

    def paste(self) -> None:
        self.window.paste_action.trigger()

    def undo(self) -> None:
        self.window.undo_action.trigger()

    def redo(self) -> None:
        self.window.redo_action.trigger()

    def arrange(self) -> None:
        self.window.arrange_action.trigger()

    def settings(self) -> None:
        if self.random.random() < 0.5:
            self.window.batch.setValue(self.random.choice([1, 2, 7, 64, 65_536]))
        else:
            self.window.dtype.setCurrentIndex(self.random.randrange(self.window.dtype.count()))

    def overlay(self) -> None:
        self.random.choice(list(self.window.overlay_actions.values())).trigger()

    def select_all(self) -> None:
        self.window.select_all_action.trigger()

    def group(self) -> None:
        self.select()
        self.window.block_actions.group_action.trigger()

    def instance(self) -> str | None:
        found = [n for n in self.nodes() if self.document.is_instance(n)]
        return self.random.choice(found) if found else None

    def ungroup(self) -> None:
        node_id = self.instance()
        self.document.select([node_id] if node_id else [])
        self.window.block_actions.ungroup_action.trigger()

    def open_block(self) -> None:
        """A double-click on an instance, as the canvas reports it."""
        node_id = self.instance()
        if node_id is not None:
            self.window.canvas.node_opened.emit(node_id)

    def up(self) -> None:
        self.window.block_actions.up_action.trigger()

    ACTIONS = (
        (add_after_selection, 6), (drop, 3), (connect, 6), (wire_by_hand, 2), (set_param, 8),
        (edit_in_inspector, 4), (rename, 2), (move, 2), (select, 3), (delete, 3), (cut, 1),
        (copy, 2), (paste, 2), (undo, 6), (redo, 3), (arrange, 1), (settings, 2),
        (overlay, 1), (select_all, 1), (group, 2), (ungroup, 1), (open_block, 2), (up, 2),
        (nudge, 2), (paste_here, 1),
    )  # fmt: skip

    def step(self, number: int) -> None:
        actions, weights = zip(*self.ACTIONS)
        action = self.random.choices(actions, weights)[0]
        self.log.append(f"{number}: {action.__name__}")
        action(self)
        if number % 10 == 0:
            self.window.canvas.viewport().repaint()  # paint what there is now
            QApplication.processEvents()


def refuse_dialogs(monkeypatch) -> None:
    """No action here may need a modal dialog: one would wait for a click forever."""

    def dialog(*args, **kwargs):
        raise AssertionError(f"a dialog was opened: {args[1:3]}")

    for name in ("warning", "information", "question", "critical"):
        monkeypatch.setattr(QMessageBox, name, dialog)


@pytest.mark.parametrize("seed", SEEDS)
def test_monkey(qtbot, window, monkeypatch, seed: int) -> None:
    refuse_dialogs(monkeypatch)
    assert window.open_path(EXAMPLES / f"{STARTS[seed % len(STARTS)]}.nnd")
    document = window.document
    start = document.snapshot()
    monkey = Monkey(window, seed)
    with qtbot.captureExceptions() as exceptions:
        for number in range(ACTIONS_PER_SEED):
            try:
                monkey.step(number)
            except Exception as error:
                raise AssertionError(f"seed {seed}: {monkey.log[-5:]}: {error!r}") from error
            assert not exceptions, f"seed {seed}, after {monkey.log[-5:]}: {exceptions}"
        # the canvas, the summary and the totals agree with the design
        scene = window.scene
        assert set(scene.nodes) == set(document.arch.graph)
        assert set(scene.edges) == set(document.arch.edges())
        assert window.summary.model().rowCount() == len(document.arch)
        while document.undo_stack.canUndo():  # which shows each scope it changes
            window.undo_action.trigger()
        QApplication.processEvents()
    assert not exceptions, f"seed {seed}: {exceptions}"
    assert document.snapshot() == start
    assert set(window.scene.nodes) == set(document.arch.graph)
    assert all(
        item.result is document.results[node_id] for node_id, item in window.scene.nodes.items()
    )
