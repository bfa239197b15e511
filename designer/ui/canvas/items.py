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
        if _clean(self):
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
                bounds = bounds.adjusted(-_NAME_WIDTH, 0, 0, 0)
            else:
                bounds = bounds.adjusted(0, -_NAME_ROOM, 0, 0)
        if self.expanded and self.card_text():
            return bounds.united(self._card_box())
        return bounds

    def _card_box(self) -> QRectF:
        """Where the card goes: beside the node, away from its ports."""
        if self.horizontal:
            return QRectF(0, self.height + _PORT_REACH + 4, _CARD_WIDTH, _CARD_HEIGHT)
        return QRectF(style.NODE_WIDTH + _PORT_REACH + 4, 0, _CARD_WIDTH, _CARD_HEIGHT)

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
        _lay_out(self, inputs, self._inputs, False, points[: self._inputs])
        _lay_out(self, outputs, len(self._outputs), True, points[self._inputs :])
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
            points = [(0.0, _port_y(i, self._inputs)) for i in range(self._inputs)]
            return points + [(style.NODE_WIDTH, _port_y(i, count)) for i in range(count)]
        points = [(_port_x(i, self._inputs), 0.0) for i in range(self._inputs)]
        return points + [(_port_x(i, count), self.height) for i in range(count)]

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
            return 0.0, _port_y(port, self._inputs) if inside else style.NODE_HEIGHT / 2
        return self.input_dx(port), 0.0

    def output_offset(self, slot: int) -> tuple[float, float]:
        """Output `slot`'s port from the node's top left corner."""
        if self.horizontal:
            count = len(self._outputs)
            inside = 0 <= slot < count
            return style.NODE_WIDTH, _port_y(slot, count) if inside else style.NODE_HEIGHT / 2
        return self.output_dx(slot), self.height

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
        head = f"{self.type_name} {elide(self.node_id)}"
        if self.label != elide(self.node_id):
            head += f" ({self.label})"
        lines = [head]
        result = self.result
        if result is not None:
            if result.error:
                lines.append(f"Error: {result.error}")
            elif result.blocked_by:
                lines.append(result.reason)
            else:
                lines.append(self._shape_line())
                figures = self._detail_line(full=True)
                if figures:
                    lines.append(figures)
        lines.extend(self._sharing_lines())
        if result is not None:
            lines.extend(f"Warning: {warning}" for warning in result.warnings[:20])
        return "\n".join(elide(line, _TIP_LINE) for line in lines)

    def _sharing_lines(self) -> list[str]:
        lines = []
        if self.shares is not None:
            lines.append(
                f"Shares the weights of {elide(self.shares)}: one layer, called again "
                "(its parameters count there)"
            )
        if self.shared_by:
            users = ", ".join(elide(n, 60) for n in self.shared_by[:8])
            more = len(self.shared_by) - 8
            lines.append(
                f"Its weights are also used by {users}" + (f" and {more} more" if more > 0 else "")
            )
        return lines

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
        clean = _clean(self)  # a picture: no selection, no ports, no marks it cannot explain
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
        painter.setFont(_fonts().title)
        painter.setPen(style.MUTED_TEXT if blocked else style.NODE_TEXT)
        painter.drawText(QPointF(14, 18), title)
        painter.setFont(_fonts().body)
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
            self._paint_slot_names(painter)
        if self.input_names and not clean:
            self._paint_input_names(painter)
        if self._ports is None and not clean:
            self._paint_ports(painter)
        if self.expanded and not clean:
            self._paint_card(painter)

    def card_text(self) -> str:
        """What the card shows: every line of the node that is cut off, in full (empty
        when everything fits)."""
        title, name, shape, detail = self.lines()
        full = (
            f"{self.type_name}  {self.label}",
            elide(self._shape_line(), 1000),
            self._detail_line(full=True) if self.overlay is None else self.overlay[0],
        )
        cut = (
            title != self.type_name or name != self.label,
            shape != full[1],
            detail != (self._detail_line() if self.overlay is None else self.overlay[0]),
        )
        lines = [text for text, elided in zip(full, cut) if elided and text]
        if lines and self.shares is not None and not any("shares" in s for s in lines):
            lines.append(f"shares {elide(self.shares)}")
        return "\n".join(lines)

    def _paint_card(self, painter: QPainter) -> None:
        text = self.card_text()
        if not text:
            return
        box = self._card_box()
        inner = box.adjusted(8, 6, -8, -6)
        fonts = _fonts()
        flags = Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
        needed = fonts.body_metrics.boundingRect(inner, int(flags), text)
        box.setHeight(min(box.height(), needed.height() + 12))
        painter.setPen(QPen(style.EDGE, 1))
        painter.setBrush(QBrush(style.NODE_FILL))
        painter.drawRoundedRect(box, 6, 6)
        painter.setFont(fonts.body)
        painter.setPen(style.ERROR if (self.result and self.result.error) else style.NODE_TEXT)
        painter.drawText(box.adjusted(8, 6, -8, -6), int(flags), text)

    def _paint_ports(self, painter: QPainter) -> None:
        """The ports, as their items would draw them, while there are no items."""
        r = style.PORT_RADIUS
        first_missing = self._inputs + len(self._outputs) - self._missing
        painter.setBrush(QBrush(style.NODE_FILL))
        for index, (x, y) in enumerate(self._port_points()):
            painter.setPen(QPen(style.ERROR if index >= first_missing else style.EDGE, 1.5))
            painter.drawEllipse(QPointF(x, y), r, r)

    def _paint_input_names(self, painter: QPainter) -> None:
        """Each named input port's name just outside the node, to the right of (left to
        right: above) its port, clear of the edge that comes straight in."""
        painter.setFont(_label_font())
        painter.setPen(style.MUTED_TEXT)
        gap = style.PORT_RADIUS + 2
        for index, name in enumerate(self.input_names[: self._inputs]):
            if self.horizontal:
                y = _port_y(index, self._inputs)
                box = QRectF(-_NAME_WIDTH, y - gap - _NAME_ROOM, _NAME_WIDTH - 2, _NAME_ROOM)
                align = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom
            else:
                x = _port_x(index, self._inputs)
                width = min(_NAME_WIDTH, style.NODE_WIDTH - x - gap)
                box = QRectF(x + gap, -_NAME_ROOM, width, _NAME_ROOM - 1)
                align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom
            painter.drawText(box, align, name)

    def _paint_slot_names(self, painter: QPainter) -> None:
        """Each output slot's name above its port, in the strip below the body (left to
        right: beside its port on the right edge)."""
        painter.setFont(_label_font())
        top = style.NODE_HEIGHT
        count = len(self._outputs)
        first_missing = count - self._missing
        if self.horizontal:
            for index, name in enumerate(self._outputs):
                painter.setPen(style.ERROR if index >= first_missing else style.MUTED_TEXT)
                y = _port_y(index, count)
                box = QRectF(style.NODE_WIDTH - 90, y - 8, 90 - style.PORT_RADIUS - 3, 16)
                painter.drawText(
                    box, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name
                )
            return
        painter.setPen(QPen(style.GRID, 1))
        painter.drawLine(QPointF(8, top), QPointF(style.NODE_WIDTH - 2, top))
        width = style.NODE_WIDTH / (count + 0.5)
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
        key = (self.result, self.type_name, self.label, self.overlay, self.shares)
        if self._elided is None or self._elided[0] != key:
            fonts = _fonts()
            width = style.NODE_WIDTH - 20
            detail = self._detail_line() if self.overlay is None else self.overlay[0]
            if self.overlay is None and fonts.body_metrics.horizontalAdvance(detail) > width:
                detail = self._detail_line(short=True)  # 2.4M params rather than cut off
            # the type takes what it needs (the name is the node's own: it gives way first)
            title_width = fonts.title_metrics.horizontalAdvance(self.type_name) + 1
            name_width = fonts.body_metrics.horizontalAdvance(self.label) + 1
            room = _TITLE_ROOM
            if title_width + name_width > room:
                title_width = min(title_width, max(room - name_width, room * 0.6))
            name_width = max(room - title_width, 0)
            self._name_box = QRectF(
                style.NODE_WIDTH - 6 - name_width, _NAME_TOP, name_width, _NAME_HEIGHT
            )
            texts = (
                fonts.title_metrics.elidedText(
                    self.type_name, Qt.TextElideMode.ElideRight, title_width
                ),
                fonts.body_metrics.elidedText(self.label, Qt.TextElideMode.ElideMiddle, name_width),
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

    def _detail_line(self, short: bool = False, full: bool = False) -> str:
        """Params and MACs (`short`: both abbreviated; `full`: both written out), and
        whose weights the node uses."""
        result = self.result
        parts = [f"shares {elide(self.shares)}"] if self.shares is not None else []
        if result is None or result.output is None:
            return " · ".join(parts)
        if result.params:
            parts.append(f"{_short(result.params) if short else f'{result.params:,}'} params")
        if result.macs:
            parts.append(f"{f'{result.macs:,}' if full else _short(result.macs)} MACs")
        return " · ".join(parts)


class EdgeItem(QGraphicsItem):
    """A connection, drawn as a curve from the output port to an input port, labelled
    with the shape of the tensor it carries.

    The label is painted here rather than held in a child text item, from the source's
    result at paint time: an edit that changes thousands of shapes costs nothing for the
    edges off screen. It sits just past the output port, once per output slot (the scene
    says which edge of a slot carries it: `show_label`), so labels of edges that leave
    one port never pile up on each other. The curve itself is made when first painted
    or hit: placing an edge only works out the box the curve stays in, which is what the
    scene's index needs, so opening a large design builds no curves for edges that are
    never on screen.

    An edge long enough to pass nodes on its way (a skip connection beside a chain) looks
    for nodes in its way when placed, and if there are any, it bends out to the side of
    them (`bypass`), so it never runs hidden under a node.
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
        self.show_label = True
        self.label_before = False  # the label on the near side of the port (a detour leaves
        # the same port towards the far side, across the label's place)
        self.bypass: float | None = None  # across the flow: where a detour runs
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

    def label_rect(self) -> QRectF | None:
        """Where the label is painted, in the scene, fitted to its text (None without one)."""
        text = self.label_text if self.show_label else ""
        if not text:
            return None
        lx, ly = self._label_at
        width = min(_label_metrics().horizontalAdvance(text), _LABEL_WIDTH)
        if self.label_before:
            lx = self._label_end() - width
        return QRectF(lx, ly, width, _label_metrics().height())

    def _label_end(self) -> float:
        """Where a label on the near side of the port ends: left of it (top to bottom)."""
        return self._ends[0] - 7

    def _anchors(self) -> tuple[float, float, float, float]:
        source, target = self.source, self.target
        start, end = source.pos(), target.pos()
        ox, oy = source.output_offset(self.output)
        ix, iy = target.input_offset(self.port)
        return (start.x() + ox, start.y() + oy, end.x() + ix, end.y() + iy)

    def update_path(self) -> None:
        """Follow the ends: the box the curve stays in now; the curve when next needed."""
        self._place(*self._anchors())

    def set_label_shown(self, shown: bool, before: bool = False) -> None:
        """Whether this edge carries its slot's label, and on which side of the port."""
        before = before and not self.source.horizontal
        if (shown, before) != (self.show_label, self.label_before):
            self.show_label, self.label_before = shown, before
            self.update()

    def _place(self, sx: float, sy: float, ex: float, ey: float) -> None:
        """Plain numbers throughout: a Qt point or rectangle costs microseconds to make,
        and a large design places 100,000 edges. Work is done in flow coordinates: along
        the flow (y top to bottom, x left to right) and across it."""
        horizontal = self.source.horizontal
        a0, c0, a1, c1 = (sx, sy, ex, ey) if horizontal else (sy, sx, ey, ex)
        # the scene's index is asked before the change is announced: asked in between, it
        # would file this item under its old box and lose track of it
        bypass = self._detour(a0, c0, a1, c1, horizontal)
        self.prepareGeometryChange()
        self._ends = (sx, sy, ex, ey)
        self._path = self._shape = None
        self.bypass = bypass
        bend = a1 - a0 if a1 > a0 else a0 - a1
        bend = bend / 2 if bend > 80.0 else 40.0
        low, high = (c0, c1) if c0 < c1 else (c1, c0)
        if bypass is not None:
            low, high = min(low, bypass), max(high, bypass)
        first = min(a0, a1 - bend)
        last = max(a1, a0 + bend)
        pad = _EDGE_PAD
        if horizontal:  # the label above the line, past the port
            self._label_at = (sx + 8, sy - _LABEL_HEIGHT - 1)
            left, top = first - pad, min(low, sy - _LABEL_HEIGHT - 1) - pad
            right, bottom = max(last, sx + 8 + _LABEL_WIDTH) + pad, high + pad
        else:  # the label below the port, on either side of the line
            self._label_at = (sx + 7, sy + 2)
            left, top = min(low, sx - 7 - _LABEL_WIDTH) - pad, first - pad
            right = max(high, sx + 7 + _LABEL_WIDTH) + pad
            bottom = max(last, sy + 2 + _LABEL_HEIGHT) + pad
        self._bounds = QRectF(left, top, right - left, bottom - top)

    def _detour(self, a0: float, c0: float, a1: float, c1: float, horizontal: bool) -> float | None:
        """Where across the flow a detour runs, if nodes lie in the edge's way; None for a
        plain curve. Only an edge longer than a node can pass one: the scene is asked
        about those alone."""
        if a1 - a0 <= (style.NODE_WIDTH if horizontal else style.NODE_HEIGHT) + 2 * _TURN:
            return None
        scene = self.source.scene()
        if scene is None:
            return None
        ends = (self.source, self.target)

        nodes_in = getattr(scene, "nodes_in", None)

        def query(low: float, high: float) -> list[tuple[float, float]]:
            """The across-extents of the nodes between the ends within [low, high]."""
            if horizontal:
                box = (a0 + _TURN, low, a1 - _TURN, high)
            else:
                box = (low, a0 + _TURN, high, a1 - _TURN)
            if nodes_in is not None:
                items = nodes_in(*box)
            else:
                band = QRectF(box[0], box[1], box[2] - box[0], box[3] - box[1])
                found = scene.items(band, Qt.ItemSelectionMode.IntersectsItemBoundingRect)
                items = [item for item in found if isinstance(item, NodeItem)]
            found = []
            for item in items:
                if item not in ends:
                    at = item.pos()
                    if horizontal:
                        found.append((at.y(), at.y() + item.height))
                    else:
                        found.append((at.x(), at.x() + style.NODE_WIDTH))
            return found

        # one question to the index for the line and a few columns either side of it (a
        # large design has a skip connection every few nodes); farther only if need be
        across = style.NODE_HEIGHT + style.PORT_LABEL_STRIP if horizontal else style.NODE_WIDTH
        near_low = min(c0, c1) - _CLEAR - 3 * (across + _GAP)
        near_high = max(c0, c1) + _CLEAR + 3 * (across + _GAP)
        near = query(near_low, near_high)

        def blockers(low: float, high: float) -> list[tuple[float, float]]:
            found = near if near_low <= low and high <= near_high else query(low, high)
            return [(lo, hi) for lo, hi in found if lo < high and hi > low]

        way = blockers(min(c0, c1) - _CLEAR, max(c0, c1) + _CLEAR)
        if not way:
            return None
        sides = []
        for direction in (1, -1):
            side = (
                (max(h for _, h in way) + _GAP)
                if direction > 0
                else (min(lo for lo, _ in way) - _GAP)
            )
            for _ in range(6):  # out past whatever stands on the new line too
                more = blockers(side - _CLEAR, side + _CLEAR)
                if not more:
                    break
                side = (
                    (max(h for _, h in more) + _GAP)
                    if direction > 0
                    else (min(lo for lo, _ in more) - _GAP)
                )
            sides.append((abs(side - c0) + abs(side - c1), -direction, side))
        return min(sides)[2]

    def path(self) -> QPainterPath:
        """The curve: out of the output port along the flow, into the input port along the
        flow; a detour runs beside the nodes in its way and turns back in near the end."""
        if self._path is None:
            sx, sy, ex, ey = self._ends
            horizontal = self.source.horizontal

            def point(along: float, across: float) -> QPointF:
                return QPointF(along, across) if horizontal else QPointF(across, along)

            a0, c0, a1, c1 = (sx, sy, ex, ey) if horizontal else (sy, sx, ey, ex)
            path = QPainterPath(point(a0, c0))
            side = self.bypass
            if side is None:
                bend = max(40.0, abs(a1 - a0) / 2)
                path.cubicTo(point(a0 + bend, c0), point(a1 - bend, c1), point(a1, c1))
            else:
                half = _TURN / 2
                path.cubicTo(point(a0 + half, c0), point(a0 + half, side), point(a0 + _TURN, side))
                path.lineTo(point(a1 - _TURN, side))
                path.cubicTo(point(a1 - half, side), point(a1 - half, c1), point(a1, c1))
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
        if option.levelOfDetailFromTransform(painter.worldTransform()) < SKETCH_LOD:
            painter.setPen(_SKETCH_PEN)  # too small to read: the line, no label
            painter.drawPath(self.path())
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = self.isSelected() and not _clean(self)
        painter.setPen(QPen(style.SELECTED if selected else style.EDGE, 2.4 if selected else 1.6))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())
        label = self.label_text if self.show_label else ""
        if label:
            painter.setFont(_label_font())
            painter.setPen(style.EDGE_LABEL)
            lx, ly = self._label_at
            if self.label_before:
                box = QRectF(self._label_end() - _LABEL_WIDTH, ly, _LABEL_WIDTH, _LABEL_HEIGHT)
                painter.drawText(box, Qt.AlignmentFlag.AlignRight, label)
            else:
                box = QRectF(lx, ly, _LABEL_WIDTH, _LABEL_HEIGHT)
                painter.drawText(box, Qt.AlignmentFlag.AlignLeft, label)


