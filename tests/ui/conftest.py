"""Window tests keep their settings, autosaves and clipboard away from the user's."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QStandardPaths

from designer.ui.autosave import Autosaver
from designer.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path: Path) -> MainWindow:
    QStandardPaths.setTestModeEnabled(True)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    autosaves = tmp_path / "autosave"
    autosaves.mkdir()
    main = MainWindow(autosaver=Autosaver(autosaves))
    qtbot.addWidget(main)
    main.resize(1400, 900)
    main.show()
    return main
