"""What every canvas item paints with: the scale below which items are only sketched, the
small font of labels, and whether the scene is being drawn into a picture."""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGraphicsItem

SKETCH_LOD = 0.3  # below this scale nodes are drawn as blocks: their text could not be read


@cache
def label_font() -> QFont:
    """Made on first paint: a QFont needs the application to exist."""
    font = QFont()
    font.setPointSizeF(font.pointSizeF() * 0.85)
    return font


def in_picture(item: QGraphicsItem) -> bool:
    """Whether the item is being drawn into a picture (the scene's `clean`)."""
    scene = item.scene()
    return scene is not None and getattr(scene, "clean", False)