SKETCH_LOD = 0.3  # below this scale nodes are drawn as blocks: their text could not be read
_SKETCH_PEN = QPen(style.EDGE, 0)  # cosmetic: one pixel at any scale


def _sketch_node(item: NodeItem, painter: QPainter) -> None:
    """A node too small to read: a block in its layer's colour; red with an error, grey
    while it waits on one, in the selection's colour when selected."""
    result = item.result
    if result is not None and result.error is not None:
        colour = style.ERROR
    elif item.isSelected() and not _clean(item):
        colour = style.SELECTED
    elif result is not None and result.blocked_by is not None:
        colour = style.MUTED_TEXT
    else:
        colour = item.colour
    painter.fillRect(QRectF(0, 0, style.NODE_WIDTH, item.height), colour)


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


_NAME_TOP, _NAME_HEIGHT = 4.0, 18.0  # the name's box, at the top right
_TITLE_ROOM = style.NODE_WIDTH - 28  # the type (from x 14) and the name share the top line
_CARD_WIDTH, _CARD_HEIGHT = 280.0, 180.0  # the card with a node's text in full, at most
_TURN = 40.0  # along the flow: how far a detour runs before it is beside the nodes
_GAP = 28.0  # across the flow: how far a detour keeps from the nodes it passes
_CLEAR = 8.0  # how near to its line a node is in an edge's way


