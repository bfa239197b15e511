"""The summary table: the live report of contract section 3, one row per node, selecting
with the canvas (the model is `summary_model`, the cell painting `summary_cells`).

Where the design has blocks the table is also a tree, drawn in the id column: an instance
row opens (a double-click, its arrow, Right or +) onto the rows `designer report --expand`
writes under it, and selecting one of those selects its instance on the canvas. The view
stays a QTableView (contract section 4 names one), so the open rows are table rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QAbstractItemView, QTableView, QWidget

from designer.ui.document import Document
from designer.ui.panels.summary_cells import BranchPainter, CellPainter, branch_rect
from designer.ui.panels.summary_model import SummaryModel, runs

WIDEN_ROWS = 20  # rows read to widen the columns after a change
WIDEN_DELAY_MS = 150  # after the change is on screen
WIDEST = 320  # pixels: a column widened for a long error stays readable beside the others


class SummaryView(QTableView):
    """The summary table, sortable, selecting with the canvas, its instance rows opening
    where the design has blocks. `node_activated` asks the window to centre the canvas on
    the node the user picked here (an instance, for a row inside one)."""

    node_activated = Signal(str)

    def __init__(self, document: Document | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("summary")
        self.summary = SummaryModel(parent=self)
        self.setModel(self.summary)
        self.setItemDelegate(CellPainter(self.summary, self))
        self._branches = BranchPainter(self.summary, self)
        header = self.horizontalHeader()
        header.setSortIndicatorClearable(True)  # a third click goes back to report order
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        header.setResizeContentsPrecision(200)  # sizing columns reads 200 rows, not 1,000
        self.setSortingEnabled(True)
        self.verticalHeader().setVisible(False)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setWordWrap(False)
        self._document: Document | None = None
        self._following = False  # showing the document's selection: do not send it back
        self._sending = False  # sending the rows' selection: the table shows it already
        self.selectionModel().selectionChanged.connect(self._on_rows_selected)
        self.summary.modelReset.connect(self._show_branches)
        self.summary.modelReset.connect(self._show_selection)  # a reset clears the selection
        self._sized_empty = True  # the columns were last sized with no rows to read
        self.summary.modelReset.connect(self._size_first_rows)
        self._to_widen: set[int] = set()  # rows whose cells may need wider columns
        self._set_by_hand: set[int] = set()  # columns the user sized: never widened
        self._widening = False
        header.sectionResized.connect(self._on_resized)
        self._widen_timer = QTimer(self)
        self._widen_timer.setSingleShot(True)
        self._widen_timer.setInterval(WIDEN_DELAY_MS)
        self._widen_timer.timeout.connect(self._widen_now)
        self.summary.dataChanged.connect(
            lambda top, bottom, roles=(): self._widen(range(top.row(), bottom.row() + 1))
        )
        self.set_document(document)

    def set_document(self, document: Document | None) -> None:
        if self._document is not None:
            self._document.selection_changed.disconnect(self._show_selection)
        self._document = document
        self.summary.set_document(document)
        if document is not None:
            document.selection_changed.connect(self._show_selection)
        self._size_columns()

    def _size_columns(self) -> None:
        with self._sizing():
            self.resizeColumnsToContents()
        self._set_by_hand.clear()
        self._sized_empty = self.summary.rowCount() == 0

    @contextmanager
    def _sizing(self) -> Iterator[None]:
        """Columns sized here, not by the user's hand (see `_on_resized`)."""
        self._widening = True
        try:
            yield
        finally:
            self._widening = False

    def _size_first_rows(self) -> None:
        """Columns sized for an empty design (after New) are sized again for the first
        rows that come."""
        if self._sized_empty and self.summary.rowCount():
            self._size_columns()

    def _widen(self, rows: Iterable[int]) -> None:
        """Columns widened, never narrowed, where these rows (changed, or selected: a node
        just added or pasted is) need more room, so a figure that grew is not cut. Done a
        moment later, once for the changes of that moment, so an edit is on screen first:
        the first WIDEN_ROWS rows are read (sizing a cell costs about 15 µs)."""
        room = WIDEN_ROWS - len(self._to_widen)
        if room > 0:
            self._to_widen.update(islice(rows, room))
            self._widen_timer.start()

    def _widen_now(self) -> None:
        model = self.summary
        read = [row for row in self._to_widen if row < model.rowCount()]
        self._to_widen.clear()
        if not read:
            return
        with self._sizing():
            for column in set(range(model.columnCount())) - self._set_by_hand:
                rows = (self.sizeHintForIndex(model.index(row, column)).width() for row in read)
                needed = min(max(rows), WIDEST)  # no column grows past WIDEST
                if self.columnWidth(column) < needed:
                    self.setColumnWidth(column, needed)

    def _on_resized(self, column: int, old: int, new: int) -> None:
        """A column the user sized keeps its width (until another design is shown)."""
        if not self._widening:
            self._set_by_hand.add(column)

    def _show_branches(self) -> None:
        """The id column draws the tree only where the design has blocks."""
        delegate = self._branches if self.summary.tree else None
        if self.itemDelegateForColumn(0) is not delegate:
            self.setItemDelegateForColumn(0, delegate)
            with self._sizing():
                self.resizeColumnToContents(0)

    # the tree -----------------------------------------------------------------------------

    def is_expanded(self, path: str) -> bool:
        """Whether the instance row at flat `path` shows the rows inside it."""
        return self.summary.is_expanded(path)

    def expand(self, path: str) -> None:
        """Open the instance row at flat `path` (`layer1`, `layer1.rest`), widening the id
        column for the rows inside where they need it."""
        self.summary.set_expanded(path, True)
        needed = self.sizeHintForColumn(0)
        if needed > self.columnWidth(0) and 0 not in self._set_by_hand:
            with self._sizing():
                self.setColumnWidth(0, needed)

    def collapse(self, path: str) -> None:
        self.summary.set_expanded(path, False)

    def toggle(self, path: str) -> None:
        if self.is_expanded(path):
            self.collapse(path)
        else:
            self.expand(path)

    def _on_branch(self, index: QModelIndex, point: QPoint) -> bool:
        """Whether `point` is on the branch arrow of an instance row."""
        if not index.isValid() or index.column() != 0 or not self.summary.expandable(index.row()):
            return False
        return branch_rect(self.visualRect(index), self.summary.depth(index.row())).contains(point)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """A press on a branch arrow opens or closes the row and leaves the selection."""
        point = event.position().toPoint()
        index = self.indexAt(point)
        if self._on_branch(index, point):
            self.toggle(self.summary.path_of(index.row()))
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        """A double-click opens or closes an instance row; on its arrow, the press that
        came first did."""
        point = event.position().toPoint()
        index = self.indexAt(point)
        if self._on_branch(index, point):
            event.accept()
        elif index.isValid() and self.summary.expandable(index.row()):
            self.toggle(self.summary.path_of(index.row()))
            event.accept()
        else:
            super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Right or + opens the current instance row, Left or - closes it, as in a tree."""
        current = self.currentIndex()
        if current.isValid() and self.summary.expandable(current.row()):
            path = self.summary.path_of(current.row())
            opened = self.is_expanded(path)
            key = event.key()
            if key in (Qt.Key.Key_Right, Qt.Key.Key_Plus) and not opened:
                self.expand(path)
                return
            if key in (Qt.Key.Key_Left, Qt.Key.Key_Minus) and opened:
                self.collapse(path)
                return
        super().keyPressEvent(event)

    # selection ----------------------------------------------------------------------------

    def selected_ids(self) -> list[str]:
        """The selected rows' node ids, top to bottom as shown, once each: a row inside an
        instance stands for the instance."""
        rows = sorted(index.row() for index in self.selectionModel().selectedRows())
        return list(dict.fromkeys(self.summary.node_id(row) for row in rows))

    def _on_rows_selected(self) -> None:
        if self._following or self._document is None:
            return
        self._sending = True
        try:
            self._document.select(self.selected_ids())
        finally:
            self._sending = False
        current = self.currentIndex()  # the row clicked, unless the click deselected it
        if current.isValid() and self.selectionModel().isRowSelected(current.row()):
            self.node_activated.emit(self.summary.node_id(current.row()))

    def _show_selection(self) -> None:
        if self._document is None or self._sending:
            return
        rows = [self.summary.row_of(node_id) for node_id in self._document.selected()]
        rows = [row for row in rows if row is not None]
        selection = QItemSelection()
        last = self.summary.columnCount() - 1
        for top, bottom in runs(rows):
            selection.select(self.summary.index(top, 0), self.summary.index(bottom, last))
        self._following = True
        try:
            flags = (
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows
            )
            self.selectionModel().select(selection, flags)
        finally:
            self._following = False
        if rows:
            self.scrollTo(self.summary.index(min(rows), 0))
            self._widen(rows)
