"""The window opens a design with blocks expanded (its flat design, ids as paths); since it
can only save that flat design, Save never writes over the file with blocks: it asks for a
new name, and the title says so."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from designer.core.edits import SetParams
from designer.io.project import load
from tests.conftest import EXAMPLES


def test_a_design_with_blocks_opens_expanded_and_save_asks_for_a_new_name(
    window, tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "resnet50-blocks.nnd"
    shutil.copy(EXAMPLES / "resnet50-blocks.nnd", path)
    original = path.read_text(encoding="utf-8")
    assert window.open_path(path)
    assert "resnet50-blocks.nnd (blocks expanded)" in window.windowTitle()
    document = window.document
    assert "layer2.first.conv2" in document.arch
    assert document.totals().params == 25_557_032
    document.push(SetParams.with_param(document.arch, "fc", "out_features", 10))
    asked = []
    flat = tmp_path / "flat.nnd"

    def ask(*args, **kwargs):
        asked.append(args)
        return str(flat), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", ask)
    window.save_action.trigger()
    assert asked == [
        (window, "Save design", str(tmp_path / "resnet50-blocks-expanded.nnd"), "Designs (*.nnd)")
    ]
    assert path.read_text(encoding="utf-8") == original  # the blocks are kept
    saved = load(flat)
    assert saved.blocks is None and "layer2.first.conv2" in saved.arch
    assert saved.arch.params_of("fc") == {"out_features": 10}
    assert window.document.path == flat
    assert "(blocks expanded)" not in window.windowTitle()
    document.push(SetParams.with_param(document.arch, "fc", "out_features", 12))
    window.save_action.trigger()  # the flat file is the design's own now: saved in place
    assert len(asked) == 1
    assert load(flat).arch.params_of("fc") == {"out_features": 12}
