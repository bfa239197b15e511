"""The canvas at scale: a design opens as one item per node and per edge (ports become
items only when wanted), the scene's extent comes from the nodes' places, and dragging,
wiring and hovering work the same with ports made on demand."""

from __future__ import annotations

import itertools
from pathlib import Path

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from designer.core.graph import Architecture, EdgeRecord, NodeRecord
from designer.io.project import Project, save
from designer.ui.canvas.edge_item import EdgeItem
from designer.ui.canvas.node_item import NodeItem
from designer.ui.canvas.ports import PortItem
from designer.ui.document import Document
from tests.conftest import EXAMPLES


def chain_file(tmp_path: Path, count: int) -> Path:
    nodes = [NodeRecord("input", "Input", {"shape": [3, 16, 16]})]
    nodes += [NodeRecord(f"r{i}", "ReLU") for i in range(count - 1)]
    ids = [n.id for n in nodes]
    edges = [EdgeRecord(a, b) for a, b in itertools.pairwise(ids)]
    path = tmp_path / "chain.nnd"
    save(path, Architecture.build("chain", nodes, edges))
    return path


def test_a_design_opens_as_one_item_per_node_and_edge(window, tmp_path: Path) -> None:
    assert window.open_path(chain_file(tmp_path, 2_000))
    scene = window.scene
    assert len(scene.nodes) == 2_000 and len(scene.edges) == 1_999
    assert len(scene.items()) == 2_000 + 1_999  # no port items until they are wanted
    rect = scene.sceneRect()
    for item in scene.nodes.values():
        assert rect.contains(item.sceneBoundingRect())
    # asking for a node's ports makes them, where they were drawn
    item = scene.nodes["r7"]
    (port,) = item.input_ports
    assert isinstance(port, PortItem)
    assert port.scenePos() == item.input_anchor(0)
    edge = next(e for r, e in scene.edges.items() if r.target == "r7")
    assert edge.path().pointAtPercent(1) == port.scenePos()
    box, curve = edge.sceneBoundingRect(), edge.path().boundingRect()
    assert box.left() <= curve.left() and curve.right() <= box.right()
    assert box.top() <= curve.top() and curve.bottom() <= box.bottom()


def test_dragging_a_node_moves_its_edges_and_is_one_step(window) -> None:
    assert window.open_path(EXAMPLES / "lenet5.nnd")
    document = window.document
    canvas, scene = window.canvas, window.scene
    node = scene.nodes["c3"]
    canvas.centre_on("c3")
    viewport = canvas.viewport()
    start = canvas.mapFromScene(node.sceneBoundingRect().center() + QPointF(-40, 0))
    end = start + (canvas.mapFromScene(QPointF(200, 0)) - canvas.mapFromScene(QPointF(0, 0)))
    before = document.arch.node("c3").pos
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for step in range(1, 6):
        QTest.mouseMove(viewport, start + (end - start) * step / 5)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    after = document.arch.node("c3").pos
    assert after[0] - before[0] > 100 and abs(after[1] - before[1]) < 5
    assert document.undo_stack.count() == 1
    for record, edge in scene.edges.items():
        if "c3" in (record.source, record.target):
            ends = (edge.path().pointAtPercent(0), edge.path().pointAtPercent(1))
            anchors = (
                scene.nodes[record.source].output_anchor(record.output),
                scene.nodes[record.target].input_anchor(record.port),
            )
            assert ends == anchors
    document.undo_stack.undo()
    assert document.arch.node("c3").pos == before
    assert node.pos() == QPointF(*before)


def test_wiring_works_on_ports_that_were_never_asked_for(window) -> None:
    document = Document(Project(Architecture.build("two", [
        NodeRecord("input", "Input", {"shape": [3, 8, 8]}, pos=(0.0, 0.0)),
        NodeRecord("relu", "ReLU", {}, pos=(0.0, 200.0)),
    ], [])))  # fmt: skip
    window._replace(document)
    canvas, scene = window.canvas, window.scene
    source, target = scene.nodes["input"], scene.nodes["relu"]
    assert source._ports is None and target._ports is None
    start = canvas.mapFromScene(source.output_anchor(0))
    end = canvas.mapFromScene(target.input_anchor(0))
    viewport = canvas.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(viewport, (start + end) / 2)
    QTest.mouseMove(viewport, end)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    assert document.arch.inputs("relu") == [(0, "input")]
    assert isinstance(canvas._port_or_item(end), PortItem)
    edge = next(iter(scene.edges.values()))
    assert isinstance(edge, EdgeItem) and edge.label_text == "3x8x8"


def test_hovering_a_node_makes_its_ports(window, qtbot) -> None:
    assert window.open_path(EXAMPLES / "lenet5.nnd")
    canvas = window.canvas
    node: NodeItem = window.scene.nodes["c1"]
    canvas.centre_on("c1")
    assert node._ports is None
    QTest.mouseMove(canvas.viewport(), canvas.mapFromScene(node.sceneBoundingRect().center()))
    qtbot.waitUntil(lambda: node._ports is not None, timeout=2000)
    assert len(node.input_ports) == 1 and len(node.output_ports) == 1
