"""A window and its document, gone, are freed safely with the document's undo steps. The
document is in a reference cycle (its design calls back one of its signals), so Python's
collector frees it; its commands held it strongly and could be freed before the stack
that owns them, which then deleted them a second time: a crash at the end of a test run."""

from __future__ import annotations

import gc

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

from designer.core import registry
from designer.core.edits import AddNode, Compound
from designer.core.graph import NodeRecord
from designer.ui.autosave import Autosaver
from designer.ui.main_window import MainWindow


def test_a_closed_window_and_its_undo_steps_are_collected_safely(qtbot, tmp_path) -> None:
    for round_ in range(3):
        window = MainWindow(autosaver=Autosaver(tmp_path))
        window.show()
        document = window.document
        for kind, spec in list(registry.LAYERS.items())[:40]:
            node_id = document.new_node_id(kind)
            record = NodeRecord(node_id, kind, spec.starting_params())
            assert document.push(Compound([AddNode(record)], f"Add {kind}"))
            document.select([node_id])
        document.undo_stack.setClean()
        window.close()
        window.deleteLater()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        del window, document
        gc.collect()  # the cycles freed here, with Qt whole (a segmentation fault before)
