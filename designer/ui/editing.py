"""Edits the window composes from core edits, each one undo step: a layer inserted into a
chain (spliced between a node and what it fed, with room made for it), a layer dropped on
a connection, a delete that joins the chain it leaves, and places clear of the nodes that
are there. Pure Python over the Architecture: no widget, no scene.

Boxes are (left, top, right, bottom) in canvas units.
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from designer.core.edits import AddNode, Compound, Connect, Disconnect, Edit, Move, RemoveNode
from designer.core.graph import Architecture, EdgeRecord, NodeRecord
from designer.core.layout import COLUMN_WIDTH, ROW_HEIGHT
from designer.ui import style

Box = tuple[float, float, float, float]
GAP = 24.0  # the least room kept between a placed node and the others
STEP_ALONG = ROW_HEIGHT  # top to bottom: how far a node inserted after another goes
SIDEWAYS_ALONG = style.NODE_WIDTH + 100.0  # left to right: one column on (room for labels)
SIDEWAYS_ACROSS = style.NODE_HEIGHT + 56.0  # left to right: one row down


def sideways(positions: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """A top-to-bottom layout (`layered_positions`) turned to run left to right: its rows
    become columns and its columns rows, spaced for nodes that are wider than tall."""
    return {
        node_id: (
            round(y / ROW_HEIGHT * SIDEWAYS_ALONG, 2),
            round(x / COLUMN_WIDTH * SIDEWAYS_ACROSS, 2),
        )
        for node_id, (x, y) in positions.items()
    }


def runs_sideways(arch: Architecture) -> bool:
    """Whether a design's positions run left to right: its edges go right farther than
    they go down."""
    right = down = 0.0
    nodes = arch.graph.nodes
    for source, target in arch.graph.edges():
        start, end = nodes[source]["pos"], nodes[target]["pos"]
        if start is not None and end is not None:
            right += end[0] - start[0]
            down += end[1] - start[1]
    return right > 0 and right > down


def node_box(x: float, y: float) -> Box:
    """The room a node at (x, y) takes (the tallest node: one with slot names)."""
    return (x, y, x + style.NODE_WIDTH, y + style.NODE_HEIGHT + style.PORT_LABEL_STRIP)


def boxes(arch: Architecture, leave_out: Iterable[str] = ()) -> list[Box]:
    """Every placed node's box, but those of `leave_out`."""
    skip = set(leave_out)
    return [
        node_box(*pos)
        for node_id, pos in arch.graph.nodes(data="pos")
        if pos is not None and node_id not in skip
    ]


def _overlaps(box: Box, other: Box, gap: float = GAP) -> bool:
    return not (
        box[2] + gap <= other[0]
        or other[2] + gap <= box[0]
        or box[3] + gap <= other[1]
        or other[3] + gap <= box[1]
    )


def clear_offset(
    part: Box, occupied: list[Box], dx: float, dy: float, horizontal: bool = False
) -> tuple[float, float]:
    """An offset near (dx, dy) that puts the box `part` clear of every `occupied` box:
    moved across the flow (right, or down when the graph runs left to right) past what
    is in the way, or along it, whichever is nearer."""
    best: tuple[float, float, float] | None = None
    for across in (True, False):
        x, y = dx, dy
        for _ in range(200):
            box = (part[0] + x, part[1] + y, part[2] + x, part[3] + y)
            hits = [other for other in occupied if _overlaps(box, other)]
            if not hits:
                distance = abs(x - dx) + abs(y - dy)
                if best is None or distance < best[0]:
                    best = (distance, x, y)
                break
            if across != horizontal:  # to the right of what is in the way
                x += max(h[2] for h in hits) + GAP - box[0]
            else:  # below it
                y += max(h[3] for h in hits) + GAP - box[1]
    return (best[1], best[2]) if best is not None else (dx, dy)


def clear_spot(
    x: float, y: float, occupied: list[Box], horizontal: bool = False
) -> tuple[float, float]:
    """The free place for one node nearest (x, y)."""
    dx, dy = clear_offset(node_box(0.0, 0.0), occupied, x, y, horizontal)
    return round(dx, 2), round(dy, 2)


