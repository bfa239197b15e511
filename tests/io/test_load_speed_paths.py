"""The loader's quick paths (the quick read, the plain parse, and nodes and edges accepted
without a word) give exactly what the thorough ones give: the same design, notes and extras, or the same
problems in the same order. Each case is loaded twice, once with the quick paths turned
off, and the two outcomes compared."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.io import json_text, plain_columns, project
from designer.io.project import ProjectError, loads
from tests.conftest import EXAMPLES

EXAMPLE_TEXTS = {path.stem: path.read_text(encoding="utf-8") for path in EXAMPLES.glob("*.nnd")}


def outcome(text: str) -> tuple[Any, ...]:
    try:
        loaded = loads(text)
    except ProjectError as error:
        return ("refused", error.problems)
    graph = loaded.arch.graph
    edges = sorted(
        (u, v, port, sorted(data.items())) for u, v, port, data in graph.edges(keys=True, data=True)
    )
    return (
        loaded.arch.name,
        list(graph.nodes(data=True)),
        edges,
        loaded.arch.report_order(),
        loaded.notes,
        loaded.extras,
    )


def thorough_outcome(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    with monkeypatch.context() as patch:
        patch.setattr(project._Reader, "quick", classmethod(lambda cls, data, start=0: None))
        patch.setattr(json_text, "plain_parse", lambda text: json_text.CAREFUL)
        patch.setattr(plain_columns, "plain_node", lambda item, examine: None)
        patch.setattr(plain_columns, "plain_edge", lambda item, several, fed: None)
        return outcome(text)


def same_both_ways(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    quick = outcome(text)
    assert quick == thorough_outcome(text, monkeypatch)
    return quick


@pytest.mark.parametrize("name", sorted(EXAMPLE_TEXTS))
def test_examples_open_by_the_plain_parse(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = EXAMPLE_TEXTS[name]
    quick = same_both_ways(text, monkeypatch)
    assert quick[0] != "refused"
    monkeypatch.setattr(json_text, "careful_parse", lambda text: pytest.fail("parsed carefully"))
    assert outcome(text) == quick


def document(nodes: list[Any], edges: list[Any], **extra: Any) -> dict[str, Any]:
    return {"format": "nn-designer-project", "version": 2, "nodes": nodes, "edges": edges, **extra}


BASE_NODES = [
    {"id": "in", "type": "Input", "params": {"shape": [3, 8, 8]}, "pos": [0, 0]},
    {"id": "conv", "type": "Conv2d", "params": {"out_channels": 4, "kernel_size": 3}},
    {"id": "add", "type": "Add", "pos": [1.5, 2.25]},
]
BASE_EDGES = [
    {"source": "in", "target": "conv"},
    {"source": "conv", "target": "add", "port": 0},
    {"source": "conv", "target": "add", "port": 1},
]
BASE = json.dumps(document(BASE_NODES, BASE_EDGES))


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


ODD_TEXTS = {
    "plain": BASE,
    "colon in a name": BASE.replace('"id": "add"', '"id": "add", "name": "stage: 1"'),
    "colon in a key": BASE.replace('"pos": [0, 0]', '"a:b": 1'),
    "key twice": BASE.replace('"id": "conv"', '"id": "x", "id": "conv"'),
    "key twice beside a colon": BASE.replace('"id": "conv"', '"id": "x:y", "id": "conv"'),
    "NaN": BASE.replace("[0, 0]", "[NaN, 0]"),
    "Infinity": BASE.replace("[0, 0]", "[0, -Infinity]"),
    "float too large": BASE.replace("[0, 0]", "[1e999, 0]"),
    "int too long": BASE.replace("[0, 0]", "[" + "9" * 5000 + ", 0]"),
    "large int": BASE.replace("[0, 0]", "[" + "9" * 400 + ", 0]"),
    "lone surrogate in a value": BASE.replace('"conv"}', '"conv", "name": "\\ud800"}'),
    "lone surrogate in a key": BASE.replace('"pos": [0, 0]', '"\\udc00": 1'),
    "surrogate pair": BASE.replace('"id": "add"', '"id": "add", "name": "\\ud83d\\ude00"'),
    "escaped backslash before u": BASE.replace('"id": "add"', '"id": "add", "name": "\\\\ud800"'),
    "nested 98 deep": BASE[:-1] + f', "view": {nested(98)}}}',
    "nested 99 deep": BASE[:-1] + f', "view": {nested(99)}}}',
    "nested 100 deep": BASE[:-1] + f', "view": {nested(100)}}}',
    "nested deep in params": BASE.replace("[3, 8, 8]", nested(120)),
    "nested 96 deep in params": BASE.replace("[3, 8, 8]", nested(96)),  # lists 4 to 99 deep
    "nested 97 deep in params": BASE.replace("[3, 8, 8]", nested(97)),  # … to 100: refused
    "key twice in params": BASE.replace('"kernel_size": 3', '"kernel_size": 5, "kernel_size": 3'),
    "key twice in an edge": BASE.replace('"source": "in"', '"source": "conv", "source": "in"'),
    "key twice in an extra": BASE[:-1] + ', "view": {"a": 1, "a": 2}}',
    "key twice at the top": BASE[:-1] + ', "version": 2}',
    "nested 100000 deep": BASE[:-1] + f', "view": {nested(100_000)}}}',
    "not JSON": BASE[:-3],
    "trailing text": BASE + " x",
    "unknown node key": BASE.replace('"id": "add"', '"id": "add", "colour": "red"'),
    "repeat": BASE.replace('"id": "add"', '"id": "add", "repeat": 2'),
    "unknown edge key": BASE.replace('"target": "conv"', '"target": "conv", "style": 1'),
    "port missing into Add": BASE.replace(', "port": 1', ""),
    "port null": BASE.replace('"port": 1', '"port": null'),
    "port true": BASE.replace('"port": 1', '"port": true'),
    "port taken": BASE.replace('"port": 1', '"port": 0'),
    "output": BASE.replace('"target": "conv"}', '"target": "conv", "output": 0}'),
    "output slot 1": BASE.replace('"target": "conv"}', '"target": "conv", "output": 1}'),
    "output false": BASE.replace('"target": "conv"}', '"target": "conv", "output": false}'),
    "self loop": BASE.replace('"source": "in", "target": "conv"', '"source": "in", "target": "in"'),
    "dangling": BASE.replace('"source": "in"', '"source": "nowhere"'),
    "bad param": BASE.replace('"kernel_size": 3', '"kernel_size": 0'),
    "bool for int": BASE.replace('"kernel_size": 3', '"kernel_size": true'),
    "float for int": BASE.replace('"kernel_size": 3', '"kernel_size": 3.0'),
    "duplicate id": BASE.replace('"id": "add"', '"id": "conv"'),
    "faulty duplicate of a good id": BASE.replace(
        '{"id": "add", "type": "Add"', '{"id": "conv", "type": "Nope"}, {"id": "add", "type": "Add"'
    ),
    "type a list": BASE.replace('"type": "Add"', '"type": ["Add"]'),
    "type a list beside blocks": BASE.replace('"type": "Add"', '"type": ["Add"]')[:-1]
    + ', "blocks": [{"id": "B"}]}',
    "pos of three": BASE.replace("[0, 0]", "[0, 0, 0]"),
    "pos true": BASE.replace("[0, 0]", "[true, 0]"),
    "name a number": BASE.replace('"id": "add"', '"id": "add", "name": 5'),
    "params null": BASE.replace(
        '"params": {"out_channels": 4, "kernel_size": 3}', '"params": null'
    ),
    "nodes not in file order": json.dumps(document(BASE_NODES[::-1], BASE_EDGES)),
    "cycle": json.dumps(document(BASE_NODES, [*BASE_EDGES, {"source": "add", "target": "conv"}])),
    "extras": BASE[:-1] + ', "view": {"zoom": 2}, "blocks": []}',
}


@pytest.mark.parametrize("case", sorted(ODD_TEXTS))
def test_odd_files_load_the_same_both_ways(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    same_both_ways(ODD_TEXTS[case], monkeypatch)


def test_a_lone_surrogate_in_a_string_given_to_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    text = BASE.replace('"id": "add"', '"id": "add", "name": "\ud800"')
    assert same_both_ways(text, monkeypatch)[0] == "refused"


def test_a_position_too_large_for_a_float_is_refused_not_a_crash() -> None:
    with pytest.raises(ProjectError) as caught:
        loads(ODD_TEXTS["large int"])
    assert caught.value.problems[0].startswith("nodes[0].pos: must be [x, y] numbers, got [999")


def test_a_type_that_is_not_a_string_is_refused_not_a_crash() -> None:
    with pytest.raises(ProjectError) as caught:
        loads(ODD_TEXTS["type a list beside blocks"])
    assert caught.value.problems[0].startswith("nodes[2].type: unknown layer type ['Add']")


def test_equal_params_of_many_nodes_are_examined_once(monkeypatch: pytest.MonkeyPatch) -> None:
    nodes = [{"id": "in", "type": "Input", "params": {"shape": [3, 8, 8]}}]
    nodes += [
        {"id": f"c{i}", "type": "Conv2d", "params": {"out_channels": 3, "kernel_size": 1}}
        for i in range(50)
    ]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(nodes)]
    calls = []
    examine = project.LayerSpec.examine
    monkeypatch.setattr(
        project.LayerSpec, "examine", lambda spec, params: calls.append(1) or examine(spec, params)
    )
    arch = loads(json.dumps(document(nodes, edges))).arch
    assert len(calls) == 2
    assert arch.params_of("c7") == {"out_channels": 3, "kernel_size": 1}
    arch.set_params("c7", {"out_channels": 5, "kernel_size": 1})  # the dict they share is
    assert arch.params_of("c8") == {"out_channels": 3, "kernel_size": 1}  # replaced, not changed


# random documents -------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 12),
    st.sampled_from([0.5, 1.0, 2.5, -1.5, 1e300]),
    st.sampled_from(["", "same", "valid", "a:b", "in", "conv", "add", "Add", "x"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "b:c"]), inner)
    ),
    max_leaves=6,
)
ids = st.sampled_from(["in", "conv", "add", "relu", "", "a:b"])
types = st.sampled_from(["Input", "Conv2d", "Add", "ReLU", "Concat", "MaxPool2d", "Nope"])
params = st.dictionaries(
    st.sampled_from(["shape", "out_channels", "kernel_size", "return_indices", "dim", "x"]),
    st.one_of(values, st.sampled_from([[3, 8, 8], [3, 4], 2, 3, True])),
    max_size=3,
)
node_dicts = st.fixed_dictionaries(
    {"id": ids, "type": types},
    optional={
        "params": st.one_of(params, st.none()),
        "name": st.one_of(st.text(max_size=3), values),
        "pos": st.one_of(st.lists(st.sampled_from([0, 1.5, -2, True, 1e308]), max_size=3), values),
        "colour": values,
    },
)
edge_dicts = st.fixed_dictionaries(
    {"source": ids, "target": ids},
    optional={
        "port": st.one_of(st.integers(-1, 2), values),
        "output": st.one_of(st.integers(-1, 2), values),
        "style": values,
    },
)
documents = st.fixed_dictionaries(
    {
        "format": st.just("nn-designer-project"),
        "version": st.sampled_from([1, 2, 2, 2, 3]),
        "nodes": st.lists(st.one_of(node_dicts, node_dicts, values), max_size=6),
        "edges": st.lists(st.one_of(edge_dicts, edge_dicts, values), max_size=6),
    },
    optional={"name": values, "view": values},
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents, ascii_only=st.booleans())
def test_random_documents_load_the_same_both_ways(doc: dict[str, Any], ascii_only: bool) -> None:
    text = json.dumps(doc, ensure_ascii=ascii_only)
    with pytest.MonkeyPatch.context() as monkeypatch:
        same_both_ways(text, monkeypatch)
