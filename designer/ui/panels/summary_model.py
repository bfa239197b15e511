"""The summary table's model: the report of contract section 3, live, one row per node.

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

Where the design has blocks the model is also a tree: an open instance row is followed by
the rows `designer report --expand` writes under it, ids as paths, a nested instance
opening further and a repeated one holding a row per copy. Those rows are read-only
figures, computed only when an instance is opened. They are table rows, keyed by `Inner`
among the node ids: a plain design never has any, and costs what it did.
"""

from __future__ import annotations

from collections.abc import Iterable
from math import prod
from typing import Any, NamedTuple

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QModelRoleDataSpan,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
)
from PySide6.QtGui import QColor

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
    if not state and row["params"] is not None:  # else no numbers: the report's are empty
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
        self._scope_path = document.shown_path if blocks else ""
        self.tree = blocks and self._scope_path is not None
        self._blocks, self._inner_rows = None, None
        self._inner_lines.clear()
        self._set_rows(self._sorted())
        self.endResetModel()
