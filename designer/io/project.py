"""Project files (docs/file-format.md): load with full validation, save atomically.

Loading parses JSON and nothing else: no code in a file is ever run. Every problem is
collected with its place in the file (`nodes[3].params.kernel_size: ...`), so one round of
fixing is enough. Saving writes one node or edge per line with a stable key order, so
files diff well in git, and replaces the old file only once the new one is complete.
"""

from __future__ import annotations

import codecs
import gc
import json
import math
import os
import re
import secrets
import shutil
import stat
import sys
import time
from collections.abc import Callable, Container, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import repeat
from operator import and_, contains, eq, is_, itemgetter, or_
from pathlib import Path
from typing import TYPE_CHECKING, Any

from designer.core import registry
from designer.core.expr import is_expr
from designer.core.graph import (
    Architecture,
    EdgeColumns,
    EdgeRecord,
    GraphError,
    NodeColumns,
    NodeRecord,
)
from designer.core.params import ParamError, clip_text, did_you_mean, show_value
from designer.core.problems import ProblemsError
from designer.core.spec import LayerSpec

if TYPE_CHECKING:  # blocks are imported where a file has them: the slow path
    from designer.core.block_flatten import Flat
    from designer.core.blocks import Library, Member

FORMAT = "nn-designer-project"
VERSION = 2  # what this designer writes
READS = (1, 2)  # what it opens; version 2 only adds to version 1
_TOP_LEVEL = ("format", "version", "name", "nodes", "edges")
_NODE_KEYS = ("id", "type", "name", "params", "pos", "shares")
_EDGE_KEYS = ("source", "target", "port", "output")
_NODE_KEY_SET = frozenset(_NODE_KEYS)
_EDGE_KEY_SET = frozenset(_EDGE_KEYS)
_NUMBER_TYPES = frozenset((int, float))
_DICT, _STR, _INT = {dict}, {str}, {int}  # the one type a whole column may hold
_STR_OR_NONE = frozenset((str, type(None)))
_DICT_OR_NONE = frozenset((dict, type(None)))
# Bounds a file must keep (docs/file-format.md): what a designer can open, show and save
# without a number or a line growing past what a person, a terminal or Qt can handle.
MAX_FILE_BYTES = 256 * 1024 * 1024  # 256 MiB: a 10⁶-node design takes about 140
MAX_ID_LENGTH = 1_000  # characters of a node id
MAX_COORDINATE = 1e9  # |x| and |y| of a position: within what Qt's canvas holds (2**31)
MAX_PROBLEMS = 50  # problems listed in one refusal; the rest are counted
# Version-2 keys this designer does not read yet (none at present). Dropping one would
# change the design's numbers, so a node that carries one is refused, naming the key.
_NOT_YET: dict[str, str] = {}
_BLOCK_KEYS = ("id", "params", "nodes", "edges")
_MEMBER_KEYS = (*_NODE_KEYS, "repeat")  # a node of a design with blocks


