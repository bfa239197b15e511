"""Copy and paste of parts of a design: the selected nodes and the edges among them.

A fragment travels as project-file JSON under its own MIME type (and as plain text), so a
paste into another window or another session works, and pasting never runs code. Block
instances and repeated layers travel as they are written in a file with blocks, together
with the definitions of the blocks they use (and of the blocks those hold).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication

from designer.core import registry
from designer.core.block_editing import as_record, members
from designer.core.block_edits import held_blocks
from designer.core.blocks import Library
from designer.core.edits import AddNode, Compound, Connect
from designer.core.expr import holds_expr
from designer.core.graph import Architecture, NodeRecord
from designer.io.project import ProjectError, loads
from designer.io.project_format import FORMAT
from designer.io.project_writer import dumps_members
from designer.ui.editing import Box, clear_offset, node_box

FRAGMENT_MIME = "application/x-nn-designer-fragment"
PASTE_OFFSET = 40.0


def fragment(arch: Architecture, node_ids: list[str], library: Library | None = None) -> str:
    """The selected nodes and the edges among them (on their ports and output slots), as
    project-file text; instances of `library`'s blocks bring their blocks. ValueError where
    one is a block's port or holds an expression over its block's params."""
    chosen = set(node_ids)
    for node_id in node_ids:
        kind = arch.type_of(node_id)
        if kind not in registry.LAYERS and (library is None or kind not in library):
            raise ValueError(f"{node_id} is a {kind}, not a layer or a block instance")
        if any(map(holds_expr, arch.params_of(node_id).values())):
            raise ValueError(f"{node_id} holds an expression over its block's params")
    part = Architecture.build(
        arch.name,
        [node for node in arch.nodes() if node.id in chosen],
        [e for e in arch.edges() if e.source in chosen and e.target in chosen],
        arch.catalog,
    )
    nodes = members(part)  # repeated layers and instances as Instances
    used = held_blocks(library, {node.type for node in nodes}) if library else set()
    catalog = library.catalog if library else registry.LAYERS
    blocks = Library([b for b in library or () if b.id in used], catalog)
    return dumps_members(arch.name, nodes, part.edges(), blocks)


def clipboard_text() -> str:
    """The clipboard's fragment, or else its text. ValueError where it holds neither."""
    data = QGuiApplication.clipboard().mimeData()
    if data is None or not (data.hasFormat(FRAGMENT_MIME) or data.hasText()):
        raise ValueError("the clipboard is empty")
    if data.hasFormat(FRAGMENT_MIME):
        return bytes(data.data(FRAGMENT_MIME)).decode("utf-8")
    return data.text()


def put_on_clipboard(text: str) -> None:
    """A fragment onto the clipboard, as a fragment and as plain text."""
    data = QMimeData()
    data.setData(FRAGMENT_MIME, text.encode("utf-8"))
    data.setText(text)
    QGuiApplication.clipboard().setMimeData(data)


NewId = Callable[[str, set[str]], str]  # (layer type, ids already handed out) → a free id


@dataclass
class Pasted:
    """A fragment as one edit: its nodes added with fresh ids (`node_ids`) and the edges
    among them; `library`, the blocks its instances need, where it was written with
    blocks or repeats (empty for repeats alone; None for plain layers)."""

    edit: Compound
    node_ids: list[str]
    library: Library | None

    @property
    def block_ids(self) -> list[str]:
        """The blocks the fragment's instances are of."""
        if self.library is None:
            return []
        kinds = (p.record.type for p in self.edit.parts if isinstance(p, AddNode))
        return sorted({kind for kind in kinds if kind in self.library})


def paste_edit(
    text: str,
    new_id: NewId,
    occupied: list[Box] | None = None,
    horizontal: bool = False,
    at: tuple[float, float] | None = None,
) -> Pasted | None:
    """The fragment with fresh ids, its top left at `at`, or else offset so it is seen
    (and, given the boxes of the nodes there, `occupied`, clear of them all); None when
    the text is not a fragment, ValueError (the first problem) when it is one that cannot
    be read."""
    try:
        project = loads(text)
    except ProjectError as error:
        if _is_fragment(text):  # ours, and unreadable: why, rather than "no layers"
            raise ValueError(error.problems[0]) from None
        return None
    blocks = project.blocks
    nodes = [as_record(m) for m in blocks.nodes] if blocks else project.arch.nodes()
    edges = blocks.edges if blocks else project.arch.edges()
    dx, dy = _offset([node.pos for node in nodes if node.pos is not None], occupied, horizontal, at)
    renamed: dict[str, str] = {}
    parts: list[AddNode | Connect] = []
    for node in nodes:
        fresh = new_id(node.type, set(renamed.values()))
        renamed[node.id] = fresh
        pos = None if node.pos is None else (round(node.pos[0] + dx, 2), round(node.pos[1] + dy, 2))
        parts.append(AddNode(NodeRecord(fresh, node.type, node.params, node.name, pos)))
    for edge in edges:
        parts.append(Connect(renamed[edge.source], renamed[edge.target], edge.port, edge.output))
    library = blocks.library if blocks is not None else None
    return Pasted(Compound(parts, "Paste"), list(renamed.values()), library)


def _is_fragment(text: str) -> bool:
    """Whether the text is a project file's (a fragment's) JSON, readable or not."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def _offset(
    placed: list[tuple[float, float]],
    occupied: list[Box] | None,
    horizontal: bool,
    at: tuple[float, float] | None,
) -> tuple[float, float]:
    """How far the fragment's nodes move: their top left onto `at`, else PASTE_OFFSET down
    and right, further where that would cover a node of `occupied`."""
    if not placed:
        return PASTE_OFFSET, PASTE_OFFSET
    if at is not None:
        return at[0] - min(x for x, _ in placed), at[1] - min(y for _, y in placed)
    if not occupied:
        return PASTE_OFFSET, PASTE_OFFSET
    boxes = [node_box(*pos) for pos in placed]
    extent = (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    return clear_offset(extent, occupied, PASTE_OFFSET, PASTE_OFFSET, horizontal)
