"""Project files (contract section 1): load with full validation, save atomically.

Loading parses JSON and nothing else: no code in a file is ever run. Every problem is
collected with its place in the file (`nodes[3].params.kernel_size: ...`), so one round of
fixing is enough. Saving writes one node or edge per line with a stable key order, so
files diff well in git, and replaces the old file only once the new one is complete.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from designer.core import registry
from designer.core.graph import Architecture, EdgeRecord, GraphError, NodeRecord
from designer.core.params import show_value

FORMAT = "nn-designer-project"
VERSION = 1
_TOP_LEVEL = ("format", "version", "name", "nodes", "edges")
_NODE_KEYS = ("id", "type", "name", "params", "pos")
_EDGE_KEYS = ("source", "target", "port")


class ProjectError(Exception):
    """A file that cannot be opened; `problems` lists every reason, each with its place."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class Project:
    """A loaded file: the design, top-level keys this version does not read (kept for
    saving), and notes about what was not read."""

    arch: Architecture
    extras: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def load(path: str | os.PathLike) -> Project:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ProjectError([f"cannot read the file: {error.strerror or error}"]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ProjectError([f"not UTF-8 text (byte {error.start})"]) from None
    return loads(text)


def loads(text: str) -> Project:
    """Parse and check a project held in a string."""
    if not text.strip():
        raise ProjectError(["the file is empty"])
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise ProjectError([f"not valid JSON: line {error.lineno} column {error.colno}: {error.msg}"]) from None
    except (ValueError, RecursionError) as error:
        raise ProjectError([f"not valid JSON: {error}"]) from None
    return _Reader(document).read()


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


class _Reader:
    """Checks a parsed document and collects every problem before giving up."""

    def __init__(self, document: Any) -> None:
        self.document = document
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.faulty_ids: set[str] = set()  # nodes already reported: edges to them say nothing

    def read(self) -> Project:
        doc = self.document
        if not isinstance(doc, dict):
            raise ProjectError([f"the file must hold a JSON object, got {_kind(doc)}"])
        self._check_header(doc)
        if self.problems:
            raise ProjectError(self.problems)
        name = doc.get("name", "")
        if not isinstance(name, str):
            self.problems.append(f"name: must be a string, got {_kind(name)}")
        nodes = self._read_nodes(doc.get("nodes"))
        edges = self._read_edges(doc.get("edges"), {n.id: n for n in nodes})
        if self.problems:
            raise ProjectError(self.problems)
        try:
            arch = Architecture.build(name, nodes, edges)
        except GraphError as error:
            raise ProjectError([f"edges: {error}"]) from None
        extras = {k: v for k, v in doc.items() if k not in _TOP_LEVEL}
        for key in extras:
            self.notes.append(f"{key}: not read by this version; kept as it is when saving")
        return Project(arch, extras, self.notes)

    def _check_header(self, doc: dict[str, Any]) -> None:
        if doc.get("format") != FORMAT:
            got = "nothing" if "format" not in doc else show_value(doc["format"])
            self.problems.append(f"format: must be {FORMAT!r}, got {got}")
        version = doc.get("version")
        if version != VERSION or isinstance(version, bool):
            got = "nothing" if "version" not in doc else show_value(version)
            newer = isinstance(version, int) and not isinstance(version, bool) and version > VERSION
            hint = "; the file was written by a newer designer" if newer else ""
            self.problems.append(f"version: this designer reads version {VERSION}, got {got}{hint}")
        for key in ("nodes", "edges"):
            if key not in doc:
                self.problems.append(f"{key}: missing (a list is required)")
            elif not isinstance(doc[key], list):
                self.problems.append(f"{key}: must be a list, got {_kind(doc[key])}")

    def _read_nodes(self, raw: list[Any]) -> list[NodeRecord]:
        records: list[NodeRecord] = []
        first_place: dict[str, int] = {}
        for index, item in enumerate(raw):
            place = f"nodes[{index}]"
            if not isinstance(item, dict):
                self.problems.append(f"{place}: must be an object, got {_kind(item)}")
                continue
            record = self._read_node(place, item)
            if record is None:
                continue
            if record.id in first_place:
                self.problems.append(
                    f"{place}.id: duplicate id {record.id!r} (also nodes[{first_place[record.id]}])"
                )
                continue
            first_place[record.id] = index
            records.append(record)
        return records

    def _read_node(self, place: str, item: dict[str, Any]) -> NodeRecord | None:
        node_id = item.get("id")
        record = self._check_node(place, item, node_id)
        if record is None and isinstance(node_id, str):
            self.faulty_ids.add(node_id)
        return record

    def _check_node(self, place: str, item: dict[str, Any], node_id: Any) -> NodeRecord | None:
        ok = True
        if not isinstance(node_id, str) or not node_id:
            got = "nothing" if "id" not in item else show_value(node_id)
            self.problems.append(f"{place}.id: must be a non-empty string, got {got}")
            ok = False
        type_name = item.get("type")
        spec = registry.LAYERS.get(type_name) if isinstance(type_name, str) else None
        if spec is None:
            if "type" not in item:
                self.problems.append(f"{place}.type: missing")
            else:
                self.problems.append(f"{place}.type: {registry.unknown_type_message(type_name)}")
            ok = False
        name = item.get("name")
        if name is not None and not isinstance(name, str):
            self.problems.append(f"{place}.name: must be a string, got {_kind(name)}")
            ok = False
        pos = item.get("pos")
        if pos is not None and not _is_point(pos):
            self.problems.append(f"{place}.pos: must be [x, y] numbers, got {show_value(pos)}")
            ok = False
        params = item.get("params", {})
        if not isinstance(params, dict):
            self.problems.append(f"{place}.params: must be an object, got {_kind(params)}")
            ok = False
        elif spec is not None:
            canonical, problems = spec.examine(params)
            for problem in problems:
                self.problems.append(f"{place}.params.{problem.param}: {problem.message}")
            ok = ok and not problems
            params = canonical
        for key in item:
            if key not in _NODE_KEYS:
                self.notes.append(f"{place}.{key}: not read by this version; dropped")
        if not ok:
            return None
        return NodeRecord(node_id, type_name, params, name, tuple(pos) if pos else None)

    def _read_edges(self, raw: list[Any], nodes: dict[str, NodeRecord]) -> list[EdgeRecord]:
        edges: list[EdgeRecord] = []
        fed: dict[tuple[str, int], int] = {}
        for index, item in enumerate(raw):
            place = f"edges[{index}]"
            if not isinstance(item, dict):
                self.problems.append(f"{place}: must be an object, got {_kind(item)}")
                continue
            ends = [self._endpoint(place, item, key, nodes) for key in ("source", "target")]
            port = self._port(place, item, ends[1], nodes)
            for key in item:
                if key not in _EDGE_KEYS:
                    self.notes.append(f"{place}.{key}: not read by this version; dropped")
            source, target = ends
            if source is None or target is None or port is None:
                continue
            if source == target:
                self.problems.append(f"{place}: {source!r} cannot feed itself")
                continue
            if (target, port) in fed:
                other = fed[(target, port)]
                self.problems.append(
                    f"{place}.port: input port {port} of {target!r} is already fed by edges[{other}]"
                )
                continue
            fed[(target, port)] = index
            edges.append(EdgeRecord(source, target, port))
        return edges

    def _endpoint(self, place: str, item: dict[str, Any], key: str, nodes: dict[str, NodeRecord]) -> str | None:
        value = item.get(key)
        if key not in item:
            self.problems.append(f"{place}.{key}: missing")
        elif not isinstance(value, str):
            self.problems.append(f"{place}.{key}: must be a node id string, got {_kind(value)}")
        elif value in self.faulty_ids:
            pass
        elif value not in nodes:
            self.problems.append(f"{place}.{key}: there is no node {value!r}")
        else:
            return value
        return None

    def _port(self, place: str, item: dict[str, Any], target: str | None, nodes: dict[str, NodeRecord]) -> int | None:
        if "port" not in item:
            if target is not None and registry.LAYERS[nodes[target].type].takes_several_inputs:
                self.problems.append(
                    f"{place}.port: missing; {target!r} ({nodes[target].type}) takes several "
                    "inputs, so each edge into it must say which"
                )
                return None
            return 0
        port = item["port"]
        if isinstance(port, bool) or not isinstance(port, int) or port < 0:
            self.problems.append(f"{place}.port: must be a non-negative int, got {show_value(port)}")
            return None
        return port


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), f"the number {value}" if isinstance(value, (int, float)) else str(type(value)))


