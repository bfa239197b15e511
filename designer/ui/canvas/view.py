"""The canvas view: drops from the palette, wiring by dragging port to port, zoom and pan,
and the keys: arrows nudge the selected nodes, Escape clears the selection, Tab inserts.

Each gesture ends in one Document edit; a refused edit (a cycle, a taken port) leaves the
design as it was and says why through `message`.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QPainterPath, QPen, QWheelEvent
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsView

from designer.core.edits import AddNode, Compound, Connect, Move
from designer.core.graph import EdgeRecord, GraphError, NodeRecord
from designer.core.params import ParamError
from designer.ui import style
from designer.ui.canvas.edge_item import EdgeItem
from designer.ui.canvas.node_item import NodeItem
from designer.ui.canvas.ports import PortItem
from designer.ui.canvas.scene import DesignScene
from designer.ui.document import describe
from designer.ui.editing import boxes, clear_spot, splice
from designer.ui.examples import shipped_blocks

LAYER_MIME = "application/x-nn-designer-layer"
MIN_ZOOM, MAX_ZOOM = 0.1, 4.0
READABLE_ZOOM = 0.6
NUDGE = 10.0  # pixels an arrow key moves the selected nodes; with Shift, five times as far
ARROWS = {
    Qt.Key.Key_Left: (-1, 0),
    Qt.Key.Key_Right: (1, 0),
    Qt.Key.Key_Up: (0, -1),
    Qt.Key.Key_Down: (0, 1),
}


class CanvasView(QGraphicsView):
    message = Signal(str)
    quick_insert_requested = Signal()
    node_opened = Signal(str)  # a node double-clicked: a block instance opens

    def __init__(self, scene: DesignScene) -> None:
        super().__init__(scene)
        self.setObjectName("canvas")
        self.setAcceptDrops(True)
        self.setRenderHint(self.renderHints().Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)  # the grid, drawn once
        self._wire: tuple[PortItem, QGraphicsPathItem] | None = None
        self._pan_from: QPointF | None = None

    @property
    def design_scene(self) -> DesignScene:
        return self.scene()

    # drops --------------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(LAYER_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        if not event.mimeData().hasFormat(LAYER_MIME):
            event.ignore()
            return
        type_name = bytes(event.mimeData().data(LAYER_MIME)).decode("utf-8")
        document = self.design_scene.document
        if type_name not in document.arch.catalog and type_name not in shipped_blocks():
            self.message.emit(f"Unknown layer type {type_name!r}")
            return
        point = event.position().toPoint()
        at = self.mapToScene(point)
        pos = (at.x() - style.NODE_WIDTH / 2, at.y() - style.NODE_HEIGHT / 2)
        edge = next((i for i in self.items(point) if isinstance(i, EdgeItem)), None)
        try:
            with document.bringing_block(type_name):  # one from the block library: its blocks
                if edge is not None and self._takes_input(type_name):
                    self.splice_layer(type_name, pos, edge)
                else:
                    self.add_layer(type_name, pos)
        except (GraphError, ParamError) as error:
            self.message.emit(f"Not added: {error}")
            return
        except Exception as error:  # noqa: BLE001 (a bug somewhere: said, not raised out of a slot)
            self.message.emit(f"Not added: {describe(error)}")
            return
        event.acceptProposedAction()

    def _takes_input(self, type_name: str) -> bool:
        return self.design_scene.document.arch.spec_of(type_name).inputs[1] != 0

    def splice_layer(self, type_name: str, pos: tuple[float, float], item: EdgeItem) -> str:
        """A layer dropped on a connection goes into it: source → new layer → target, one
        undo step, placed where it was dropped or, where nodes are in the way, beside
        them; returns its id."""
        document = self.design_scene.document
        node_id = document.new_node_id(type_name)
        spec = document.arch.spec_of(type_name)
        at = clear_spot(*pos, boxes(document.arch), self.design_scene.horizontal)
        record = NodeRecord(node_id, type_name, spec.starting_params(), pos=at)
        edge = EdgeRecord(item.source.node_id, item.target.node_id, item.port, item.output)
        document.push(splice(document.arch, edge, record))
        document.select([node_id])
        return node_id

    def add_layer(self, type_name: str, pos: tuple[float, float], after: str | None = None) -> str:
        """Add a layer (and connect it after `after`) as one undo step; returns its id."""
        document = self.design_scene.document
        node_id = document.new_node_id(type_name)
        spec = document.arch.spec_of(type_name)
        record = NodeRecord(
            node_id, type_name, spec.starting_params(), pos=(round(pos[0], 2), round(pos[1], 2))
        )
        parts = [AddNode(record)]
        if after is not None and spec.inputs[1] != 0:
            parts.append(Connect(after, node_id))
        document.push(Compound(parts, f"Add {type_name}"))
        document.select([node_id])
        return node_id

    # wiring, panning, moving ----------------------------------------------------------------

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_from = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        item = self._port_or_item(event.position().toPoint())
        if (
            event.button() == Qt.MouseButton.LeftButton
            and isinstance(item, PortItem)
            and item.is_output
        ):
            wire = QGraphicsPathItem()
            wire.setPen(QPen(style.SELECTED, 2, Qt.PenStyle.DashLine))
            self.scene().addItem(wire)
            self._wire = (item, wire)
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        item = self._port_or_item(event.position().toPoint())
        if isinstance(item, NodeItem) and event.button() == Qt.MouseButton.LeftButton:
            self.node_opened.emit(item.node_id)
            return
        super().mouseDoubleClickEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            return
        if self._wire is not None:
            port, wire = self._wire
            start = port.scenePos()
            end = self.mapToScene(event.position().toPoint())
            path = QPainterPath(start)
            bend = QPointF(60, 0) if self.design_scene.horizontal else QPointF(0, 60)
            path.cubicTo(start + bend, end - bend, end)
            wire.setPath(path)
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.unsetCursor()
            return
        if self._wire is not None:
            port, wire = self._wire
            self._wire = None
            self.scene().removeItem(wire)
            at = event.position().toPoint()
            self._finish_wire(port, self.items(at), self.mapToScene(at))
            return
        super().mouseReleaseEvent(event)
        self._commit_moves()

    def _port_or_item(self, at: QPoint) -> object:
        """The item under a point of the viewport; over a node's port, the port (a node
        makes its port items when first asked)."""
        item = self.itemAt(at)
        if isinstance(item, NodeItem):
            port = item.port_at(self.mapToScene(at))
            if port is not None:
                return port
        return item

    def _finish_wire(self, start: PortItem, under: list, at: QPointF | None = None) -> None:
        if at is not None:
            for item in under:
                if isinstance(item, NodeItem):
                    port = item.port_at(at)
                    if port is not None and port not in under:
                        under = [port, *under]
                    break
        target_port = next((i for i in under if isinstance(i, PortItem) and not i.is_output), None)
        target_node = (
            target_port.node
            if target_port
            else next((i for i in under if isinstance(i, NodeItem)), None)
        )
        if target_node is None or target_node is start.node:
            return  # nowhere, or back onto its own node: a click on a port, not a wire
        port = target_port.index if target_port else None
        edit = Connect(start.node.node_id, target_node.node_id, port, output=start.index)
        try:
            self.design_scene.document.push(edit)
        except (GraphError, ParamError) as error:
            self.message.emit(f"Not connected: {error}")

    def _commit_moves(self) -> None:
        """Dragged nodes become one Move step (several nodes dragged together: one step)."""
        moved = self.design_scene.moved_nodes()
        if moved:
            edits = [Move(node_id, pos) for node_id, pos in moved.items()]
            try:
                self.design_scene.document.push(
                    Compound(edits, "Move" if len(edits) > 1 else edits[0].text)
                )
            except (GraphError, ParamError) as error:
                self.message.emit(f"Not moved: {error}")

    # zoom ---------------------------------------------------------------------------------

    def wheelEvent(self, event: QWheelEvent) -> None:
        """The wheel scrolls (Shift+wheel sideways); Ctrl+wheel zooms under the mouse, as
        in other design tools."""
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() or event.angleDelta().x()
            if steps:
                self.zoom(1.15 if steps > 0 else 1 / 1.15)
            event.accept()
            return
        super().wheelEvent(event)

    def zoom(self, factor: float) -> None:
        current = self.transform().m11()
        factor = max(MIN_ZOOM / current, min(MAX_ZOOM / current, factor))
        self.scale(factor, factor)

    def fit(self, whole: bool = False) -> None:
        """The design in view. `whole` (View ▸ Fit to View) shows all of it, as small as
        it takes (down to the least zoom); otherwise (opening a file) never so small that
        it cannot be read: a long network is shown from its start (its top, or its left
        where it runs left to right) at a readable size."""
        design = self.design_scene.design_rect()
        if design.isNull():
            return
        rect = design.adjusted(-40, -40, 40, 40)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        scale = self.transform().m11()
        least = MIN_ZOOM if whole else READABLE_ZOOM
        if scale > 1.25:
            self.zoom(1.25 / scale)
        elif scale < least:  # shown from where the network starts: its top, or its left
            self.zoom(least / scale)
            if self.design_scene.horizontal:
                self.centerOn(rect.left() + self.viewport().width() / least / 2, rect.center().y())
            else:
                self.centerOn(rect.center().x(), rect.top() + self.viewport().height() / least / 2)

    def centre_on(self, node_id: str) -> None:
        item = self.design_scene.nodes.get(node_id)
        if item is not None:
            self.centerOn(item)

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key == Qt.Key.Key_Tab:
            self.quick_insert_requested.emit()
            return
        if key in ARROWS and self._nudge(*ARROWS[key], event.modifiers()):
            return
        if key == Qt.Key.Key_Escape and self.design_scene.selectedItems():
            self.design_scene.clearSelection()
            return
        super().keyPressEvent(event)  # arrows with nothing selected scroll the view

    def _nudge(self, right: int, down: int, modifiers: Qt.KeyboardModifier) -> bool:
        """The selected nodes moved a step by an arrow key (one undo step); False where
        none is selected, so the key scrolls the view instead."""
        document = self.design_scene.document
        placed = {n: document.arch.node(n).pos for n in document.selected()}
        placed = {n: pos for n, pos in placed.items() if pos is not None}
        if not placed:
            return False
        step = NUDGE * (5 if modifiers & Qt.KeyboardModifier.ShiftModifier else 1)
        moves = [Move(n, (x + right * step, y + down * step)) for n, (x, y) in placed.items()]
        try:
            document.push(Compound(moves, "Nudge"))
        except (GraphError, ParamError) as error:
            self.message.emit(f"Not moved: {error}")
        item = self.design_scene.nodes.get(next(iter(placed)))
        if item is not None:
            self.ensureVisible(item, 20, 20)  # the view follows what the keys move
        return True

    def focusNextPrevChild(self, next: bool) -> bool:
        return False  # Tab opens quick insert instead of moving the focus
