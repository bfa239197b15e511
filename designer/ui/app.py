"""Starting the window: the application object, the main window, crash recovery."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from designer.ui.clipboard import FRAGMENT_MIME
from designer.ui.main_window import MainWindow


def application() -> QApplication:
    """The one QApplication, named so QSettings and the data folder are the app's own."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("designer")
    app.setApplicationName("designer")
    return app


def run(path: Path | None) -> int:
    app = application()
    app.aboutToQuit.connect(_release_clipboard)
    window = MainWindow()
    window.show()
    window.offer_recovery()
    if path is not None:
        window.open_path(path)
    return app.exec()


def _release_clipboard() -> None:
    """Layers copied from this process are dropped at exit: PySide crashes on quitting
    while the clipboard still holds MIME data it created."""
    clipboard = QApplication.clipboard()
    data = clipboard.mimeData() if clipboard is not None else None
    if data is not None and data.hasFormat(FRAGMENT_MIME):
        clipboard.clear()
