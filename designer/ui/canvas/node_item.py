"""What the canvas draws for a node: a layer, with its ports and the card that shows its
text in full (its text is written by node_text, its ports placed by ports).

Items only display; they hold no design data beyond the node id they stand for, and every
change goes back through the Document as an edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from designer.core.analysis import NodeResult
from designer.ui import style
from designer.ui.canvas.drawing import SKETCH_LOD, in_picture
from designer.ui.canvas.node_text import (
    card_text,
    fitted_lines,
    node_fonts,
    node_tooltip,
    paint_card,
)
from designer.ui.canvas.ports import (
    NAME_ROOM,
    NAME_WIDTH,
    PORT_REACH,
    PortItem,
    lay_out,
    paint_input_names,
    paint_ports,
    paint_slot_names,
    port_x,
    port_y,
)
from designer.ui.style import elide


class NodeItem(QGraphicsItem):
    """A layer: its type, name, output shape and parameters; red when it has an error,
    grey while it waits on one; with the statistic overlay, a bar for its share.

    Its ports are painted by the node itself until something needs them as items (the
    mouse comes over the node, a press lands on a port, code asks for `input_ports` or
    `output_ports`): a design of 50,000 nodes opens without making 100,000 port items.

    Top to bottom (the default) its inputs sit on the top edge and its outputs on the
    bottom one; `horizontal` (left to right) puts them on the left and right edges. Text
    that does not fit is elided, and shown in full on a card beside the node while the
    mouse is over it or it is the one node selected (`set_expanded`).
    """

    def __init__(
        self,
        node_id: str,
        type_name: str,
        category: str,
        results: Mapping[str, NodeResult],
        label: str | None = None,
        inputs: int = 0,
        outputs: tuple[str, ...] = ("output",),
        missing: int = 0,
    ) -> None:
        super().__init__()
        self.node_id = node_id
        self.type_name = type_name
        self.colour = _category_colour(category)
        self.label = elide(node_id if label is None else label)
        self._results = results  # the engine's, read when painting: the scene only repaints
        self.overlay: tuple[str, float] | None = None  # (text, fraction of the largest)
        self._elided: tuple[tuple, tuple[str, str, str, str]] | None = None  # see lines()
        self._inputs = inputs
        self._outputs = outputs
        self._missing = missing
        self._ports: tuple[list[PortItem], list[PortItem]] | None = None  # made when needed
        self.height = _height(outputs)  # taller by a strip for slot names with several outputs
        self.horizontal = False  # ports on the left and right edges: the graph runs sideways
        self.shares: str | None = None  # the node whose weights this one uses
        self.input_names: tuple[str, ...] = ()  # of ports whose roles differ (query, key…)
        self.shared_by: tuple[str, ...] = ()  # the nodes that use this one's weights
        self._hover = False
        self._solo = False  # the one node selected
        self._bounds = _node_bounds(self.height, False)
        self.setFlags(_NODE_FLAGS)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)

    _name_box = QRectF(100, 4, style.NODE_WIDTH - 106, 18)  # lines() sets each node's own

    def boundingRect(self) -> QRectF:
        """The body and the ports that stick out of its edges (and the card, while it may
        show)."""
        return self._bounds

    def shape(self) -> QPainterPath:
        """The body and the port circles (for what the mouse hits)."""
        return _node_shape(self._inputs, len(self._outputs), self.height, self.horizontal)

    def set_horizontal(self, horizontal: bool) -> None:
        """Ports on the left and right edges (True) or on the top and bottom ones."""
        if horizontal == self.horizontal:
            return
        self.prepareGeometryChange()
        self.horizontal = horizontal
        self._bounds = self._make_bounds()
        if self._ports is not None:
            self._lay_out_ports()
        self.update()

    @property
    def expanded(self) -> bool:
        """Whether the card with the node's text in full may show (hovered, or the one
        node selected)."""
        return self._hover or self._solo

    def set_expanded(self, solo: bool) -> None:
        """Whether this is the one node selected: its card then shows."""
        if solo != self._solo:
            self._set_card(lambda: setattr(self, "_solo", solo))

    def _set_card(self, change) -> None:
        self.prepareGeometryChange()
        change()
        self.setZValue(4 if self.expanded else 1)  # the card lies over its neighbours
        self._bounds = self._make_bounds()
        self.update()

    def clear_card(self) -> None:
        """No card, hovered or selected (until the selection or the mouse says again)."""
        if self.expanded:
            self._set_card(lambda: (setattr(self, "_hover", False), setattr(self, "_solo", False)))

    def refresh_card(self) -> None:
        """After the node's text changed: the card appears, goes or stays."""
        if self.expanded and self._make_bounds() != self._bounds:
            self._set_card(lambda: None)

    def _make_bounds(self) -> QRectF:
        bounds = _node_bounds(self.height, self.horizontal)
        if self.input_names:  # their names, outside the edge the inputs come in on
            if self.horizontal:
                bounds = bounds.adjusted(-NAME_WIDTH, 0, 0, 0)
            else:
                bounds = bounds.adjusted(0, -NAME_ROOM, 0, 0)
        if self.expanded and self.card_text():
            return bounds.united(self._card_box())
        return bounds

    def _card_box(self) -> QRectF:
        """Where the card goes: beside the node, away from its ports."""
        if self.horizontal:
            return QRectF(0, self.height + PORT_REACH + 4, _CARD_WIDTH, _CARD_HEIGHT)
        return QRectF(style.NODE_WIDTH + PORT_REACH + 4, 0, _CARD_WIDTH, _CARD_HEIGHT)

    def set_ports(
        self,
        inputs: int,
        outputs: tuple[str, ...] = ("output",),
        missing: int = 0,
        input_names: tuple[str, ...] = (),
    ) -> None:
        """Ports laid out along the top (inputs, in port order) and the bottom (one per
        output slot, named by `outputs`; the last `missing` of them are slots the layer does
        not have but an edge reads). With several outputs the node grows a strip at the
        bottom where the slot names are written above their ports; named inputs (query,
        key, value) have their names written just outside, beside their ports."""
        outputs = tuple(outputs)
        if input_names != self.input_names:
            self.prepareGeometryChange()
            self.input_names = input_names
            self._bounds = self._make_bounds()
            self.update()
        if (inputs, outputs, missing) == (self._inputs, self._outputs, self._missing):
            return
        height = _height(outputs)
        if height != self.height:
            self.prepareGeometryChange()
            self.height = height
            self._bounds = self._make_bounds()
        self._inputs, self._outputs, self._missing = inputs, outputs, missing
        if self._ports is not None:
            self._lay_out_ports()
        self.update()

    @property
    def output_count(self) -> int:
        """How many output ports the node has (one per slot, missing ones included)."""
        return len(self._outputs)

    @property
    def input_ports(self) -> list[PortItem]:
        return self._port_items()[0]

    @property
    def output_ports(self) -> list[PortItem]:
        return self._port_items()[1]

    @property
    def output_port(self) -> PortItem | None:
        """The first output port (slot 0)."""
        outputs = self.output_ports
        return outputs[0] if outputs else None

    def _port_items(self) -> tuple[list[PortItem], list[PortItem]]:
        if self._ports is None:
            self._ports = ([], [])
            self._lay_out_ports()
            self.update()
        return self._ports

    def _lay_out_ports(self) -> None:
        inputs, outputs = self._ports
        points = self._port_points()
        lay_out(self, inputs, self._inputs, False, points[: self._inputs])
        lay_out(self, outputs, len(self._outputs), True, points[self._inputs :])
        first_missing = len(self._outputs) - self._missing
        for index, (port, name) in enumerate(zip(outputs, self._outputs)):
            missing_slot = index >= first_missing
            if port.name != name or port.missing != missing_slot:
                port.name, port.missing = name, missing_slot
                port.update()

    def _port_points(self) -> list[tuple[float, float]]:
        """Each port's centre in the node's coordinates: inputs, then outputs."""
        count = len(self._outputs)
        if self.horizontal:
            points = [(0.0, port_y(i, self._inputs)) for i in range(self._inputs)]
            return points + [(style.NODE_WIDTH, port_y(i, count)) for i in range(count)]
        points = [(port_x(i, self._inputs), 0.0) for i in range(self._inputs)]
        return points + [(port_x(i, count), self.height) for i in range(count)]

    def port_at(self, scene_point: QPointF) -> PortItem | None:
        """The port under a point of the scene (its items made if they were not)."""
        local = self.mapFromScene(scene_point)
        reach = style.PORT_RADIUS + 3
        inputs, outputs = self._port_items()
        for port in (*inputs, *outputs):
            offset = local - port.pos()
            if offset.x() ** 2 + offset.y() ** 2 <= reach**2:
                return port
        return None

    def input_anchor(self, port: int) -> QPointF:
        """Where an edge into input `port` ends, in the scene."""
        return self.pos() + QPointF(*self.input_offset(port))

    def output_anchor(self, slot: int = 0) -> QPointF:
        """Where an edge reading output `slot` leaves the node: that slot's port."""
        return self.pos() + QPointF(*self.output_offset(slot))

    def input_offset(self, port: int) -> tuple[float, float]:
        """Input `port`'s place from the node's top left corner."""
        if self.horizontal:
            inside = 0 <= port < self._inputs
            return 0.0, port_y(port, self._inputs) if inside else style.NODE_HEIGHT / 2
        return self.input_dx(port), 0.0

    def output_offset(self, slot: int) -> tuple[float, float]:
        """Output `slot`'s port from the node's top left corner."""
        if self.horizontal:
            count = len(self._outputs)
            inside = 0 <= slot < count
            return style.NODE_WIDTH, port_y(slot, count) if inside else style.NODE_HEIGHT / 2
        return self.output_dx(slot), self.height

    def input_dx(self, port: int) -> float:
        """How far along the top edge input `port` sits."""
        return port_x(port, self._inputs) if 0 <= port < self._inputs else style.NODE_WIDTH / 2

    def output_dx(self, slot: int) -> float:
        """How far along the bottom edge output `slot` sits."""
        count = len(self._outputs)
        return port_x(slot, count) if 0 <= slot < count else style.NODE_WIDTH / 2

    @property
    def result(self) -> NodeResult | None:
        """The node's result now (None until it is analysed)."""
        return self._results.get(self.node_id)

    def set_label(self, label: str) -> None:
        """The name shown at the top right (the node id where it has no name), elided."""
        label = elide(label)
        if label != self.label:
            self.label = label
            self.update()
            self.refresh_card()

    def set_type_text(self, text: str) -> None:
        """The type as the node writes it (a repeated node's with its count, ×3)."""
        if text != self.type_name:
            self.type_name = text
            self.update()
            self.refresh_card()

    def tooltip(self) -> str:
        """The type and id (and name), the output shape and figures in full, the error or
        what it waits on, whose weights it uses, and the warnings; every line elided (an
        id can be a megabyte long)."""
        return node_tooltip(self)

    def hoverEnterEvent(self, event) -> None:
        self._port_items()  # the ports become items, to light up under the mouse
        if not self._hover:
            self._set_card(lambda: setattr(self, "_hover", True))
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event) -> None:
        if self._hover:
            self._set_card(lambda: setattr(self, "_hover", False))
        super().hoverLeaveEvent(event)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if option.levelOfDetailFromTransform(painter.worldTransform()) < SKETCH_LOD:
            _sketch_node(self, painter)  # too small to read (zoomed far out, the minimap)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        clean = in_picture(self)  # a picture: no selection, no ports, no marks it cannot explain
        rect = QRectF(0, 0, style.NODE_WIDTH, self.height)
        result = self.result
        blocked = result is not None and result.blocked_by is not None
        failed = result is not None and result.error is not None
        selected = self.isSelected() and not clean
        border = style.ERROR if failed else (style.SELECTED if selected else self.colour)
        painter.setPen(QPen(border, 2.5 if failed or selected else 1.2))
        painter.setBrush(QBrush(style.BLOCKED_FILL if blocked else style.NODE_FILL))
        painter.drawRoundedRect(rect, 8, 8)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(style.MUTED_TEXT if blocked else self.colour))
        painter.drawRoundedRect(QRectF(0, 0, 6, self.height), 3, 3)
        title, name, shape, detail = self.lines()
        painter.setFont(node_fonts().title)
        painter.setPen(style.MUTED_TEXT if blocked else style.NODE_TEXT)
        painter.drawText(QPointF(14, 18), title)
        painter.setFont(node_fonts().body)
        painter.setPen(style.MUTED_TEXT)
        painter.drawText(
            self._name_box, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name
        )
        painter.setPen(
            style.ERROR if failed else (style.MUTED_TEXT if blocked else style.NODE_TEXT)
        )
        painter.drawText(QPointF(14, 38), shape)
        painter.setPen(style.MUTED_TEXT if self.overlay is None else style.OVERLAY_BAR)
        painter.drawText(QPointF(14, 56), detail)
        if result is not None and result.warnings and not failed and not clean:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QBrush(style.WARNING))
            painter.drawEllipse(QPointF(style.NODE_WIDTH - 10, style.NODE_HEIGHT - 10), 4, 4)
        if self.overlay is not None:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QBrush(style.OVERLAY_BAR))
            painter.drawRect(
                QRectF(10, style.NODE_HEIGHT - 10, (style.NODE_WIDTH - 30) * self.overlay[1], 5)
            )
        if len(self._outputs) > 1:
            paint_slot_names(painter, self._outputs, self._missing, self.height, self.horizontal)
        if self.input_names and not clean:
            paint_input_names(painter, self.input_names, self._inputs, self.horizontal)
        if self._ports is None and not clean:
            first_missing = self._inputs + len(self._outputs) - self._missing
            paint_ports(painter, self._port_points(), first_missing)
        if self.expanded and not clean:
            self._paint_card(painter)

    def card_text(self) -> str:
        """What the card shows: every line of the node that is cut off, in full (empty
        when everything fits)."""
        return card_text(self)

    def _paint_card(self, painter: QPainter) -> None:
        text = self.card_text()
        if text:
            paint_card(painter, self._card_box(), text, bool(self.result and self.result.error))

    def lines(self) -> tuple[str, str, str, str]:
        """What the node shows: type, name, output shape (or error), and its params and MACs
        (or the overlay's statistic), elided to fit; kept until the result, name or overlay
        changes (eliding measures text, which costs more than drawing it)."""
        key = (self.result, self.type_name, self.label, self.overlay, self.shares)
        if self._elided is None or self._elided[0] != key:
            self._name_box, texts = fitted_lines(*key)
            self._elided = (key, texts)
        return self._elided[1]