def _is_point(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    )


# saving ---------------------------------------------------------------------------------


def dumps(arch: Architecture, extras: dict[str, Any] | None = None) -> str:
    """The file text: a fixed key order, one node or edge per line."""
    header = {"format": FORMAT, "version": VERSION, "name": arch.name}
    lines = ["{"]
    lines += [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in header.items()]
    nodes = [_node_json(record) for record in arch.nodes()]
    edges = [_edge_json(arch, edge) for edge in arch.edges()]
    tail = sorted((extras or {}).items())
    lines += _list_lines("nodes", nodes, last=False)
    lines += _list_lines("edges", edges, last=not tail)
    for i, (key, value) in enumerate(tail):
        comma = "," if i < len(tail) - 1 else ""
        lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _list_lines(key: str, items: list[dict[str, Any]], last: bool) -> list[str]:
    comma = "" if last else ","
    if not items:
        return [f'  "{key}": []{comma}']
    body = [f"    {json.dumps(item, ensure_ascii=False)}" for item in items]
    return [f'  "{key}": [', ",\n".join(body), f"  ]{comma}"]


def _node_json(record: NodeRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"id": record.id, "type": record.type}
    if record.name:
        out["name"] = record.name
    params = registry.get(record.type).explicit(record.params)
    if params:
        out["params"] = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
    if record.pos is not None:
        out["pos"] = [_tidy(c) for c in record.pos]
    return out


def _edge_json(arch: Architecture, edge: EdgeRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"source": edge.source, "target": edge.target}
    if edge.port or arch.spec(edge.target).takes_several_inputs:
        out["port"] = edge.port
    return out


def _tidy(number: float) -> float | int:
    return int(number) if float(number).is_integer() else round(number, 2)


def save(path: str | os.PathLike, arch: Architecture, extras: dict[str, Any] | None = None) -> None:
    """Write beside the target, then replace it: a crash never leaves half a file."""
    target = Path(path)
    text = dumps(arch, extras)
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
