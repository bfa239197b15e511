"""The overview: a small view of the canvas's own scene with the whole design fitted in it
and the part the canvas shows drawn as a rectangle; a click or a drag there moves the
canvas to that place. For large designs (View ▸ Overview)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen, QWheelEvent
from PySide6.QtWidgets import QFrame, QGraphicsView

from designer.core.graph import Change, ChangeKind
from designer.ui import style
from designer.ui.canvas.view import CanvasView
from designer.ui.document import Document

SHOWN_FILL = QColor(47, 111, 222, 40)
REFIT_MS = 120  # edits come in bursts (a drag, an arrange): the overview refits once after


class Minimap(QGraphicsView):
    def __init__(self, canvas: CanvasView) -> None:
        super().__init__(canvas.scene())
        self.setObjectName("minimap")
        self.setProperty("overview", True)  # the scene's repaint-what-changed skips it
        self.canvas = canvas
        self._document: Document | None = None
        self._shown = QRectF()  # the canvas's visible part of the scene, as last drawn
        self.setInteractive(False)  # its items take no clicks: a click moves the canvas
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumSize(180, 140)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("The whole design: click or drag to move the canvas there")
        self._refit = QTimer(self)
        self._refit.setSingleShot(True)
        self._refit.setInterval(REFIT_MS)
        self._refit.timeout.connect(self.fit)
        for bar in (canvas.horizontalScrollBar(), canvas.verticalScrollBar()):
            bar.valueChanged.connect(self.follow_canvas)
            bar.rangeChanged.connect(self.follow_canvas)

    def set_document(self, document: Document) -> None:
        """Follow another document's edits (the window opened a file)."""
        if self._document is not None:
            self._document.graph_changed.disconnect(self._on_graph_changed)
            self._document.analysis_changed.disconnect(self._on_analysis_changed)
        self._document = document
        document.graph_changed.connect(self._on_graph_changed)
        document.analysis_changed.connect(self._on_analysis_changed)
        self._refit.start()

    def _on_graph_changed(self, change: Change) -> None:
        if change.kind in (ChangeKind.STRUCTURE, ChangeKind.COSMETIC):
            self._refit.start()

    def _on_analysis_changed(self, _nodes: object) -> None:
        # the canvas repaints only the changed nodes it shows; the overview shows them all
        if self.isVisible() and not self._refit.isActive():
            self._refit.start()

    # fitting and the rectangle --------------------------------------------------------------

    def fit(self) -> None:
        """The whole design in view."""
        self._refit.stop()
        if not self.isVisible():
            return
        design = self.canvas.design_scene.design_rect()
        if design.isNull():
            design = QRectF(0, 0, style.NODE_WIDTH, style.NODE_HEIGHT)
        self.fitInView(design.adjusted(-30, -30, 30, 30), Qt.AspectRatioMode.KeepAspectRatio)
        self._shown = self.canvas_rect()
        self.viewport().update()

    def canvas_rect(self) -> QRectF:
        """The part of the scene the canvas shows now."""
        canvas = self.canvas
        return canvas.mapToScene(canvas.viewport().rect()).boundingRect()

    def follow_canvas(self, *_: object) -> None:
        """Redraw the rectangle where it was and where it is now, nothing else."""
        if not self.isVisible():
            return
        shown = self.canvas_rect()
        if shown == self._shown:
            return
        for rect in (self._shown, shown):
            if not rect.isNull():
                self.viewport().update(
                    self.mapFromScene(rect).boundingRect().adjusted(-3, -3, 3, 3)
                )
        self._shown = shown

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self._shown.isNull():
            return
        pen = QPen(style.SELECTED, 2)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(SHOWN_FILL)
        painter.drawRect(self._shown)

    # moving the canvas ----------------------------------------------------------------------

    def _move_canvas(self, event: QMouseEvent) -> None:
        at: QPointF = self.mapToScene(event.position().toPoint())
        self.canvas.centerOn(at)
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._move_canvas(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._move_canvas(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        event.accept()

    def wheelEvent(self, event: QWheelEvent) -> None:
        event.accept()  # the overview always shows the whole design

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._refit.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.fit()
