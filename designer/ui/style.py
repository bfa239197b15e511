"""Colours, sizes and fonts of the canvas, in one place."""

from __future__ import annotations

import math

from PySide6.QtGui import QColor

NODE_WIDTH = 210.0
NODE_HEIGHT = 74.0
PORT_RADIUS = 6.0
PORT_LABEL_STRIP = 20.0  # below a node with several outputs: the slots' names
LONGEST_TEXT = 200  # characters of an id or a name that labels, tooltips and cells show
FARTHEST = 1e7  # the canvas places nodes within ±FARTHEST; a design may say farther

CATEGORY_COLOURS = {
    "Input/Output": "#5b8def",
    "Convolution": "#3aa57a",
    "Pooling": "#2f9fb3",
    "Linear": "#8a63d2",
    "Normalisation": "#c6912d",
    "Activation": "#d06a3b",
    "Resize": "#4d7f9e",
    "Padding": "#5e8c6a",
    "Merge": "#7a7a7a",
    "Tensor ops": "#6b7a99",
    "Sequence": "#b0487a",
    "Attention": "#c0392b",
    "Custom": "#444b57",
    "Regularisation": "#9c6f5b",
    "Blocks": "#1f4e79",
}

BACKGROUND = QColor("#f6f7f9")
GRID = QColor("#e6e8ec")
NODE_FILL = QColor("#ffffff")
NODE_TEXT = QColor("#1f2430")
MUTED_TEXT = QColor("#5c6370")
ERROR = QColor("#d23b3b")
WARNING = QColor("#d99100")
BLOCKED_FILL = QColor("#eceef1")
SELECTED = QColor("#2f6fde")
EDGE = QColor("#7d8594")
EDGE_LABEL = QColor("#4a5160")
OVERLAY_BAR = QColor("#2f6fde")


def category_colour(category: str) -> QColor:
    return QColor(CATEGORY_COLOURS.get(category, "#7a7a7a"))


def elide(text: str, limit: int = LONGEST_TEXT) -> str:
    """At most `limit` characters: the middle of a longer text becomes an ellipsis, so
    painting and measuring never handle megabytes of a pasted name."""
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return text[:half] + "…" + text[len(text) - (limit - 1 - half) :]


def placed(pos: tuple[float, float]) -> tuple[float, float]:
    """Where the canvas shows a node: its position clamped to ±FARTHEST on each axis (a
    position of 3e9 overflows Qt's integer coordinates, and 1e20 makes curves and grids
    take seconds); what is not a number shows at 0."""
    x, y = pos
    return (
        0.0 if math.isnan(x) else min(max(x, -FARTHEST), FARTHEST),
        0.0 if math.isnan(y) else min(max(y, -FARTHEST), FARTHEST),
    )
