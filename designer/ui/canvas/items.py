"""What the canvas draws: nodes with their ports, and edges with the shape they carry.

Items only display; they hold no design data beyond the node id they stand for, and every
change goes back through the Document as an edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import NamedTuple

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from designer.core.analysis import NodeResult
from designer.core.spec import dims
from designer.ui import style
from designer.ui.style import elide


class PortItem(QGraphicsItem):
    """An input port (on the top edge, `index` its input port) or an output port (on the
    bottom edge, `index` its output slot, `name` the slot's name). An output port whose slot
    the layer no longer has (an edge still reads it) is `missing` and drawn in red."""

    def __init__(self, node: NodeItem, index: int, output: bool = False, name: str = "") -> None:
        super().__init__(node)
        self.node = node
        self.index = index
        self.is_output = output
        self.name = name
        self.missing = False
        self.setAcceptHoverEvents(True)
        self.setZValue(2)
        self._hover = False

    def boundingRect(self) -> QRectF:
        return _PORT_BOX

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(_PORT_BOX)
        return path

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = style.PORT_RADIUS * (1.3 if self._hover else 1.0)
        painter.setPen(QPen(style.ERROR if self.missing else style.EDGE, 1.5))
        painter.setBrush(QBrush(style.SELECTED if self._hover else style.NODE_FILL))
        painter.drawEllipse(QPointF(0, 0), r, r)

    def hoverEnterEvent(self, event) -> None:
        self._hover = True
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.update()

    def hoverLeaveEvent(self, event) -> None:
        self._hover = False
        self.update()


class NodeItem(QGraphicsItem):
    """A layer: its type, name, output shape and parameters; red when it has an error,
    grey while it waits on one; with the statistic overlay, a bar for its share.

    Its ports are painted by the node itself until something needs them as items (the
    mouse comes over the node, a press lands on a port, code asks for `input_ports` or
    `output_ports`): a design of 50,000 nodes opens without making 100,000 port items.
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
        self._bounds = _node_bounds(self.height)
        self.setFlags(_NODE_FLAGS)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)

    def boundingRect(self) -> QRectF:
        """The body and the ports that stick out of its top and bottom edges."""
        return self._bounds

    def shape(self) -> QPainterPath:
        """The body and the port circles (for what the mouse hits)."""
        return _node_shape(self._inputs, len(self._outputs), self.height)

    def set_ports(
        self, inputs: int, outputs: tuple[str, ...] = ("output",), missing: int = 0
    ) -> None:
        """Ports laid out along the top (inputs, in port order) and the bottom (one per
        output slot, named by `outputs`; the last `missing` of them are slots the layer does
        not have but an edge reads). With several outputs the node grows a strip at the
        bottom where the slot names are written above their ports."""
        outputs = tuple(outputs)
        if (inputs, outputs, missing) == (self._inputs, self._outputs, self._missing):
            return
        height = _height(outputs)
        if height != self.height:
            self.prepareGeometryChange()
            self.height = height
            self._bounds = _node_bounds(height)
        self._inputs, self._outputs, self._missing = inputs, outputs, missing
        if self._ports is not None:
            self._lay_out_ports()
        self.update()

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
        _lay_out(self, inputs, self._inputs, False, 0.0)
        _lay_out(self, outputs, len(self._outputs), True, self.height)
        first_missing = len(self._outputs) - self._missing
        for index, (port, name) in enumerate(zip(outputs, self._outputs)):
            missing_slot = index >= first_missing
            if port.name != name or port.missing != missing_slot:
                port.name, port.missing = name, missing_slot
                port.update()

    def _port_points(self) -> list[tuple[float, float]]:
        """Each port's centre in the node's coordinates: inputs, then outputs."""
        points = [(_port_x(i, self._inputs), 0.0) for i in range(self._inputs)]
        count = len(self._outputs)
        points += [(_port_x(i, count), self.height) for i in range(count)]
        return points

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
        return self.pos() + QPointF(self.input_dx(port), 0.0)

    def output_anchor(self, slot: int = 0) -> QPointF:
        """Where an edge reading output `slot` leaves the node: that slot's port."""
        return self.pos() + QPointF(self.output_dx(slot), self.height)

    def input_dx(self, port: int) -> float:
        """How far along the top edge input `port` sits."""
        return _port_x(port, self._inputs) if 0 <= port < self._inputs else style.NODE_WIDTH / 2

    def output_dx(self, slot: int) -> float:
        """How far along the bottom edge output `slot` sits."""
        count = len(self._outputs)
        return _port_x(slot, count) if 0 <= slot < count else style.NODE_WIDTH / 2

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

    def tooltip(self) -> str:
        """The type and id, then the error or what it waits on, and the warnings; every
        line elided (an id can be a megabyte long)."""
        lines = [f"{self.type_name} {elide(self.node_id)}"]
        result = self.result
        if result is not None:
            if result.error:
                lines.append(f"Error: {result.error}")
            elif result.blocked_by:
                lines.append(result.reason)
            lines.extend(f"Warning: {warning}" for warning in result.warnings[:20])
        return "\n".join(elide(line, _TIP_LINE) for line in lines)

    def hoverEnterEvent(self, event) -> None:
        self._port_items()  # the ports become items, to light up under the mouse
        super().hoverEnterEvent(event)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(0, 0, style.NODE_WIDTH, self.height)
        result = self.result
        blocked = result is not None and result.blocked_by is not None
        failed = result is not None and result.error is not None
        border = style.ERROR if failed else (style.SELECTED if self.isSelected() else self.colour)
        painter.setPen(QPen(border, 2.5 if failed or self.isSelected() else 1.2))
        painter.setBrush(QBrush(style.BLOCKED_FILL if blocked else style.NODE_FILL))
        painter.drawRoundedRect(rect, 8, 8)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(style.MUTED_TEXT if blocked else self.colour))
        painter.drawRoundedRect(QRectF(0, 0, 6, self.height), 3, 3)
        title, name, shape, detail = self.lines()
        painter.setFont(_fonts().title)
        painter.setPen(style.MUTED_TEXT if blocked else style.NODE_TEXT)
        painter.drawText(QPointF(14, 18), title)
        painter.setFont(_fonts().body)
        painter.setPen(style.MUTED_TEXT)
        painter.drawText(
            _NAME_BOX, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name
        )
        painter.setPen(
            style.ERROR if failed else (style.MUTED_TEXT if blocked else style.NODE_TEXT)
        )
        painter.drawText(QPointF(14, 38), shape)
        painter.setPen(style.MUTED_TEXT if self.overlay is None else style.OVERLAY_BAR)
        painter.drawText(QPointF(14, 56), detail)
        if result is not None and result.warnings and not failed:
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
            self._paint_slot_names(painter)
        if self._ports is None:
            self._paint_ports(painter)

    def _paint_ports(self, painter: QPainter) -> None:
        """The ports, as their items would draw them, while there are no items."""
        r = style.PORT_RADIUS
        first_missing = self._inputs + len(self._outputs) - self._missing
        painter.setBrush(QBrush(style.NODE_FILL))
        for index, (x, y) in enumerate(self._port_points()):
            painter.setPen(QPen(style.ERROR if index >= first_missing else style.EDGE, 1.5))
            painter.drawEllipse(QPointF(x, y), r, r)

    def _paint_slot_names(self, painter: QPainter) -> None:
        """Each output slot's name above its port, in the strip below the body."""
        painter.setFont(_label_font())
        top = style.NODE_HEIGHT
        painter.setPen(QPen(style.GRID, 1))
        painter.drawLine(QPointF(8, top), QPointF(style.NODE_WIDTH - 2, top))
        count = len(self._outputs)
        width = style.NODE_WIDTH / (count + 0.5)
        first_missing = count - self._missing
        for index, name in enumerate(self._outputs):
            painter.setPen(style.ERROR if index >= first_missing else style.MUTED_TEXT)
            box = QRectF(
                _port_x(index, count) - width / 2,
                top + 1,
                width,
                self.height - top - style.PORT_RADIUS - 2,
            )
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, name)

    def lines(self) -> tuple[str, str, str, str]:
        """What the node shows: type, name, output shape (or error), and its params and MACs
        (or the overlay's statistic), elided to fit; kept until the result, name or overlay
        changes (eliding measures text, which costs more than drawing it)."""
        key = (self.result, self.label, self.overlay)
        if self._elided is None or self._elided[0] != key:
            fonts = _fonts()
            width = style.NODE_WIDTH - 20
            detail = self._detail_line() if self.overlay is None else self.overlay[0]
            texts = (
                fonts.title_metrics.elidedText(self.type_name, Qt.TextElideMode.ElideRight, 90),
                fonts.body_metrics.elidedText(
                    self.label, Qt.TextElideMode.ElideMiddle, _NAME_BOX.width()
                ),
                fonts.body_metrics.elidedText(
                    elide(self._shape_line()), Qt.TextElideMode.ElideRight, width
                ),
                fonts.body_metrics.elidedText(elide(detail), Qt.TextElideMode.ElideRight, width),
            )
            self._elided = (key, texts)
        return self._elided[1]

    def _shape_line(self) -> str:
        result = self.result
        if result is None:
            return ""
        if result.error:
            return f"⚠ {result.error}"
        if result.blocked_by:
            return f"waits on {elide(result.blocked_by)}"
        return "→ " + ", ".join(dims(t.shape) for t in result.outputs)

    def _detail_line(self) -> str:
        result = self.result
        if result is None or result.output is None:
            return ""
        parts = []
        if result.params:
            parts.append(f"{result.params:,} params")
        if result.macs:
            parts.append(f"{_short(result.macs)} MACs")
        return " · ".join(parts)


