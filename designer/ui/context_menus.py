"""Right-click menus of the canvas: on a node (insert after, rename, copy, delete,
disconnect all, group), on a connection (delete it, insert a layer on it) and on the
empty canvas (paste here, add a layer here, arrange, fit). Every entry is one undo step.

The menus open with `popup` (they do not block), and the last one stays in `last_menu`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPoint, QPointF, Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QDialog, QLineEdit, QMenu

from designer.core.edits import AddNode, Compound, Connect, Disconnect
from designer.core.graph import EdgeRecord, GraphError, NodeRecord
from designer.core.params import ParamError
from designer.ui import clipboard, style
from designer.ui.canvas.edge_item import EdgeItem
from designer.ui.canvas.node_item import NodeItem
from designer.ui.canvas.ports import PortItem
from designer.ui.dialogs import QuickInsert

if TYPE_CHECKING:
    from designer.ui.main_window import MainWindow

ROOM = 40.0  # the least gap kept above and below a layer inserted on a connection


class CanvasMenus(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.last_menu: QMenu | None = None
        canvas = window.canvas
        canvas.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        canvas.customContextMenuRequested.connect(self.show_menu)

    @property
    def document(self):
        return self.window.document

    # which menu -------------------------------------------------------------------------------

    def show_menu(self, at: QPoint) -> None:
        """The menu for what is under `at` (viewport coordinates), opened there."""
        menu = self.menu_at(at)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.last_menu = menu
        menu.popup(self.window.canvas.viewport().mapToGlobal(at))

    def menu_at(self, at: QPoint) -> QMenu:
        canvas = self.window.canvas
        for item in canvas.items(at):
            if isinstance(item, PortItem):
                item = item.node
            if isinstance(item, NodeItem):
                return self.node_menu(item.node_id)
            if isinstance(item, EdgeItem):
                edge = EdgeRecord(item.source.node_id, item.target.node_id, item.port, item.output)
                canvas.scene().clearSelection()
                item.setSelected(True)
                return self.edge_menu(edge)
        return self.canvas_menu(canvas.mapToScene(at))

    def _menu(self, name: str) -> QMenu:
        menu = QMenu(self.window)
        menu.setObjectName(name)
        return menu

    def _add(self, menu: QMenu, text: str, slot, name: str) -> QAction:
        action = menu.addAction(text)
        action.setObjectName(name)
        action.triggered.connect(lambda checked=False: slot())
        return action

    # a node -----------------------------------------------------------------------------------

    def node_menu(self, node_id: str) -> QMenu:
        """A node's menu. A right click on a node outside the selection selects it alone;
        on a selected node the entries act on the whole selection."""
        if node_id not in self.document.selected():
            self.document.select([node_id])
        window = self.window
        count = len(self.document.selected())
        menu = self._menu("node_menu")
        self._add(menu, "Insert Layer After…", lambda: self.insert_after(node_id), "insert_after")
        rename = self._add(menu, "Rename…", lambda: self.rename(node_id), "rename")
        rename.setEnabled(count == 1)
        menu.addSeparator()
        menu.addActions([window.cut_action, window.copy_action])
        self._add(menu, "Disconnect All", self.disconnect_all, "disconnect_all")
        menu.addAction(window.delete_action)
        menu.addSeparator()
        blocks = window.block_actions
        menu.addAction(blocks.group_action)
        if count == 1 and self.document.is_instance(node_id):
            menu.addActions([blocks.open_action, blocks.ungroup_action])
        return menu

    def insert_after(self, node_id: str) -> None:
        self.document.select([node_id])
        self.window.quick_insert()

    def rename(self, node_id: str) -> None:
        """Into the inspector's name field, its text selected: type, then Enter."""
        self.document.select([node_id])
        window = self.window
        dock = window.inspector.parentWidget()
        while dock is not None and not hasattr(dock, "toggleViewAction"):
            dock = dock.parentWidget()
        if dock is not None:
            dock.show()
            dock.raise_()
        field = window.inspector.findChild(QLineEdit, "name")
        if field is not None:
            field.setFocus(Qt.FocusReason.OtherFocusReason)
            field.selectAll()

    def disconnect_all(self) -> None:
        """Every connection into and out of the selected nodes, as one step."""
        arch = self.document.arch
        edges = sorted({e for n in self.document.selected() for e in arch.edges_of(n)})
        if not edges:
            self.window.say("No connections to remove", 4000)
            return
        self.window._push(Compound([Disconnect(e) for e in edges], "Disconnect all"))

    # a connection -----------------------------------------------------------------------------

    def edge_menu(self, edge: EdgeRecord) -> QMenu:
        menu = self._menu("edge_menu")
        self._add(menu, "Insert Layer Here…", lambda: self.insert_on_edge(edge), "insert_on_edge")
        self._add(menu, "Delete Connection", lambda: self.delete_edge(edge), "delete_edge")
        return menu

    def delete_edge(self, edge: EdgeRecord) -> None:
        self.window._push(Disconnect(edge))

    def insert_on_edge(self, edge: EdgeRecord, type_name: str | None = None) -> str | None:
        """A layer spliced into a connection: source → new layer → target, one step. The
        new layer sits halfway, beside the line where there is no room on it."""
        type_name = type_name or self.ask_layer_type()
        if type_name is None:
            return None
        document = self.document
        arch = document.arch
        spec = arch.spec_of(type_name)
        if spec.inputs[1] == 0:
            self.window.say(f"{type_name} takes no input: it cannot go on a connection")
            return None
        source, target = arch.node(edge.source).pos, arch.node(edge.target).pos
        sx, sy = source or (0.0, 0.0)
        tx, ty = target or (sx, sy + 2 * style.NODE_HEIGHT)
        x, y = (sx + tx) / 2, (sy + ty) / 2
        if abs(ty - sy) < 2 * (style.NODE_HEIGHT + ROOM):  # no room between: beside it
            x = max(sx, tx) + style.NODE_WIDTH + ROOM
        node_id = document.new_node_id(type_name)
        record = NodeRecord(node_id, type_name, spec.starting_params(), pos=(round(x), round(y)))
        parts = [
            Disconnect(edge),
            AddNode(record),
            Connect(edge.source, node_id, None, edge.output),
            Connect(node_id, edge.target, edge.port),
        ]
        if self.window._push(Compound(parts, f"Insert {type_name}")):
            document.select([node_id])
            return node_id
        return None

    # the canvas -------------------------------------------------------------------------------

    def canvas_menu(self, at: QPointF) -> QMenu:
        window = self.window
        menu = self._menu("canvas_menu")
        paste = self._add(menu, "Paste Here", lambda: window.paste(at), "paste_here")
        data = QGuiApplication.clipboard().mimeData()
        paste.setEnabled(
            data is not None and (data.hasFormat(clipboard.FRAGMENT_MIME) or data.hasText())
        )
        self._add(menu, "Add Layer Here…", lambda: self.add_at(at), "add_here")
        menu.addSeparator()
        menu.addActions([window.arrange_action, window.fit_action, window.select_all_action])
        return menu

    def add_at(self, at: QPointF, type_name: str | None = None) -> str | None:
        """A layer, not connected, centred at `at` (the quick insert box asks which)."""
        type_name = type_name or self.ask_layer_type()
        if type_name is None:
            return None
        pos = (at.x() - style.NODE_WIDTH / 2, at.y() - style.NODE_HEIGHT / 2)
        try:
            return self.window.canvas.add_layer(type_name, pos)
        except (GraphError, ParamError) as error:
            self.window.say(f"Not added: {error}")
            return None

    def ask_layer_type(self) -> str | None:
        dialog = QuickInsert(self.window, self.document.arch.catalog)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            return dialog.chosen()
        return None
