"""The summary table: the report of `designer report`, live under edits, undo and selection."""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QTableView

from designer.cli import main
from designer.core.analysis import Settings
from designer.core.edits import (
    AddNode,
    Compound,
    Connect,
    Disconnect,
    RemoveNode,
    Rename,
    SetParams,
)
from designer.core.graph import Architecture, EdgeRecord, NodeRecord
from designer.core.propagate import analyse
from designer.export import report
from designer.io.project import Project, loads
from designer.ui.document import Document
from designer.ui.panels.summary import SummaryView
from designer.ui.panels.summary_model import (
    ERROR_COLUMN,
    HEADERS,
    KEY_ROLE,
    REPORT_ROLE,
    ROW_TINTS,
    runs,
)
from tests.conftest import EXAMPLES, WORKING_EXAMPLES

PARAMS = report.COLUMNS.index("params")
SHAPE = report.COLUMNS.index("output_shape")


def make_view(qtbot, document: Document) -> SummaryView:
    view = SummaryView(document)
    qtbot.addWidget(view)
    return view


def table(view: QTableView) -> list[list[str]]:
    """The cells as the report writes them (the window words them for people)."""
    model = view.model()
    columns = range(model.columnCount())
    return [[model.index(r, c).data(REPORT_ROLE) for c in columns] for r in range(model.rowCount())]


def report_of(document: Document) -> list[list[str]]:
    """The report of the design as a fresh analysis of its file text gives it, so nothing
    is shared with the document's own engine."""
    engine = analyse(loads(document.snapshot()).arch, document.settings)
    return list(csv.reader(io.StringIO(report.to_csv(engine))))[1:]