@cache
def _label_font() -> QFont:
    """Made on first paint: a QFont needs the application to exist."""
    font = QFont()
    font.setPointSizeF(font.pointSizeF() * 0.85)
    return font


@cache
def _label_metrics() -> QFontMetricsF:
    return QFontMetricsF(_label_font())


def _clean(item: QGraphicsItem) -> bool:
    """Whether the item is being drawn into a picture (the scene's `clean`)."""
    scene = item.scene()
    return scene is not None and getattr(scene, "clean", False)


_PORT_BOX = QRectF(
    -style.PORT_RADIUS - 3,
    -style.PORT_RADIUS - 3,
    2 * style.PORT_RADIUS + 6,
    2 * style.PORT_RADIUS + 6,
)
_PORT_REACH = style.PORT_RADIUS * 1.3 + 3  # how far a (hovered) port sticks out of a node
_NAME_ROOM, _NAME_WIDTH = 16.0, 60.0  # an input port's name, outside the node beside it
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
def _node_bounds(height: float, horizontal: bool = False) -> QRectF:
    if horizontal:
        return QRectF(-_PORT_REACH, -2, style.NODE_WIDTH + 2 * _PORT_REACH, height + 4)
    return QRectF(-2, -_PORT_REACH, style.NODE_WIDTH + 4, height + 2 * _PORT_REACH)


