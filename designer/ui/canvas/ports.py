"""A node's ports: the port items, where ports sit along a node's edges, and how they and
their names are painted while the node has no port items (see NodeItem)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from designer.core.analysis import NodeResult
from designer.ui import style
from designer.ui.canvas.drawing import in_picture, label_font

if TYPE_CHECKING:
    from designer.ui.canvas.node_item import NodeItem


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
        if in_picture(self):
            return  # a picture shows no ports: its edges say what is connected
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


_PORT_BOX = QRectF(
    -style.PORT_RADIUS - 3,
    -style.PORT_RADIUS - 3,
    2 * style.PORT_RADIUS + 6,
    2 * style.PORT_RADIUS + 6,
)
PORT_REACH = style.PORT_RADIUS * 1.3 + 3  # how far a (hovered) port sticks out of a node
NAME_ROOM, NAME_WIDTH = 16.0, 60.0  # an input port's name, outside the node beside it


def port_x(index: int, count: int) -> float:
    """Ports are spread evenly along an edge of the node."""
    return style.NODE_WIDTH * (index + 1) / (count + 1)


def port_y(index: int, count: int) -> float:
    """Left to right, ports are spread evenly down the side of the body."""
    return style.NODE_HEIGHT * (index + 1) / (count + 1)


def lay_out(
    node: NodeItem,
    ports: list[PortItem],
    count: int,
    output: bool,
    points: list[tuple[float, float]],
) -> None:
    """Make `count` port items for one side of a node, at `points`."""
    while len(ports) > count:
        port = ports.pop()
        port.setParentItem(None)
        if port.scene():
            port.scene().removeItem(port)
    while len(ports) < count:
        ports.append(PortItem(node, len(ports), output))
    for port, (x, y) in zip(ports, points):
        port.setPos(x, y)


def paint_ports(painter: QPainter, points: list[tuple[float, float]], first_missing: int) -> None:
    """The ports at `points` (in the node's coordinates), as their items would draw them,
    while there are no items; those from `first_missing` on in red."""
    r = style.PORT_RADIUS
    painter.setBrush(QBrush(style.NODE_FILL))
    for index, (x, y) in enumerate(points):
        painter.setPen(QPen(style.ERROR if index >= first_missing else style.EDGE, 1.5))
        painter.drawEllipse(QPointF(x, y), r, r)


def paint_input_names(
    painter: QPainter, names: tuple[str, ...], inputs: int, horizontal: bool
) -> None:
    """Each named input port's name just outside the node, to the right of (left to
    right: above) its port, clear of the edge that comes straight in."""
    painter.setFont(label_font())
    painter.setPen(style.MUTED_TEXT)
    gap = style.PORT_RADIUS + 2
    for index, name in enumerate(names[:inputs]):
        if horizontal:
            y = port_y(index, inputs)
            box = QRectF(-NAME_WIDTH, y - gap - NAME_ROOM, NAME_WIDTH - 2, NAME_ROOM)
            align = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom
        else:
            x = port_x(index, inputs)
            width = min(NAME_WIDTH, style.NODE_WIDTH - x - gap)
            box = QRectF(x + gap, -NAME_ROOM, width, NAME_ROOM - 1)
            align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom
        painter.drawText(box, align, name)


def paint_slot_names(
    painter: QPainter, outputs: tuple[str, ...], missing: int, height: float, horizontal: bool
) -> None:
    """Each output slot's name above its port, in the strip below the body of a node
    `height` high (left to right: beside its port on the right edge); the last `missing`
    in red."""
    painter.setFont(label_font())
    top = style.NODE_HEIGHT
    count = len(outputs)
    first_missing = count - missing
    if horizontal:
        for index, name in enumerate(outputs):
            painter.setPen(style.ERROR if index >= first_missing else style.MUTED_TEXT)
            y = port_y(index, count)
            box = QRectF(style.NODE_WIDTH - 90, y - 8, 90 - style.PORT_RADIUS - 3, 16)
            painter.drawText(box, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)
        return
    painter.setPen(QPen(style.GRID, 1))
    painter.drawLine(QPointF(8, top), QPointF(style.NODE_WIDTH - 2, top))
    width = style.NODE_WIDTH / (count + 0.5)
    for index, name in enumerate(outputs):
        painter.setPen(style.ERROR if index >= first_missing else style.MUTED_TEXT)
        box = QRectF(
            port_x(index, count) - width / 2,
            top + 1,
            width,
            height - top - style.PORT_RADIUS - 2,
        )
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, name)


def with_result_slots(names: tuple[str, ...], result: NodeResult | None) -> tuple[str, ...]:
    """The slot names a layer declares, numbered on to as many slots as its result has: a
    Split by a size makes as many pieces as its input holds. One that declares none (a
    block's BlockOutput, whose result is what leaves the block) has no output port."""
    if not names:
        return names
    count = len(result.outputs) if result is not None and result.output is not None else 0
    return names + tuple(f"output {i}" for i in range(len(names), count))
