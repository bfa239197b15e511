"""Layers with several outputs in the window: one port per output slot, named, wiring from
a slot, edges that leave from their slot's port and carry its shape, every slot in the
node, the summary and the inspector; and inputs of any rank."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QSpinBox,
    QStyleOptionGraphicsItem,
    QWidget,
)

from designer.core.edits import AddNode, Connect, SetParams
from designer.core.graph import EdgeRecord, NodeRecord
from designer.export import report
from designer.io.project import load
from designer.ui import clipboard, style
from designer.ui.main_window import AS_DESIGNED

SHAPE = report.COLUMNS.index("output_shape")


def write_design(path: Path, nodes: list[dict], edges: list[dict]) -> Path:
    path.write_text(
        json.dumps(
            {
                "format": "nn-designer-project",
                "version": 2,
                "name": path.stem,
                "nodes": nodes,
                "edges": edges,
            }
        )
    )
    return path


def pool_with_indices(tmp_path: Path) -> Path:
    """Input[3,8,8] → MaxPool2d(2, return_indices): values → ReLU, indices → Flatten."""
    return write_design(
        tmp_path / "indices.nnd",
        [
            {"id": "input", "type": "Input", "params": {"shape": [3, 8, 8]}, "pos": [0, 0]},
            {
                "id": "pool",
                "type": "MaxPool2d",
                "params": {"kernel_size": 2, "return_indices": True},
                "pos": [0, 130],
            },
            {"id": "relu", "type": "ReLU", "params": {}, "pos": [-130, 290]},
            {"id": "flat", "type": "Flatten", "params": {}, "pos": [130, 290]},
        ],
        [
            {"source": "input", "target": "pool"},
            {"source": "pool", "target": "relu"},
            {"source": "pool", "target": "flat", "output": 1},
        ],
    )


def drag(window, start: QPointF, end: QPointF) -> None:
    """Press at a scene point, move, release at another: what a wiring drag sends."""
    canvas = window.canvas
    viewport = canvas.viewport()
    a, b = canvas.mapFromScene(start), canvas.mapFromScene(end)
    no_keys = Qt.KeyboardModifier.NoModifier
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, no_keys, a)
    QTest.mouseMove(viewport, (a + b) / 2)
    QTest.mouseMove(viewport, b)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, no_keys, b)


def result_label(window, key: str) -> QLabel:
    return window.inspector.findChild(QLabel, f"result_{key}")


def test_two_output_ports_and_an_edge_from_the_second(window, tmp_path: Path) -> None:
    path = pool_with_indices(tmp_path)
    assert window.open_path(path)
    scene = window.scene
    pool = scene.nodes["pool"]

    assert [(p.index, p.name, p.is_output) for p in pool.output_ports] == [
        (0, "values", True),
        (1, "indices", True),
    ]
    assert pool.height == style.NODE_HEIGHT + style.PORT_LABEL_STRIP  # room for the names
    first, second = (p.scenePos() for p in pool.output_ports)
    assert first.y() == second.y() == pool.scenePos().y() + pool.height
    assert first.x() < second.x()

    to_flat = scene.edges[EdgeRecord("pool", "flat", 0, 1)]
    to_relu = scene.edges[EdgeRecord("pool", "relu", 0, 0)]
    assert to_flat.path().pointAtPercent(0) == second
    assert to_relu.path().pointAtPercent(0) == first
    assert to_flat.label_text == to_relu.label_text == "3x4x4"

    assert pool.lines()[2] == "→ 3x4x4, 3x4x4"
    model = window.summary.model()
    assert model.index(model.row_of("pool"), SHAPE).data() == "3x4x4, 3x4x4"
    assert model.index(model.row_of("flat"), SHAPE).data() == "48"
    assert window.document.result("flat").shape == (48,)

    window.document.select(["pool"])
    assert result_label(window, "output").text() == (
        "values: 3x4x4, float32\nindices: 3x4x4, int64"
    )
    window.document.select(["flat"])
    assert result_label(window, "output").text() == "48, int64"

    saved = tmp_path / "again.nnd"
    assert window._save_to(saved)
    assert {"source": "pool", "target": "flat", "output": 1} in json.loads(saved.read_text())[
        "edges"
    ]
    assert EdgeRecord("pool", "flat", 0, 1) in load(saved).arch.edges()
    assert window.open_path(saved)
    reopened = window.scene.nodes["pool"]
    assert len(reopened.output_ports) == 2
    edge = window.scene.edges[EdgeRecord("pool", "flat", 0, 1)]
    assert edge.path().pointAtPercent(0) == reopened.output_ports[1].scenePos()


def test_toggling_return_indices_in_the_inspector_changes_the_ports(
    qtbot, window, tmp_path: Path
) -> None:
    path = write_design(
        tmp_path / "pool.nnd",
        [
            {"id": "input", "type": "Input", "params": {"shape": [3, 8, 8]}, "pos": [0, 0]},
            {"id": "pool", "type": "MaxPool2d", "params": {"kernel_size": 2}, "pos": [0, 130]},
        ],
        [{"source": "input", "target": "pool"}],
    )
    assert window.open_path(path)
    document, pool = window.document, window.scene.nodes["pool"]
    assert [p.name for p in pool.output_ports] == ["output"]
    assert pool.height == style.NODE_HEIGHT

    document.select(["pool"])
    box = window.inspector.findChild(QWidget, "param_return_indices").findChild(QCheckBox)
    assert not box.isChecked()
    box.click()
    assert document.arch.params_of("pool") == {"kernel_size": 2, "return_indices": True}
    assert [p.name for p in pool.output_ports] == ["values", "indices"]
    assert pool.height == style.NODE_HEIGHT + style.PORT_LABEL_STRIP
    assert result_label(window, "output").text().splitlines() == [
        "values: 3x4x4, float32",
        "indices: 3x4x4, int64",
    ]

    document.undo_stack.undo()
    assert not box.isChecked()
    assert [p.name for p in pool.output_ports] == ["output"]
    assert pool.height == style.NODE_HEIGHT
    assert result_label(window, "output").text() == "3x4x4"


def test_wiring_from_the_second_port_connects_slot_one_and_undo_restores(
    qtbot, window, tmp_path: Path
) -> None:
    path = write_design(
        tmp_path / "wire.nnd",
        [
            {"id": "input", "type": "Input", "params": {"shape": [3, 8, 8]}, "pos": [0, 0]},
            {
                "id": "pool",
                "type": "MaxPool2d",
                "params": {"kernel_size": 2, "return_indices": True},
                "pos": [0, 130],
            },
            {"id": "flat", "type": "Flatten", "params": {}, "pos": [130, 300]},
        ],
        [{"source": "input", "target": "pool"}],
    )
    assert window.open_path(path)
    document = window.document
    before = document.snapshot()
    pool, flat = window.scene.nodes["pool"], window.scene.nodes["flat"]

    drag(window, pool.output_ports[1].scenePos(), flat.input_ports[0].scenePos())
    assert document.arch.in_edges("flat") == [EdgeRecord("pool", "flat", 0, 1)]
    assert document.undo_stack.count() == 1
    assert document.result("flat").output.dtype == "int64"
    edge = window.scene.edges[EdgeRecord("pool", "flat", 0, 1)]
    assert edge.path().pointAtPercent(0) == pool.output_ports[1].scenePos()
    after = document.snapshot()
    assert '"output": 1' in after

    document.undo_stack.undo()
    assert document.snapshot() == before
    assert not document.arch.in_edges("flat")
    assert not window.scene.edges.keys() - {EdgeRecord("input", "pool")}
    document.undo_stack.redo()
    assert document.snapshot() == after
    assert document.arch.in_edges("flat") == [EdgeRecord("pool", "flat", 0, 1)]
    assert EdgeRecord("pool", "flat", 0, 1) in window.scene.edges

    # the first port still feeds slot 0
    document.push(AddNode(NodeRecord("relu", "ReLU", {}, pos=(-130.0, 300.0))))
    relu = window.scene.nodes["relu"]
    drag(window, pool.output_ports[0].scenePos(), relu.input_ports[0].scenePos())
    assert document.arch.in_edges("relu") == [EdgeRecord("pool", "relu", 0, 0)]


def test_a_slot_the_layer_lost_keeps_its_port_in_red(window, tmp_path: Path) -> None:
    assert window.open_path(pool_with_indices(tmp_path))
    document, pool = window.document, window.scene.nodes["pool"]
    document.push(SetParams.with_param(document.arch, "pool", "return_indices", None))
    assert [(p.name, p.missing) for p in pool.output_ports] == [
        ("output", False),
        ("output 1", True),
    ]
    assert document.result("flat").error == "reads output 1 of pool, which has 1 output (0)"
    edge = window.scene.edges[EdgeRecord("pool", "flat", 0, 1)]
    assert edge.label_text == ""
    assert edge.path().pointAtPercent(0) == pool.output_ports[1].scenePos()
    document.undo_stack.undo()
    assert [(p.name, p.missing) for p in pool.output_ports] == [
        ("values", False),
        ("indices", False),
    ]


def test_copy_paste_keeps_output_slots(window, tmp_path: Path) -> None:
    assert window.open_path(pool_with_indices(tmp_path))
    document = window.document
    document.select(["pool", "flat", "relu"])
    text = clipboard.fragment(document.arch, document.selected())
    assert {"source": "pool", "target": "flat", "output": 1} in json.loads(text)["edges"]

    window.copy()
    window.paste()
    pasted = document.selected()
    assert len(pasted) == 3
    by_type = {document.arch.type_of(n): n for n in pasted}
    pool, flat, relu = by_type["MaxPool2d"], by_type["Flatten"], by_type["ReLU"]
    assert document.arch.in_edges(flat) == [EdgeRecord(pool, flat, 0, 1)]
    assert document.arch.in_edges(relu) == [EdgeRecord(pool, relu, 0, 0)]
    assert EdgeRecord(pool, flat, 0, 1) in window.scene.edges
    document.undo_stack.undo()
    assert not any(n in document.arch for n in pasted)


def test_input_of_any_rank_opens_and_shows_its_shape(qtbot, window, tmp_path: Path) -> None:
    errors: list[BaseException] = []
    hook, sys.excepthook = sys.excepthook, lambda kind, error, trace: errors.append(error)
    try:
        path = write_design(
            tmp_path / "rank5.nnd",
            [
                {"id": "input", "type": "Input", "params": {"shape": [1, 2, 3, 4, 5]}},
                {"id": "relu", "type": "ReLU", "params": {}},
            ],
            [{"source": "input", "target": "relu"}],
        )
        assert window.open_path(path)
        model = window.summary.model()
        assert model.index(model.row_of("relu"), SHAPE).data() == "1x2x3x4x5"
        assert model.index(model.row_of("input"), SHAPE).data() == "1x2x3x4x5"
        assert window.scene.nodes["relu"].lines()[2] == "→ 1x2x3x4x5"
        edge = window.scene.edges[EdgeRecord("input", "relu")]
        assert edge.label_text == "1x2x3x4x5"
        window.document.select(["relu"])
        assert result_label(window, "output").text() == "1x2x3x4x5"
        assert result_label(window, "rf").text() == "1 × 1 × 1 × 1, stride 1 × 1 × 1 × 1"
        window.document.select(["input"])
        shape = window.inspector.findChild(QWidget, "param_shape")
        assert shape.value() == (1, 2, 3, 4, 5)
        for kind in window.overlay_actions:
            window.overlay_actions[kind].trigger()
        picture = QImage(400, 300, QImage.Format.Format_ARGB32)  # paint every item
        painter = QPainter(picture)
        window.scene.render(painter)
        painter.end()
        qtbot.wait(10)
    finally:
        sys.excepthook = hook
    assert errors == []


def test_dtype_choice_offers_as_designed_first(window, tmp_path: Path) -> None:
    path = write_design(
        tmp_path / "tokens.nnd",
        [
            {"id": "ids", "type": "Input", "params": {"shape": [16], "dtype": "int64"}},
            {"id": "x", "type": "Input", "params": {"shape": [16]}},
        ],
        [],
    )
    assert window.open_path(path)
    combo = window.findChild(QComboBox, "dtype")
    assert combo.itemText(0) == AS_DESIGNED and combo.itemData(0) is None
    assert [combo.itemText(i) for i in range(1, combo.count())] == [
        "float32",
        "float16",
        "bfloat16",
        "float64",
        "int8",
    ]
    assert combo.currentIndex() == 0
    assert window.document.settings.dtype is None
    assert window.document.result("ids").memory == 16 * 8
    combo.setCurrentIndex(combo.findText("float16"))
    assert window.document.settings.dtype == "float16"
    assert window.document.result("ids").memory == 16 * 8  # integers keep their dtype
    assert window.document.result("x").memory == 16 * 2
    combo.setCurrentIndex(0)
    assert window.document.settings.dtype is None
    assert window.document.result("x").memory == 16 * 4


def test_new_params_have_working_editors(qtbot, window) -> None:
    """The params the value model added: Input dtype, padding_mode, return_indices,
    recompute_scale_factor (nullable bool) and the norms' bias."""
    document = window.document
    for node_id, type_name, params in (
        ("input", "Input", {"shape": [3, 8, 8]}),
        ("conv", "Conv2d", {"out_channels": 4, "kernel_size": 3}),
        ("up", "Upsample", {"scale_factor": 2.0}),
        ("bn", "BatchNorm2d", {}),
        ("gn", "GroupNorm", {"num_groups": 1}),
    ):
        document.push(AddNode(NodeRecord(node_id, type_name, params)))

    def editor(name: str) -> QWidget:
        found = window.inspector.findChild(QWidget, f"param_{name}")
        assert found is not None, name
        return found

    document.select(["input"])
    combo = editor("dtype").findChild(QComboBox)
    combo.setCurrentIndex(combo.findText("int64"))
    combo.activated.emit(combo.currentIndex())
    assert document.arch.params_of("input")["dtype"] == "int64"

    document.select(["conv"])
    combo = editor("padding_mode").findChild(QComboBox)
    combo.setCurrentIndex(combo.findText("reflect"))
    combo.activated.emit(combo.currentIndex())
    assert document.arch.params_of("conv")["padding_mode"] == "reflect"

    document.select(["up"])
    nullable = editor("recompute_scale_factor")
    none = nullable.findChild(QCheckBox, "none")
    assert none.isChecked()
    none.click()
    assert document.arch.params_of("up")["recompute_scale_factor"] is False
    nullable.findChild(QWidget, "value").findChild(QCheckBox).click()
    assert document.arch.params_of("up")["recompute_scale_factor"] is True

    for node_id in ("bn", "gn"):
        document.select([node_id])
        box = editor("bias").findChild(QCheckBox)
        assert box.isChecked()
        box.click()
        assert document.arch.params_of(node_id)["bias"] is False


