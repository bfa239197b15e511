"""The window starts, names itself as the contract says, and opens an example."""

from __future__ import annotations

from PySide6.QtWidgets import QGraphicsView, QTableView, QWidget

from tests.conftest import EXAMPLES


def test_window_has_the_contract_names(window) -> None:
    assert window.objectName() == "MainWindow"
    assert isinstance(window.findChild(QGraphicsView, "canvas"), QGraphicsView)
    assert isinstance(window.findChild(QTableView, "summary"), QTableView)
    assert window.findChild(QWidget, "inspector") is not None
    assert window.findChild(QWidget, "palette") is not None


def test_opening_an_example_shows_it(window) -> None:
    assert window.open_path(EXAMPLES / "resnet18.nnd")
    assert window.windowTitle() == "resnet18.nnd (example copy)[*] — designer"
    assert not window.isWindowModified()
    assert len(window.scene.nodes) == len(window.document.arch) == 70
    assert "Params 11,689,512" in window.totals_label.text()
