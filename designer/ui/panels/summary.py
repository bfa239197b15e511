"""The summary table: the report of contract section 3, live, one row per node.

The columns are the report's (`HEADERS`, the contract's names: scripts and the
`KEY_ROLE` of `headerData` read those), and under `REPORT_ROLE` every cell is exactly
`report.cells`, so the table reads like `designer report`. What the window shows is
worded for people: headers such as "output shape" and "MACs", counts with thousands
separators, memory in KiB/MiB/GiB/TiB, and "—" where a node has no result (an error, or
waiting on one) rather than a 0 that reads like a figure. The model
follows the Document: an analysis change repaints only the rows of the nodes it names, and
only a structural edit (which can change the node set and the order) resets the model, so
an edit in a design of thousands of nodes costs what the engine costs.

The model sorts itself rather than sitting behind a QSortFilterProxyModel: the proxy asks
for two cells per comparison, each a call into Python, which made a re-sort of 5,000 rows
take half a second after every structural edit; sorting cached keys in Python takes a few ms.

Where the design has blocks the table is also a tree, drawn in the id column: an instance
row opens (a double-click, its arrow, Right or +) onto the rows `designer report --expand`
writes under it, ids as paths, a nested instance opening further and a repeated one
holding a row per copy. Those rows are read-only figures, computed only when an instance is
opened, and selecting one selects its instance on the canvas. The view stays a QTableView
(contract section 4 names one), so the open rows are table rows, keyed by `Inner` among the
node ids: a plain design never has any, and costs what it did.
"""

from __future__ import annotations

from collections.abc import Iterable
from math import prod
from typing import Any, NamedTuple

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QModelRoleDataSpan,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QStyle,
    QStyledItemDelegate,
    QStyleOption,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from designer.core.analysis import NodeResult
from designer.core.block_editing import instance_result
from designer.core.blocks import PORT_TYPES, join
from designer.core.graph import Change, ChangeKind
from designer.core.spec import Tensor, dims
from designer.export import report
from designer.io.project_format import BlockDesign
from designer.ui.document import Document
from designer.ui.help import COLUMN_TIPS
from designer.ui.style import elide
from designer.ui.wording import human_bytes

HEADERS = report.COLUMNS + report.EXTRA_COLUMNS
INTEGER_COLUMNS = frozenset(
    HEADERS.index(key) for key in ("params", "macs", "flops", "memory", "non_trainable")
)
FIELD_COLUMNS = frozenset(HEADERS.index(key) for key in ("rf", "rf_stride", "rf_start"))
SHAPE_COLUMN = HEADERS.index("output_shape")
NAME_COLUMNS = frozenset(HEADERS.index(key) for key in ("id", "name"))
NAME_LIMIT = 200  # characters of an id or name a cell shows (the rest elided in the middle)
CELL_LIMIT = 2_000  # of any other cell: warnings are long, but never megabytes
ERROR_COLUMN = HEADERS.index("error")
MEMORY_COLUMN = HEADERS.index("memory")
# what a node without a result shows no figure in
RESULT_COLUMNS = (
    INTEGER_COLUMNS
    | FIELD_COLUMNS
    | frozenset(HEADERS.index(key) for key in ("output_shape", "output_shapes", "dtype"))
)
NO_RESULT = "—"
TITLES = {
    "output_shape": "output shape",
    "macs": "MACs",
    "flops": "FLOPs",
    "rf": "receptive field",
    "rf_stride": "RF stride",
    "rf_start": "RF start",
    "input_shapes": "input shapes",
    "non_trainable": "non-trainable",
    "output_shapes": "output shapes",
}  # the rest show their key
REPORT_ROLE = Qt.ItemDataRole.UserRole + 1  # a cell as `designer report` writes it
KEY_ROLE = Qt.ItemDataRole.UserRole + 2  # a header's column name in the report

ERROR_TEXT = QColor(190, 20, 20)
ROW_TINTS = {"error": QColor(253, 226, 226), "waiting": QColor(255, 243, 214)}
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
ROLES = frozenset(
    {
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.BackgroundRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.TextAlignmentRole,
        REPORT_ROLE,
    }
)