def test_an_adaptive_pool_axis_can_keep_its_size(qtbot, window) -> None:
    """output_size (None, 3): the spin box below 1 reads "keep", and is null in the file."""
    document = window.document
    document.push(AddNode(NodeRecord("input", "Input", {"shape": [2, 5, 7]})))
    document.push(AddNode(NodeRecord("pool", "AdaptiveAvgPool2d", {"output_size": 3})))
    document.push(Connect("input", "pool"))
    document.select(["pool"])
    editor = window.inspector.findChild(QWidget, "param_output_size")
    editor.findChild(QCheckBox, "same").click()  # axes apart
    first = editor.findChildren(QSpinBox)[0]
    first.setValue(first.minimum())
    assert first.text() == "keep"
    assert document.arch.params_of("pool")["output_size"] == (None, 3)
    assert document.result("pool").shape == (2, 5, 3)
    document.select(["input"])
    document.select(["pool"])  # shown again from the model
    assert (
        window.inspector.findChild(QWidget, "param_output_size").findChildren(QSpinBox)[0].text()
        == "keep"
    )


def test_named_input_ports_show_their_names_beside_them(window, tmp_path: Path) -> None:
    """Attention's query, key and value are written just above their ports, inside the
    node's bounds (so the scene repaints them), and only where the layer names its ports."""
    path = write_design(
        tmp_path / "attention.nnd",
        [
            {"id": "input", "type": "Input", "params": {"shape": [4, 16, 8]}, "pos": [0, 0]},
            {"id": "sdpa", "type": "ScaledDotProductAttention", "pos": [0, 160]},
        ],
        [{"source": "input", "target": "sdpa", "port": port} for port in range(3)],
    )
    assert window.open_path(path)
    sdpa, source = window.scene.nodes["sdpa"], window.scene.nodes["input"]
    assert sdpa.input_names == ("query", "key", "value")
    assert source.input_names == ()
    assert sdpa.boundingRect().top() < source.boundingRect().top()  # room for the names

    def ink_above_ports(item) -> int:
        """Dark pixels in the band just above the node's top edge."""
        box = item.boundingRect()
        picture = QImage(int(box.width()), int(box.height()), QImage.Format.Format_ARGB32)
        picture.fill(0xFFFFFFFF)
        painter = QPainter(picture)
        painter.translate(-box.left(), -box.top())
        item.paint(painter, QStyleOptionGraphicsItem(), None)
        painter.end()
        band = range(int(-box.top() - style.PORT_RADIUS - 2))
        return sum(
            QColor(picture.pixel(x, y)).value() < 230 for x in range(picture.width()) for y in band
        )

    assert ink_above_ports(sdpa) > 40
    assert ink_above_ports(source) == 0


def test_a_split_by_size_has_a_port_per_piece_as_its_input_changes(window, tmp_path) -> None:
    """Split by a size makes as many pieces as the input holds: 3 ports for 6 channels by
    2, and 4 once the input has 8 (an edit upstream), each wireable by the mouse."""
    path = write_design(
        tmp_path / "split.nnd",
        [
            {"id": "input", "type": "Input", "params": {"shape": [6, 4, 4]}, "pos": [0, 0]},
            {"id": "split", "type": "Split", "params": {"split_size_or_sections": 2}},
        ],
        [{"source": "input", "target": "split"}],
    )
    assert window.open_path(path)
    split = window.scene.nodes["split"]
    assert [p.name for p in split.output_ports] == ["output 0", "output 1", "output 2"]
    document = window.document
    document.push(SetParams.with_param(document.arch, "input", "shape", [8, 4, 4]))
    assert len(split.output_ports) == 4
    document.push(AddNode(NodeRecord("relu", "ReLU")))
    document.push(Connect("split", "relu", output=3))
    assert document.result("relu").shape == (2, 4, 4)
    document.undo_stack.undo()
    document.undo_stack.undo()
    document.undo_stack.undo()
    assert len(split.output_ports) == 3
