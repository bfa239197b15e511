"""Window tests keep their settings, autosaves and clipboard away from the user's."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QSettings, QStandardPaths
from PySide6.QtWidgets import QApplication

from designer.ui.autosave import Autosaver
from designer.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path: Path) -> Iterator[MainWindow]:
    QStandardPaths.setTestModeEnabled(True)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings")
    )
    autosaves = tmp_path / "autosave"
    autosaves.mkdir()
    main = MainWindow(autosaver=Autosaver(autosaves))
    main.resize(1400, 900)
    main.show()
    yield main
    # closed here, not by qtbot (which closes before fixtures end): after marking the
    # design saved, so closing never waits on a "save changes?" question
    main.document.undo_stack.setClean()
    main.close()
    main.deleteLater()
    QApplication.clipboard().clear()  # clipboard data still held at exit crashes PySide
    QApplication.processEvents()
    # delete it now, while Qt is whole, not at interpreter exit: processEvents outside an
    # event loop leaves deferred deletions pending, and every window of the run would stay
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture(autouse=True)
def _freed_while_qt_is_whole(qapp) -> Iterator[None]:
    """What each window test left for Python's collector is freed at its end, at a known
    point while Qt is whole. Left to itself, the collector may free a window's objects in
    the middle of a later test or at pytest's last collection, in an order Qt's objects do
    not always survive (a crash at the end of a run, now and then)."""
    yield
    gc.collect()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
