"""The project file format (docs/file-format.md) as its readers and its writer share it: its
name, versions, keys and bounds, how a problem names its place, the rules a position and an
edge keep. Also what loading a file gives (Project, BlockDesign) or refuses (ProjectError)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from designer.core import registry
from designer.core.blocks import Library, Member
from designer.core.graph import Architecture, EdgeRecord
from designer.core.params import clip_text, show_value
from designer.core.problems import ProblemsError

if TYPE_CHECKING:  # flattening (and the engine) is imported only where a file has blocks
    from designer.core.block_flatten import Flat

FORMAT = "nn-designer-project"
VERSION = 2  # what this designer writes
READS = (1, 2)  # what it opens; version 2 only adds to version 1
TOP_LEVEL = ("format", "version", "name", "nodes", "edges")
NODE_KEYS = ("id", "type", "name", "params", "pos", "shares")
EDGE_KEYS = ("source", "target", "port", "output")
# Bounds a file must keep (docs/file-format.md): what a designer can open, show and save
# without a number or a line growing past what a person, a terminal or Qt can handle.
# (The largest file read, MAX_FILE_BYTES, is json_text's.)
MAX_ID_LENGTH = 1_000  # characters of a node id
MAX_COORDINATE = 1e9  # |x| and |y| of a position: within what Qt's canvas holds (2**31)
MAX_PROBLEMS = 50  # problems listed in one refusal; the rest are counted
# Version-2 keys this designer does not read yet (none at present). Dropping one would
# change the design's numbers, so a node that carries one is refused, naming the key.
NOT_YET: dict[str, str] = {}
BLOCK_KEYS = ("id", "params", "nodes", "edges")
MEMBER_KEYS = (*NODE_KEYS, "repeat")  # a node of a design with blocks


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


# places and values as a problem names them, and the checks both readers share ----------


def key_place(place: str, key: str) -> str:
    """The place of `key` in `place`: `.key` where the key reads plainly, else `['a\\nb']`,
    so that no key can break a message over two lines."""
    if not key.isidentifier() or len(key) > _KEY_LENGTH:  # a long one is clipped
        return f"{place}[{show_value(key)}]"
    return f"{place}.{key}" if place else key


_KEY_LENGTH = 60  # characters of a key written plainly in a place


def kind_of(value: Any) -> str:
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


def is_point(value: Any) -> bool:
    if not isinstance(value, list) or len(value) != 2:
        return False
    x, y = value
    return _is_coordinate(x) and _is_coordinate(y)


def _is_coordinate(value: Any) -> bool:
    """A number a float can hold (the careful parse has refused NaN and the infinities);
    one too large for the canvas is for `on_canvas` to say."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    return not isinstance(value, int) or -_FLOAT_MAX <= value <= _FLOAT_MAX


_FLOAT_MAX = sys.float_info.max


def on_canvas(point: list[float]) -> bool:
    """Both coordinates within ±MAX_COORDINATE (compared exactly: no int is turned into a
    float, so none overflows)."""
    return all(-MAX_COORDINATE <= c <= MAX_COORDINATE for c in point)


def several_inputs(kind: str, inputs: Mapping[str, int]) -> bool:
    """Whether a node of this type (a layer, a port or a block, whose input ports are
    `inputs`) takes several inputs: each edge into it says which port."""
    if kind in inputs:
        return inputs[kind] > 1
    spec = registry.LAYERS.get(kind)
    return spec is not None and spec.takes_several_inputs
