"""The scene follows the Document: one NodeItem per node, one EdgeItem per edge.

It listens to the Document's signals. Items read the engine's results when they paint, so
an analysis change only repaints the changed items that are on screen; structural edits
add and remove items. Edge items are indexed by the node they leave and the node they
enter, so rewiring a node costs its own edges, not a scan of every edge in the design.

Opening a design builds every item in one pass over the graph (no per-node queries of
the Architecture), sets each item's place before it joins the scene, and works out the
scene's extent from the positions rather than asking every item for its bounds. Nodes
are shown within ±style.FARTHEST of the origin whatever the design says (see
`style.placed`), and the scene grows to take in nodes that move or arrive beyond it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsScene,
    QGraphicsSceneHelpEvent,
    QGraphicsSceneMouseEvent,
    QToolTip,
)

from designer.core.graph import Change, ChangeKind, EdgeRecord
from designer.ui import style
from designer.ui.canvas.edge_item import EdgeItem, label_rank
from designer.ui.canvas.node_grid import NodeGrid
from designer.ui.canvas.node_item import NodeItem
from designer.ui.canvas.node_text import overlay_statistic, type_text
from designer.ui.canvas.ports import with_result_slots
from designer.ui.document import Document
from designer.ui.style import placed

OVERLAYS = ("params", "macs", "memory", "receptive field")
_FEW = 64  # nodes settled at once, above which their edges ask a grid of places (`settle`)
MARGIN = 400.0  # room around the design to scroll into


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
        self.clean = False  # drawing a picture: no selection, ports, grid or marks
        self.horizontal = False  # the graph runs left to right: ports on the sides
        self._solo: NodeItem | None = None  # the one node selected: it shows its card
        self._settle_nodes: set[str] = set()  # nodes moved or added: their edges re-route
        self._left: list[QRectF] = []  # where moved nodes were: detours round them re-route
        self._grid: NodeGrid | None = None  # while many edges are placed
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(0)
        self._settle.timeout.connect(self.settle)
        self.selectionChanged.connect(self._selection_to_document)
        self.selectionChanged.connect(self._show_solo_card)
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
        """All items anew, in one pass over the graph."""
        self._solo = None
        self._syncing_selection = True  # the document keeps its selection
        self.clearSelection()  # now, while the items are whole: clear() says so half way
        self._syncing_selection = False
        self.clear()
        self.nodes.clear()
        self.edges.clear()
        self._edges_from.clear()
        self._edges_into.clear()
        self._shifted.clear()
        self._settle_nodes.clear()
        self._left.clear()
        self._solo = None
        arch = self.document.arch
        graph = arch.graph
        catalog = arch.catalog
        results = self.document.results
        edges: list[EdgeRecord] = []
        connected: dict[str, int] = {}  # inputs wired, by node
        read: dict[str, int] = {}  # the highest output slot an edge reads, by node
        for source, target, port, data in graph.edges(keys=True, data=True):
            output = data.get("output", 0)
            edges.append(EdgeRecord(source, target, port, output))
            connected[target] = connected.get(target, 0) + 1
            if output > read.get(source, 0):
                read[source] = output
        names_of: dict[tuple[str, str], tuple[str, ...]] = {}  # by (type, signature)
        add, nodes = self.addItem, self.nodes
        xs: list[float] = []
        ys: list[float] = []
        where: dict[str, tuple[float, float]] = {}
        for node_id, data in sorted(graph.nodes(data=True), key=lambda item: item[1]["seq"]):
            type_name = data["type"]
            spec = catalog[type_name]
            fewest, most = spec.inputs
            count = most if most is not None else max(fewest, connected.get(node_id, 0) + 1)
            key = (type_name, data.get("signature") or repr(sorted(data["params"].items())))
            names = names_of.get(key)
            if names is None:
                names = names_of[key] = tuple(spec.output_names(data["params"]))
            names = with_result_slots(names, results.get(node_id))
            missing = max(0, read.get(node_id, -1) + 1 - len(names))
            if missing:
                names += tuple(f"output {i}" for i in range(len(names), len(names) + missing))
            item = NodeItem(
                node_id,
                type_text(type_name, data["params"]),
                spec.category,
                results,
                data["name"] or node_id,
                count,
                names,
                missing,
            )
            if spec.ports:
                item.set_ports(count, names, missing, spec.ports)
            if self.horizontal:
                item.set_horizontal(True)
            if data.get("shares") is not None:
                item.shares = data["shares"]
            pos = data["pos"]
            if pos is not None:
                x, y = placed(pos)
                item.setPos(x, y)
                xs.append(x)
                ys.append(y)
                where[node_id] = (x, y)
            add(item)
            nodes[node_id] = item
        for node_id, item in nodes.items():
            if item.shares is not None and item.shares in nodes:
                holder = nodes[item.shares]
                holder.shared_by = (*holder.shared_by, node_id)
        origin = (0.0, 0.0)
        with self._nodes_by_cell():
            for edge in edges:
                source, target = nodes[edge.source], nodes[edge.target]
                sx, sy = where.get(edge.source, origin)
                tx, ty = where.get(edge.target, origin)
                ox, oy = source.output_offset(edge.output)
                ix, iy = target.input_offset(edge.port)
                self._add_edge(edge, (sx + ox, sy + oy, tx + ix, ty + iy), label=False)
        for node_id, leaving in self._edges_from.items():
            if len(leaving) > 1:  # one edge carries its label as it is made
                self._label_slots(node_id)
        self.setSceneRect(self._extent(xs, ys))

    @contextmanager
    def _nodes_by_cell(self) -> Iterator[None]:
        """While many edges are placed at once, `nodes_in` asks a grid of the nodes'
        places (`NodeGrid`), not the scene's index."""
        self._grid = NodeGrid(self.nodes.values())
        try:
            yield
        finally:
            self._grid = None

    def nodes_in(self, left: float, top: float, right: float, bottom: float) -> list[NodeItem]:
        """The nodes whose bodies (with their slot names' strip) meet a box."""
        if self._grid is not None:
            return self._grid.nodes_in(left, top, right, bottom)
        band = QRectF(left, top, right - left, bottom - top)
        found = self.items(band, Qt.ItemSelectionMode.IntersectsItemBoundingRect)
        return [item for item in found if isinstance(item, NodeItem)]

    @staticmethod
    def _extent(xs: list[float], ys: list[float]) -> QRectF:
        """The nodes at these positions (and the origin, where unplaced nodes sit), with
        room around them."""
        left, right = min(xs, default=0.0), max(xs, default=0.0)
        top, bottom = min(ys, default=0.0), max(ys, default=0.0)
        left, top = min(left, 0.0), min(top, 0.0)
        right = max(right, 0.0) + style.NODE_WIDTH
        bottom = max(bottom, 0.0) + style.NODE_HEIGHT + style.PORT_LABEL_STRIP
        return QRectF(left, top, right - left, bottom - top).adjusted(
            -MARGIN, -MARGIN, MARGIN, MARGIN
        )

    def design_rect(self) -> QRectF:
        """The box around every node (null for an empty design), from the nodes' places:
        asking 100,000 items for their bounds takes a second."""
        if not self.nodes:
            return QRectF()
        xs, ys = [], []
        for item in self.nodes.values():
            at = item.pos()
            xs.append(at.x())
            ys.append(at.y())
        tallest = max(item.height for item in self.nodes.values())
        return QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)).adjusted(
            -2, -12, style.NODE_WIDTH + 2, tallest + 12
        )

    def _take_in(self, item: NodeItem) -> None:
        """Grow the scene to hold a node that moved or arrived beyond it."""
        rect = self.sceneRect()
        box = item.sceneBoundingRect()
        if not rect.contains(box):
            self.setSceneRect(rect.united(box.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)))

    # following the document -----------------------------------------------------------------

    def _on_graph_changed(self, change: Change) -> None:
        arch = self.document.arch
        if change.kind is ChangeKind.COSMETIC:
            data_of = arch.graph.nodes
            many = len(change.nodes) > _FEW  # (an arrangement: edges placed once, below)
            for node_id in change.nodes:
                item = self.nodes.get(node_id)
                if item is None or node_id not in arch:
                    continue
                data = data_of[node_id]
                if data["pos"] is not None:
                    at = QPointF(*placed(data["pos"]))
                    if item.pos() != at:
                        self._left.append(item.sceneBoundingRect())
                        item.setPos(at)
                        self._take_in(item)
                        if not many:  # a plain curve now; routed round nodes in the
                            self._follow_node(node_id, route=False)  # way once all that
                        self._settle_later(node_id)  # move have moved
                item.set_label(data["name"] or node_id)
            if many:
                self.settle()
            return
        if change.kind is ChangeKind.PARAMS:  # params can change the number of output slots
            for node_id in change.nodes:
                if node_id in arch and node_id in self.nodes:
                    self._update_ports(node_id)
                    node = arch.graph.nodes[node_id]
                    self.nodes[node_id].set_type_text(type_text(node["type"], node["params"]))
            return
        if change.kind is not ChangeKind.STRUCTURE:
            return
        for node_id in change.nodes:
            if node_id in arch and node_id not in self.nodes:
                self._add_node(node_id)
                self._settle_later(node_id)
            elif node_id not in arch and node_id in self.nodes:
                gone = self.nodes.pop(node_id)
                if gone is self._solo:
                    self._solo = None
                if gone.shares in self.nodes:
                    holder = self.nodes[gone.shares]
                    holder.shared_by = tuple(n for n in holder.shared_by if n != node_id)
                self.removeItem(gone)
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
        """Repaint the shown nodes whose results changed, and the edges leaving them; a
        node whose number of output slots follows its input (Split by a size, Chunk) gets
        its ports again.

        Items read their result when painting, so items off screen need nothing: Qt
        paints them when they are scrolled into view. An edit that changes thousands of
        results costs a look at the few dozen items on screen. One query of the scene's
        index says which those are."""
        results = self.document.results
        for node_id in node_ids:
            item, result = self.nodes.get(node_id), results.get(node_id)
            if item is None or result is None or result.output is None:
                continue
            if len(result.outputs) != item.output_count:
                self._update_ports(node_id)
        shown: set[QGraphicsItem] = set()
        for view in self.views():
            if view.property("overview"):  # the minimap shows everything: it repaints itself
                continue
            area = view.mapToScene(view.viewport().rect()).boundingRect()
            shown.update(self.items(area, Qt.ItemSelectionMode.IntersectsItemBoundingRect))
        for item in shown:
            if isinstance(item, NodeItem):
                if item.node_id in node_ids:
                    item.update()
                    item.refresh_card()
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
        item = NodeItem(
            node_id,
            type_text(node.type, node.params),
            spec.category,
            self.document.results,
            node.name or node_id,
        )
        if self.horizontal:
            item.set_horizontal(True)
        item.shares = node.shares if node.shares in self.nodes else None
        if item.shares is not None:
            holder = self.nodes[item.shares]
            holder.shared_by = (*holder.shared_by, node_id)
        item.shared_by = tuple(n for n in arch.sharers(node_id) if n in self.nodes)
        if node.pos is not None:
            item.setPos(*placed(node.pos))
        self.addItem(item)
        self.nodes[node_id] = item
        self._take_in(item)
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
        names = with_result_slots(
            spec.output_names(arch.params_of(node_id)), self.document.results.get(node_id)
        )
        # the highest slot an edge reads (-1: none does)
        read = max((e.output for e in edges if e.source == node_id), default=-1)
        missing = max(0, read + 1 - len(names))
        names += tuple(f"output {i}" for i in range(len(names), len(names) + missing))
        item = self.nodes[node_id]
        item.set_ports(count, names, missing, spec.ports)
        for edge in self._edges_at(node_id):
            self.edges[edge].update_path()

    def _add_edge(
        self,
        edge: EdgeRecord,
        ends: tuple[float, float, float, float] | None = None,
        label: bool = True,
    ) -> None:
        item = EdgeItem(
            self.nodes[edge.source], self.nodes[edge.target], edge.port, edge.output, ends
        )
        self.addItem(item)
        self.edges[edge] = item
        self._edges_from.setdefault(edge.source, {})[edge] = item
        self._edges_into.setdefault(edge.target, {})[edge] = item
        if label:
            self._label_slots(edge.source)

    def _remove_edge(self, edge: EdgeRecord) -> None:
        self.removeItem(self.edges.pop(edge))
        for index, node_id in ((self._edges_from, edge.source), (self._edges_into, edge.target)):
            at = index[node_id]
            del at[edge]
            if not at:
                del index[node_id]
        self._label_slots(edge.source)

    def _label_slots(self, node_id: str) -> None:
        """One label per output slot of a node: every edge leaving a slot carries the same
        tensor, and their labels would lie on each other at the port. The label goes on an
        edge that runs straight on where there is one (a detour turns away beside it)."""
        leaving = self._edges_from.get(node_id)
        if not leaving:
            return
        if len(leaving) == 1:
            for item in leaving.values():
                item.set_label_shown(True)
            return
        chosen: dict[int, EdgeItem] = {}
        away: set[int] = set()  # slots with a detour that turns to the label's side
        for item in leaving.values():
            best = chosen.get(item.output)
            if best is None or label_rank(item) < label_rank(best):
                chosen[item.output] = item
            if item.bypass is not None and item.bypass > item.source.output_anchor(item.output).x():
                away.add(item.output)
        for item in leaving.values():
            item.set_label_shown(chosen[item.output] is item, item.output in away)

    def _settle_later(self, node_id: str) -> None:
        self._settle_nodes.add(node_id)
        self._settle.start()

    def settle(self) -> None:
        """Re-route the edges of nodes that moved or arrived, once they all have: an edge
        placed while a whole arrangement moves node by node looked at a half-moved graph.
        The timer calls it after the event that moved them; tests may call it."""
        self._settle.stop()
        nodes, self._settle_nodes = self._settle_nodes, set()
        sources = set()
        with self._nodes_by_cell() if len(nodes) > _FEW else nullcontext():
            for node_id in nodes:
                for edge in self._edges_at(node_id):
                    self.edges[edge].update_path()
                    sources.add(edge.source)
        left, self._left = self._left, []
        if len(nodes) <= _FEW:  # an edge that ran where one of them now lies goes round it,
            for item in self._edges_under(nodes) | self._detours_at(left):  # one that went
                item.update_path()  # round where one was may run straight again
                sources.add(item.source.node_id)
        for node_id in sources:
            self._label_slots(node_id)

    @contextmanager
    def picture(self) -> Iterator[None]:
        """While a picture is drawn: no selection, no ports, no card, no grid and no
        warning dots (a picture has no tooltip to explain them)."""
        expanded = [item for item in self.nodes.values() if item.expanded]
        for item in expanded:
            item.clear_card()
        self.clean = True
        try:
            yield
        finally:
            self.clean = False
            if self._solo is not None and self.nodes.get(self._solo.node_id) is self._solo:
                self._solo.set_expanded(True)

    def set_horizontal(self, horizontal: bool) -> None:
        """Ports on the sides of nodes (the graph runs left to right) or on their top and
        bottom; every edge follows."""
        if horizontal == self.horizontal:
            return
        self.horizontal = horizontal
        for item in self.nodes.values():
            item.set_horizontal(horizontal)
        with self._nodes_by_cell():
            for item in self.edges.values():
                item.update_path()
        for node_id in self._edges_from:
            self._label_slots(node_id)

    def _edges_under(self, node_ids: set[str]) -> set[EdgeItem]:
        """The edge items of other nodes that run under these nodes (Qt's index, by shape)."""
        found = set()
        for node_id in node_ids:
            node = self.nodes.get(node_id)
            if node is None:
                continue
            for item in self.items(node.sceneBoundingRect()):
                if isinstance(item, EdgeItem) and node not in (item.source, item.target):
                    found.add(item)
        return found

    def _detours_at(self, places: list[QRectF]) -> set[EdgeItem]:
        """The edge items that bend round any of these places (so their bounds, not their
        lines, hold it)."""
        near = Qt.ItemSelectionMode.IntersectsItemBoundingRect
        return {
            item
            for place in places
            for item in self.items(place, near)
            if isinstance(item, EdgeItem) and item.bypass is not None
        }

    def _edges_at(self, node_id: str) -> list[EdgeRecord]:
        """The edge items' records leaving or entering a node."""
        return [*self._edges_from.get(node_id, ()), *self._edges_into.get(node_id, ())]

    def _follow_node(self, node_id: str, route: bool = True) -> None:
        """The edges of a node that moved, to its new place (round nodes in their way
        where `route`)."""
        sources = set()
        for edge in self._edges_at(node_id):
            self.edges[edge].update_path(route)
            sources.add(edge.source)
        for source in sources:
            self._label_slots(source)

    def node_moved(self, item: NodeItem) -> None:
        """Keep the edges of a node that is being dragged attached to it."""
        self._shifted.add(item.node_id)
        self._follow_node(item.node_id)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        """Qt drags the selected nodes (items say nothing of it: a Python `itemChange` on
        every item costs seconds when a large design opens); their edges follow here."""
        super().mouseMoveEvent(event)
        grabber = self.mouseGrabberItem()
        if not isinstance(grabber, NodeItem):
            return
        dragged = {grabber, *self.selectedItems()} if grabber.isSelected() else {grabber}
        for item in dragged:
            if isinstance(item, NodeItem) and item.scene() is self:
                self.node_moved(item)
                self._take_in(item)

    def moved_nodes(self) -> dict[str, tuple[float, float]]:
        """Nodes whose item no longer sits where the design says: dragged, not yet saved.
        Only items that moved since the last call are looked at. A node the design places
        beyond what the canvas shows counts as moved only when it was dragged from where
        it shows."""
        arch = self.document.arch
        data_of = arch.graph.nodes
        moved = {}
        for node_id in self._shifted:
            item = self.nodes.get(node_id)
            if item is None or node_id not in arch:
                continue
            pos = (round(item.pos().x(), 2), round(item.pos().y(), 2))
            now = data_of[node_id]["pos"]
            if now is None or (now != pos and placed(now) != (item.pos().x(), item.pos().y())):
                moved[node_id] = pos
                if now is not None:  # where it was dragged from: detours there re-route
                    self._left.append(item.boundingRect().translated(QPointF(*placed(now))))
                    self._settle_later(node_id)
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

    def _show_solo_card(self) -> None:
        """The one node selected shows its card (its text in full); none with several."""
        selected = self.selectedItems()
        solo = selected[0] if len(selected) == 1 and isinstance(selected[0], NodeItem) else None
        if solo is self._solo:
            return
        if self._solo is not None and self.nodes.get(self._solo.node_id) is self._solo:
            self._solo.set_expanded(False)
        self._solo = solo
        if solo is not None:
            solo.set_expanded(True)

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
            for node_id, result in self.document.results.items():
                values[node_id] = overlay_statistic(kind, result)
        largest = max((v for v, _ in values.values()), default=0) or 1
        for node_id, item in self.nodes.items():
            if kind is None or node_id not in values:
                item.overlay = None
            else:
                value, text = values[node_id]
                item.overlay = (text, value / largest)
            item.update()
            if item.expanded:
                item.refresh_card()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        """The grid, one line every 40 units; zoomed far out, every 80, 160, … so that a
        repaint never draws more than a few hundred lines. A picture has a plain white
        background."""
        if self.clean:
            painter.fillRect(rect, Qt.GlobalColor.white)
            return
        painter.fillRect(rect, style.BACKGROUND)
        step = 40
        while max(rect.width(), rect.height()) / step > 400:
            step *= 2
        painter.setPen(style.GRID)
        left = rect.left() - rect.left() % step
        top = rect.top() - rect.top() % step
        x = left
        while x < rect.right():
            painter.drawLine(QLineF(x, rect.top(), x, rect.bottom()))
            x += step
        y = top
        while y < rect.bottom():
            painter.drawLine(QLineF(rect.left(), y, rect.right(), y))
            y += step
