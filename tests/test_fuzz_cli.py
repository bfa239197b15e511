"""Fuzzing the command line with hostile values: any JSON value (ints no float or int64
holds, 1e308, -0.0, text with control characters, nested lists and objects, true, false,
null) put in place of any value of a shipped example must give `check` and `report`, in
every format, an exit status of the contract (0, 1 or 2), the same for each, and never a
traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from designer.cli import main
from designer.core.registry import LAYERS
from designer.export.report import FORMATS
from tests.conftest import EXAMPLES

DOCUMENTS = {
    path.name: json.loads(path.read_text(encoding="utf-8")) for path in EXAMPLES.glob("*.nnd")
}

Path_ = tuple[str | int, ...]


def value_paths(value: Any, path: Path_ = ()) -> list[Path_]:
    """The place of every value in a document, containers included (the document's own
    place, (), left out)."""
    found = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += value_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += value_paths(item, (*path, index))
    return found


PATHS = {name: value_paths(document) for name, document in DOCUMENTS.items()}
# Places inside params, and positions: where a number is read as a size, a stride, a
# factor or a coordinate. Drawn as often as all the others, so that hostile numbers reach
# the analysis and not only the loader's refusals.
NUMBER_PATHS = {
    name: [p for p in paths if "params" in p or "pos" in p] for name, paths in PATHS.items()
}

EXTREMES = [
    2**63,
    2**63 - 1,
    -(2**63) - 1,
    2**62,
    2**31,
    65_537,
    10**300,
    -(10**300),
    10**4299,
    1e308,
    -1e308,
    1e19,
    2.0**63,
    5e-324,
    -0.0,
    0,
    -1,
    1.5,
]
NUMBERS = st.one_of(
    st.sampled_from(EXTREMES),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(["\n", "\r", "\t", "\x1b", "\x00", "\x7f", "\x9b", "\u202e", "\u2028"]),
        st.sampled_from(list("=+-@|<>&\\\"',; ")),
        st.characters(codec="utf-8"),
    ),
    max_size=30,
)
# Numbers a parameter takes, pushed to their edges: the analysis, not only the loader's
# refusals, must meet them.
SIZES = st.one_of(
    st.integers(min_value=1, max_value=2**64),
    st.integers(min_value=1, max_value=64),
    st.sampled_from([2**62, 2**63 - 1, 2**31, 65_536, 65_537]),
    st.floats(min_value=1e-300, max_value=1e308),
)
SCALARS = st.one_of(NUMBERS, TEXT, st.booleans(), st.none())
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)


def replaced(document: Any, path: Path_, value: Any) -> Any:
    """A copy of `document` with `value` at `path`."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        inner = document.get(head) if rest else None
        if rest and inner is None and head == "params":  # a node that writes no params
            inner = {}
        return {**document, head: replaced(inner, rest, value) if rest else value}
    copy = list(document)
    copy[head] = replaced(document[head], rest, value)
    return copy


@st.composite
def hostile_documents(draw: st.DrawFn) -> tuple[str, Any]:
    """An example with one to three values replaced: a node's parameter (any its type
    takes, written or not) or position set to an extreme number, any value of the file
    set to any JSON value or a layer type's name, or a number inside params set to one."""
    name = draw(st.sampled_from(sorted(DOCUMENTS)))
    document = DOCUMENTS[name]
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        how = draw(st.integers(min_value=0, max_value=3))
        if how == 0:
            path = draw(st.sampled_from(PATHS[name]))
            value = draw(st.one_of(VALUES, st.sampled_from(sorted(LAYERS))))
        elif how == 1 and NUMBER_PATHS[name]:
            path = draw(st.sampled_from(NUMBER_PATHS[name]))
            value = draw(HOSTILE_NUMBERS)
        else:
            index = draw(st.integers(min_value=0, max_value=len(DOCUMENTS[name]["nodes"]) - 1))
            kind = DOCUMENTS[name]["nodes"][index]["type"]
            names = [p.name for p in LAYERS[kind].params] if kind in LAYERS else []
            if how == 2 or not names:
                path = ("nodes", index, "pos")
                value = draw(st.lists(st.sampled_from(EXTREMES), min_size=2, max_size=2))
            else:
                param = draw(st.sampled_from(names))
                path = ("nodes", index, "params", param)
                value = draw(HOSTILE_NUMBERS)
        try:
            document = replaced(document, path, value)
        except (KeyError, IndexError, TypeError):  # an earlier swap removed the place
            pass
    return name, document


HOSTILE_NUMBERS = st.one_of(
    st.sampled_from(EXTREMES),
    st.sampled_from(EXTREMES).map(lambda n: [n, n]),
    SIZES,
    SIZES.map(lambda n: [n, n]),
    VALUES,
)


def _with_params(name: str, **by_type: dict[str, Any]) -> tuple[str, Any]:
    """An example with params written into every node of each type named."""
    document = json.loads(json.dumps(DOCUMENTS[name]))
    for node in document["nodes"]:
        if node["type"] in by_type:
            node["params"] = {**(node.get("params") or {}), **by_type[node["type"]]}
    return name, document


def run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(args)
    return status, out.getvalue(), err.getvalue()


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=hostile_documents())
@example(case=_with_params("upsampling-three-ways.nnd", Upsample={"scale_factor": 1e308}))
@example(
    case=_with_params(
        "vgg16.nnd",
        Conv2d={"stride": 2**62},
        MaxPool2d={"kernel_size": 1, "stride": 2**62},
    )
)
@example(case=_with_params("lenet5.nnd", Input={"shape": [1, 2**40, 28]}))
def test_hostile_values_give_a_status_never_a_traceback(
    case: tuple[str, Any], tmp_path_factory
) -> None:
    name, document = case
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    status, out, err = run(["check", str(path)])
    assert status in (0, 1, 2)
    if status == 1:  # refused: one line, nothing on standard output
        assert out == "" and err.count("\n") == 1 and err.startswith("designer: ")
    for format in FORMATS:
        report_status, report_out, report_err = run(["report", str(path), "--format", format])
        assert report_status == status, (format, report_err)
        if format == "json" and status != 1:
            json.loads(report_out, parse_constant=_refuse)


def _refuse(name: str) -> None:
    raise AssertionError(f"{name} in a JSON report")


def test_the_fuzzer_reaches_every_kind_of_place() -> None:
    """Every example offers its nodes' ids, params, positions and edges' ports to swap."""
    places = {path[0] for paths in PATHS.values() for path in paths}
    assert {"format", "version", "name", "nodes", "edges"} <= places
    assert all(any("params" in p for p in paths) for paths in PATHS.values())
    assert sum(len(paths) for paths in PATHS.values()) > 1000
    assert isinstance(Path, type)
