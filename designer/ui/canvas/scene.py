"""The scene follows the Document: one NodeItem per node, one EdgeItem per edge.

It listens to the Document's signals. Items read the engine's results when they paint, so
an analysis change only repaints the changed items that are on screen; structural edits
add and remove items. Edge items are indexed by the node they leave and the node they
enter, so rewiring a node costs its own edges, not a scan of every edge in the design.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QGraphicsSceneHelpEvent, QToolTip

from designer.core.graph import Change, ChangeKind, EdgeRecord
from designer.core.receptive import fmt
from designer.ui import style
from designer.ui.canvas.items import EdgeItem, NodeItem
from designer.ui.document import Document

OVERLAYS = ("params", "macs", "memory", "receptive field")


class DesignScene(QGraphicsScene):
    message = Signal(str)

    def __init__(self, document: Document) -> None:
        super().__init__()
        self.document = document
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[EdgeRecord, EdgeItem] = {}
        self._edges_from: dict[str, dict[EdgeRecord, EdgeItem]] = {}  # by source node
        self._edges_into: dict[str, dict[EdgeRecord, EdgeItem]] = {}  # by target node
        self.overlay: str | None = None
        self._shifted: set[str] = set()  # nodes whose items moved since moved_nodes last looked
        self._syncing_selection = False
        self._followed: Document | None = None
        self.selectionChanged.connect(self._selection_to_document)
        self.set_document(document)

    def set_document(self, document: Document) -> None:
        if self._followed is not None:
            for signal, slot in self._connections(self._followed):
                signal.disconnect(slot)
        self.document = self._followed = document
        for signal, slot in self._connections(document):
            signal.connect(slot)
        self.rebuild()

    def _connections(self, document: Document) -> list:
        return [
            (document.graph_changed, self._on_graph_changed),
            (document.analysis_changed, self._on_analysis_changed),
            (document.selection_changed, self._selection_from_document),
        ]

    def rebuild(self) -> None:
        """All items anew."""
        self.clear()
        self.nodes.clear()
        self.edges.clear()
        self._edges_from.clear()
        self._edges_into.clear()
        self._shifted.clear()
        arch = self.document.arch
        for node in arch.nodes():
            self._add_node(node.id)
        for edge in arch.edges():
            self._add_edge(edge)
        self.setSceneRect(self.itemsBoundingRect().adjusted(-400, -400, 400, 400))

    # following the document -----------------------------------------------------------------

    def _on_graph_changed(self, change: Change) -> None:
        arch = self.document.arch
        if change.kind is ChangeKind.COSMETIC:
            for node_id in change.nodes:
                item = self.nodes.get(node_id)
                if item is None or node_id not in arch:
                    continue
                node = arch.node(node_id)
                if node.pos is not None and item.pos() != QPointF(*node.pos):
                    item.setPos(*node.pos)
                item.set_label(node.name or node_id)
            return
        if change.kind is ChangeKind.PARAMS:  # params can change the number of output slots
            for node_id in change.nodes:
                if node_id in arch and node_id in self.nodes:
                    self._update_ports(node_id)
            return
        if change.kind is not ChangeKind.STRUCTURE:
            return
        for node_id in change.nodes:
            if node_id in arch and node_id not in self.nodes:
                self._add_node(node_id)
            elif node_id not in arch and node_id in self.nodes:
                self.removeItem(self.nodes.pop(node_id))
        stale = {edge for node_id in change.nodes for edge in self._edges_at(node_id)}
        for edge in stale:
            self._remove_edge(edge)
        for node_id in change.nodes:
            if node_id in arch:
                for edge in arch.edges_of(node_id):
                    if edge not in self.edges:
                        self._add_edge(edge)
                self._update_ports(node_id)

    def _on_analysis_changed(self, node_ids: set[str]) -> None:
        """Repaint the shown nodes whose results changed, and the edges leaving them.

        Items read their result when painting, so items off screen need nothing: Qt
        paints them when they are scrolled into view. An edit that changes thousands of
        results costs a look at the few dozen items on screen. One query of the scene's
        index says which those are."""
        shown: set[QGraphicsItem] = set()
        for view in self.views():
            area = view.mapToScene(view.viewport().rect()).boundingRect()
            shown.update(self.items(area, Qt.ItemSelectionMode.IntersectsItemBoundingRect))
        for item in shown:
            if isinstance(item, NodeItem):
                if item.node_id in node_ids:
                    item.update()
            elif isinstance(item, EdgeItem) and item.source.node_id in node_ids:
                item.update()
        if self.overlay is not None:
            self.set_overlay(self.overlay)

    def helpEvent(self, event: QGraphicsSceneHelpEvent) -> None:
        """A node's tooltip, written when asked for: an edit that changes thousands of
        results then writes no tooltips at all."""
        for item in self.items(event.scenePos()):
            node = item if isinstance(item, NodeItem) else item.parentItem()
            if isinstance(node, NodeItem):
                QToolTip.showText(event.screenPos(), node.tooltip(), event.widget())
                event.accept()
                return
        QToolTip.hideText()
        event.ignore()

    # items --------------------------------------------------------------------------------

    def _add_node(self, node_id: str) -> None:
        arch = self.document.arch
        node = arch.node(node_id)
        spec = arch.spec(node_id)
        item = NodeItem(node_id, node.type, spec.category, self.document.engine.results)
        item.set_label(node.name or node_id)
        self.addItem(item)
        self.nodes[node_id] = item
        if node.pos is not None:
            item.setPos(*node.pos)
        self._update_ports(node_id)

    def _update_ports(self, node_id: str) -> None:
        """Input ports as the layer takes them (one free port more where it takes any
        number), and one output port per output slot, named; a slot the layer no longer
        has keeps its port while an edge reads it."""
        arch = self.document.arch
        spec = arch.spec(node_id)
        edges = arch.edges_of(node_id)
        fewest, most = spec.inputs
        connected = sum(1 for e in edges if e.target == node_id)
        count = most if most is not None else max(fewest, connected + 1)
        names = spec.output_names(arch.params_of(node_id))
        read = max((e.output for e in edges if e.source == node_id), default=0)
        missing = max(0, read + 1 - len(names))
        names += tuple(f"output {i}" for i in range(len(names), len(names) + missing))
        item = self.nodes[node_id]
        item.set_ports(count, names, missing)
        for edge in self._edges_at(node_id):
            self.edges[edge].update_path()

    def _add_edge(self, edge: EdgeRecord) -> None:
        item = EdgeItem(self.nodes[edge.source], self.nodes[edge.target], edge.port, edge.output)
        self.addItem(item)
        self.edges[edge] = item
        self._edges_from.setdefault(edge.source, {})[edge] = item
        self._edges_into.setdefault(edge.target, {})[edge] = item

    def _remove_edge(self, edge: EdgeRecord) -> None:
        self.removeItem(self.edges.pop(edge))
        for index, node_id in ((self._edges_from, edge.source), (self._edges_into, edge.target)):
            at = index[node_id]
            del at[edge]
            if not at:
                del index[node_id]

    def _edges_at(self, node_id: str) -> list[EdgeRecord]:
        """The edge items' records leaving or entering a node."""
        return [*self._edges_from.get(node_id, ()), *self._edges_into.get(node_id, ())]

    def node_moved(self, item: NodeItem) -> None:
        """Keep the edges of a node that is being dragged attached to it."""
        self._shifted.add(item.node_id)
        for edge in self._edges_at(item.node_id):
            self.edges[edge].update_path()

    def moved_nodes(self) -> dict[str, tuple[float, float]]:
        """Nodes whose item no longer sits where the design says: dragged, not yet saved.
        Only items that moved since the last call are looked at."""
        arch = self.document.arch
        moved = {}
        for node_id in self._shifted:
            item = self.nodes.get(node_id)
            if item is None or node_id not in arch:
                continue
            pos = (round(item.pos().x(), 2), round(item.pos().y(), 2))
            if arch.node(node_id).pos != pos:
                moved[node_id] = pos
        self._shifted.clear()
        return moved

    # selection ----------------------------------------------------------------------------

    def _selection_to_document(self) -> None:
        if self._syncing_selection:
            return
        selected = [item.node_id for item in self.selectedItems() if isinstance(item, NodeItem)]
        self._syncing_selection = True
        self.document.select(selected)
        self._syncing_selection = False

    def _selection_from_document(self, node_ids: list[str]) -> None:
        if self._syncing_selection:
            return
        self._syncing_selection = True
        wanted = set(node_ids)
        for node_id, item in self.nodes.items():
            item.setSelected(node_id in wanted)
        self._syncing_selection = False

    # statistic overlay --------------------------------------------------------------------

    def set_overlay(self, kind: str | None) -> None:
        """Show one statistic on every node with a bar scaled to the largest."""
        self.overlay = kind
        values: dict[str, tuple[float, str]] = {}
        if kind is not None:
            for node_id, result in self.document.engine.results.items():
                values[node_id] = _statistic(kind, result)
        largest = max((v for v, _ in values.values()), default=0) or 1
        for node_id, item in self.nodes.items():
            if kind is None or node_id not in values:
                item.overlay = None
            else:
                value, text = values[node_id]
                item.overlay = (text, value / largest)
            item.update()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, style.BACKGROUND)
        step = 40
        painter.setPen(style.GRID)
        left = int(rect.left()) - int(rect.left()) % step
        top = int(rect.top()) - int(rect.top()) % step
        for x in range(left, int(rect.right()), step):
            painter.drawLine(x, int(rect.top()), x, int(rect.bottom()))
        for y in range(top, int(rect.bottom()), step):
            painter.drawLine(int(rect.left()), y, int(rect.right()), y)


def _statistic(kind: str, result) -> tuple[float, str]:
    if kind == "params":
        return result.params, f"{result.params:,} params" if result.params else ""
    if kind == "macs":
        return result.macs, f"{result.macs:,} MACs" if result.macs else ""
    if kind == "memory":
        return result.memory, f"{result.memory / 1024:,.1f} KiB"
    fields = result.fields
    if not fields:
        return 0, ""
    return max(f.size for f in fields), "RF " + " × ".join(fmt(f.size) for f in fields)
