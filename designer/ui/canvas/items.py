"""What the canvas draws: nodes with their ports, and edges with the shape they carry.

Items only display; they hold no design data beyond the node id they stand for, and every
change goes back through the Document as an edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import NamedTuple

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QBrush, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from designer.core.analysis import NodeResult
from designer.core.spec import dims
from designer.ui import style


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
        r = style.PORT_RADIUS + 3
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(self.boundingRect())
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
    grey while it waits on one; with the statistic overlay, a bar for its share."""

    def __init__(
        self, node_id: str, type_name: str, category: str, results: Mapping[str, NodeResult]
    ) -> None:
        super().__init__()
        self.node_id = node_id
        self.type_name = type_name
        self.colour = style.category_colour(category)
        self.label = node_id
        self._results = results  # the engine's, read when painting: the scene only repaints
        self.overlay: tuple[str, float] | None = None  # (text, fraction of the largest)
        self._elided: tuple[tuple, tuple[str, str, str, str]] | None = None  # see lines()
        self.input_ports: list[PortItem] = []
        self.output_ports: list[PortItem] = []
        self.height = style.NODE_HEIGHT  # taller by a strip for slot names with several outputs
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setZValue(1)

    def boundingRect(self) -> QRectF:
        return QRectF(-2, -2, style.NODE_WIDTH + 4, self.height + 4)

    def set_ports(
        self, inputs: int, outputs: tuple[str, ...] = ("output",), missing: int = 0
    ) -> None:
        """Ports laid out along the top (inputs, in port order) and the bottom (one per
        output slot, named by `outputs`; the last `missing` of them are slots the layer does
        not have but an edge reads). With several outputs the node grows a strip at the
        bottom where the slot names are written above their ports."""
        _lay_out(self, self.input_ports, inputs, False, 0.0)
        height = style.NODE_HEIGHT + (style.PORT_LABEL_STRIP if len(outputs) > 1 else 0.0)
        if height != self.height:
            self.prepareGeometryChange()
            self.height = height
        _lay_out(self, self.output_ports, len(outputs), True, height)
        for index, (port, name) in enumerate(zip(self.output_ports, outputs)):
            missing_slot = index >= len(outputs) - missing
            if port.name != name or port.missing != missing_slot:
                port.name, port.missing = name, missing_slot
                port.update()
        self.update()

    @property
    def output_port(self) -> PortItem | None:
        """The first output port (slot 0)."""
        return self.output_ports[0] if self.output_ports else None

    def input_anchor(self, port: int) -> QPointF:
        if 0 <= port < len(self.input_ports):
            return self.input_ports[port].scenePos()
        return self.mapToScene(QPointF(style.NODE_WIDTH / 2, 0))

    def output_anchor(self, slot: int = 0) -> QPointF:
        """Where an edge reading output `slot` leaves the node: that slot's port."""
        if 0 <= slot < len(self.output_ports):
            return self.output_ports[slot].scenePos()
        return self.mapToScene(QPointF(style.NODE_WIDTH / 2, self.height))

    @property
    def result(self) -> NodeResult | None:
        """The node's result now (None until it is analysed)."""
        return self._results.get(self.node_id)

    def set_label(self, label: str) -> None:
        """The name shown at the top right (the node id where it has no name)."""
        if label != self.label:
            self.label = label
            self.update()

    def tooltip(self) -> str:
        """The type and id, then the error or what it waits on, and the warnings."""
        lines = [f"{self.type_name} {self.node_id}"]
        result = self.result
        if result is not None:
            if result.error:
                lines.append(f"Error: {result.error}")
            elif result.blocked_by:
                lines.append(result.reason)
            lines.extend(f"Warning: {warning}" for warning in result.warnings)
        return "\n".join(lines)

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
        if len(self.output_ports) > 1:
            self._paint_slot_names(painter)

    def _paint_slot_names(self, painter: QPainter) -> None:
        """Each output slot's name above its port, in the strip below the body."""
        painter.setFont(_label_font())
        top = style.NODE_HEIGHT
        painter.setPen(QPen(style.GRID, 1))
        painter.drawLine(QPointF(8, top), QPointF(style.NODE_WIDTH - 2, top))
        width = style.NODE_WIDTH / (len(self.output_ports) + 0.5)
        for port in self.output_ports:
            painter.setPen(style.ERROR if port.missing else style.MUTED_TEXT)
            box = QRectF(
                port.x() - width / 2, top + 1, width, self.height - top - style.PORT_RADIUS - 2
            )
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, port.name)

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
                    self._shape_line(), Qt.TextElideMode.ElideRight, width
                ),
                fonts.body_metrics.elidedText(detail, Qt.TextElideMode.ElideRight, width),
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
            return f"waits on {result.blocked_by}"
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

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value):
        if (
            change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged
            and self.scene() is not None
        ):
            self.scene().node_moved(self)
        return super().itemChange(change, value)


class EdgeItem(QGraphicsPathItem):
    """A connection, drawn as a curve from the output port down to an input port, labelled
    with the shape of the tensor it carries.

    The label is painted here rather than held in a child text item, from the source's
    result at paint time: an edit that changes thousands of shapes costs nothing for the
    edges off screen.
    """

    LABEL_SIZE = QSizeF(110, 14)

    def __init__(self, source: NodeItem, target: NodeItem, port: int, output: int = 0) -> None:
        super().__init__()
        self.source = source
        self.target = target
        self.port = port
        self.output = output  # the source's output slot it carries
        self._label_at = QPointF()
        self._bounds = QRectF()
        self.setZValue(0)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setPen(QPen(style.EDGE, 1.6))
        self.update_path()

    @property
    def label_text(self) -> str:
        """The shape of the tensor it carries: its source's output slot, read when painting."""
        result = self.source.result
        tensor = None if result is None else result.slot(self.output)
        return dims(tensor.shape) if tensor is not None else ""

    def update_path(self) -> None:
        start = self.source.output_anchor(self.output)
        end = self.target.input_anchor(self.port)
        bend = max(40.0, abs(end.y() - start.y()) / 2)
        path = QPainterPath(start)
        path.cubicTo(start + QPointF(0, bend), end - QPointF(0, bend), end)
        self.prepareGeometryChange()
        self._label_at = path.pointAtPercent(0.5) + QPointF(6, -8)
        self.setPath(path)
        self._bounds = super().boundingRect().united(QRectF(self._label_at, self.LABEL_SIZE))

    def boundingRect(self) -> QRectF:
        return self._bounds  # Qt asks often: computed once per path

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
            painter.drawText(
                QRectF(self._label_at, self.LABEL_SIZE), Qt.AlignmentFlag.AlignLeft, label
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
        port.setPos(style.NODE_WIDTH * (index + 1) / (count + 1), y)


def _short(number: int) -> str:
    """1.8G, 25.7M, 4.3k: MACs at a glance."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if number >= limit:
            return f"{number / limit:.1f}{suffix}"
    return str(number)
