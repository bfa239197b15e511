"""Blocks in the window: Group into Block (Ctrl+G), Ungroup (Ctrl+Shift+G), Open Block
(a double-click on an instance, or Ctrl+Return), Up (Alt+Up) and Block Params
(Ctrl+Shift+P), and the breadcrumb over the canvas that says which block is open, from
which instance, and leads back.

Every edit here is one undo step on the document's one stack; undoing an edit made inside
a block shows that block again.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFrame, QHBoxLayout, QInputDialog, QLabel, QToolButton, QWidget

from designer.core.block_edits import SetBlockDefaults
from designer.core.graph import GraphError
from designer.ui.document import Document, describe
from designer.ui.style import elide
from designer.ui.window_parts import window_action

if TYPE_CHECKING:
    from designer.ui.main_window import MainWindow


class Breadcrumb(QFrame):
    """`Design ▸ layer1 (Stage) ▸ first (Bottleneck)`: one button per scope, the last the
    one shown; hidden at the top level."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("breadcrumb")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setStyleSheet("#breadcrumb { background: #ffffff; border: 1px solid #c9ced6; }")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(6, 2, 6, 2)
        self._layout.setSpacing(2)
        self.buttons: list[QToolButton] = []
        self._document: Document | None = None
        self.hide()

    def show_trail(self, document: Document) -> None:
        self._document = document
        self.hide()  # shown again below with its new buttons (children of a shown widget are not)
        while self._layout.count():
            widget = self._layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.buttons = []
        if not document.trail:
            return
        steps = [document.design.top.name or "Design"] if document.design else ["Design"]
        steps += [f"{o.label} ({o.block})" if o.label else o.block for o in document.trail]
        for depth, text in enumerate(steps):
            if depth:
                self._layout.addWidget(QLabel("▸", self))
            button = QToolButton(self)
            button.setObjectName(f"breadcrumb_{depth}")
            button.setText(elide(text, 60))
            button.setAutoRaise(True)
            last = depth == len(steps) - 1
            button.setEnabled(not last)
            if last:
                font = button.font()
                font.setBold(True)
                button.setFont(font)
            button.clicked.connect(lambda checked=False, depth=depth: document.go_up(depth))
            self._layout.addWidget(button)
            self.buttons.append(button)
        self.adjustSize()
        self.move(8, 8)
        self.show()
        self.raise_()


class BlockActions(QObject):
    """The block entries of the Edit menu and the node menu, and the breadcrumb."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.breadcrumb = Breadcrumb(window.canvas)
        self.group_action = self._action("&Group into Block", self.group, "Ctrl+G", "group")
        self.ungroup_action = self._action("&Ungroup", self.ungroup, "Ctrl+Shift+G", "ungroup")
        self.open_action = self._action(
            "&Open Block", self.open_selected, "Ctrl+Return", "open_block"
        )
        self.up_action = self._action("Up to &Parent", self.up, "Alt+Up", "up_block")
        self.params_action = self._action(
            "Block &Params…", self.edit_params, "Ctrl+Shift+P", "block_params"
        )
        window.canvas.node_opened.connect(self.open_instance)

    def _action(self, text: str, slot, key: str, name: str) -> QAction:
        return window_action(self.window, text, slot, name, key)

    @property
    def document(self) -> Document:
        return self.window.document

    def group(self) -> None:
        """The selected nodes into a new block; its instance takes their place."""
        selected = self.document.selected()
        if not selected:
            self.window.say("Select the nodes to group into a block", 4000)
            return
        try:
            grouped = self.document.group(selected)
        except GraphError as error:
            self.window.say(f"Not grouped: {describe(error)}", 6000)
            return
        if grouped:
            block = self.document.arch.type_of(self.document.selected()[0])
            self.window.say(
                f"Grouped {len(selected)} nodes into block {block}: double-click it to open it",
                6000,
            )

    def ungroup(self) -> None:
        instances = [n for n in self.document.selected() if self.document.is_instance(n)]
        if len(instances) != 1:
            self.window.say("Select one block instance to ungroup", 4000)
            return
        try:
            self.document.ungroup(instances[0])
        except GraphError as error:
            self.window.say(f"Not ungrouped: {describe(error)}", 6000)

    def open_selected(self) -> None:
        selected = self.document.selected()
        if len(selected) == 1:
            self.open_instance(selected[0])

    def open_instance(self, node_id: str) -> None:
        """Show an instance's block on the canvas (a double-click on it)."""
        if node_id in self.document.arch and self.document.is_instance(node_id):
            self.document.open_instance(node_id)

    def up(self) -> None:
        if self.document.trail:
            self.document.go_up()

    def edit_params(self) -> None:
        """The open block's params and defaults, as `width=64, stride=1`: one undo step.
        Expressions inside the block read them; each instance may set its own values."""
        document = self.document
        if not document.trail:
            self.window.say("Open a block (double-click an instance) to edit its params", 4000)
            return
        block = document.scope
        current = ", ".join(f"{k}={json.dumps(v)}" for k, v in document.block_defaults().items())
        text, ok = QInputDialog.getText(
            self.window,
            f"Params of {block}",
            "Params and their defaults (name=value, comma-separated):",
            text=current,
        )
        if not ok:
            return
        try:
            defaults = parse_params(text)
        except ValueError as error:
            self.window.say(f"Params not changed: {describe(error)}", 8000)
            return
        document.push(SetBlockDefaults(block, defaults))

    def update(self) -> None:
        """The breadcrumb and which entries apply, after the shown scope changed."""
        self.breadcrumb.show_trail(self.document)
        self.up_action.setEnabled(bool(self.document.trail))
        self.params_action.setEnabled(bool(self.document.trail))


_NEXT_PARAM = re.compile(r",\s*(?=[A-Za-z_]\w*\s*=)")  # a comma that starts `name=`


def parse_params(text: str) -> dict[str, Any]:
    """`width=64, stride=1, sizes=[1, 2]` as a dict, each value read as JSON (numbers,
    true/false, lists); ValueError naming the part that does not read."""
    found: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in _NEXT_PARAM.split(text.strip()))):
        name, equals, value = part.partition("=")
        try:
            if not equals:
                raise ValueError
            found[name.strip()] = json.loads(value)
        except ValueError:
            raise ValueError(f"{elide(part, 60)!r} is not name=value") from None
    return found
