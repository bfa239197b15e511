"""The first window: opens an example and shows its report in the summary table."""

from __future__ import annotations

from PySide6.QtCore import Qt

from designer.core.propagate import analyse
from designer.export import report
from designer.io.project import load
from designer.ui.app import build_window
from tests.conftest import EXAMPLES


def test_window_shows_the_report_of_an_example(qtbot) -> None:
    path = EXAMPLES / "resnet18.nnd"
    window = build_window(path)
    qtbot.addWidget(window)
    assert window.objectName() == "MainWindow"
    table = window.findChild(type(window.centralWidget()), "summary")
    model = table.model()
    expected = [report.cells(row)[: len(report.COLUMNS)] for row in report.rows(analyse(load(path).arch))]
    shown = [
        [model.index(r, c).data() for c in range(model.columnCount())] for r in range(model.rowCount())
    ]
    assert shown == expected
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers == list(report.COLUMNS)
    assert window.windowTitle() == "resnet18.nnd — designer"


def test_window_without_a_file(qtbot) -> None:
    window = build_window(None)
    qtbot.addWidget(window)
    assert window.findChild(type(window.centralWidget()), "summary").model().rowCount() == 0