def chain_document(length: int) -> Document:
    """Input → Conv2d → ReLU → Conv2d → … with ids n1, n2, …"""
    nodes = [NodeRecord("input", "Input", {"shape": [8, 32, 32]})]
    edges = []
    previous = "input"
    for i in range(1, length):
        node_id = f"n{i}"
        if i % 2:
            nodes.append(
                NodeRecord(node_id, "Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1})
            )
        else:
            nodes.append(NodeRecord(node_id, "ReLU"))
        edges.append(EdgeRecord(previous, node_id))
        previous = node_id
    return Document(Project(Architecture.build("chain", nodes, edges)))


@pytest.mark.parametrize("path", WORKING_EXAMPLES, ids=lambda p: p.name)
def test_table_matches_designer_report(qtbot, capsys, path: Path) -> None:
    view = make_view(qtbot, Document.open(path))
    assert main(["report", str(path)]) == 0  # with blocks: the top level, an instance a row
    header, *rows = csv.reader(io.StringIO(capsys.readouterr().out))
    model = view.model()
    keys = [
        model.headerData(c, Qt.Orientation.Horizontal, KEY_ROLE) for c in range(model.columnCount())
    ]
    assert keys == header == list(report.COLUMNS + report.EXTRA_COLUMNS)
    assert table(view) == rows
    assert view.objectName() == "summary"


def test_param_edit_updates_rows_in_place_and_undo_restores_them(qtbot) -> None:
    document = Document.open(EXAMPLES / "lenet5.nnd")
    view = make_view(qtbot, document)
    before = table(view)
    conv = next(n.id for n in document.arch.nodes() if n.type == "Conv2d")
    resets = []
    view.summary.modelReset.connect(lambda: resets.append(1))
    document.push(SetParams.with_param(document.arch, conv, "out_channels", 8))
    after = table(view)
    assert after != before
    assert after == report_of(document)
    assert resets == []
    document.undo_stack.undo()
    assert table(view) == before
    document.undo_stack.redo()
    assert table(view) == after


def test_add_remove_and_rewire_change_the_rows(qtbot) -> None:
    document = Document.open(EXAMPLES / "lenet5.nnd")
    view = make_view(qtbot, document)
    count = view.model().rowCount()
    last = report.report_order(document.engine)[-1]
    document.push(AddNode(NodeRecord("extra", "ReLU")))
    assert view.model().rowCount() == count + 1
    document.push(Connect(last, "extra"))
    assert table(view) == report_of(document)
    document.push(RemoveNode(last))
    assert view.model().rowCount() == count
    assert table(view) == report_of(document)
    for _ in range(3):
        document.undo_stack.undo()
    assert view.model().rowCount() == count
    assert table(view) == report_of(document)


def test_rewiring_that_changes_no_result_reorders_the_rows(qtbot) -> None:
    """Two identical branches: moving a consumer from one to the other changes only the
    report order, and no analysis_changed follows."""
    arch = Architecture("branches")
    arch.add_node(NodeRecord("input", "Input", {"shape": [3, 8, 8]}))
    arch.add_node(NodeRecord("a", "ReLU"))
    arch.add_node(NodeRecord("c", "Sigmoid"))
    arch.add_node(NodeRecord("b", "ReLU"))
    for edge in (("input", "a"), ("input", "b"), ("a", "c")):
        arch.connect(*edge)
    document = Document(Project(arch))
    view = make_view(qtbot, document)
    assert [row[0] for row in table(view)] == ["input", "a", "c", "b"]
    rewire = Compound([Disconnect(EdgeRecord("a", "c")), Connect("b", "c")], "Rewire")
    with qtbot.assertNotEmitted(document.analysis_changed):
        document.push(rewire)
    qtbot.waitUntil(lambda: [row[0] for row in table(view)] == ["input", "a", "b", "c"])
    assert table(view) == report_of(document)


def test_rename_updates_the_name_cell(qtbot) -> None:
    document = Document.open(EXAMPLES / "lenet5.nnd")
    view = make_view(qtbot, document)
    table(view)  # shown once, so the rows are cached
    node_id = document.arch.nodes()[1].id
    document.push(Rename(node_id, "renamed"))
    row = view.summary.row_of(node_id)
    assert view.summary.index(row, 1).data() == "renamed"
    assert table(view) == report_of(document)


def test_settings_change_updates_memory(qtbot) -> None:
    document = Document.open(EXAMPLES / "lenet5.nnd")
    view = make_view(qtbot, document)
    before = table(view)
    document.set_settings(Settings(batch_size=4, dtype=document.settings.dtype))
    assert table(view) != before
    assert table(view) == report_of(document)


def test_errors_are_red_and_waiting_rows_tinted(qtbot) -> None:
    document = chain_document(4)
    view = make_view(qtbot, document)
    document.push(SetParams.with_param(document.arch, "n1", "kernel_size", 40))  # > 32 + 2
    model = view.summary
    states = {}
    for r in range(model.rowCount()):
        result = document.result(model.node_id(r))
        states[r] = "error" if result.error else "waiting" if result.blocked_by else ""
    assert list(states.values()) == ["", "error", "waiting", "waiting"]
    for r, state in states.items():
        cell = model.index(r, ERROR_COLUMN)
        assert cell.data(Qt.ItemDataRole.BackgroundRole) == ROW_TINTS.get(state)
        assert (cell.data(Qt.ItemDataRole.ForegroundRole) is not None) == bool(state)
        if state:
            assert cell.data(Qt.ItemDataRole.ToolTipRole).startswith(cell.data())


def test_warnings_are_tooltips(qtbot) -> None:
    document = chain_document(3)
    document.push(SetParams.with_param(document.arch, "n1", "kernel_size", 40))
    document.push(SetParams.with_param(document.arch, "n1", "padding", 20))
    view = make_view(qtbot, document)
    column = HEADERS.index("warnings")
    warnings = [(r, row[column]) for r, row in enumerate(table(view)) if row[column]]
    assert warnings
    for r, text in warnings:
        tip = view.summary.index(r, 0).data(Qt.ItemDataRole.ToolTipRole)
        assert tip == text.replace(" | ", "\n")


def test_sorting_by_params_is_numeric(qtbot) -> None:
    document = Document.open(EXAMPLES / "vgg16.nnd")
    view = make_view(qtbot, document)
    view.sortByColumn(PARAMS, Qt.SortOrder.DescendingOrder)
    shown = [int(row[PARAMS]) for row in table(view)]
    assert shown == sorted(shown, reverse=True)
    assert len({len(str(p)) for p in shown}) > 2  # text order would differ
    view.sortByColumn(PARAMS, Qt.SortOrder.AscendingOrder)
    assert [int(row[PARAMS]) for row in table(view)] == sorted(shown)


def test_sorted_rows_follow_edits_and_keep_the_selection(qtbot) -> None:
    document = chain_document(9)
    view = make_view(qtbot, document)
    view.sortByColumn(PARAMS, Qt.SortOrder.DescendingOrder)
    view.selectRow(view.summary.row_of("n7"))
    assert view.selected_ids() == ["n7"]
    document.push(SetParams.with_param(document.arch, "n7", "out_channels", 64))
    assert table(view)[0][0] == "n7"  # now the largest
    assert view.selected_ids() == ["n7"]
    assert document.selected() == ["n7"]
    document.push(AddNode(NodeRecord("extra", "Linear", {"out_features": 10})))
    shown = [int(row[PARAMS]) if row[PARAMS] else -1 for row in table(view)]  # unconnected: ""
    assert shown == sorted(shown, reverse=True)
    assert table(view)[-1][0] == "extra"
    assert view.selected_ids() == ["n7"]
    view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # cleared
    assert table(view) == report_of(document)


def test_shapes_sort_by_element_count(qtbot) -> None:
    document = Document.open(EXAMPLES / "vgg16.nnd")
    view = make_view(qtbot, document)
    view.sortByColumn(SHAPE, Qt.SortOrder.AscendingOrder)
    sizes = [
        math.prod(int(d) for d in row[SHAPE].split("x")) if row[SHAPE] else -1
        for row in table(view)
    ]
    assert sizes == sorted(sizes)


def test_selecting_rows_selects_nodes_and_back(qtbot) -> None:
    document = Document.open(EXAMPLES / "resnet18.nnd")
    view = make_view(qtbot, document)
    view.sortByColumn(PARAMS, Qt.SortOrder.DescendingOrder)
    node_id = table(view)[3][0]
    with (
        qtbot.waitSignal(view.node_activated) as activated,
        qtbot.waitSignal(document.selection_changed) as selected,
    ):
        view.selectRow(3)
    assert selected.args == [[node_id]]
    assert activated.args == [node_id]
    assert document.selected() == [node_id]

    others = [table(view)[1][0], table(view)[7][0]]
    with qtbot.assertNotEmitted(view.node_activated):
        document.select(others)
    rows = sorted(index.row() for index in view.selectionModel().selectedRows())
    assert rows == [1, 7]
    assert document.selected() == others  # no echo rewrote the order

    deselect = QItemSelectionModel.SelectionFlag.Deselect | QItemSelectionModel.SelectionFlag.Rows
    no_update = QItemSelectionModel.SelectionFlag.NoUpdate
    view.selectionModel().setCurrentIndex(view.model().index(7, 0), no_update)
    with qtbot.assertNotEmitted(view.node_activated):
        view.selectionModel().select(view.model().index(7, 0), deselect)
    assert document.selected() == others[:1]


def test_selection_survives_a_reset(qtbot) -> None:
    document = Document.open(EXAMPLES / "lenet5.nnd")
    view = make_view(qtbot, document)
    kept = report.report_order(document.engine)[2]
    document.select([kept])
    document.push(AddNode(NodeRecord("extra", "ReLU")))
    assert view.selected_ids() == [kept]


def test_selection_model_select_also_reaches_the_document(qtbot) -> None:
    document = Document.open(EXAMPLES / "lenet5.nnd")
    view = make_view(qtbot, document)
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    view.selectionModel().select(view.model().index(0, 0), flags)
    view.selectionModel().select(view.model().index(2, 0), flags)
    assert document.selected() == [table(view)[0][0], table(view)[2][0]]


def test_switching_documents(qtbot) -> None:
    first = Document.open(EXAMPLES / "lenet5.nnd")
    second = Document.open(EXAMPLES / "alexnet.nnd")
    view = make_view(qtbot, first)
    view.set_document(second)
    assert table(view) == report_of(second)
    first.push(AddNode(NodeRecord("extra", "ReLU")))  # no longer followed
    assert table(view) == report_of(second)
    view.set_document(None)
    assert view.model().rowCount() == 0


def test_param_edit_in_a_big_design_updates_rows_not_the_model(qtbot) -> None:
    document = chain_document(5000)
    view = make_view(qtbot, document)
    table(view)
    resets, changes = [], []
    view.summary.modelReset.connect(lambda: resets.append(1))
    view.summary.dataChanged.connect(lambda top, bottom: changes.append((top.row(), bottom.row())))
    started = time.perf_counter()
    document.push(SetParams.with_param(document.arch, "n4999", "out_channels", 4))
    elapsed = time.perf_counter() - started
    assert resets == []
    assert changes == [(4999, 4999)]  # the last row only
    assert table(view)[-1][SHAPE] == "4x32x32"
    assert elapsed < 0.25  # the model's share is a few ms; the bound leaves room for a busy machine


def test_runs_group_consecutive_rows() -> None:
    assert runs([5, 1, 2, 3, 7, 6, 9]) == [(1, 3), (5, 7), (9, 9)]
    assert runs([]) == []


def test_columns_widen_for_figures_that_grow_as_a_design_is_built(qtbot, window) -> None:
    """A design built node by node from New: each column keeps room for what it shows (the
    columns were sized for the first row alone, so a Conv2d's MACs came out as '21,290…')."""
    window.new()
    for kind in ("Input", "Conv2d", "ReLU"):
        window.palette.activated_type.emit(kind)  # each added below the one selected
    view = window.summary
    model = view.model()
    conv = model.row_of("conv2d_1")
    document = window.document
    params = {**document.arch.params_of("conv2d_1"), "out_channels": 512}
    assert document.push(SetParams("conv2d_1", params))
    metrics = view.fontMetrics()
    columns = [HEADERS.index(key) for key in ("id", "macs", "flops", "params", "output_shape")]

    def cut() -> dict[str, int]:
        """The cells of the conv's row wider than their columns (a moment after the edit)."""
        texts = {column: model.index(conv, column).data() for column in columns}
        return {
            text: view.columnWidth(column)
            for column, text in texts.items()
            if view.columnWidth(column) < metrics.horizontalAdvance(text)
        }

    qtbot.waitUntil(lambda: not cut(), timeout=2000)


def test_a_column_the_user_sized_keeps_its_width(qtbot, window) -> None:
    window.open_path(EXAMPLES / "lenet5.nnd")
    view = window.summary
    view.horizontalHeader().resizeSection(0, 30)  # as a drag of its edge does
    window.document.select([window.document.arch.file_order()[-1]])
    qtbot.wait(400)  # past the moment columns widen after a change
    assert view.columnWidth(0) == 30