ModelIndex = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()
INDENT = 16  # pixels per level of the tree, the width of a branch arrow's box


def runs(rows: Iterable[int]) -> list[tuple[int, int]]:
    """Rows as (first, last) runs of consecutive rows: one range per run, not one per row."""
    out: list[tuple[int, int]] = []
    for row in sorted(set(rows)):
        if out and row == out[-1][1] + 1:
            out[-1] = (out[-1][0], row)
        else:
            out.append((row, row))
    return out


class Inner(NamedTuple):
    """A row inside an open instance: the layer or instance at flat path `path`, `depth`
    levels below the row of the shown scope's node `top`."""

    path: str
    top: str
    depth: int


RowKey = str | Inner  # a row of the shown scope's nodes is keyed by its node id


def branch_rect(cell: QRect, depth: int) -> QRect:
    """Where a row's branch arrow lies in its id cell, `depth` levels in."""
    return QRect(cell.left() + depth * INDENT, cell.top(), INDENT, cell.height())


class Line(NamedTuple):
    """One node's row, computed when first needed and kept until its result changes."""

    cells: list[str]  # as shown
    keys: list[Any]  # per column, what sorting compares: numbers as numbers
    state: str  # "", "error" or "waiting" (an upstream node has the error)
    tooltip: str  # the error and the warnings, one a line
    report: list[str]  # as `designer report` writes them


def _line(row: dict[str, Any], waiting: bool, outputs: tuple[Tensor, ...] = ()) -> Line:
    """A report row as the table shows it; a node with several output slots shows every
    slot's shape in output_shape, slot 0 first: `3x4x4, 3x4x4`."""
    cells = report.cells(row)
    keys: list[Any] = list(cells)  # sorting reads whole names; the cells show them elided
    reported = [
        elide(cell, NAME_LIMIT if i in NAME_COLUMNS else CELL_LIMIT) for i, cell in enumerate(cells)
    ]
    shown = list(reported)
    if len(outputs) > 1:  # shown, not reported: the report's output_shape is slot 0's
        shown[SHAPE_COLUMN] = elide(", ".join(dims(t.shape) for t in outputs), CELL_LIMIT)
    state = "waiting" if waiting else "error" if row["error"] else ""
    if not state:  # a node without a result has no numbers (the report's cells are empty)
        for column in INTEGER_COLUMNS:
            keys[column] = row[HEADERS[column]]
            shown[column] = f"{row[HEADERS[column]]:,}"
        shown[MEMORY_COLUMN] = human_bytes(row["memory"])
    else:
        for column in INTEGER_COLUMNS:
            keys[column] = -1
    for column in FIELD_COLUMNS:  # by the first spatial dimension; none sorts first
        values = row[HEADERS[column]]
        keys[column] = float(values[0]) if values else -1.0
    shape = row["output_shape"]
    keys[SHAPE_COLUMN] = prod(shape) if shape is not None else -1  # by element count
    if state:  # no result: a dash rather than an empty cell
        for column in RESULT_COLUMNS:
            shown[column] = NO_RESULT
    tooltip = "\n".join(elide(line, 300) for line in filter(None, [row["error"], *row["warnings"]]))
    return Line(shown, keys, state, tooltip, reported)


def _value(line: Line, column: int, role: int) -> Any:
    """One cell's data for one of ROLES."""
    if role == Qt.ItemDataRole.DisplayRole:
        return line.cells[column]
    if role == REPORT_ROLE:
        return line.report[column]
    if role == Qt.ItemDataRole.BackgroundRole:
        return ROW_TINTS.get(line.state)
    if role == Qt.ItemDataRole.ForegroundRole:
        return ERROR_TEXT if column == ERROR_COLUMN and line.state else None
    if role == Qt.ItemDataRole.ToolTipRole:
        return line.tooltip or None
    return RIGHT if column in INTEGER_COLUMNS else None


