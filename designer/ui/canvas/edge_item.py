"""What the canvas draws for an edge: a curve from an output port to an input port,
labelled with the shape of the tensor it carries, and where that curve runs.

Items only display; every change goes back through the Document as an edit.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QFontMetricsF, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from designer.core.spec import dims
from designer.ui import style
from designer.ui.canvas.drawing import SKETCH_LOD, in_picture, label_font
from designer.ui.canvas.node_item import NodeItem


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

    def update_path(self, route: bool = True) -> None:
        """Follow the ends: the box the curve stays in now; the curve when next needed.
        Without `route`, a plain curve: nodes in its way are not looked for (each look asks
        the scene's index, which a node moved in bulk leaves to be rebuilt)."""
        self._place(*self._anchors(), route)

    def set_label_shown(self, shown: bool, before: bool = False) -> None:
        """Whether this edge carries its slot's label, and on which side of the port."""
        before = before and not self.source.horizontal
        if (shown, before) != (self.show_label, self.label_before):
            self.show_label, self.label_before = shown, before
            self.update()

    def _place(self, sx: float, sy: float, ex: float, ey: float, route: bool = True) -> None:
        """Plain numbers throughout: a Qt point or rectangle costs microseconds to make,
        and a large design places 100,000 edges. Work is done in flow coordinates: along
        the flow (y top to bottom, x left to right) and across it."""
        horizontal = self.source.horizontal
        a0, c0, a1, c1 = (sx, sy, ex, ey) if horizontal else (sy, sx, ey, ex)
        # the scene's index is asked before the change is announced: asked in between, it
        # would file this item under its old box and lose track of it
        bypass = self._detour(a0, c0, a1, c1, horizontal) if route else None
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
        selected = self.isSelected() and not in_picture(self)
        painter.setPen(QPen(style.SELECTED if selected else style.EDGE, 2.4 if selected else 1.6))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())
        label = self.label_text if self.show_label else ""
        if label:
            painter.setFont(label_font())
            painter.setPen(style.EDGE_LABEL)
            lx, ly = self._label_at
            if self.label_before:
                box = QRectF(self._label_end() - _LABEL_WIDTH, ly, _LABEL_WIDTH, _LABEL_HEIGHT)
                painter.drawText(box, Qt.AlignmentFlag.AlignRight, label)
            else:
                box = QRectF(lx, ly, _LABEL_WIDTH, _LABEL_HEIGHT)
                painter.drawText(box, Qt.AlignmentFlag.AlignLeft, label)


_SKETCH_PEN = QPen(style.EDGE, 0)  # cosmetic: one pixel at any scale
_TURN = 40.0  # along the flow: how far a detour runs before it is beside the nodes
_GAP = 28.0  # across the flow: how far a detour keeps from the nodes it passes
_CLEAR = 8.0  # how near to its line a node is in an edge's way
_EDGE_PAD = 1.5  # half the selected edge's pen
_LABEL_WIDTH, _LABEL_HEIGHT = EdgeItem.LABEL_SIZE.width(), EdgeItem.LABEL_SIZE.height()
_EDGE_FLAGS = QGraphicsItem.GraphicsItemFlag.ItemIsSelectable


@cache
def _label_metrics() -> QFontMetricsF:
    return QFontMetricsF(label_font())


def label_rank(item: EdgeItem) -> tuple[bool, float, float]:
    """Which edge of a slot carries its label: one that runs straight on, then the
    nearest in line with the port."""
    start = item.source.output_anchor(item.output)
    end = item.target.input_anchor(item.port)
    if item.source.horizontal:
        return item.bypass is not None, abs(end.y() - start.y()), end.x()
    return item.bypass is not None, abs(end.x() - start.x()), end.y()
