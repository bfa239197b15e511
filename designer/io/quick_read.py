"""The quick read of a plain project file's bytes: msgspec decodes its nodes and edges
straight into typed records, checking in C the types the reader's plain paths check in
Python, and `plain_columns` checks their fields a column at a time. A 10⁶-node file is
read in less than 60 % of the time `json.loads` and the dict-based columns take, and in
less memory (a record is a third of a dict's size).

It answers only where the usual read would accept every node and edge without a word,
and then with exactly what that read hands on (the top level's values, the nodes and
edges as columns: the reader then says what it says of the header and the graph, as
after any read); anything else (a design with blocks, a key this version does not read,
a key given twice, a value refused, a node or edge with something to say) gives None,
and the file is read the usual way, which words it. msgspec decodes only the nodes' and edges' strings,
positions, ports and outputs (as json.loads does: the tests compare the two); params and
the top level's other values are parsed by `json_text.plain_value`, once per distinct
text, so every number in them is judged as the usual read judges it. A large file
declined late (one name given as null) is decoded twice: the usual read starts afresh.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Any, Literal

import msgspec
from msgspec import Raw, Struct

from designer.core import registry
from designer.core.columns import EdgeColumns, NodeColumns
from designer.io import json_text, plain_columns
from designer.io.plain_columns import Examine

_Number = int | float
_LayerType = Literal[tuple(registry.LAYERS)]  # type: ignore[valid-type]


_LEFT_OUT = Raw(b"")  # a value the file does not give, where a Raw is read (a union of
# Raw is not): no JSON text is empty
_HEADER = ("format", "version", "name")  # the top level's keys beside nodes and edges


# The records hold strings, numbers and texts, never a container that could make a cycle:
# not tracked by the cycle collector (gc=False), each is 16 bytes smaller.
class _Node(Struct, forbid_unknown_fields=True, gc=False):
    """A node object. A key left out reads as None, as a key given as null does: the
    count of keys tells them apart, and a null goes the usual way (params aside: their
    null is their text)."""

    id: str
    type: _LayerType  # (one string object per type: the nodes' are shared, hashed once)
    params: Raw = _LEFT_OUT
    name: str | None = None
    pos: tuple[_Number, _Number] | None = None
    shares: str | None = None


class _Edge(Struct, forbid_unknown_fields=True, gc=False):
    """An edge object; a key left out reads as None, as in `_Node`."""

    source: str
    target: str
    port: int | None = None
    output: int | None = None


class _Document(Struct, forbid_unknown_fields=True, gc=False):
    """A file's top level; blocks and keys this version does not read (which the reader
    notes) go the usual way."""

    nodes: list[_Node]
    edges: list[_Edge]
    format: Raw = _LEFT_OUT
    version: Raw = _LEFT_OUT
    name: Raw = _LEFT_OUT


_DOCUMENT = msgspec.json.Decoder(_Document)
_PARAMS_DEPTH = 3  # the document, its nodes list, a node, its params
_NODE_FIELDS = ("id", "type", "params", "name", "pos", "shares")  # NodeColumns' order
# A file's colons are one after each key and those in its strings, unless a string spells
# one as an escape: then the count cannot vouch that no key is given twice.
_ESCAPED_COLON = b"\\u003"  # \u003a or \u003A (or a false alarm: then the usual read)


@dataclass
class QuickRead:
    """A plain file read: its top level (nodes and edges as their records), its nodes
    with each id's place, and its edges."""

    document: dict[str, Any]
    nodes: NodeColumns
    places: dict[str, int]
    edges: EdgeColumns


def read(data: bytes, examine: Examine, start: int = 0) -> QuickRead | None:
    """The file whose JSON text is `data` from `start` on (past a byte order mark), where
    every node and edge is plain; else None. `examine` checks a layer's params."""
    if _ESCAPED_COLON in data:
        return None
    try:
        top = _DOCUMENT.decode(memoryview(data)[start:])
    except (msgspec.MsgspecError, RecursionError):
        return None
    nodes, edges = top.nodes, top.edges
    written = NodeColumns(*[list(map(attrgetter(field), nodes)) for field in _NODE_FIELDS])
    if not nodes or written.shares.count(None) < len(nodes):
        return None  # (a node sharing weights may be refused: its edges are then read again)
    header = {key: bytes(getattr(top, key)) for key in _HEADER}  # b"" where not given
    texts = list(map(bytes, written.params))  # each node's params' text, b"" where none
    uses = Counter(texts)
    parsed = {text: _value(text, _PARAMS_DEPTH) for text in uses if text}
    document = {key: _value(text, 1) for key, text in header.items() if text}
    if any(value is json_text.CAREFUL for value in (*document.values(), *parsed.values())):
        return None
    written.params = list(map(parsed.get, texts))
    ports = list(map(attrgetter("port"), edges))
    outputs = list(map(attrgetter("output"), edges))
    named = list(chain.from_iterable(map(attrgetter("source", "target"), edges)))
    nulls = [c.count(None) for c in (written.names, written.pos, ports, outputs)]
    keys = 2 + len(document) + 5 * len(nodes) + 4 * len(edges) - texts.count(b"") - sum(nulls)
    in_values = sum(uses[text] * text.count(b":") for text in parsed)
    in_values += sum(text.count(b":") for text in header.values())
    in_strings = [written.ids, filter(None, written.names), named]
    if data.count(b":") != keys + in_values + sum("".join(s).count(":") for s in in_strings):
        return None  # a key given twice, or one given as null
    read = plain_columns.checked_nodes(written, texts, examine)
    if read is None:
        return None
    columns, places = read
    if None in outputs:
        outputs = [0 if output is None else output for output in outputs]
    read_edges = plain_columns.checked_edges(named, ports, outputs, places, columns.types)
    if read_edges is None:
        return None
    document["nodes"], document["edges"] = nodes, edges
    return QuickRead(document, columns, places, read_edges)


def _value(text: bytes, depth: int) -> Any:
    """A value's JSON text, found `depth` levels down, parsed as the usual read parses
    it, or CAREFUL where that has something to say."""
    try:
        value = json_text.plain_value(text.decode("utf-8"))
    except UnicodeDecodeError:
        return json_text.CAREFUL
    if value is not json_text.CAREFUL and json_text.census([value], depth) is None:
        return json_text.CAREFUL  # nested too deep
    return value