class EdgeItem(QGraphicsItem):
    """A connection, drawn as a curve from the output port down to an input port, labelled
    with the shape of the tensor it carries.

    The label is painted here rather than held in a child text item, from the source's
    result at paint time: an edit that changes thousands of shapes costs nothing for the
    edges off screen. The curve itself is made when first painted or hit: placing an edge
    only works out the box the curve stays in (its control points' box), which is what
    the scene's index needs, so opening a large design builds no curves for edges that
    are never on screen.
    """

    LABEL_SIZE = QSizeF(110, 14)

    def __init__(
        self,
        source: NodeItem,
        target: NodeItem,
        port: int,
        output: int = 0,
        ends: tuple[float, float, float, float] | None = None,
    ) -> None:
        """`ends`, where the caller knows them: (x, y) of the start, then of the end."""
        super().__init__()
        self.source = source
        self.target = target
        self.port = port
        self.output = output  # the source's output slot it carries
        self._path: QPainterPath | None = None
        self._shape: QPainterPath | None = None
        self.setFlags(_EDGE_FLAGS)
        self._place(*(ends or self._anchors()))

    @property
    def label_text(self) -> str:
        """The shape of the tensor it carries: its source's output slot, read when painting."""
        result = self.source.result
        tensor = None if result is None else result.slot(self.output)
        return dims(tensor.shape) if tensor is not None else ""

    def _anchors(self) -> tuple[float, float, float, float]:
        source, target = self.source, self.target
        start, end = source.pos(), target.pos()
        return (
            start.x() + source.output_dx(self.output),
            start.y() + source.height,
            end.x() + target.input_dx(self.port),
            end.y(),
        )

    def update_path(self) -> None:
        """Follow the ends: the box the curve stays in now; the curve when next needed."""
        self._place(*self._anchors())

    def _place(self, sx: float, sy: float, ex: float, ey: float) -> None:
        """Plain numbers throughout: a Qt point or rectangle costs microseconds to make,
        and a large design places 100,000 edges."""
        self.prepareGeometryChange()
        self._ends = (sx, sy, ex, ey)
        self._path = self._shape = None
        bend = max(40.0, abs(ey - sy) / 2)
        # the curve is symmetric about its middle, so half its length is its midpoint
        lx, ly = (sx + ex) / 2 + 6, (sy + ey) / 2 - 8
        self._label_at = (lx, ly)
        pad = _EDGE_PAD
        left = min(sx, ex, lx) - pad
        top = min(sy, ey - bend, ly) - pad
        right = max(sx, ex, lx + _LABEL_WIDTH) + pad
        bottom = max(ey, sy + bend, ly + _LABEL_HEIGHT) + pad
        self._bounds = QRectF(left, top, right - left, bottom - top)

    def path(self) -> QPainterPath:
        """The curve: down out of the output port, down into the input port."""
        if self._path is None:
            sx, sy, ex, ey = self._ends
            bend = max(40.0, abs(ey - sy) / 2)
            path = QPainterPath(QPointF(sx, sy))
            path.cubicTo(QPointF(sx, sy + bend), QPointF(ex, ey - bend), QPointF(ex, ey))
            self._path = path
        return self._path

    def shape(self) -> QPainterPath:
        """A band along the curve, for clicks."""
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(6.0)
            self._shape = stroker.createStroke(self.path())
        return self._shape

    def boundingRect(self) -> QRectF:
        return self._bounds  # Qt asks often: worked out once per move

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = self.isSelected()
        painter.setPen(QPen(style.SELECTED if selected else style.EDGE, 2.4 if selected else 1.6))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())
        label = self.label_text
        if label:
            painter.setFont(_label_font())
            painter.setPen(style.EDGE_LABEL)
            lx, ly = self._label_at
            painter.drawText(
                QRectF(lx, ly, _LABEL_WIDTH, _LABEL_HEIGHT), Qt.AlignmentFlag.AlignLeft, label
            )