def insert_after(
    arch: Architecture,
    after: str,
    record: NodeRecord,
    horizontal: bool = False,
) -> Compound:
    """Add `record` fed by `after`'s first output, and feed what `after`'s first output
    fed from the new layer instead: selected → new → former successors. The nodes
    downstream of `after` move one step along the flow to make room, and the new layer
    goes in the gap (or beside it, where another node is still there)."""
    spec = arch.spec_of(record.type)
    x, y = arch.node(after).pos or (0.0, 0.0)
    parts: list[Edit] = []
    moved: dict[str, tuple[float, float]] = {}
    takes_input = spec.inputs[1] != 0
    following = [e for e in arch.edges_of(after) if e.source == after and e.output == 0]
    if takes_input and following:
        along = 0 if horizontal else 1
        here = (x, y)[along]
        for node_id in nx.descendants(arch.graph, after):
            pos = arch.node(node_id).pos
            if pos is not None and pos[along] > here:
                step = (SIDEWAYS_ALONG, 0.0) if horizontal else (0.0, STEP_ALONG)
                moved[node_id] = (round(pos[0] + step[0], 2), round(pos[1] + step[1], 2))
        parts += [Move(node_id, pos) for node_id, pos in moved.items()]
    wanted = (x + SIDEWAYS_ALONG, y) if horizontal else (x, y + STEP_ALONG)
    occupied = [node_box(*pos) for pos in moved.values()] + boxes(arch, [*moved, record.id])
    pos = clear_spot(*wanted, occupied, horizontal)
    parts.append(AddNode(NodeRecord(record.id, record.type, record.params, record.name, pos)))
    if takes_input:
        parts.append(Connect(after, record.id))
        for edge in following:
            parts.append(Disconnect(edge))
            parts.append(Connect(record.id, edge.target, edge.port))
    return Compound(parts, f"Insert {record.type}")


def splice(arch: Architecture, edge: EdgeRecord, record: NodeRecord) -> Compound:
    """`record` put on a connection: source → new layer → target, as one edit."""
    return Compound(
        [
            Disconnect(edge),
            AddNode(record),
            Connect(edge.source, record.id, None, edge.output),
            Connect(record.id, edge.target, edge.port),
        ],
        f"Insert {record.type}",
    )


def delete(
    arch: Architecture, node_ids: list[str], edges: Iterable[EdgeRecord] = ()
) -> tuple[Compound, list[EdgeRecord]]:
    """Remove nodes (with their edges) and edges, as one edit; where a removed node took
    exactly one input, the layers of one input it fed from its first output are fed by
    that input's node instead, so deleting a layer from a chain keeps the chain (through
    a run of removed nodes too); a merge it fed loses that branch. Returns the edit and
    the connections it makes."""
    gone = set(node_ids)
    # a node that uses another's weights goes before the one that holds them
    node_ids = sorted(node_ids, key=lambda n: arch.owner_of(n) is None)
    parts: list[Edit] = [
        Disconnect(e) for e in edges if e.source not in gone and e.target not in gone
    ]
    parts += [RemoveNode(node_id) for node_id in node_ids]
    joins: list[EdgeRecord] = []

    def feeder(node_id: str, seen: set[str]) -> tuple[str, int] | None:
        """The kept node (and its slot) that feeds a removed one through removed
        single-input nodes; None where there is none."""
        inputs = arch.in_edges(node_id)
        if len(inputs) != 1 or node_id in seen:
            return None
        (edge,) = inputs
        if edge.source not in gone:
            return edge.source, edge.output
        if edge.output != 0:
            return None
        return feeder(edge.source, seen | {node_id})

    for node_id in node_ids:
        leaving = [e for e in arch.edges_of(node_id) if e.source == node_id]
        # into layers of one input: a merge (Add, Concat) fed by it loses a branch instead
        outward = [
            e for e in leaving if e.target not in gone and arch.spec(e.target).inputs == (1, 1)
        ]
        if not outward or any(e.output != 0 for e in outward):
            continue
        found = feeder(node_id, set())
        if found is None:
            continue
        source, slot = found
        for edge in outward:
            join = EdgeRecord(source, edge.target, edge.port, slot)
            joins.append(join)
            parts.append(Connect(join.source, join.target, join.port, join.output))
    return Compound(parts, "Delete"), joins
