"""The summary table's cell painting: delegates that draw each cell from the model's
cached line, and in the id column, where the design has blocks, the tree's indentation
and branch arrows.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QStyle,
    QStyledItemDelegate,
    QStyleOption,
    QStyleOptionViewItem,
    QWidget,
)

from designer.ui.panels.summary_model import (
    ERROR_COLUMN,
    ERROR_TEXT,
    INTEGER_COLUMNS,
    RIGHT,
    ROW_TINTS,
    ModelIndex,
    SummaryModel,
)

LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
INDENT = 16  # pixels per level of the tree, the width of a branch arrow's box


def branch_rect(cell: QRect, depth: int) -> QRect:
    """Where a row's branch arrow lies in its id cell, `depth` levels in."""
    return QRect(cell.left() + depth * INDENT, cell.top(), INDENT, cell.height())


class CellPainter(QStyledItemDelegate):
    """Draws a cell's text straight from the model's cached line.

    Qt's own delegate asks the model for about ten roles per cell and lays the text out
    with QTextLayout; when an edit changes every row on screen, that was most of the time
    from the edit to the screen. Sizing columns still goes through Qt's delegate."""

    def __init__(self, model: SummaryModel, parent: QWidget) -> None:
        super().__init__(parent)
        self._model = model
        # the text inset Qt's own delegate leaves, so contents-sized columns fit exactly
        self._margin = (
            parent.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, parent) + 1
        )

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        self._paint_line(painter, option, index, 0)

    def _paint_line(
        self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex, indent: int
    ) -> None:
        """The cell's background and its text, `indent` pixels in."""
        line = self._model.line_at(index.row())
        column = index.column()
        rect = option.rect
        palette = option.palette
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, palette.highlight())
            painter.setPen(palette.highlightedText().color())
        else:
            tint = ROW_TINTS.get(line.state)
            if tint is not None:
                painter.fillRect(rect, tint)
            error = column == ERROR_COLUMN and line.state
            painter.setPen(ERROR_TEXT if error else palette.text().color())
        box = rect.adjusted(self._margin + indent, 0, -self._margin, 0)
        text = line.cells[column]
        metrics = option.fontMetrics
        if metrics.horizontalAdvance(text) > box.width():
            text = metrics.elidedText(text, Qt.TextElideMode.ElideRight, box.width())
        painter.drawText(box, RIGHT if column in INTEGER_COLUMNS else LEFT, text)


class BranchPainter(CellPainter):
    """The id column where the design has blocks: each row indented by its depth, behind a
    branch arrow where it opens. Only such designs use it: its sizeHint is a call into
    Python per row, which sizing the columns of a plain design would pay for nothing."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        row = index.row()
        depth = self._model.depth(row)
        self._paint_line(painter, option, index, (depth + 1) * INDENT)
        if self._model.expandable(row):
            branch = QStyleOption()
            branch.rect = branch_rect(option.rect, depth)
            branch.palette = option.palette
            branch.state = option.state | QStyle.StateFlag.State_Children
            if self._model.is_expanded(self._model.path_of(row)):
                branch.state |= QStyle.StateFlag.State_Open
            widget = self.parent()
            widget.style().drawPrimitive(
                QStyle.PrimitiveElement.PE_IndicatorBranch, branch, painter, widget
            )

    def sizeHint(self, option: QStyleOptionViewItem, index: ModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width() + (self._model.depth(index.row()) + 1) * INDENT, size.height())
