"""Project files written: `dumps` gives the text, with a fixed key order and one node or edge
per line, so files diff well in git; `save` writes it atomically, replacing the old file only
once the new one is complete."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

from designer.core import registry
from designer.core.blocks import Library, Member
from designer.core.graph import Architecture, EdgeRecord, NodeRecord
from designer.io.project_format import FORMAT, VERSION, BlockDesign, several_inputs


def dumps(
    arch: Architecture, extras: dict[str, Any] | None = None, blocks: BlockDesign | None = None
) -> str:
    """The file text: a fixed key order, one node or edge per line. A design with `blocks`
    is written as its file holds it, its blocks and top level, never flattened; one whose
    blocks and repeats are all gone, as a plain design (as it was before it had any)."""
    if blocks is not None and not len(blocks.library):
        blocks = None if all(isinstance(m, NodeRecord) for m in blocks.nodes) else blocks
    if blocks is not None:
        return dumps_members(arch.name, blocks.nodes, blocks.edges, blocks.library, extras)
    nodes = [_node_json(record) for record in arch.nodes()]
    edges = [_edge_json(arch, edge) for edge in arch.edges()]
    return _document(arch.name, nodes, edges, extras, None)


def dumps_members(
    name: str,
    nodes: Sequence[Member],
    edges: Sequence[EdgeRecord],
    library: Library,
    extras: dict[str, Any] | None = None,
) -> str:
    """A design as a file with blocks holds it, from its top level's members (layers,
    instances and repeated layers) and edges, and its blocks, none of it flattened."""
    written = [_member_json(member) for member in nodes]
    return _document(
        name, written, _member_edges_json(nodes, edges, library), extras, library or None
    )


def _document(
    name: str,
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]],
    extras: dict[str, Any] | None,
    library: Library | None,
) -> str:
    header = {"format": FORMAT, "version": VERSION, "name": name}
    lines = ["{"]
    lines += [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in header.items()]
    tail = [
        (key, [f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}"])
        for key, value in (extras or {}).items()
    ]
    if library is not None:  # a design of repeats alone has none
        tail.append(("blocks", _blocks_lines(library)))
    tail.sort(key=itemgetter(0))
    lines += _list_lines("nodes", nodes, last=False)
    lines += _list_lines("edges", edges, last=not tail)
    for i, (_, value_lines) in enumerate(tail):
        lines += value_lines
        if i < len(tail) - 1:
            lines[-1] += ","
    lines.append("}")
    return "\n".join(lines) + "\n"


def _list_lines(key: str, items: list[dict[str, Any]], last: bool, indent: str = "  ") -> list[str]:
    comma = "" if last else ","
    if not items:
        return [f'{indent}"{key}": []{comma}']
    body = [f"{indent}  {json.dumps(item, ensure_ascii=False)}" for item in items]
    return [f'{indent}"{key}": [', ",\n".join(body), f"{indent}]{comma}"]


def _blocks_lines(library: Library) -> list[str]:
    """The `blocks` list: each block an object over lines, one node or edge a line."""
    lines = ['  "blocks": [']
    for block in library:
        lines += ["    {", f'      "id": {json.dumps(block.id, ensure_ascii=False)},']
        if block.params:
            lines.append(f'      "params": {json.dumps(dict(block.params), ensure_ascii=False)},')
        nodes = [_member_json(member) for member in block.nodes]
        edges = _member_edges_json(block.nodes, block.edges, library)
        lines += _list_lines("nodes", nodes, last=False, indent="      ")
        lines += _list_lines("edges", edges, last=True, indent="      ")
        lines.append("    },")
    lines[-1] = "    }"
    return [*lines, "  ]"]


def _member_json(member: Member) -> dict[str, Any]:
    """A node of a design with blocks, its params as written (expressions among them)."""
    out: dict[str, Any] = {"id": member.id, "type": member.type}
    if member.name:
        out["name"] = member.name
    if member.params:
        out["params"] = dict(member.params)
    if member.pos is not None:
        out["pos"] = [_tidy(c) for c in member.pos]
    if isinstance(member, NodeRecord):
        if member.shares is not None:
            out["shares"] = member.shares
    elif member.repeat != 1:
        out["repeat"] = member.repeat
    return out


def _member_edges_json(
    members: Sequence[Member], edges: Sequence[EdgeRecord], library: Library
) -> list[dict[str, Any]]:
    """Edges of a design with blocks: `port` written where it is not 0 or the target
    takes several inputs, `output` where it is not 0."""
    kinds = {member.id: member.type for member in members}
    inputs = {block.id: block.inputs for block in library}
    written = []
    for edge in edges:
        out: dict[str, Any] = {"source": edge.source, "target": edge.target}
        if edge.port or several_inputs(kinds[edge.target], inputs):
            out["port"] = edge.port
        if edge.output:
            out["output"] = edge.output
        written.append(out)
    return written


def _node_json(record: NodeRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"id": record.id, "type": record.type}
    if record.name:
        out["name"] = record.name
    params = registry.get(record.type).explicit(record.params)
    if params:
        out["params"] = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
    if record.pos is not None:
        out["pos"] = [_tidy(c) for c in record.pos]
    if record.shares is not None:
        out["shares"] = record.shares
    return out


def _edge_json(arch: Architecture, edge: EdgeRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"source": edge.source, "target": edge.target}
    if edge.port or arch.spec(edge.target).takes_several_inputs:
        out["port"] = edge.port
    if edge.output:
        out["output"] = edge.output
    return out


def _tidy(number: float) -> float | int:
    return int(number) if float(number).is_integer() else round(number, 2)


def save(
    path: str | os.PathLike,
    arch: Architecture,
    extras: dict[str, Any] | None = None,
    blocks: BlockDesign | None = None,
) -> None:
    """Write the project file atomically (see `write_atomically`)."""
    write_atomically(path, dumps(arch, extras, blocks).encode("utf-8"))


STALE_AFTER = 3600.0  # seconds: a temporary file of ours this old was left by a crash


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write beside the target, then replace it: a crash or a full disk never leaves half
    a file, nor costs the old one (the partial temporary file is removed on an error).

    The new file keeps the old one's permissions (a new file gets the umask's, not a
    temporary file's private 0600), and a symbolic link is followed rather than replaced.
    Bytes are written, so the file is the same on every system (no CRLF on Windows).
    Temporary files a crashed write left for the same target (`.NAME.<hex>.tmp`, an hour
    old or more) are removed first.
    """
    target = Path(os.path.realpath(path))
    _remove_stale_temporaries(target)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    descriptor = os.open(temp, flags, 0o666)
    try:
        with open(descriptor, "wb") as handle:
            if target.exists():
                shutil.copymode(target, temp)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _remove_stale_temporaries(target: Path) -> None:
    """Remove `.NAME.<12 hex digits>.tmp` files beside `target` that are STALE_AFTER old:
    ours (the name says so), left by a write that crashed before it could clean up. A
    younger one may belong to a save in progress in another process, and is kept."""
    pattern = re.compile(re.escape(f".{target.name}.") + r"[0-9a-f]{12}\.tmp")
    try:
        names = [e for e in os.scandir(target.parent) if pattern.fullmatch(e.name)]
    except OSError:
        return
    now = time.time()
    for entry in names:
        try:
            if entry.is_file(follow_symlinks=False) and (
                now - entry.stat(follow_symlinks=False).st_mtime >= STALE_AFTER
            ):
                os.unlink(entry.path)
        except OSError:
            pass  # gone already, or not ours to remove: the save goes on
