"""The summary of a design with blocks, a tree: instance rows open (through the view's
mouse and keys) onto the rows `designer report --expand` writes, follow edits inside
blocks, and select their instance; a plain design's rows never open."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from designer.cli import main
from designer.core.edits import SetParams
from designer.ui.document import Document
from designer.ui.panels.summary import SummaryView
from designer.ui.panels.summary_cells import branch_rect
from designer.ui.panels.summary_model import REPORT_ROLE
from tests.conftest import EXAMPLES
from tests.ui.test_summary import PARAMS, make_view, table

BLOCKS = EXAMPLES / "resnet50-blocks.nnd"
LEFT = Qt.MouseButton.LeftButton
NO_KEYS = Qt.KeyboardModifier.NoModifier


def report_rows(capsys, path: Path, *options: str) -> list[list[str]]:
    """The rows `designer report` writes of the file at `path`."""
    capsys.readouterr()
    assert main(["report", str(path), *options]) == 0
    return list(csv.reader(io.StringIO(capsys.readouterr().out)))[1:]


def saved(document: Document, folder: Path) -> Path:
    """The design as a file, for `designer report` to read afresh."""
    path = folder / "design.nnd"
    document.save(path)
    return path


def ids(view: SummaryView) -> list[str]:
    model = view.summary
    return [model.index(row, 0).data(REPORT_ROLE) for row in range(model.rowCount())]


def cell_point(view: SummaryView, path: str) -> QPoint:
    """The middle of the id cell of the row at flat `path`."""
    return view.visualRect(view.summary.index(view.summary.row_of_path(path), 0)).center()


def arrow_point(view: SummaryView, path: str) -> QPoint:
    row = view.summary.row_of_path(path)
    return branch_rect(
        view.visualRect(view.summary.index(row, 0)), view.summary.depth(row)
    ).center()


def double_click(view: SummaryView, path: str) -> None:
    """A double-click on a row's id cell as a person makes one: Qt's test sends only the
    double-click event, without the press before it, which selects."""
    QTest.mouseClick(view.viewport(), LEFT, NO_KEYS, cell_point(view, path))
    QTest.mouseDClick(view.viewport(), LEFT, NO_KEYS, cell_point(view, path))


def open_everything(view: SummaryView) -> None:
    """Every instance row opened, nested ones too, by its arrow."""
    model = view.summary
    closed = [model.path_of(r) for r in range(model.rowCount()) if model.expandable(r)]
    while closed := [p for p in closed if not view.is_expanded(p)]:
        view.scrollTo(model.index(model.row_of_path(closed[0]), 0))
        QTest.mouseClick(view.viewport(), LEFT, NO_KEYS, arrow_point(view, closed[0]))
        closed += [model.path_of(r) for r in range(model.rowCount()) if model.expandable(r)]


def test_instance_rows_open_onto_the_expanded_report(qtbot, capsys) -> None:
    document = Document.open(BLOCKS)
    view = make_view(qtbot, document)
    view.resize(1200, 800)
    model = view.summary
    top = report_rows(capsys, BLOCKS)
    expanded = {row[0]: row for row in report_rows(capsys, BLOCKS, "--expand")}
    assert table(view) == top
    assert [model.path_of(r) for r in range(model.rowCount()) if model.expandable(r)] == [
        "layer1",
        "layer2",
        "layer3",
        "layer4",
    ]

    # a double-click opens layer1 onto its two instances, with the report's figures
    double_click(view, "layer1")
    assert view.is_expanded("layer1")
    at = ids(view).index("layer1")
    assert ids(view)[at : at + 4] == ["layer1", "layer1.first", "layer1.rest", "layer2"]
    for path in ("layer1.first", "layer1.rest"):
        assert table(view)[model.row_of_path(path)] == expanded[path]
        assert model.depth(model.row_of_path(path)) == 1
    assert document.selected() == ["layer1"]  # the double-click's press selected the row

    # the arrow opens the repeated instance onto its copies, selecting nothing
    QTest.mouseClick(view.viewport(), LEFT, NO_KEYS, arrow_point(view, "layer1.rest"))
    assert ids(view)[at + 3 : at + 5] == ["layer1.rest.0", "layer1.rest.1"]
    assert document.selected() == ["layer1"]

    # Right opens the current instance row, Left closes it
    view.setCurrentIndex(model.index(model.row_of_path("layer1.rest.0"), 0))
    QTest.keyClick(view, Qt.Key.Key_Right)
    inner = [p for p in ids(view) if p.startswith("layer1.rest.0.")]
    assert inner == [p for p in expanded if p.startswith("layer1.rest.0.")]
    assert len(inner) == 10
    assert all(table(view)[model.row_of_path(p)] == expanded[p] for p in inner)
    QTest.keyClick(view, Qt.Key.Key_Left)
    assert not view.is_expanded("layer1.rest.0")
    assert not any(p.startswith("layer1.rest.0.") for p in ids(view))

    # closing layer1 keeps what was open inside it for the next time
    double_click(view, "layer1")
    assert table(view) == top
    view.setCurrentIndex(model.index(model.row_of("layer1"), 0))
    QTest.keyClick(view, Qt.Key.Key_Plus)
    assert ids(view)[at + 3 : at + 5] == ["layer1.rest.0", "layer1.rest.1"]

    # every row open: the table is the expanded report, row for row
    open_everything(view)
    assert table(view) == list(expanded.values())


def test_open_rows_follow_an_edit_inside_a_block(qtbot, capsys, tmp_path) -> None:
    document = Document.open(BLOCKS)
    view = make_view(qtbot, document)
    model = view.summary
    for path in ("layer1", "layer1.rest", "layer1.rest.0"):
        view.expand(path)
    conv2 = table(view)[model.row_of_path("layer1.rest.0.conv2")][PARAMS]
    rest = table(view)[model.row_of_path("layer1.rest")][PARAMS]

    document.open_instance("layer1")
    # inside layer1 its instances are rows of their own, still open, ids from the scope
    assert [model.node_id(r) for r in range(3)] == ["x", "first", "rest"]
    assert view.is_expanded("layer1.rest")
    row = model.row_of_path("layer1.rest.0")
    assert model.index(row, 0).data() == "rest.0"
    assert model.index(row, 0).data(REPORT_ROLE) == "layer1.rest.0"
    document.open_instance("rest")
    document.push(SetParams.with_param(document.arch, "conv2", "bias", True))
    document.go_up(0)

    assert view.is_expanded("layer1.rest.0")
    edited = report_rows(capsys, saved(document, tmp_path), "--expand")
    assert table(view) == [row for row in edited if row[0] in set(ids(view))]
    assert int(table(view)[model.row_of_path("layer1.rest.0.conv2")][PARAMS]) == int(conv2) + 64
    assert int(table(view)[model.row_of_path("layer1.rest")][PARAMS]) == int(rest) + 2 * 64

    document.undo_stack.undo()  # shows the block it changes; the way back shows the rows
    document.go_up(0)
    assert table(view)[model.row_of_path("layer1.rest.0.conv2")][PARAMS] == conv2


def test_an_edit_of_an_open_instance_updates_its_rows(qtbot, capsys, tmp_path) -> None:
    document = Document.open(BLOCKS)
    view = make_view(qtbot, document)
    model = view.summary
    view.expand("layer1")
    view.expand("layer1.rest")
    resets = []
    model.modelReset.connect(lambda: resets.append(1))

    document.push(SetParams.with_param(document.arch, "layer1", "width", 32))
    assert resets == []  # the same rows, new figures: updated in place
    edited = report_rows(capsys, saved(document, tmp_path), "--expand")
    assert table(view) == [row for row in edited if row[0] in set(ids(view))]

    document.push(SetParams.with_param(document.arch, "layer1", "depth", 4))  # a third copy
    at = ids(view).index("layer1.rest")
    assert ids(view)[at + 1 : at + 5] == [
        "layer1.rest.0",
        "layer1.rest.1",
        "layer1.rest.2",
        "layer2",
    ]
    edited = report_rows(capsys, saved(document, tmp_path), "--expand")
    assert table(view) == [row for row in edited if row[0] in set(ids(view))]


def test_a_row_inside_an_instance_selects_the_instance(qtbot) -> None:
    document = Document.open(BLOCKS)
    view = make_view(qtbot, document)
    model = view.summary
    view.expand("layer2")
    row = model.row_of_path("layer2.first")
    with qtbot.waitSignal(view.node_activated) as activated:
        view.selectRow(row)
    assert activated.args == ["layer2"]
    assert document.selected() == ["layer2"]
    assert [i.row() for i in view.selectionModel().selectedRows()] == [row]  # as picked

    document.select(["conv1"])  # as the canvas selects
    assert [i.row() for i in view.selectionModel().selectedRows()] == [model.row_of("conv1")]


def test_sorting_keeps_inner_rows_under_their_instance(qtbot) -> None:
    document = Document.open(BLOCKS)
    view = make_view(qtbot, document)
    model = view.summary
    view.expand("layer3")
    view.expand("layer3.rest")
    view.sortByColumn(PARAMS, Qt.SortOrder.DescendingOrder)
    rows = table(view)

    def params(paths: list[str]) -> list[int]:
        return [int(rows[model.row_of_path(p)][PARAMS] or -1) for p in paths]

    tops = [model.path_of(r) for r in range(model.rowCount()) if model.depth(r) == 0]
    assert params(tops) == sorted(params(tops), reverse=True)
    at = ids(view).index("layer3")
    copies = ids(view)[at + 2 : at + 7]  # the larger first, each set sorted
    assert ids(view)[at + 1 : at + 8] == ["layer3.rest", *copies, "layer3.first"]
    assert sorted(copies) == [f"layer3.rest.{k}" for k in range(5)]
    first, rest = params(["layer3.first", "layer3.rest"])
    assert rest > first
    assert params(copies) == sorted(params(copies), reverse=True)
    view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # report order
    at = ids(view).index("layer3")
    assert ids(view)[at + 1 : at + 4] == ["layer3.first", "layer3.rest", "layer3.rest.0"]


def test_a_design_that_takes_blocks_becomes_a_tree(qtbot, capsys, tmp_path) -> None:
    document = Document.open(EXAMPLES / "lenet5.nnd")
    view = make_view(qtbot, document)
    assert not view.summary.tree
    conv, relu = [n for n in document.arch.report_order() if n != "input"][:2]
    assert document.group([conv, relu])
    (instance,) = document.selected()
    assert view.summary.tree
    view.expand(instance)
    expanded = report_rows(capsys, saved(document, tmp_path), "--expand")
    assert table(view) == expanded
    assert ids(view) == [row[0] for row in expanded]
    assert f"{instance}.{conv}" in ids(view)


def test_a_plain_design_has_no_rows_that_open(qtbot) -> None:
    document = Document.open(EXAMPLES / "resnet18.nnd")
    view = make_view(qtbot, document)
    model = view.summary
    count = model.rowCount()
    assert not model.tree
    assert not any(model.expandable(r) for r in range(count))
    assert view.itemDelegateForColumn(0) is None  # the plain painter draws every column
    double_click(view, "conv1")
    view.setCurrentIndex(model.index(model.row_of("conv1"), 0))
    QTest.keyClick(view, Qt.Key.Key_Right)
    view.expand("conv1")
    assert model.rowCount() == count
    assert not view.is_expanded("conv1")
    assert [model.depth(r) for r in range(count)] == [0] * count


def test_the_window_keeps_rows_open_across_scopes(window) -> None:
    assert window.open_path(BLOCKS)
    view = window.summary
    double_click(view, "layer1")
    assert view.is_expanded("layer1")
    window.document.open_instance("layer1")  # the window points every view at the scope
    assert window.document.scope == "Stage"
    window.document.go_up(0)
    assert view.is_expanded("layer1")
    assert "layer1.first" in ids(view)
