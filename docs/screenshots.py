"""Regenerate the README's screenshots from the running app (offscreen):

QT_QPA_PLATFORM=offscreen python docs/screenshots.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QStandardPaths

from designer.core.edits import SetParams
from designer.ui.app import application
from designer.ui.autosave import Autosaver
from designer.ui.main_window import MainWindow

OUT = ROOT / "docs" / "screenshots"
EXAMPLES = ROOT / "resources" / "examples"


def main() -> None:
    QStandardPaths.setTestModeEnabled(True)
    app = application()
    window = MainWindow(autosaver=Autosaver(Path(tempfile.mkdtemp())))
    window.resize(1600, 960)
    window.show()

    window.open_path(EXAMPLES / "seed-20-inception-reduced.nnd")
    window.document.select(["b3x3"])
    app.processEvents()
    window.grab().save(str(OUT / "window-inception.png"))

    window.document.push(SetParams.with_param(window.document.arch, "b5x5", "padding", 1))
    window.document.select(["concat"])
    app.processEvents()
    window.grab().save(str(OUT / "window-shape-error.png"))
    window.inspector.grab().save(str(OUT / "inspector-error.png"))

    window.document.undo_stack.setClean()
    window.open_path(EXAMPLES / "seed-19-inception-naive.nnd")
    window.overlay_actions["macs"].trigger()
    app.processEvents()
    window.grab().save(str(OUT / "overlay-macs.png"))
    window.document.undo_stack.setClean()
    window.close()


if __name__ == "__main__":
    main()
