"""Project files (docs/file-format.md): `load` and `loads` open one with full validation,
`dumps` and `save` (project_writer) write one.

Every problem is collected with its place in the file (`nodes[3].params.kernel_size: ...`),
so one round of fixing is enough. This module reads a version-1 or version-2 design; a
plain file's bytes are read by quick_read where it can, any other JSON text by json_text,
a design with blocks by block_reader.
"""

from __future__ import annotations

import codecs
import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from designer.core import registry
from designer.core.graph import (
    Architecture,
    EdgeColumns,
    EdgeRecord,
    GraphError,
    NodeColumns,
    NodeRecord,
)
from designer.core.params import ParamError, show_value
from designer.core.spec import LayerSpec
from designer.io import json_text, plain_columns, quick_read
from designer.io.block_reader import BlockReader
from designer.io.project_format import (
    EDGE_KEYS,
    FORMAT,
    MAX_COORDINATE,
    MAX_ID_LENGTH,
    NODE_KEYS,
    NOT_YET,
    READS,
    TOP_LEVEL,
    VERSION,
    Project,
    ProjectError,
    is_point,
    key_place,
    kind_of,
    on_canvas,
)
from designer.io.project_writer import dumps, save

__all__ = ["Project", "ProjectError", "dumps", "load", "loads", "save"]


def load(path: str | os.PathLike) -> Project:
    """Read and check a project file. Only a regular file of at most MAX_FILE_BYTES is
    read (a pipe, a device such as /dev/zero or a folder is refused before any byte is)."""
    with _collector_paused():
        data = json_text.read_file(path)
        reader = _Reader.quick(
            data, len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
        )
        if reader is not None:
            del data
            return reader.read()
        try:
            holder = [data.decode("utf-8-sig")]
        except UnicodeDecodeError as error:
            raise ProjectError([json_text.encoding_problem(data, error.start)]) from None
        del data  # a large file's bytes are not kept beside its text, nor its text beside
        return _load_text(holder, decoded=True)  # its design


