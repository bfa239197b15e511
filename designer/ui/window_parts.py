"""Pieces of the main window that are not widgets of their own: its actions, design undo
from any field, the design's name as an undoable edit, and what exports are called by
default."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QWidget

from designer.core.edits import Edit
from designer.core.graph import Architecture

UNTITLED = "Untitled"


def window_action(
    window: QWidget,
    text: str,
    slot: Callable[[], object],
    name: str,
    shortcut: str | QKeySequence.StandardKey | None = None,
) -> QAction:
    """An action of the window (its shortcut works wherever the focus is in it), named
    for tests and menus. The slot is called with no arguments: never with `checked`."""
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(lambda checked=False: slot())
    action.setObjectName(name)
    window.addAction(action)
    return action


class DesignUndoKeys(QObject):
    """Undo and Redo keys do design undo wherever the focus is in the window. A text
    field takes them for its own text undo before any shortcut sees them; this filter,
    put on each field of the window as it takes the focus (not on the application,
    which would call Python for every event), lets them through to the window's
    actions, which commit the field first."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._keys = [
            *QKeySequence.keyBindings(QKeySequence.StandardKey.Undo),
            *QKeySequence.keyBindings(QKeySequence.StandardKey.Redo),
        ]
        QApplication.instance().focusChanged.connect(self._on_focus)

    def _on_focus(self, old: QWidget | None, new: QWidget | None) -> None:
        if new is not None and _is_field(new) and self._window.isAncestorOf(new):
            new.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            pressed = QKeySequence(event.keyCombination())
            if any(
                pressed.matches(key) == QKeySequence.SequenceMatch.ExactMatch for key in self._keys
            ):
                return True  # not the field's: the shortcut goes to the window's action
        return False


def _is_field(widget: QWidget) -> bool:
    return isinstance(widget, (QLineEdit, QAbstractSpinBox))


def commit_focused_field() -> None:
    """The field being typed in, committed as Enter would (an inspector field pushes its
    edit), so that undo then undoes it rather than leaving half-typed text behind."""
    widget = QApplication.focusWidget()
    if isinstance(widget, QLineEdit) and isinstance(widget.parentWidget(), QAbstractSpinBox):
        widget = widget.parentWidget()
    if isinstance(widget, QAbstractSpinBox):
        widget.interpretText()
        widget.editingFinished.emit()
    elif isinstance(widget, QLineEdit) and not widget.isReadOnly():
        widget.editingFinished.emit()


@dataclass
class RenameDesign(Edit):
    """The design's own name (File ▸ Properties): what exported code calls its class."""

    name: str
    _old: str | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        return "Rename design"

    def apply(self, arch: Architecture) -> None:
        self._old = arch.name
        arch.name = self.name

    def revert(self, arch: Architecture) -> None:
        assert self._old is not None, "revert before apply"
        arch.name = self._old


def named(arch: Architecture) -> str | None:
    """The design's name, where it was given one."""
    name = (arch.name or "").strip()
    return name if name and name != UNTITLED else None


def slug(text: str) -> str:
    """A file name stem from a design name: 'ResNet-18 (torchvision)' → resnet_18_torchvision."""
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")[:80]


def export_stem(arch: Architecture, path: Path | None) -> str:
    """What an export is called by default: the design's name, else its file's."""
    name = named(arch)
    if name and slug(name):
        return slug(name)
    return path.stem if path is not None else "design"


def export_folder(path: Path | None) -> Path:
    """Where an export goes by default: beside the design's file, else the home folder."""
    return path.parent if path is not None else Path.home()


def class_name_for(arch: Architecture, path: Path | None) -> str:
    """The name exported code gives its class, before the exporter makes it a Python
    name: the design's name, else its file's."""
    return named(arch) or (path.stem if path is not None else "Net")
