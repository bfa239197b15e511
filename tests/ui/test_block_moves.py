"""Moving nodes in a design with blocks analyses nothing again (every other edit flattens
and analyses the design afresh: seconds for a very large one), yet the places are saved,
inside blocks too, and undone."""

from __future__ import annotations

import json

from designer.core.edits import Compound, Move
from designer.ui.document import Document
from tests.conftest import EXAMPLES


def test_moves_in_a_design_with_blocks_are_saved_and_analyse_nothing(tmp_path) -> None:
    document = Document.open(EXAMPLES / "resnet50-blocks.nnd")
    engine, results = document.engine, dict(document.results)
    assert document.push(Move("conv1", (500.0, 40.0)))
    document.open_block("Bottleneck")
    x, y = document.arch.node("conv2").pos
    assert document.push(Compound([Move("conv2", (x + 30, y)), Move("bn2", (x + 30, y + 120))]))
    assert document.engine is engine  # not analysed again
    document.go_up(0)
    assert document.results == results

    saved = tmp_path / "moved.nnd"
    document.save(saved)
    written = json.loads(saved.read_text(encoding="utf-8"))
    top = {node["id"]: node for node in written["nodes"]}
    bottleneck = next(block for block in written["blocks"] if block["id"] == "Bottleneck")
    inner = {node["id"]: node for node in bottleneck["nodes"]}
    assert top["conv1"]["pos"] == [500, 40]
    assert inner["conv2"]["pos"] == [x + 30, y] and inner["bn2"]["pos"] == [x + 30, y + 120]

    document.undo_stack.undo()
    document.save(saved)
    written = json.loads(saved.read_text(encoding="utf-8"))
    bottleneck = next(block for block in written["blocks"] if block["id"] == "Bottleneck")
    assert {node["id"]: node for node in bottleneck["nodes"]}["conv2"]["pos"] == [x, y]
    assert document.engine is engine