def loads(text: str) -> Project:
    """Parse and check a project held in a string."""
    with _collector_paused():
        try:
            reader = _Reader.quick(text.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate: the usual read says where
            reader = None
        return reader.read() if reader is not None else _load_text([text], decoded=False)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a file is read: parsing a large file makes
    millions of objects, none of them garbage, and each full collection would walk them
    all (a third of the time of a 10⁶-node file). Reference counting still frees them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load_text(holder: list[str], decoded: bool) -> Project:
    """Parse and check the text in `holder`, which is emptied: the text is dropped once
    parsed, and the parsed document once read, so neither stays beside the design.
    `decoded` text came from UTF-8 bytes, so it holds no lone surrogate."""
    text = holder.pop()
    if not text or text.isspace():  # (no stripped copy of a large file is made)
        raise ProjectError(["the file is empty" if not text else "the file holds only white space"])
    surrogate = not decoded and json_text.lone_surrogate(text)  # in a str given to `loads`
    document = json_text.CAREFUL if surrogate else json_text.plain_parse(text)
    reader = None
    if document is not json_text.CAREFUL:
        reader = _Reader(document)
        document = json_text.vouched(text, document, reader.census())
    if document is json_text.CAREFUL:
        document = json_text.careful_parse(text)
    del text
    if reader is None or reader.document is not document:  # parsed again
        reader = _Reader(document)
    return reader.read()


class _Repeated(Exception):
    """A node of a file without blocks carries `repeat`: it is read as a design with
    blocks, which only then costs anything."""


class _Reader:
    """Checks a parsed document and collects every problem before giving up.

    Nodes and edges are read in bulk, a column at a time, where none of them has anything
    to say about it (the common case): each test then runs over a whole column in C (map,
    set, min, max) instead of a Python call per node. Otherwise they are read one by one,
    each with a quick look first (`plain_columns.plain_node`, `plain_edge`) and the thorough check
    where that finds something, so the bulk path only ever says what they would."""

    def __init__(self, document: Any) -> None:
        self.document = document
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.faulty_ids: set[str] = set()  # nodes already reported: edges to them say nothing
        self.node_places: dict[str, int] = {}  # node id → its index in the file's nodes
        self.ends: dict[str, int] | None = None  # node id → its place in the nodes read,
        # where that is its index in the file (every node read) and no id is faulty
        self.examined: dict[tuple[str, str], tuple[dict, list[ParamError]]] = {}
        self.plain: tuple[NodeColumns, EdgeColumns] | None = None  # read by `census`

    @classmethod
    def quick(cls, data: bytes, start: int = 0) -> _Reader | None:
        """A reader of a plain file's nodes and edges as `quick_read` reads them from its
        bytes (past `start`), else None."""
        reader = cls(None)
        read = quick_read.read(data, reader._examine, start)
        if read is None:
            return None
        reader.document = read.document
        reader.plain = read.nodes, read.edges
        reader.node_places = reader.ends = read.places
        return reader

    def census(self) -> int | None:
        """The keys the document's objects hold, None where they nest too deep: what
        `json_text.vouched` needs to know. Where every node and edge is plain, their
        columns are read here (and kept for `read`), and only what those leave open is
        walked: the params dicts and the top level's other values. The nodes' and edges'
        other values are strings, numbers and positions, their keys counted in C: a large
        file's census takes a fraction of a walk over every value. Otherwise that walk."""
        doc = self.document
        raw_nodes = doc.get("nodes") if type(doc) is dict and "blocks" not in doc else None
        raw_edges = doc.get("edges") if raw_nodes is not None else None
        if type(raw_nodes) is not list or type(raw_edges) is not list:
            return json_text.census([doc])
        nodes = self._plain_nodes(raw_nodes)
        edges = None
        if nodes is not None:
            edges = plain_columns.plain_edges(raw_edges, self.ends or {}, nodes.types)
        if edges is None:
            return json_text.census([doc])
        self.plain = nodes, edges
        return plain_columns.census(doc, raw_nodes, raw_edges)

    def read(self) -> Project:
        doc = self.document
        if not isinstance(doc, dict):
            raise ProjectError([f"the file must hold a JSON object, got {kind_of(doc)}"])
        self._check_header(doc)
        foreign = bool(self.problems)  # another format or version: its nodes mean nothing here
        raw_nodes, raw_edges = self._list(doc, "nodes"), self._list(doc, "edges")
        if foreign:
            raise ProjectError(self.problems)
        name = doc.get("name")
        if name is not None and not isinstance(name, str):
            self.problems.append(f"name: must be a string, got {kind_of(name)}")
            name = None
        if "blocks" in doc:
            return BlockReader(self).read(doc, name or "", raw_nodes, raw_edges)
        said, noted = len(self.problems), len(self.notes)
        try:
            nodes = self._read_nodes(raw_nodes or [])
        except _Repeated:  # what was said of the nodes before it is said again there
            del self.problems[said:], self.notes[noted:]
            return BlockReader(self).read(doc, name or "", raw_nodes, raw_edges)
        self._check_sharing(nodes)
        edges = EdgeColumns()
        if raw_nodes is not None:  # without nodes every edge would dangle: nothing to say
            raw_nodes.clear()  # read: the columns hold what is needed (a large file's
            # objects make way for its graph; the document is this reader's own)
            edges = self._read_edges(raw_edges or [], nodes)
            if raw_edges is not None:
                raw_edges.clear()
        try:
            places = None if self.faulty_ids else self.ends  # (ids' places, if all read)
            arch = Architecture.from_columns(name or "", nodes, edges, places=places)
        except GraphError as error:
            self.problems.append(f"edges: {error}")
        if self.problems:
            raise ProjectError(self.problems)
        return Project(arch, self._extras(doc), self.notes)

    def _extras(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The top-level keys this version does not read, each noted: kept for saving."""
        extras = {k: v for k, v in doc.items() if k not in TOP_LEVEL and k != "blocks"}
        for key in extras:
            self.notes.append(
                f"{key_place('', key)}: not read by this version; kept as it is when saving"
            )
        return extras

    def _check_header(self, doc: dict[str, Any]) -> None:
        if doc.get("format") != FORMAT:
            got = "nothing" if "format" not in doc else show_value(doc["format"])
            self.problems.append(f"format: must be {FORMAT!r}, got {got}")
        version = doc.get("version")
        if version not in READS or isinstance(version, bool):
            got = "nothing" if "version" not in doc else show_value(version)
            newer = isinstance(version, int) and not isinstance(version, bool) and version > VERSION
            hint = "; the file was written by a newer designer" if newer else ""
            self.problems.append(f"version: this designer reads versions 1 and 2, got {got}{hint}")

    def _list(self, doc: dict[str, Any], key: str) -> list[Any] | None:
        if key not in doc:
            self.problems.append(f"{key}: missing (a list is required)")
        elif not isinstance(doc[key], list):
            self.problems.append(f"{key}: must be a list, got {kind_of(doc[key])}")
        else:
            return doc[key]
        return None

    # nodes ------------------------------------------------------------------------------

    def _read_nodes(self, raw: list[Any]) -> NodeColumns:
        """The nodes read, and a problem said for each that has one."""
        nodes = self.plain[0] if self.plain else self._plain_nodes(raw)
        if nodes is not None:
            return nodes
        nodes = NodeColumns()
        places = self.node_places = {}
        plain, examine = plain_columns.plain_node, self._examine
        for index, item in enumerate(raw):
            record = plain(item, examine)
            if record is None:  # something to say about it: the thorough check says it
                place = f"nodes[{index}]"
                if not isinstance(item, dict):
                    self.problems.append(f"{place}: must be an object, got {kind_of(item)}")
                    continue
                record = self._read_node(place, item)
                if record is None:
                    continue
            if record.id in places:
                self.problems.append(
                    f"nodes[{index}].id: duplicate id {show_value(record.id)} "
                    f"(also nodes[{places[record.id]}])"
                )
                continue
            places[record.id] = index
            nodes.append(record)
        if len(nodes.ids) == len(raw):
            self.ends = places
        return nodes

    def _plain_nodes(self, raw: list[Any]) -> NodeColumns | None:
        """The nodes read a column at a time (`plain_columns.plain_nodes`), else None."""
        read = plain_columns.plain_nodes(raw, self._examine)
        if read is None:
            return None
        nodes, self.node_places = read
        self.ends = self.node_places
        return nodes

    def _examine(self, spec: LayerSpec, params: dict[str, Any]) -> tuple[dict, list[ParamError]]:
        """`spec.examine(params)`, once per distinct params of a layer type: a design repeats
        its blocks, so most nodes share their params with another. The repr tells apart all
        that JSON values can differ in (1, 1.0 and true; "1" and 1), and canonical params
        hold only immutable values, so one answer serves every node that asks it."""
        key = (spec.name, repr(params))
        known = self.examined.get(key)
        if known is None:
            known = self.examined[key] = spec.examine(params)
        return known

    def _read_node(self, place: str, item: dict[str, Any]) -> NodeRecord | None:
        if "repeat" in item:
            raise _Repeated
        node_id = item.get("id")
        record = self._check_node(place, item, node_id)
        if record is None and isinstance(node_id, str):
            self.faulty_ids.add(node_id)
        return record

    def _check_sharing(self, nodes: NodeColumns) -> None:
        """A node that `shares` another's weights names one of the same type and params
        that holds its own; a node that does not is dropped, its problem said."""
        shares = nodes.shares
        if shares.count(None) == len(shares):
            return
        ids, types, params = nodes.ids, nodes.types, nodes.params
        at = dict(zip(ids, range(len(ids))))
        dropped: set[int] = set()
        for i, owner in enumerate(shares):
            if owner is None:
                continue
            j = at.get(owner)
            if j is None:
                problem = f"there is no node {show_value(owner)}"
            elif shares[j] is not None:
                problem = (
                    f"{show_value(owner)} uses the weights of {show_value(shares[j])}: "
                    f"share {show_value(shares[j])}'s"
                )
            elif (types[j], params[j]) != (types[i], params[i]):
                other = "other params" if types[j] == types[i] else "another type"
                problem = (
                    f"{show_value(owner)} is a {types[j]} with {other}: a node that uses "
                    "its weights must be the same layer"
                )
            else:
                continue
            self.problems.append(f"nodes[{self.node_places[ids[i]]}].shares: {problem}")
            self.faulty_ids.add(ids[i])
            dropped.add(i)
        nodes.drop(dropped)

    def _check_node(self, place: str, item: dict[str, Any], node_id: Any) -> NodeRecord | None:
        ok = True
        if not isinstance(node_id, str) or not node_id:
            got = "nothing" if "id" not in item else show_value(node_id)
            self.problems.append(f"{place}.id: must be a non-empty string, got {got}")
            ok = False
        elif len(node_id) > MAX_ID_LENGTH:
            self.problems.append(
                f"{place}.id: {len(node_id):,} characters long, more than the "
                f"{MAX_ID_LENGTH:,} an id may have: {show_value(node_id)}"
            )
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
            self.problems.append(f"{place}.name: must be a string, got {kind_of(name)}")
            ok = False
        pos = item.get("pos")
        if pos is not None and not is_point(pos):
            self.problems.append(f"{place}.pos: must be [x, y] numbers, got {show_value(pos)}")
            ok = False
        elif pos is not None and not on_canvas(pos):
            self.problems.append(
                f"{place}.pos: {show_value(pos)} is off the canvas: x and y must be from "
                f"{-MAX_COORDINATE:,.0f} to {MAX_COORDINATE:,.0f}"
            )
            ok = False
        params = item.get("params")
        if params is None:  # null, like leaving the key out: PyTorch's defaults
            params = {}
        if not isinstance(params, dict):
            self.problems.append(f"{place}.params: must be an object, got {kind_of(params)}")
            ok = False
        elif spec is not None:
            canonical, problems = self._examine(spec, params)
            for problem in problems:
                param_place = key_place(f"{place}.params", problem.param)
                self.problems.append(f"{param_place}: {problem.message}")
            ok = ok and not problems
            params = canonical
        for key in item:
            if key in NOT_YET:
                self.problems.append(
                    f"{key_place(place, key)}: this designer does not read {NOT_YET[key]} yet"
                )
                ok = False
            elif key not in NODE_KEYS:
                self.notes.append(f"{key_place(place, key)}: not read by this version; dropped")
        shares = item.get("shares")
        if shares is not None and (not isinstance(shares, str) or not shares):
            self.problems.append(
                f"{place}.shares: must be the id of another node, got {show_value(shares)}"
            )
            ok = False
        if not ok:
            return None
        point = tuple(pos) if pos else None
        return NodeRecord(node_id, type_name, params, name, point, shares=shares)

    # edges ------------------------------------------------------------------------------

    def _read_edges(self, raw: list[Any], nodes: NodeColumns) -> EdgeColumns:
        """The edges read, their ends as places in `nodes`, and a problem said for each
        that has one."""
        if self.plain and not self.faulty_ids:  # (no node dropped since `census` read them)
            return self.plain[1]
        ends = self.ends  # the nodes an edge may name without a word said: read without fault
        if ends is None or self.faulty_ids:
            faulty = self.faulty_ids
            ends = {node_id: i for i, node_id in enumerate(nodes.ids) if node_id not in faulty}
        types = nodes.types
        edges = plain_columns.plain_edges(raw, ends, types)
        if edges is not None:
            return edges
        several_of = plain_columns.takes_several()  # each end with whether it takes several inputs
        several = dict(
            zip(ends, map(several_of.__getitem__, map(types.__getitem__, ends.values())))
        )
        records: list[EdgeRecord] = []
        fed: dict[tuple[str, int], int] = {}
        plain = plain_columns.plain_edge
        for index, item in enumerate(raw):
            edge = plain(item, several, fed)
            if edge is None:  # something to say about it: the thorough check says it
                self._read_edge(index, item, ends, types, fed, records)
            else:
                fed[(edge.target, edge.port)] = index
                records.append(edge)
        return EdgeColumns(
            [ends[edge.source] for edge in records],
            [ends[edge.target] for edge in records],
            [edge.port for edge in records],
            [edge.output for edge in records],
        )

    def _read_edge(
        self,
        index: int,
        item: Any,
        ends: dict[str, int],
        types: list[str],
        fed: dict[tuple[str, int], int],
        edges: list[EdgeRecord],
    ) -> None:
        """One edge, every problem with it said; appended to `edges` where it has none."""
        place = f"edges[{index}]"
        if not isinstance(item, dict):
            self.problems.append(f"{place}: must be an object, got {kind_of(item)}")
            return
        source, target = [self._endpoint(place, item, key, ends) for key in ("source", "target")]
        kind = None if target is None else types[ends[target]]
        port = self._port(place, item, target, kind)
        output = self._output(place, item)
        for key in item:
            if key not in EDGE_KEYS:
                self.notes.append(f"{key_place(place, key)}: not read by this version; dropped")
        if source is None or target is None or port is None or output is None:
            return
        if source == target:
            self.problems.append(f"{place}: {show_value(source)} cannot feed itself")
            return
        if (target, port) in fed:
            other = fed[(target, port)]
            self.problems.append(self._port_taken(place, target, kind, port, other))
            return
        fed[(target, port)] = index
        edges.append(EdgeRecord(source, target, port, output))

    def _output(self, place: str, item: dict[str, Any]) -> int | None:
        """The source's output slot (version 2); whether the source has it is for the
        analysis to say, since a param edit can add or remove slots."""
        output = item.get("output", 0)
        if isinstance(output, bool) or not isinstance(output, int) or output < 0:
            self.problems.append(
                f"{place}.output: must be a non-negative int, got {show_value(output)}"
            )
            return None
        return output

    def _endpoint(
        self, place: str, item: dict[str, Any], key: str, ends: dict[str, int]
    ) -> str | None:
        value = item.get(key)
        if key not in item:
            self.problems.append(f"{place}.{key}: missing")
        elif not isinstance(value, str):
            self.problems.append(f"{place}.{key}: must be a node id string, got {kind_of(value)}")
        elif value in self.faulty_ids:
            pass
        elif value not in ends:
            self.problems.append(f"{place}.{key}: there is no node {show_value(value)}")
        else:
            return value
        return None

    def _port_taken(self, place: str, target: str, kind: str, port: int, other: int) -> str:
        if registry.LAYERS[kind].inputs[1] == 1:  # a port is seldom written here: say what matters
            return (
                f"{place}: {show_value(target)} ({kind}) takes one input, and edges[{other}] "
                "feeds it"
            )
        return (
            f"{place}.port: input port {port} of {show_value(target)} is already fed by "
            f"edges[{other}]"
        )

    def _port(
        self, place: str, item: dict[str, Any], target: str | None, kind: str | None
    ) -> int | None:
        if "port" not in item:
            if target is not None and registry.LAYERS[kind].takes_several_inputs:
                self.problems.append(
                    f"{place}.port: missing; {show_value(target)} ({kind}) takes "
                    "several inputs, so each edge into it must say which"
                )
                return None
            return 0
        port = item["port"]
        if isinstance(port, bool) or not isinstance(port, int) or port < 0:
            self.problems.append(
                f"{place}.port: must be a non-negative int, got {show_value(port)}"
            )
            return None
        return port