@cache
def _node_shape(inputs: int, outputs: int, height: float, horizontal: bool = False) -> QPainterPath:
    """A node's body and its port circles, one path for every node of that form (winding
    fill: where a circle overlaps the body both count)."""
    path = QPainterPath()
    path.setFillRule(Qt.FillRule.WindingFill)
    path.addRect(QRectF(-2, -2, style.NODE_WIDTH + 4, height + 4))
    r = style.PORT_RADIUS + 3
    for i in range(inputs):
        at = QPointF(0.0, _port_y(i, inputs)) if horizontal else QPointF(_port_x(i, inputs), 0.0)
        path.addEllipse(at, r, r)
    for i in range(outputs):
        at = (
            QPointF(style.NODE_WIDTH, _port_y(i, outputs))
            if horizontal
            else QPointF(_port_x(i, outputs), height)
        )
        path.addEllipse(at, r, r)
    return path


def _port_x(index: int, count: int) -> float:
    """Ports are spread evenly along an edge of the node."""
    return style.NODE_WIDTH * (index + 1) / (count + 1)


def _port_y(index: int, count: int) -> float:
    """Left to right, ports are spread evenly down the side of the body."""
    return style.NODE_HEIGHT * (index + 1) / (count + 1)


@cache
def _category_colour(category: str) -> QColor:
    return style.category_colour(category)


def _lay_out(
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


def _short(number: int) -> str:
    """1.8G, 25.7M, 4.3k: MACs at a glance."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if number >= limit:
            return f"{number / limit:.1f}{suffix}"
    return str(number)
