"""Find (Ctrl+F): a box over the top right of the canvas that finds nodes by id, name or
layer type (case-insensitive, anywhere in the text), selects the match and brings it into
view. Enter or F3 goes to the next match, Shift+Enter or Shift+F3 to the previous one, Esc
closes the box and gives the keyboard back to the canvas."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QToolButton,
)

from designer.core.graph import Architecture
from designer.ui.canvas.view import CanvasView
from designer.ui.document import Document

MARGIN = 10  # from the canvas's top right corner


def matches(arch: Architecture, text: str) -> list[str]:
    """The nodes whose id, name or layer type holds `text` (case-insensitive), in the
    order of the file; none for empty text."""
    needle = text.strip().casefold()
    if not needle:
        return []
    found = []
    data_of = arch.graph.nodes
    for node_id in arch.file_order():
        data = data_of[node_id]
        if (
            needle in node_id.casefold()
            or needle in data["type"].casefold()
            or (data["name"] is not None and needle in data["name"].casefold())
        ):
            found.append(node_id)
    return found


class FindBar(QFrame):
    """The find box, a child of the canvas that keeps to its top right corner."""

    def __init__(self, canvas: CanvasView) -> None:
        super().__init__(canvas)
        self.setObjectName("find_bar")
        self.canvas = canvas
        self._matches: list[str] = []
        self._at = -1  # the match shown, an index into _matches
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.field = QLineEdit(self)
        self.field.setObjectName("find_field")
        self.field.setPlaceholderText("Find a node by id, name or type")
        self.field.setClearButtonEnabled(True)
        self.field.setMinimumWidth(260)
        self.field.installEventFilter(self)
        self.count = QLabel(self)
        self.count.setObjectName("find_count")
        self.count.setMinimumWidth(70)
        previous = self._button("▲", "Previous match (Shift+Enter, Shift+F3)", self.previous)
        following = self._button("▼", "Next match (Enter, F3)", self.next)
        close = self._button("✕", "Close (Esc)", self.close_bar)
        previous.setObjectName("find_previous")
        following.setObjectName("find_next")
        close.setObjectName("find_close")
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 4, 4, 4)
        row.setSpacing(4)
        for widget in (self.field, self.count, previous, following, close):
            row.addWidget(widget)
        self.field.textChanged.connect(self._search)
        self.field.returnPressed.connect(self.next)
        canvas.installEventFilter(self)  # to follow the canvas's size
        self.hide()

    def _button(self, text: str, tip: str, slot) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(slot)
        return button

    @property
    def document(self) -> Document:
        """The design the canvas shows (the window replaces it on opening a file)."""
        return self.canvas.design_scene.document

    # showing ------------------------------------------------------------------------------

    def open_bar(self) -> None:
        """Show the box with its text selected, ready to type over."""
        self.show()
        self.raise_()
        self._place()
        self.field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.field.selectAll()
        if self.field.text():
            self._search(self.field.text())

    def close_bar(self) -> None:
        self.hide()
        self.canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    def _place(self) -> None:
        self.adjustSize()
        inside = self.canvas.viewport().geometry()
        self.move(inside.right() - self.width() - MARGIN, inside.top() + MARGIN)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.canvas and event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        elif watched is self.field and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key == Qt.Key.Key_Escape:
                self.close_bar()
                return True
            shifted = event.modifiers() & Qt.KeyboardModifier.ShiftModifier
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and shifted:
                self.previous()
                return True
        return super().eventFilter(watched, event)

    # searching ----------------------------------------------------------------------------

    def matches(self) -> list[str]:
        return list(self._matches)

    def _search(self, text: str) -> None:
        """Find as the text is typed, and show the first match."""
        self._matches = matches(self.document.arch, text)
        self._at = -1
        if self._matches:
            self._go(0)
        else:
            self._show_count()

    def next(self) -> None:
        self._step(1)

    def previous(self) -> None:
        self._step(-1)

    def _step(self, by: int) -> None:
        if not self.isVisible():
            self.open_bar()
            return
        # the design may have changed since the last search: look again
        self._matches = matches(self.document.arch, self.field.text())
        if not self._matches:
            self._at = -1
            self._show_count()
            return
        current = self.document.selected()
        if current and current[0] in self._matches:
            at = self._matches.index(current[0])
        else:
            at = -1 if by > 0 else 0
        self._go((at + by) % len(self._matches))

    def _go(self, at: int) -> None:
        self._at = at
        node_id = self._matches[at]
        self.document.select([node_id])
        self.canvas.centre_on(node_id)
        self._show_count()

    def _show_count(self) -> None:
        if not self.field.text().strip():
            self.count.setText("")
        elif not self._matches:
            self.count.setText("no match")
        else:
            self.count.setText(f"{self._at + 1} of {len(self._matches)}")
        failed = bool(self.field.text().strip()) and not self._matches
        self.field.setStyleSheet("QLineEdit { background: #fde2e2; }" if failed else "")
