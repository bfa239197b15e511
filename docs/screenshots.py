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

from PySide6.QtCore import QPoint, QPointF, QStandardPaths
from PySide6.QtGui import QContextMenuEvent, QPainter, QPixmap

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

    usability(app, window)
    window.document.undo_stack.setClean()
    window.close()


def usability(app, window: MainWindow) -> None:
    """The find box in use, a node's context menu, and Help ▸ What the numbers mean."""
    window.open_path(EXAMPLES / "resnet18.nnd")
    window.find_action.trigger()
    window.find_bar.field.setText("downsample")
    window.find_next_action.trigger()  # the second of four
    app.processEvents()
    window.grab().save(str(OUT / "find-box.png"))
    window.find_bar.close_bar()

    window.open_path(EXAMPLES / "seed-20-inception-reduced.nnd")
    canvas = window.canvas
    item = window.scene.nodes["b3x3_reduce"]
    at = canvas.mapFromScene(item.mapToScene(QPointF(120, 40)))
    viewport = canvas.viewport()
    app.sendEvent(
        viewport,
        QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at, viewport.mapToGlobal(at)),
    )
    menu = window.context_menus.last_menu
    app.processEvents()
    with_popup(window, menu).save(str(OUT / "context-menu.png"))
    menu.close()

    window.numbers_action.trigger()
    dialog = window.numbers_dialog
    dialog.resize(720, 760)
    app.processEvents()
    dialog.grab().save(str(OUT / "help-numbers.png"))
    dialog.close()


def with_popup(window: MainWindow, popup) -> QPixmap:
    """The window with a popup menu drawn where it opened (a popup is a window of its own,
    which grabbing the main window leaves out)."""
    picture = window.grab()
    painter = QPainter(picture)
    corner = window.mapFromGlobal(popup.mapToGlobal(QPoint(0, 0)))
    painter.drawPixmap(corner, popup.grab())
    painter.end()
    return picture


if __name__ == "__main__":
    main()