class ProjectError(ProblemsError):
    """A file that cannot be opened; `problems` lists every reason, each with its place:
    the first MAX_PROBLEMS of them and a count of the rest, each clipped to one line."""

    def __init__(self, problems: list[str]) -> None:
        shown = [clip_text(problem, _PROBLEM_LENGTH) for problem in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            more = len(problems) - MAX_PROBLEMS
            shown.append(f"… and {more:,} more problem{'s' if more > 1 else ''}")
        super().__init__(shown)


_PROBLEM_LENGTH = 500  # no message is longer unless it echoes something long


@dataclass(frozen=True)
class BlockDesign:
    """A design with blocks (or repeated nodes) as its file holds it: the blocks, and the
    top level's nodes (layers and instances) and edges, which saving writes back, never
    the flattened graph. `flat` is the design flattened: the Project's `arch` analyses it,
    and a report reads it per instance."""

    library: Library
    nodes: tuple[Member, ...]
    edges: tuple[EdgeRecord, ...]
    flat: Flat


@dataclass
class Project:
    """A loaded file: the design, top-level keys this version does not read (kept for
    saving), and notes about what was not read. A file with blocks also keeps them in
    `blocks`; its `arch` is then the flattened design, whose ids are paths."""

    arch: Architecture
    extras: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    blocks: BlockDesign | None = None


def load(path: str | os.PathLike) -> Project:
    """Read and check a project file. Only a regular file of at most MAX_FILE_BYTES is
    read (a pipe, a device such as /dev/zero or a folder is refused before any byte is)."""
    with _collector_paused():
        data = _read_file(path)
        try:
            holder = [data.decode("utf-8-sig")]
        except UnicodeDecodeError as error:
            raise ProjectError([_encoding_problem(data, error.start)]) from None
        del data  # a large file's bytes are not kept beside its text, nor its text beside
        return _load_text(holder, decoded=True)  # its design


def loads(text: str) -> Project:
    """Parse and check a project held in a string."""
    with _collector_paused():
        return _load_text([text], decoded=False)


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


def _read_file(path: str | os.PathLike) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES, or a ProjectError."""
    try:  # O_NONBLOCK: opening a named pipe must not wait for a writer
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise ProjectError([f"cannot read the file: {error.strerror or error}"]) from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            kind = _file_kind(status.st_mode)
            raise ProjectError([f"cannot read the file: it is {kind}, not a regular file"])
        if status.st_size > MAX_FILE_BYTES:
            raise ProjectError([_too_large(status.st_size)])
        with open(descriptor, "rb", buffering=0, closefd=False) as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # it may have grown since
    except OSError as error:
        raise ProjectError([f"cannot read the file: {error.strerror or error}"]) from None
    except MemoryError:
        raise ProjectError(["the file is too large to read into memory"]) from None
    finally:
        os.close(descriptor)
    if len(data) > MAX_FILE_BYTES:
        raise ProjectError([_too_large(len(data))])
    return data


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "a special file")


def _too_large(size: int) -> str:
    return (
        f"the file is {size / 2**20:,.1f} MiB, more than the {MAX_FILE_BYTES // 2**20} MiB "
        "a project file may be"
    )


def _load_text(holder: list[str], decoded: bool) -> Project:
    """Parse and check the text in `holder`, which is emptied: the text is dropped once
    parsed, and the parsed document once read, so neither stays beside the design.
    `decoded` text came from UTF-8 bytes, so it holds no lone surrogate."""
    text = holder.pop()
    if not text or text.isspace():  # (no stripped copy of a large file is made)
        raise ProjectError(["the file is empty" if not text else "the file holds only white space"])
    surrogate = not decoded and _lone_surrogate(text)  # in a str given to `loads`
    document = _CAREFUL if surrogate else _plain_parse(text)
    if document is _CAREFUL:
        document = _careful_parse(text)
    del text
    return _Reader(document).read()


def _careful_parse(text: str) -> Any:
    """The document, or a ProjectError naming the syntax error or every refused value."""
    try:
        document = json.loads(
            text,
            object_pairs_hook=_object,
            parse_constant=_constant,
            parse_float=_float,
            parse_int=_int,
        )
    except json.JSONDecodeError as error:
        raise ProjectError([_syntax_problem(text, error)]) from None
    except RecursionError:
        raise ProjectError([_TOO_DEEP]) from None
    problems = _refusals(document)
    if problems:
        raise ProjectError(problems)
    return document


def _encoding_problem(data: bytes, start: int) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return (
            "the file is UTF-16 text (it starts with a UTF-16 byte order mark); "
            "a project file is UTF-8"
        )
    line = data.count(b"\n", 0, start) + 1
    return (
        f"not UTF-8 text: byte 0x{data[start]:02x} on line {line} (offset {start}) "
        "is not valid UTF-8"
    )


def _syntax_problem(text: str, error: json.JSONDecodeError) -> str:
    """Python's message and place, said plainly where the cause is clear."""
    if not text[error.pos :].strip() or error.msg.startswith("Unterminated string"):
        end = len(text.rstrip())
        line = text.count("\n", 0, end) + 1
        column = end - text.rfind("\n", 0, end)
        return (
            f"not valid JSON: the text stops at line {line} column {column} before the JSON is "
            "complete; the file may have been cut short"
        )
    if error.pos == len(text) - len(text.lstrip()):
        return f"not JSON: a project file starts with '{{', this one with {_clip(text.lstrip())!r}"
    reason = "more text after the end of the JSON" if error.msg == "Extra data" else error.msg
    return f"not valid JSON: line {error.lineno} column {error.colno}: {reason}"


# JSON lets through what a project file must not hold: NaN and Infinity, numbers too large
# for a float, a key given twice (which value is meant?), lone surrogates (not characters,
# and unsavable as UTF-8), and nesting deep enough to exhaust recursion later on. The
# parser's hooks put a _Refused where such a value was; `_refusals` reports each by place.

_MAX_DEPTH = 100
_TOO_DEEP = f"lists and objects nested more than {_MAX_DEPTH} levels deep"
_SURROGATE = "half of a UTF-16 surrogate pair, which is not a character on its own"


@dataclass(frozen=True)
class _Refused:
    reason: str


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        surrogate = _lone_surrogate(key)
        if key in result:
            value = _Refused("appears twice in the same object")
        elif surrogate:
            value = _Refused(f"the key has {surrogate}, {_SURROGATE}")
        result[key] = value
    return result


def _constant(name: str) -> _Refused:
    return _Refused(f"{name} is not a number JSON allows")


def _float(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _Refused(f"the number {_clip(text)} is too large")


def _int(text: str) -> int | _Refused:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        digits = len(text.lstrip("-"))
        return _Refused(f"the number {_clip(text)} has {digits} digits, too many to read")


def _lone_surrogate(text: str) -> str | None:
    """The first lone surrogate in `text`, escaped as in JSON, or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"\\u{ord(text[error.start]):04x}"
    return None


# The careful parse above calls Python for every object and number, then visits every
# value: several times the cost of the parse itself. Nearly every file has nothing to
# refuse, and that can be shown for much less, so `_plain_parse` tries first: the parser
# calls Python only for floats (and NaN or Infinity), and `_census` visits only the
# document's objects and lists, to count their keys and their depth. Anything it cannot
# rule out sends the text to the careful parse, which then says what `loads` always said.

_CAREFUL = object()  # `_plain_parse`'s answer where the careful parse must look
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # \ud800-\udfff; a false alarm costs time


class _Unusual(Exception):
    """Raised by the plain parse's hooks: the careful parse has something to say."""


class _Repeated(Exception):
    """A node of a file without blocks carries `repeat`: it is read as a design with
    blocks, which only then costs anything."""


def _unusual(_: str) -> Any:
    raise _Unusual


def _finite(text: str) -> float:
    value = float(text)
    if value - value:  # inf - inf is nan, which is true; a finite number gives 0.0
        raise _Unusual
    return value


def _distinct(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Unusual
    return result


def _plain_parse(text: str) -> Any:
    """The document of a text without lone surrogates where it holds nothing to refuse,
    else _CAREFUL (so also where the text is not valid JSON: the careful parse words the
    error)."""
    if _SURROGATE_ESCAPE.search(text):
        return _CAREFUL
    try:
        document = json.loads(text, parse_constant=_unusual, parse_float=_finite)
    except (ValueError, RecursionError, _Unusual):  # JSONDecodeError, an int too long, …
        return _CAREFUL
    keys = _census(document)
    if keys is None:
        return _CAREFUL
    if keys != text.count(":"):  # a key given twice, or a colon inside a string
        try:  # the parser compares each object's keys
            document = json.loads(
                text, object_pairs_hook=_distinct, parse_constant=_unusual, parse_float=_finite
            )
        except (ValueError, RecursionError, _Unusual):
            return _CAREFUL
    return document


def _census(document: Any) -> int | None:
    """How many keys the document's objects hold, or None where lists and objects nest
    `_MAX_DEPTH` levels deep. One level at a time: no path is kept, nothing is said."""
    keys = 0
    level = [document]
    for _ in range(_MAX_DEPTH + 1):
        if not level:
            return keys
        below: list[Any] = []
        add = below.append
        for container in level:
            if type(container) is dict:
                keys += len(container)
                values = container.values()
            elif type(container) is list:
                values = container
            else:  # a document that is not a container
                continue
            for value in values:
                kind = type(value)
                if kind is dict or kind is list:
                    add(value)
        level = below
    return None  # a list or object at depth _MAX_DEPTH: the careful parse refuses it


def _refusals(document: Any) -> list[str]:
    """Every _Refused, lone surrogate and over-deep nesting, in file order, by place.

    The walk keeps its own stack instead of recursing, so no depth can crash it.
    """
    problems: list[str] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        surrogate = _lone_surrogate(value) if isinstance(value, str) else None
        if isinstance(value, _Refused):
            problems.append(_at(path, value.reason))
        elif surrogate:
            problems.append(_at(path, f"has {surrogate}, {_SURROGATE}"))
        elif isinstance(value, (dict, list)):
            if len(path) >= _MAX_DEPTH:
                problems.append(_at(path[:2], _TOO_DEEP))
                continue
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend(reversed([(path + (key,), item) for key, item in items]))
    return problems


def _at(path: tuple[str | int, ...], message: str) -> str:
    place = ""
    for key in path:
        place = f"{place}[{key}]" if isinstance(key, int) else _member(place, key)
    return f"{place}: {message}" if place else message


def _member(place: str, key: str) -> str:
    """The place of `key` in `place`: `.key` where the key reads plainly, else `['a\\nb']`,
    so that no key can break a message over two lines."""
    if not key.isidentifier() or len(key) > _KEY_LENGTH:  # a long one is clipped
        return f"{place}[{show_value(key)}]"
    return f"{place}.{key}" if place else key


_KEY_LENGTH = 60  # characters of a key written plainly in a place


def _clip(text: str, length: int = 20) -> str:
    return text if len(text) <= length else text[:length] + "…"


class _Reader:
    """Checks a parsed document and collects every problem before giving up.

    Nodes and edges are read in bulk, a column at a time, where none of them has anything
    to say about it (the common case): each test then runs over a whole column in C (map,
    set, min, max) instead of a Python call per node. Otherwise they are read one by one,
    each with a quick look first (`_plain_node`, `_plain_edge`) and the thorough check
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

    def read(self) -> Project:
        doc = self.document
        if not isinstance(doc, dict):
            raise ProjectError([f"the file must hold a JSON object, got {_kind(doc)}"])
        self._check_header(doc)
        foreign = bool(self.problems)  # another format or version: its nodes mean nothing here
        raw_nodes, raw_edges = self._list(doc, "nodes"), self._list(doc, "edges")
        if foreign:
            raise ProjectError(self.problems)
        name = doc.get("name")
        if name is not None and not isinstance(name, str):
            self.problems.append(f"name: must be a string, got {_kind(name)}")
            name = None
        if "blocks" in doc:
            return _BlockReader(self).read(doc, name or "", raw_nodes, raw_edges)
        said, noted = len(self.problems), len(self.notes)
        try:
            nodes = self._read_nodes(raw_nodes or [])
        except _Repeated:  # what was said of the nodes before it is said again there
            del self.problems[said:], self.notes[noted:]
            return _BlockReader(self).read(doc, name or "", raw_nodes, raw_edges)
        self._check_sharing(nodes)
        edges = EdgeColumns()
        if raw_nodes is not None:  # without nodes every edge would dangle: nothing to say
            raw_nodes.clear()  # read: the columns hold what is needed (a large file's
            # objects make way for its graph; the document is this reader's own)
            edges = self._read_edges(raw_edges or [], nodes)
            if raw_edges is not None:
                raw_edges.clear()
        try:
            arch = Architecture.from_columns(name or "", nodes, edges)
        except GraphError as error:
            self.problems.append(f"edges: {error}")
        if self.problems:
            raise ProjectError(self.problems)
        return Project(arch, self._extras(doc), self.notes)

    def _extras(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The top-level keys this version does not read, each noted: kept for saving."""
        extras = {k: v for k, v in doc.items() if k not in _TOP_LEVEL and k != "blocks"}
        for key in extras:
            self.notes.append(
                f"{_member('', key)}: not read by this version; kept as it is when saving"
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
            self.problems.append(f"{key}: must be a list, got {_kind(doc[key])}")
        else:
            return doc[key]
        return None

    # nodes ------------------------------------------------------------------------------

    def _read_nodes(self, raw: list[Any]) -> NodeColumns:
        """The nodes read, and a problem said for each that has one."""
        nodes = self._plain_nodes(raw)
        if nodes is not None:
            return nodes
        nodes = NodeColumns()
        places = self.node_places = {}
        plain = self._plain_node
        for index, item in enumerate(raw):
            record = plain(item)
            if record is None:  # something to say about it: the thorough check says it
                place = f"nodes[{index}]"
                if not isinstance(item, dict):
                    self.problems.append(f"{place}: must be an object, got {_kind(item)}")
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
        """The nodes where `_plain_node` would accept each and no id is given twice, else
        None; each test over a whole column."""
        if set(map(type, raw)) != _DICT or not all(map(_NODE_KEY_SET.issuperset, raw)):
            return None
        ids = list(map(dict.get, raw, repeat("id")))
        types = list(map(dict.get, raw, repeat("type")))
        names = list(map(dict.get, raw, repeat("name")))
        shares = list(map(dict.get, raw, repeat("shares")))
        if (
            set(map(type, ids)) != _STR
            or min(map(len, ids)) < 1
            or max(map(len, ids)) > MAX_ID_LENGTH
            or set(map(type, types)) != _STR
            or not registry.LAYERS.keys() >= set(types)
            or not _STR_OR_NONE.issuperset(map(type, names))
            or not _STR_OR_NONE.issuperset(map(type, shares))
            or "" in shares
        ):
            return None
        points = _plain_points(list(map(dict.get, raw, repeat("pos"))))
        if points is None:
            return None
        params = self._plain_params(types, list(map(dict.get, raw, repeat("params"))))
        if params is None:
            return None
        places = dict(zip(ids, range(len(ids))))
        if len(places) < len(ids):  # an id given twice
            return None
        self.node_places = self.ends = places
        return NodeColumns(ids, types, params, names, points, shares)

    def _plain_params(self, types: list[str], written: list[Any]) -> list[dict] | None:
        """Each node's canonical params where every node's are well-formed, else None;
        examined once per distinct type and params, as `_examine` does."""
        if not _DICT_OR_NONE.issuperset(map(type, written)):
            return None
        texts = list(map(repr, written))
        canonical = {}
        for key, params in dict(zip(zip(types, texts), written)).items():
            canonical[key], problems = self._examine(registry.LAYERS[key[0]], params or {})
            if problems:
                return None
        return list(map(canonical.__getitem__, zip(types, texts)))

    def _plain_node(self, item: Any) -> NodeRecord | None:
        """The node where `_check_node` would find nothing to say about it, else None.
        Only the common case, checked quickly and without a word: the rest goes the long way."""
        if type(item) is not dict or not _NODE_KEY_SET.issuperset(item):
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
        if pos is not None:  # `_is_point`, for the types JSON gives
            if type(pos) is not list or len(pos) != 2:
                return None
            x, y = pos
            if type(x) not in _NUMBER_TYPES or type(y) not in _NUMBER_TYPES:
                return None
            if not (
                -MAX_COORDINATE <= x <= MAX_COORDINATE and -MAX_COORDINATE <= y <= MAX_COORDINATE
            ):
                return None  # also NaN, the infinities and ints beyond any float
            pos = (x, y)
        params = item.get("params")
        if params is None:
            params = {}
        elif type(params) is not dict:
            return None
        canonical, problems = self._examine(spec, params)
        if problems:
            return None
        return NodeRecord(node_id, type_name, canonical, name, pos, shares=shares)

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
            self.problems.append(f"{place}.name: must be a string, got {_kind(name)}")
            ok = False
        pos = item.get("pos")
        if pos is not None and not _is_point(pos):
            self.problems.append(f"{place}.pos: must be [x, y] numbers, got {show_value(pos)}")
            ok = False
        elif pos is not None and not _on_canvas(pos):
            self.problems.append(
                f"{place}.pos: {show_value(pos)} is off the canvas: x and y must be from "
                f"{-MAX_COORDINATE:,.0f} to {MAX_COORDINATE:,.0f}"
            )
            ok = False
        params = item.get("params")
        if params is None:  # null, like leaving the key out: PyTorch's defaults
            params = {}
        if not isinstance(params, dict):
            self.problems.append(f"{place}.params: must be an object, got {_kind(params)}")
            ok = False
        elif spec is not None:
            canonical, problems = self._examine(spec, params)
            for problem in problems:
                param_place = _member(f"{place}.params", problem.param)
                self.problems.append(f"{param_place}: {problem.message}")
            ok = ok and not problems
            params = canonical
        for key in item:
            if key in _NOT_YET:
                self.problems.append(
                    f"{_member(place, key)}: this designer does not read {_NOT_YET[key]} yet"
                )
                ok = False
            elif key not in _NODE_KEYS:
                self.notes.append(f"{_member(place, key)}: not read by this version; dropped")
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
        ends = self.ends  # the nodes an edge may name without a word said: read without fault
        if ends is None or self.faulty_ids:
            faulty = self.faulty_ids
            ends = {node_id: i for i, node_id in enumerate(nodes.ids) if node_id not in faulty}
        types = nodes.types
        edges = _plain_edges(raw, ends, types)
        if edges is not None:
            return edges
        several_of = _takes_several()  # each end with whether it takes several inputs
        several = dict(
            zip(ends, map(several_of.__getitem__, map(types.__getitem__, ends.values())))
        )
        records: list[EdgeRecord] = []
        fed: dict[tuple[str, int], int] = {}
        plain = self._plain_edge
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

    def _plain_edge(
        self, item: Any, several: dict[str, bool], fed: dict[tuple[str, int], int]
    ) -> EdgeRecord | None:
        """The edge where `_read_edge` would find nothing to say about it, else None. Only
        the common case, checked quickly and without a word: the rest goes the long way."""
        if type(item) is not dict or not _EDGE_KEY_SET.issuperset(item):
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
            self.problems.append(f"{place}: must be an object, got {_kind(item)}")
            return
        source, target = [self._endpoint(place, item, key, ends) for key in ("source", "target")]
        kind = None if target is None else types[ends[target]]
        port = self._port(place, item, target, kind)
        output = self._output(place, item)
        for key in item:
            if key not in _EDGE_KEYS:
                self.notes.append(f"{_member(place, key)}: not read by this version; dropped")
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
            self.problems.append(f"{place}.{key}: must be a node id string, got {_kind(value)}")
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


# designs with blocks ---------------------------------------------------------------------


@dataclass
class _Scope:
    """One block's inside, or the top level, as read: its members and edges, and where each
    is in the file, so that a problem found later is said at its place."""

    place: str  # what comes before `nodes[3]`: "blocks[0]." or ""
    block_id: str | None = None  # None for the top level, or a block without a good id
    params: dict[str, Any] = field(default_factory=dict)
    raw_edges: list[Any] | None = None
    members: list[Member] = field(default_factory=list)
    edges: list[EdgeRecord] = field(default_factory=list)
    node_places: dict[str, int] = field(default_factory=dict)  # id → index in the file
    edge_places: dict[str, int] = field(default_factory=dict)  # "a → b" → index in the file
    faulty: set[str] = field(default_factory=set)  # ids of nodes not read: edges say nothing
    problems: list[str] = field(default_factory=list)

    def placed(self, rest: str) -> str | None:
        """`rest`, what follows `block B, ` or `the design, ` in a problem, at the place of
        the block param, node (and its param or `repeat`) or edge it starts with; None
        where it names none of them."""
        if rest.startswith("param "):
            for name in self.params:
                lead = f"param {clip_text(repr(name), 80)}: "
                if rest.startswith(lead):
                    return f"{_member(self.place + 'params', name)}: {rest[len(lead) :]}"
        if rest.startswith("edge "):
            found = _lead(rest[5:], self.edge_places)
            if found is not None:
                return f"{self.place}edges[{self.edge_places[found[0]]}]: {found[1]}"
        found = _lead(rest, self.node_places)
        if found is None:
            return None
        node_id, message = found
        place = f"{self.place}nodes[{self.node_places[node_id]}]"
        member = next(m for m in self.members if m.id == node_id)
        inner = _lead(message, {*member.params, "repeat"})
        if inner is None:
            return f"{place}: {message}"
        key, message = inner
        where = f"{place}.repeat" if key == "repeat" else _member(f"{place}.params", key)
        return f"{where}: {message}"


def _lead(text: str, known: Container[str]) -> tuple[str, str] | None:
    """(lead, rest) where `text` is `lead: rest` for a lead in `known` (the shortest)."""
    at = text.find(": ")
    while at >= 0:
        if text[:at] in known:
            return text[:at], text[at + 2 :]
        at = text.find(": ", at + 1)
    return None


class _BlockReader:
    """Reads a design with blocks or repeated nodes (contract 1b): the slow path, which only
    such files take. Each block's nodes and edges and the top level's are checked where
    they are written, every problem said at its place; then the blocks together
    (designer.core.blocks) and the flattening check what spans them, each problem again
    said at the place it concerns (`blocks[0].nodes[2].params.out_channels: …`), or by path
    (`stage1.first.c2: …`) where an instance's values cause it."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.block_ids: set[str] = set()  # the types that are blocks of this file
        self.inputs: dict[str, int] = {}  # each block's input ports

    def read(
        self, doc: dict[str, Any], name: str, raw_nodes: list[Any] | None, raw_edges: Any
    ) -> Project:
        from designer.core.block_flatten import flatten
        from designer.core.blocks import BLOCK_INPUT, BlockDef, BlockError, Library

        raw_blocks = doc.get("blocks", [])
        if not isinstance(raw_blocks, list):
            self.reader.problems.append(f"blocks: must be a list, got {_kind(raw_blocks)}")
            raw_blocks = []
        self.block_ids = {
            item["id"]
            for item in raw_blocks
            if isinstance(item, dict)
            and isinstance(item.get("id"), str)
            and item["id"] not in registry.LAYERS
        }
        top = _Scope("")
        self._members(top, raw_nodes or [])
        seen: dict[str, int] = {}
        blocks = [self._block(index, item, seen) for index, item in enumerate(raw_blocks)]
        self.inputs = {
            scope.block_id: sum(m.type == BLOCK_INPUT for m in scope.members)
            for scope in blocks
            if scope.block_id is not None
        }
        if raw_nodes is not None:  # without nodes every edge would dangle: nothing to say
            self._edges(top, raw_edges or [])
        for scope in blocks:
            self._edges(scope, scope.raw_edges or [])
        for scope in (top, *blocks):
            self.reader.problems += scope.problems
        if self.reader.problems:
            raise ProjectError(self.reader.problems)
        try:
            library = Library(BlockDef(s.block_id, s.params, s.members, s.edges) for s in blocks)
            flat = flatten(top.members, top.edges, library)
            if flat.instances:  # inner nodes hold their block's positions: laid out afresh
                flat = replace(flat, nodes=tuple(replace(n, pos=None) for n in flat.nodes))
            arch = flat.architecture(name)
        except BlockError as error:
            raise ProjectError([_placed(p, top, blocks) for p in error.problems]) from None
        design = BlockDesign(library, tuple(top.members), tuple(top.edges), flat)
        return Project(arch, self.reader._extras(doc), self.reader.notes, design)

    def _block(self, index: int, item: Any, seen: dict[str, int]) -> _Scope:
        """A block's id, params and nodes (its edges are read once every block's ports are
        known); `seen` holds the ids read before, by index."""
        place = f"blocks[{index}]"
        scope = _Scope(f"{place}.")
        say = scope.problems.append
        if not isinstance(item, dict):
            say(f"{place}: must be an object, got {_kind(item)}")
            return scope
        block_id = item.get("id")
        if "id" not in item:
            say(f"{place}.id: missing")
        elif not isinstance(block_id, str):
            say(f"{place}.id: must be a string, got {_kind(block_id)}")
        elif block_id in seen:
            say(f"{place}.id: duplicate id {show_value(block_id)} (also blocks[{seen[block_id]}])")
        else:
            seen[block_id] = index
            scope.block_id = block_id
        params = item.get("params")
        if isinstance(params, dict):
            scope.params = params
        elif params is not None:
            say(f"{place}.params: must be an object, got {_kind(params)}")
        for key in item:
            if key not in _BLOCK_KEYS:
                self.reader.notes.append(f"{_member(place, key)}: not read by this version; dropped")
        for key in ("nodes", "edges"):
            if key not in item:
                say(f"{place}.{key}: missing (a list is required)")
            elif not isinstance(item[key], list):
                say(f"{place}.{key}: must be a list, got {_kind(item[key])}")
        nodes = item.get("nodes")
        self._members(scope, nodes if isinstance(nodes, list) else [])
        edges = item.get("edges")
        scope.raw_edges = edges if isinstance(edges, list) else []
        return scope

    def _members(self, scope: _Scope, raw: list[Any]) -> None:
        for index, item in enumerate(raw):
            place = f"{scope.place}nodes[{index}]"
            member = self._member(scope, place, item)
            if member is None:
                continue
            if member.id in scope.node_places:
                other = scope.node_places[member.id]
                scope.problems.append(
                    f"{place}.id: duplicate id {show_value(member.id)} "
                    f"(also {scope.place}nodes[{other}])"
                )
                continue
            scope.node_places[member.id] = index
            scope.members.append(member)

    def _member(self, scope: _Scope, place: str, item: Any) -> Member | None:
        """A layer, a port, an instance of a block or a repeated node; None, with every
        problem said, where it has one."""
        from designer.core.blocks import PORT_TYPES, Instance

        say = scope.problems.append
        if not isinstance(item, dict):
            say(f"{place}: must be an object, got {_kind(item)}")
            return None
        problems = len(scope.problems)
        node_id = item.get("id")
        if not isinstance(node_id, str) or not node_id:
            got = "nothing" if "id" not in item else show_value(node_id)
            say(f"{place}.id: must be a non-empty string, got {got}")
        elif len(node_id) > MAX_ID_LENGTH:
            say(
                f"{place}.id: {len(node_id):,} characters long, more than the "
                f"{MAX_ID_LENGTH:,} an id may have: {show_value(node_id)}"
            )
        type_name = item.get("type")
        is_block = type_name in self.block_ids
        if "type" not in item:
            say(f"{place}.type: missing")
        elif not isinstance(type_name, str):
            say(f"{place}.type: {registry.unknown_type_message(type_name)}")
        elif not is_block and type_name not in registry.LAYERS and type_name not in PORT_TYPES:
            hint = did_you_mean(type_name[:200], [*registry.LAYERS, *self.block_ids])
            say(f"{place}.type: unknown layer or block type {clip_text(repr(type_name))}{hint}")
        name = item.get("name")
        if name is not None and not isinstance(name, str):
            say(f"{place}.name: must be a string, got {_kind(name)}")
        pos = item.get("pos")
        if pos is not None and not _is_point(pos):
            say(f"{place}.pos: must be [x, y] numbers, got {show_value(pos)}")
        elif pos is not None and not _on_canvas(pos):
            say(
                f"{place}.pos: {show_value(pos)} is off the canvas: x and y must be from "
                f"{-MAX_COORDINATE:,.0f} to {MAX_COORDINATE:,.0f}"
            )
        params = item.get("params")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            say(f"{place}.params: must be an object, got {_kind(params)}")
        elif type_name in registry.LAYERS:
            for problem in self._layer_problems(registry.LAYERS[type_name], params):
                say(f"{_member(f'{place}.params', problem.param)}: {problem.message}")
        instance = is_block or "repeat" in item
        shares = item.get("shares")
        if shares is not None and (not isinstance(shares, str) or not shares):
            say(f"{place}.shares: must be the id of another node, got {show_value(shares)}")
        elif shares is not None and instance:
            say(f"{place}.shares: an instance of a block, or a repeated node, has its own weights")
        for key in item:
            if key not in _MEMBER_KEYS:
                self.reader.notes.append(f"{_member(place, key)}: not read by this version; dropped")
        if len(scope.problems) > problems:
            if isinstance(node_id, str):
                scope.faulty.add(node_id)
            return None
        point = (pos[0], pos[1]) if pos else None
        if instance:
            return Instance(node_id, type_name, params, item.get("repeat", 1), name, point)
        return NodeRecord(node_id, type_name, params, name, point, shares=shares)

    def _layer_problems(self, spec: LayerSpec, params: dict[str, Any]) -> list[ParamError]:
        """What a layer's type refuses in its params. Where a value is an expression, only
        what shows without the block's params: unknown names, missing required ones and
        each plain value; the flattening checks the rest, by path."""
        if not any(map(_holds_expr, params.values())):
            return self.reader._examine(spec, params)[1]
        problems = []
        for key, value in params.items():
            param = spec.by_name.get(key)
            if param is None:
                hint = did_you_mean(key, spec.by_name)
                problems.append(ParamError(key, f"{spec.name} has no parameter {key!r}{hint}"))
            elif not _holds_expr(value):
                try:
                    param.check(value)
                except ParamError as error:
                    problems.append(error)
        problems += [
            ParamError(p.name, f"is required ({p.describe()})")
            for p in spec.params
            if p.required and p.name not in params
        ]
        return problems

    def _edges(self, scope: _Scope, raw: list[Any]) -> None:
        kinds = {member.id: member.type for member in scope.members}
        fed: dict[tuple[str, int], int] = {}
        say = scope.problems.append
        for index, item in enumerate(raw):
            place = f"{scope.place}edges[{index}]"
            if not isinstance(item, dict):
                say(f"{place}: must be an object, got {_kind(item)}")
                continue
            source, target = [self._end(scope, place, item, key) for key in ("source", "target")]
            several = target is not None and _several_inputs(kinds[target], self.inputs)
            if "port" not in item and several:
                say(
                    f"{place}.port: missing; {show_value(target)} ({kinds[target]}) takes "
                    "several inputs, so each edge into it must say which"
                )
                port = None
            else:
                port = _slot(place, item, "port", say)
            output = _slot(place, item, "output", say)
            for key in item:
                if key not in _EDGE_KEYS:
                    self.reader.notes.append(
                        f"{_member(place, key)}: not read by this version; dropped"
                    )
            if source is None or target is None or port is None or output is None:
                continue
            if source == target:
                say(f"{place}: {show_value(source)} cannot feed itself")
            elif (target, port) in fed:
                say(
                    f"{place}.port: input port {port} of {show_value(target)} is already fed "
                    f"by {scope.place}edges[{fed[(target, port)]}]"
                )
            else:
                fed[(target, port)] = index
                scope.edges.append(EdgeRecord(source, target, port, output))
                scope.edge_places.setdefault(f"{source} → {target}", index)

    def _end(self, scope: _Scope, place: str, item: dict[str, Any], key: str) -> str | None:
        value = item.get(key)
        if key not in item:
            scope.problems.append(f"{place}.{key}: missing")
        elif not isinstance(value, str):
            scope.problems.append(f"{place}.{key}: must be a node id string, got {_kind(value)}")
        elif value in scope.faulty:
            pass
        elif value not in scope.node_places:
            scope.problems.append(f"{place}.{key}: there is no node {show_value(value)}")
        else:
            return value
        return None


def _holds_expr(value: Any) -> bool:
    """Whether a param value is, or holds, an expression (`{"expr": …}`)."""
    if isinstance(value, list):
        return any(map(_holds_expr, value))
    return is_expr(value)


def _several_inputs(kind: str, inputs: Mapping[str, int]) -> bool:
    """Whether a node of this type (a layer, a port or a block, whose input ports are
    `inputs`) takes several inputs: each edge into it says which port."""
    if kind in inputs:
        return inputs[kind] > 1
    spec = registry.LAYERS.get(kind)
    return spec is not None and spec.takes_several_inputs


def _slot(place: str, item: dict[str, Any], key: str, say: Callable[[str], None]) -> int | None:
    """An edge's `port` or `output`: a non-negative int, 0 where left out."""
    value = item.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        say(f"{place}.{key}: must be a non-negative int, got {show_value(value)}")
        return None
    return value


def _placed(problem: str, top: _Scope, blocks: list[_Scope]) -> str:
    """A problem the blocks or the flattening found, said at its place in the file where it
    names one (`block B, c2: …`, `the design, edge a → b: …`); one named by path (an
    instance's values) is said as it is."""
    for scope in blocks:
        shown = f"block {clip_text(repr(scope.block_id), 80)}: "
        if problem.startswith(shown):  # the id itself
            return f"{scope.place}id: {problem[len(shown) :]}"
        lead = f"block {scope.block_id}"
        if problem.startswith(lead + ", "):
            rest = problem[len(lead) + 2 :]
            return scope.placed(rest) or f"{scope.place[:-1]}: {rest}"
        if problem.startswith(lead + ": "):
            return f"{scope.place[:-1]}: {problem[len(lead) + 2 :]}"
    if problem.startswith("the design, "):
        return top.placed(problem[len("the design, ") :]) or problem
    return problem


def _takes_several() -> dict[str, bool]:
    """Each layer type with whether it takes several inputs (then an edge into it must
    say which port)."""
    return {name: spec.takes_several_inputs for name, spec in registry.LAYERS.items()}


def _plain_points(points: list[Any]) -> list[tuple[Any, Any] | None] | None:
    """Positions as `_plain_node` takes them ([x, y] numbers on the canvas, or None), as
    tuples; None where one is anything else."""
    given = points if None not in points else [p for p in points if p is not None]
    if not given:
        return points
    if set(map(type, given)) != {list} or set(map(len, given)) != {2}:
        return None
    xs, ys = list(map(itemgetter(0), given)), list(map(itemgetter(1), given))
    if not _NUMBER_TYPES.issuperset(map(type, xs)) or not _NUMBER_TYPES.issuperset(map(type, ys)):
        return None  # (bool is a type of its own here, so true and false are refused)
    if min(xs) < -MAX_COORDINATE or max(xs) > MAX_COORDINATE:
        return None  # ints are compared exactly, so none beyond a float overflows
    if min(ys) < -MAX_COORDINATE or max(ys) > MAX_COORDINATE:
        return None
    if given is points:
        return list(map(tuple, points))
    return [None if p is None else (p[0], p[1]) for p in points]


def _plain_edges(raw: list[Any], ends: dict[str, int], types: list[str]) -> EdgeColumns | None:
    """The edges where `_Reader._plain_edge` would accept each in turn, else None; each
    test over a whole column, as `_Reader._plain_nodes`'s. `ends` are the nodes an edge
    may name, by place; `types` the type at each place."""
    if set(map(type, raw)) != _DICT or not all(map(_EDGE_KEY_SET.issuperset, raw)):
        return None
    source_ids = list(map(dict.get, raw, repeat("source")))
    target_ids = list(map(dict.get, raw, repeat("target")))
    if set(map(type, source_ids)) != _STR or set(map(type, target_ids)) != _STR:
        return None
    sources = list(map(ends.get, source_ids))
    targets = list(map(ends.get, target_ids))
    if None in sources or None in targets or any(map(eq, sources, targets)):
        return None
    ports = list(map(dict.get, raw, repeat("port")))
    if None in ports:  # left out (not null) where the target takes one input: port 0
        left_out = map(is_, ports, repeat(None))
        several = map(_takes_several().__getitem__, map(types.__getitem__, targets))
        if any(map(and_, left_out, map(or_, map(contains, raw, repeat("port")), several))):
            return None
        ports = [0 if port is None else port for port in ports]
    outputs = list(map(dict.get, raw, repeat("output"), repeat(0)))
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


def _kind(value: Any) -> str:
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "true/false",
        type(None): "null",
    }
    return names.get(
        type(value), f"the number {value}" if isinstance(value, (int, float)) else str(type(value))
    )


def _is_point(value: Any) -> bool:
    if not isinstance(value, list) or len(value) != 2:
        return False
    x, y = value
    return _is_coordinate(x) and _is_coordinate(y)


def _is_coordinate(value: Any) -> bool:
    """A number a float can hold (the careful parse has refused NaN and the infinities);
    one too large for the canvas is for `_on_canvas` to say."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    return not isinstance(value, int) or -_FLOAT_MAX <= value <= _FLOAT_MAX


_FLOAT_MAX = sys.float_info.max


def _on_canvas(point: list[float]) -> bool:
    """Both coordinates within ±MAX_COORDINATE (compared exactly: no int is turned into a
    float, so none overflows)."""
    return all(-MAX_COORDINATE <= c <= MAX_COORDINATE for c in point)


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


def save(path: str | os.PathLike, arch: Architecture, extras: dict[str, Any] | None = None) -> None:
    """Write the project file atomically (see `write_atomically`)."""
    write_atomically(path, dumps(arch, extras).encode("utf-8"))


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