def _sketch_node(item: NodeItem, painter: QPainter) -> None:
    """A node too small to read: a block in its layer's colour; red with an error, grey
    while it waits on one, in the selection's colour when selected."""
    result = item.result
    if result is not None and result.error is not None:
        colour = style.ERROR
    elif item.isSelected() and not in_picture(item):
        colour = style.SELECTED
    elif result is not None and result.blocked_by is not None:
        colour = style.MUTED_TEXT
    else:
        colour = item.colour
    painter.fillRect(QRectF(0, 0, style.NODE_WIDTH, item.height), colour)


_CARD_WIDTH, _CARD_HEIGHT = 280.0, 180.0  # the card with a node's text in full, at most
_NODE_FLAGS = (
    QGraphicsItem.GraphicsItemFlag.ItemIsMovable | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
)


def _height(outputs: tuple[str, ...]) -> float:
    return style.NODE_HEIGHT + (style.PORT_LABEL_STRIP if len(outputs) > 1 else 0.0)


@cache
def _node_bounds(height: float, horizontal: bool = False) -> QRectF:
    if horizontal:
        return QRectF(-PORT_REACH, -2, style.NODE_WIDTH + 2 * PORT_REACH, height + 4)
    return QRectF(-2, -PORT_REACH, style.NODE_WIDTH + 4, height + 2 * PORT_REACH)


@cache
def _node_shape(inputs: int, outputs: int, height: float, horizontal: bool = False) -> QPainterPath:
    """A node's body and its port circles, one path for every node of that form (winding
    fill: where a circle overlaps the body both count)."""
    path = QPainterPath()
    path.setFillRule(Qt.FillRule.WindingFill)
    path.addRect(QRectF(-2, -2, style.NODE_WIDTH + 4, height + 4))
    r = style.PORT_RADIUS + 3
    for i in range(inputs):
        at = QPointF(0.0, port_y(i, inputs)) if horizontal else QPointF(port_x(i, inputs), 0.0)
        path.addEllipse(at, r, r)
    for i in range(outputs):
        at = (
            QPointF(style.NODE_WIDTH, port_y(i, outputs))
            if horizontal
            else QPointF(port_x(i, outputs), height)
        )
        path.addEllipse(at, r, r)
    return path


@cache
def _category_colour(category: str) -> QColor:
    return style.category_colour(category)
