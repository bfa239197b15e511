"""The inspector at its narrowest shows every layer type's editors without a horizontal
scroll bar: the three spin boxes of a 3-D layer's kernel_size once overflowed it by 34 px
(each as wide as the widest number a spin box holds), hiding the third axis."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QScrollArea

from designer.core import registry
from designer.core.edits import AddNode, Compound
from designer.core.graph import NodeRecord


def test_every_layer_type_fits_the_inspector_without_scrolling_sideways(window) -> None:
    document = window.document
    scroll = window.inspector.findChild(QScrollArea)
    # the room beside a vertical scroll bar, in the narrowest inspector
    room = window.inspector.minimumWidth() - scroll.verticalScrollBar().sizeHint().width()
    overflowing = {}
    for kind, spec in registry.LAYERS.items():
        node_id = document.new_node_id(kind)
        record = NodeRecord(node_id, kind, spec.starting_params())
        assert document.push(Compound([AddNode(record)], f"Add {kind}"))
        document.select([node_id])
        QApplication.processEvents()
        wanted = scroll.widget().minimumSizeHint().width()
        if wanted > room:
            overflowing[kind] = wanted - room
    assert overflowing == {}
