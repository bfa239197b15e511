"""Starting the window.

Until the full editor lands, the window shows the opened project's report as a table,
so `designer FILE` is already useful for reading a design's numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox, QTableView

from designer.core.propagate import analyse
from designer.export import report
from designer.io.project import ProjectError, load


def build_window(path: Path | None) -> QMainWindow:
    window = QMainWindow()
    window.setObjectName("MainWindow")
    window.setWindowTitle("designer")
    table = QTableView(window)
    table.setObjectName("summary")
    model = QStandardItemModel(0, len(report.COLUMNS), table)
    model.setHorizontalHeaderLabels(list(report.COLUMNS))
    table.setModel(model)
    window.setCentralWidget(table)
    window.resize(1100, 600)
    if path is not None:
        try:
            project = load(path)
        except ProjectError as error:
            QMessageBox.warning(window, "Cannot open", "\n".join(error.problems))
            return window
        window.setWindowTitle(f"{path.name} — designer")
        for row in report.rows(analyse(project.arch)):
            texts = report.cells(row)[: len(report.COLUMNS)]
            model.appendRow([QStandardItem(text) for text in texts])
        table.resizeColumnsToContents()
    return window


def run(path: Path | None) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = build_window(path)
    window.show()
    return app.exec()