class _Fonts(NamedTuple):
    title: QFont
    title_metrics: QFontMetricsF
    body: QFont
    body_metrics: QFontMetricsF


@cache
def _fonts() -> _Fonts:
    """A node's fonts, made on first paint (a QFont needs the application)."""
    title = QFont()
    title.setBold(True)
    body = QFont()
    return _Fonts(title, QFontMetricsF(title), body, QFontMetricsF(body))


_NAME_BOX = QRectF(100, 4, style.NODE_WIDTH - 106, 18)


@cache
def _label_font() -> QFont:
    """Made on first paint: a QFont needs the application to exist."""
    font = QFont()
    font.setPointSizeF(font.pointSizeF() * 0.85)
    return font


_PORT_BOX = QRectF(
    -style.PORT_RADIUS - 3,
    -style.PORT_RADIUS - 3,
    2 * style.PORT_RADIUS + 6,
    2 * style.PORT_RADIUS + 6,
)
_PORT_REACH = style.PORT_RADIUS * 1.3 + 3  # how far a (hovered) port sticks out of a node
_EDGE_PAD = 1.5  # half the selected edge's pen
_LABEL_WIDTH, _LABEL_HEIGHT = EdgeItem.LABEL_SIZE.width(), EdgeItem.LABEL_SIZE.height()
_NODE_FLAGS = (
    QGraphicsItem.GraphicsItemFlag.ItemIsMovable | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
)
_EDGE_FLAGS = QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
_TIP_LINE = 240  # characters of one tooltip line


