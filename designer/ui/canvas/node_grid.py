"""Nodes filed by the cell of a grid their place falls in: what edges ask, while many are
placed at once, about the nodes in their way (the scene's own index would be rebuilt
after every edge placed, or node moved, since it was last asked)."""

from __future__ import annotations

from collections.abc import Iterable

from designer.ui import style
from designer.ui.canvas.node_item import NodeItem

_CELL = 256.0  # the side of a cell


class NodeGrid:
    """The nodes as they are placed when the grid is made."""

    def __init__(self, items: Iterable[NodeItem]) -> None:
        self._cells: dict[tuple[int, int], list[NodeItem]] = {}
        for item in items:
            at = item.pos()
            cell = (int(at.x() // _CELL), int(at.y() // _CELL))
            self._cells.setdefault(cell, []).append(item)

    def nodes_in(self, left: float, top: float, right: float, bottom: float) -> list[NodeItem]:
        """The nodes whose bodies (with their slot names' strip) meet a box."""
        reach = style.NODE_WIDTH, style.NODE_HEIGHT + style.PORT_LABEL_STRIP
        columns = range(int((left - reach[0]) // _CELL), int(right // _CELL) + 1)
        rows = range(int((top - reach[1]) // _CELL), int(bottom // _CELL) + 1)
        if len(columns) * len(rows) <= len(self._cells):
            cells = [self._cells.get((i, j), ()) for i in columns for j in rows]
        else:  # a box larger than the design (a node placed very far): the cells there
            cells = [at for (i, j), at in self._cells.items() if i in columns and j in rows]
        out = []
        for cell in cells:
            for item in cell:
                at = item.pos()
                x, y = at.x(), at.y()
                if x < right and x + reach[0] > left and y < bottom and y + item.height > top:
                    out.append(item)
        return out
