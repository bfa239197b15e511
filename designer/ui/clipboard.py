"""Copy and paste of parts of a design: the selected nodes and the edges among them.

A fragment travels as project-file JSON under its own MIME type (and as plain text), so a
paste into another window or another session works, and pasting never runs code.
"""

from __future__ import annotations

from collections.abc import Callable

from designer.core import registry
from designer.core.edits import AddNode, Compound, Connect, Edit
from designer.core.expr import holds_expr
from designer.core.graph import Architecture, NodeRecord
from designer.io.project import ProjectError, dumps, loads
from designer.ui.editing import Box, clear_offset, node_box

FRAGMENT_MIME = "application/x-nn-designer-fragment"
PASTE_OFFSET = 40.0


def fragment(arch: Architecture, node_ids: list[str]) -> str:
    """The selected nodes and the edges among them (on their ports and output slots), as
    project-file text. ValueError where one is a block instance, a block's port or holds
    an expression: a fragment is plain layers."""
    chosen = set(node_ids)
    for node_id in node_ids:
        if arch.type_of(node_id) not in registry.LAYERS:
            raise ValueError(f"{node_id} is a {arch.type_of(node_id)}, not a layer")
        if any(map(holds_expr, arch.params_of(node_id).values())):
            raise ValueError(f"{node_id} holds an expression over its block's params")
    nodes = [
        NodeRecord(node.id, node.type, node.params, node.name, node.pos)
        for node in arch.nodes()
        if node.id in chosen
    ]
    edges = [e for e in arch.edges() if e.source in chosen and e.target in chosen]
    return dumps(Architecture.build(arch.name, nodes, edges, arch.catalog))


NewId = Callable[[str, set[str]], str]  # (layer type, ids already handed out) → a free id


def paste_edit(
    text: str,
    new_id: NewId,
    occupied: list[Box] | None = None,
    horizontal: bool = False,
) -> tuple[Edit, list[str]] | None:
    """One Compound edit adding the fragment with fresh ids, offset so it is seen (and,
    given the boxes of the nodes there, `occupied`, clear of them all); None when the
    text is not a fragment."""
    try:
        part = loads(text).arch
    except ProjectError:
        return None
    dx = dy = PASTE_OFFSET
    placed = [node.pos for node in part.nodes() if node.pos is not None]
    if occupied and placed:
        fragment = [node_box(*pos) for pos in placed]
        extent = (
            min(b[0] for b in fragment),
            min(b[1] for b in fragment),
            max(b[2] for b in fragment),
            max(b[3] for b in fragment),
        )
        dx, dy = clear_offset(extent, occupied, dx, dy, horizontal)
    renamed: dict[str, str] = {}
    parts: list[Edit] = []
    for node in part.nodes():
        fresh = new_id(node.type, set(renamed.values()))
        renamed[node.id] = fresh
        pos = None if node.pos is None else (round(node.pos[0] + dx, 2), round(node.pos[1] + dy, 2))
        parts.append(AddNode(NodeRecord(fresh, node.type, node.params, node.name, pos)))
    for edge in part.edges():
        parts.append(Connect(renamed[edge.source], renamed[edge.target], edge.port, edge.output))
    return Compound(parts, "Paste"), list(renamed.values())
