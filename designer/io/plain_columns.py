"""The loader's column read of a plain file's nodes and edges: each test over a whole
column in C (`map`, `set`, `min`, `max`) instead of a Python call per node, accepting
exactly what the one-by-one checks (`plain_node`, `plain_edge`) would accept
without a word, and None where anything would be said (the reader then goes node by node).
The columns come from the parsed document's dicts (`plain_nodes`, `plain_edges`) or from
msgspec's records (`quick_read`); both are tested by `checked_nodes` and `checked_edges`.
A file the dict columns accept also has its census taken from them (`census`)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain, compress, repeat
from operator import contains, eq, is_, itemgetter
from typing import Any

from designer.core import registry
from designer.core.columns import EdgeColumns, EdgeRecord, NodeColumns, NodeRecord
from designer.core.params import ParamError
from designer.core.spec import LayerSpec
from designer.io import json_text
from designer.io.project_format import EDGE_KEYS, MAX_COORDINATE, MAX_ID_LENGTH, NODE_KEYS

Examine = Callable[[LayerSpec, dict[str, Any]], tuple[dict, list[ParamError]]]

NODE_KEY_SET = frozenset(NODE_KEYS)
EDGE_KEY_SET = frozenset(EDGE_KEYS)
NUMBER_TYPES = frozenset((int, float))
_DICT, _STR, _INT = {dict}, {str}, {int}  # the one type a whole column may hold
_STR_OR_NONE = frozenset((str, type(None)))
_DICT_OR_NONE = frozenset((dict, type(None)))
_NO_PARAMS = repr(None)  # one string for every node without params (repr makes one each)


def census(doc: dict[str, Any], raw_nodes: list[dict], raw_edges: list[dict]) -> int | None:
    """The keys a document holds whose nodes and edges the columns accepted, None where
    they nest too deep (`json_text.census`'s answer). The nodes' and edges' keys are
    counted in C and their values are strings, numbers and positions: only the params and
    the top level's other values are walked, a fraction of a walk over every value."""
    params = json_text.census(filter(None, map(dict.get, raw_nodes, repeat("params"))), 3)
    rest = json_text.census([v for k, v in doc.items() if k not in ("nodes", "edges")], 1)
    if params is None or rest is None:
        return None
    return len(doc) + sum(map(len, raw_nodes)) + sum(map(len, raw_edges)) + params + rest


def plain_node(item: Any, examine: Examine) -> NodeRecord | None:
    """The node where the reader's `_check_node` would find nothing to say about it,
    else None. Only the common case, checked quickly and without a word: the rest goes
    the long way."""
    if type(item) is not dict or not NODE_KEY_SET.issuperset(item):
        return None
    node_id = item.get("id")
    type_name = item.get("type")
    if (
        type(node_id) is not str
        or not node_id
        or len(node_id) > MAX_ID_LENGTH
        or type(type_name) is not str
    ):
        return None
    spec = registry.LAYERS.get(type_name)
    name = item.get("name")
    shares = item.get("shares")
    if (
        spec is None
        or (name is not None and type(name) is not str)
        or (shares is not None and (type(shares) is not str or not shares))
    ):
        return None
    pos = item.get("pos")
    if pos is not None:  # `is_point`, for the types JSON gives
        if type(pos) is not list or len(pos) != 2:
            return None
        x, y = pos
        if type(x) not in NUMBER_TYPES or type(y) not in NUMBER_TYPES:
            return None
        if not (-MAX_COORDINATE <= x <= MAX_COORDINATE and -MAX_COORDINATE <= y <= MAX_COORDINATE):
            return None  # also NaN, the infinities and ints beyond any float
        pos = (x, y)
    params = item.get("params")
    if params is None:
        params = {}
    elif type(params) is not dict:
        return None
    canonical, problems = examine(spec, params)
    if problems:
        return None
    return NodeRecord(node_id, type_name, canonical, name, pos, shares=shares)


def plain_nodes(raw: list[Any], examine: Examine) -> tuple[NodeColumns, dict[str, int]] | None:
    """The nodes, with each id's place, where `plain_node` would accept each
    and no id is given twice, else None; each test over a whole column."""
    if set(map(type, raw)) != _DICT or not all(map(NODE_KEY_SET.issuperset, raw)):
        return None
    points = plain_points(list(map(dict.get, raw, repeat("pos"))))
    if points is None:
        return None
    written = list(map(dict.get, raw, repeat("params")))
    nodes = NodeColumns(
        list(map(dict.get, raw, repeat("id"))),
        list(map(dict.get, raw, repeat("type"))),
        written,
        list(map(dict.get, raw, repeat("name"))),
        points,
        list(map(dict.get, raw, repeat("shares"))),
    )
    return checked_nodes(nodes, [_NO_PARAMS if p is None else repr(p) for p in written], examine)


def checked_nodes(
    nodes: NodeColumns, texts: list[Any], examine: Examine
) -> tuple[NodeColumns, dict[str, int]] | None:
    """`nodes` as a file gives them (params as written, any JSON value; positions as
    tuples or None), with each id's place, their params made canonical, where
    `plain_node` would accept each and no id is given twice, else None. `texts` tell the
    written params apart: equal where the params are (their repr, or their JSON text)."""
    ids, types, names, shares = nodes.ids, nodes.types, nodes.names, nodes.shares
    if (
        set(map(type, ids)) != _STR
        or min(map(len, ids)) < 1
        or max(map(len, ids)) > MAX_ID_LENGTH
        or set(map(type, types)) != _STR
        or not registry.LAYERS.keys() >= set(types)
        or not _STR_OR_NONE.issuperset(map(type, names))
        or not _STR_OR_NONE.issuperset(map(type, shares))
        or "" in shares
        or not _DICT_OR_NONE.issuperset(map(type, nodes.params))
        or not _on_canvas(
            [p for p in nodes.pos if p is not None] if None in nodes.pos else nodes.pos
        )
    ):
        return None
    params = _plain_params(types, texts, nodes.params, examine)
    if params is None:
        return None
    places = dict(zip(ids, range(len(ids))))
    if len(places) < len(ids):  # an id given twice
        return None
    nodes.params = params
    return nodes, places


def _plain_params(
    types: list[str], texts: list[Any], written: list[dict | None], examine: Examine
) -> list[dict] | None:
    """Each node's canonical params where every node's are well-formed, else None;
    examined once per distinct type and params, as the reader's `_examine` does."""
    keys = list(zip(types, texts))
    canonical = {}
    for key, params in dict(zip(keys, written)).items():
        canonical[key], problems = examine(registry.LAYERS[key[0]], params or {})
        if problems:
            return None
    return list(map(canonical.__getitem__, keys))


def takes_several() -> dict[str, bool]:
    """Each layer type with whether it takes several inputs (then an edge into it must
    say which port)."""
    return {name: spec.takes_several_inputs for name, spec in registry.LAYERS.items()}


def plain_points(points: list[Any]) -> list[tuple[Any, Any] | None] | None:
    """Positions as `plain_node` takes them ([x, y] numbers, or None), as
    tuples; None where one is anything else (`checked_nodes` sees they lie on the canvas)."""
    given = points if None not in points else [p for p in points if p is not None]
    if not given:
        return points
    if set(map(type, given)) != {list} or set(map(len, given)) != {2}:
        return None
    if given is points:
        return list(map(tuple, points))
    return [None if p is None else (p[0], p[1]) for p in points]


def _on_canvas(points: list[tuple[Any, Any]]) -> bool:
    """Whether every point is two numbers within the canvas (bool is a type of its own
    here, so true and false are refused; ints are compared exactly, so none beyond a
    float overflows)."""
    if not points:
        return True
    xs, ys = list(map(itemgetter(0), points)), list(map(itemgetter(1), points))
    return (
        NUMBER_TYPES.issuperset(map(type, xs))
        and NUMBER_TYPES.issuperset(map(type, ys))
        and -MAX_COORDINATE <= min(xs)
        and max(xs) <= MAX_COORDINATE
        and -MAX_COORDINATE <= min(ys)
        and max(ys) <= MAX_COORDINATE
    )


def plain_edge(
    item: Any, several: dict[str, bool], fed: dict[tuple[str, int], int]
) -> EdgeRecord | None:
    """The edge where the reader's `_read_edge` would find nothing to say about it,
    else None, given the ends an edge may name (with whether each takes several inputs)
    and the ports fed so far. Only the common case, checked quickly and without a word:
    the rest goes the long way."""
    if type(item) is not dict or not EDGE_KEY_SET.issuperset(item):
        return None
    source = item.get("source")
    target = item.get("target")
    if (
        type(source) is not str
        or type(target) is not str
        or source == target
        or source not in several
        or target not in several
    ):
        return None
    port = item.get("port")
    if port is None and "port" not in item and not several[target]:
        port = 0
    output = item.get("output", 0)
    if type(port) is not int or port < 0 or type(output) is not int or output < 0:
        return None
    if (target, port) in fed:
        return None
    return EdgeRecord(source, target, port, output)


def plain_edges(raw: list[Any], ends: dict[str, int], types: list[str]) -> EdgeColumns | None:
    """The edges where `plain_edge` would accept each in turn, else None; each
    test over a whole column, as `_Reader._plain_nodes`'s. `ends` are the nodes an edge
    may name, by place; `types` the type at each place."""
    if set(map(type, raw)) != _DICT or not all(map(EDGE_KEY_SET.issuperset, raw)):
        return None
    pairs = zip(map(dict.get, raw, repeat("source")), map(dict.get, raw, repeat("target")))
    ports = list(map(dict.get, raw, repeat("port")))
    if ports.count(None) != len(raw) - sum(map(contains, raw, repeat("port"))):
        return None  # a port given as null
    outputs = list(map(dict.get, raw, repeat("output"), repeat(0)))
    return checked_edges(list(chain.from_iterable(pairs)), ports, outputs, ends, types)


def checked_edges(
    named: list[Any], ports: list[Any], outputs: list[Any], ends: dict[str, int], types: list[str]
) -> EdgeColumns | None:
    """The edges as a file gives them (`named`: each edge's source, then its target;
    `ports` None where left out) where `plain_edge` would accept each in turn,
    else None. `ends` are the nodes an edge may name, by place; `types` the type at each."""
    if not named:
        return EdgeColumns()
    if set(map(type, named)) != _STR:
        return None
    # An edge's source is most often the target of an edge just before: looked up side by
    # side, its entry in `ends` is still in the cache (a large file's ends are millions).
    places = list(map(ends.get, named))
    if None in places:
        return None
    sources, targets = places[::2], places[1::2]
    if any(map(eq, sources, targets)):
        return None
    if None in ports:  # port 0, where the target takes one input
        several = map(takes_several().__getitem__, map(types.__getitem__, targets))
        if any(compress(several, map(is_, ports, repeat(None)))):
            return None
        ports = [0 if port is None else port for port in ports]
    if (
        set(map(type, ports)) != _INT
        or min(ports) < 0
        or set(map(type, outputs)) != _INT
        or min(outputs) < 0
    ):
        return None
    if len(set(targets)) < len(targets) and len(set(zip(targets, ports))) < len(targets):
        return None  # an input port fed twice
    return EdgeColumns(sources, targets, ports, outputs)