def _height(outputs: tuple[str, ...]) -> float:
    return style.NODE_HEIGHT + (style.PORT_LABEL_STRIP if len(outputs) > 1 else 0.0)


@cache
def _node_bounds(height: float) -> QRectF:
    return QRectF(-2, -_PORT_REACH, style.NODE_WIDTH + 4, height + 2 * _PORT_REACH)


@cache
def _node_shape(inputs: int, outputs: int, height: float) -> QPainterPath:
    """A node's body and its port circles, one path for every node of that form (winding
    fill: where a circle overlaps the body both count)."""
    path = QPainterPath()
    path.setFillRule(Qt.FillRule.WindingFill)
    path.addRect(QRectF(-2, -2, style.NODE_WIDTH + 4, height + 4))
    r = style.PORT_RADIUS + 3
    for i in range(inputs):
        path.addEllipse(QPointF(_port_x(i, inputs), 0.0), r, r)
    for i in range(outputs):
        path.addEllipse(QPointF(_port_x(i, outputs), height), r, r)
    return path


def _port_x(index: int, count: int) -> float:
    """Ports are spread evenly along an edge of the node."""
    return style.NODE_WIDTH * (index + 1) / (count + 1)


@cache
def _category_colour(category: str) -> QColor:
    return style.category_colour(category)


def _lay_out(node: NodeItem, ports: list[PortItem], count: int, output: bool, y: float) -> None:
    """Make `count` ports along one edge of a node, evenly spaced, at height `y`."""
    while len(ports) > count:
        port = ports.pop()
        port.setParentItem(None)
        if port.scene():
            port.scene().removeItem(port)
    while len(ports) < count:
        ports.append(PortItem(node, len(ports), output))
    for index, port in enumerate(ports):
        port.setPos(_port_x(index, count), y)


def _short(number: int) -> str:
    """1.8G, 25.7M, 4.3k: MACs at a glance."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if number >= limit:
            return f"{number / limit:.1f}{suffix}"
    return str(number)