class SummaryModel(QAbstractTableModel):
    """The report of a Document: rows in report order, or sorted by a column."""

    def __init__(self, document: Document | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._document: Document | None = None
        self._order: list[str] = []  # report order
        self._rows: list[RowKey] = []  # as shown: report order or sorted, open instances' rows
        self._index: dict[RowKey, int] = {}  # node id (or Inner) → shown row
        self._lines: dict[str, Line] = {}
        # with blocks: the tree
        self.tree = False  # instance rows open: the design has blocks, the scope has numbers
        self._scope_path: str | None = ""  # the shown scope's flat path (None: used nowhere)
        self._expanded: set[str] = set()  # flat paths of open rows, kept across scopes
        self._by_path: dict[str, int] = {}  # flat path → shown row
        self._blocks: BlockDesign | None = None  # the design as last analysed
        self._inner_rows: dict[str, dict[str, Any]] | None = None  # report rows by path
        self._inner_lines: dict[str, Line] = {}
        self._sort_column = -1
        self._descending = False
        self._stale = False  # a structural edit happened: the order is recomputed at the next flush
        # A structural edit is followed by the analysis_changed of its refresh, which resets
        # once for all the edit's parts; the timer covers a rewiring that changes no result.
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(0)
        self._flush.timeout.connect(self._reset)
        self.set_document(document)

    def set_document(self, document: Document | None) -> None:
        if self._document is not None:
            self._document.graph_changed.disconnect(self._on_graph_changed)
            self._document.analysis_changed.disconnect(self._on_analysis_changed)
            self._document.scope_changed.disconnect(self._on_scope_changed)
        if document is not self._document:  # the same one again: another scope shown
            self._expanded.clear()
        self._document = document
        self._lines.clear()
        if document is not None:
            document.graph_changed.connect(self._on_graph_changed)
            document.analysis_changed.connect(self._on_analysis_changed)
            document.scope_changed.connect(self._on_scope_changed)
        self._reset()

    # lookups ------------------------------------------------------------------------------

    def node_id(self, row: int) -> str:
        """The shown scope's node of a row: an open instance's for the rows inside it."""
        key = self._rows[row]
        return key.top if type(key) is Inner else key

    def row_of(self, node_id: str) -> int | None:
        return self._index.get(node_id)

    def path_of(self, row: int) -> str:
        """A row's flat path, the id `designer report --expand` gives it."""
        key = self._rows[row]
        return key.path if type(key) is Inner else join(self._scope_path or "", key)

    def row_of_path(self, path: str) -> int | None:
        return self._by_path.get(path) if self.tree else self._index.get(path)

    def depth(self, row: int) -> int:
        """How many open instances a row lies in (0 for the shown scope's nodes)."""
        key = self._rows[row]
        return key.depth if type(key) is Inner else 0

    def expandable(self, row: int) -> bool:
        """Whether a row is an instance, which opens onto its inner rows."""
        return self.tree and self.path_of(row) in self._design().flat.instances

    def is_expanded(self, path: str) -> bool:
        """Whether the instance row at flat `path` is shown open (a path remembered open
        but not shown, or no longer an instance, is not)."""
        row = self.row_of_path(path)
        return row is not None and path in self._expanded and self.expandable(row)

    def set_expanded(self, path: str, expanded: bool) -> None:
        """Open or close the instance row at flat `path` (shown, or nothing happens); the
        rows inside it that were open open again with it."""
        row = self.row_of_path(path)
        if row is None or not self.expandable(row) or self.is_expanded(path) == expanded:
            return
        depth = self.depth(row)
        if expanded:
            self._expanded.add(path)
            inner = self._inner_of(path, self.node_id(row), depth + 1)
            if inner:
                self.beginInsertRows(ROOT, row + 1, row + len(inner))
                self._set_rows([*self._rows[: row + 1], *inner, *self._rows[row + 1 :]])
                self.endInsertRows()
        else:
            self._expanded.discard(path)
            end = row + 1
            while end < len(self._rows) and self.depth(end) > depth:
                end += 1
            if end > row + 1:
                self.beginRemoveRows(ROOT, row + 1, end - 1)
                self._set_rows(self._rows[: row + 1] + self._rows[end:])
                self.endRemoveRows()
        self.dataChanged.emit(self.index(row, 0), self.index(row, 0))  # its arrow turned

    # the table ----------------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = ROOT) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return TITLES.get(HEADERS[section], HEADERS[section])
        if orientation == Qt.Orientation.Horizontal and role == KEY_ROLE:
            return HEADERS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return COLUMN_TIPS.get(HEADERS[section]) if 0 <= section < len(HEADERS) else None
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in ROLES:  # views ask for many roles per cell: skip the row lookup
            return None
        return _value(self._line(self._rows[index.row()]), index.column(), role)

    def multiData(self, index: ModelIndex, roles: QModelRoleDataSpan) -> None:
        """Every role a view asks of one cell in one call. Sizing columns to their contents
        (on every open) asks about ten roles of each of 200 rows' cells, and each `data`
        call is a trip into Python; CellPainter paints without asking. Qt may hand the
        same span over again, so a role without a value is cleared."""
        line = self._line(self._rows[index.row()])
        column = index.column()
        for i in range(len(roles)):
            role_data = roles[i]
            role = role_data.role()
            value = _value(line, column, role) if role in ROLES else None
            if value is None:
                role_data.clearData()
            else:
                role_data.setData(value)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by a column's keys, ties in report order; column -1 is report order."""
        self._sort_column = column
        self._descending = order == Qt.SortOrder.DescendingOrder
        self._relayout()

    def line_at(self, row: int) -> Line:
        """The cached line of the row shown at `row`."""
        return self._line(self._rows[row])

    def _line(self, key: RowKey) -> Line:
        line = self._lines.get(key)
        if line is None:
            if type(key) is Inner:
                return self._inner_line(key)
            line = self._lines[key] = self._compute(key)
        return line

    def _compute(self, node_id: str) -> Line:
        document = self._document
        result = document.results.get(node_id) or NodeResult(None)  # a block used nowhere
        # report.rows would analyse and lay out every node: one row is what changed
        row = report.row_of(document.arch, node_id, result)
        return _line(row, result.blocked_by is not None and not result.error, result.outputs)

    def _inner_line(self, key: Inner) -> Line:
        """A row inside an open instance: its `--expand` report row, its id cell shown as
        the path from the shown scope."""
        line = self._inner_lines.get(key.path)
        if line is None:
            results = self._document.engine.results
            info = self._design().flat.instances.get(key.path)
            result = results[key.path] if info is None else instance_result(info, results)
            if self._inner_rows is None:
                found = report.block_rows(self._document.engine, self._design(), expand=True)
                self._inner_rows = {row["id"]: row for row in found}
            row = self._inner_rows[key.path]
            waiting = result.blocked_by is not None and not result.error
            line = self._inner_lines[key.path] = _line(row, waiting, result.outputs)
            shown = key.path.removeprefix(f"{self._scope_path}.") if self._scope_path else key.path
            line.cells[0] = elide(shown, NAME_LIMIT)
            line.keys[0] = shown
        return line

    def _design(self) -> BlockDesign:
        """The design with blocks as last analysed: its flat instances and its library."""
        if self._blocks is None:
            self._blocks = self._document.blocks()
        return self._blocks

    def _children(self, path: str) -> list[str]:
        """The flat paths of the rows right inside the instance at `path`, as the report
        writes them: its copies where repeated, else its block's layers and instances."""
        design = self._design()
        info = design.flat.instances.get(path)
        if info is None:
            return []
        if info.repeat > 1:
            return info.copies
        order = design.library.order_of(info.type)
        return [join(path, member.id) for member in order if member.type not in PORT_TYPES]

    def _inner_of(self, path: str, top: str, depth: int) -> list[Inner]:
        """The rows shown inside the open instance at `path`, each followed by its own
        where it is open too; sorted among siblings as the top rows are."""
        children = [Inner(child, top, depth) for child in self._children(path)]
        if self._sort_column >= 0:
            column = self._sort_column
            children.sort(key=lambda k: self._line(k).keys[column], reverse=self._descending)
        found: list[Inner] = []
        for child in children:
            found.append(child)
            if child.path in self._expanded:
                found += self._inner_of(child.path, top, depth + 1)
        return found

    def _sorted(self) -> list[RowKey]:
        if self._sort_column < 0:
            rows: list[RowKey] = list(self._order)
        else:
            column = self._sort_column
            rows = sorted(
                self._order, key=lambda n: self._line(n).keys[column], reverse=self._descending
            )
        if not (self.tree and self._expanded):
            return rows
        shown: list[RowKey] = []
        for node_id in rows:
            shown.append(node_id)
            path = join(self._scope_path or "", node_id)
            if path in self._expanded:
                shown += self._inner_of(path, node_id, 1)
        return shown

    def _set_rows(self, rows: list[RowKey]) -> None:
        self._rows = rows
        self._index = {key: row for row, key in enumerate(rows)}
        if self.tree:
            self._by_path = {self.path_of(row): row for row in range(len(rows))}

    def _relayout(self) -> None:
        """Put the rows in sort order, moving selections and other persistent indexes along."""
        rows = self._sorted()
        if rows == self._rows:
            return
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        keys = [self._rows[i.row()] for i in before]
        self._set_rows(rows)
        after = [self.index(self._index[key], i.column()) for key, i in zip(keys, before)]
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()

    # following the document ---------------------------------------------------------------

    def _on_graph_changed(self, change: Change) -> None:
        if change.kind is ChangeKind.STRUCTURE:
            self._stale = True
            self._flush.start()
        elif change.kind is ChangeKind.COSMETIC:  # a rename; moves leave the cells as they are
            changed = []
            for node_id in change.nodes & self._lines.keys():
                if self._stale:  # the node may be gone: compute it after the reset
                    del self._lines[node_id]
                    continue
                line = self._compute(node_id)
                if line != self._lines[node_id]:
                    self._lines[node_id] = line
                    changed.append(self._index[node_id])
            self._emit_rows(changed)
            if changed:
                self._relayout()

    def _on_analysis_changed(self, node_ids: set[str]) -> None:
        for node_id in node_ids:
            self._lines.pop(node_id, None)
        arch = self._document.arch
        if self._stale or any((n in self._index) != (n in arch) for n in node_ids):
            self._reset()
            return
        rows = [self._index[n] for n in node_ids if n in self._index]
        if self.tree:  # the design was flattened and analysed afresh
            self._blocks, self._inner_rows = None, None
            self._inner_lines.clear()
            if len(self._rows) > len(self._order):  # rows are open: they change too
                if set(self._sorted()) != self._index.keys():  # a repeat or a block changed
                    self._reset()
                    return
                rows += [row for row, key in enumerate(self._rows) if type(key) is Inner]
        self._emit_rows(rows)
        self._relayout()

    def _on_scope_changed(self) -> None:
        self._lines.clear()  # the lines of another scope's nodes
        self._reset()

    def _emit_rows(self, rows: Iterable[int]) -> None:
        """dataChanged once per run of consecutive rows: a settings change is one signal."""
        last = len(HEADERS) - 1
        for top, bottom in runs(rows):
            self.dataChanged.emit(self.index(top, 0), self.index(bottom, last))

    def _reset(self) -> None:
        self._flush.stop()
        self.beginResetModel()
        self._stale = False
        document = self._document
        self._order = document.arch.report_order() if document is not None else []
        self._lines = {n: line for n, line in self._lines.items() if n in document.arch}
        blocks = document is not None and document.design is not None
        self._scope_path = (document.trail[-1].path if document.trail else "") if blocks else ""
        self.tree = blocks and self._scope_path is not None
        self._blocks, self._inner_rows = None, None
        self._inner_lines.clear()
        self._set_rows(self._sorted())
        self.endResetModel()


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
        self.resizeColumnsToContents()
        self._sized_empty = self.summary.rowCount() == 0

    def _size_first_rows(self) -> None:
        """Columns sized for an empty design (after New) are sized again for the first
        rows that come."""
        if self._sized_empty and self.summary.rowCount():
            self._size_columns()

    def _show_branches(self) -> None:
        """The id column draws the tree only where the design has blocks."""
        delegate = self._branches if self.summary.tree else None
        if self.itemDelegateForColumn(0) is not delegate:
            self.setItemDelegateForColumn(0, delegate)
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
        if needed > self.columnWidth(0):
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
