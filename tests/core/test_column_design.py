"""A design read from a file in Kahn's order is held as its columns until its graph is
asked for (`columns.ColumnDesign`): an analysis from the columns gives exactly what one
from the graph gives, what a check asks of the design is answered without writing the
graph, and the first edit writes it and goes on as in any design."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from designer.core.graph import Architecture
from designer.core.propagate import Engine, analyse
from designer.io import project
from tests.io.test_column_speed_paths import COLUMN_TEXTS, networkx_built, same_graph
from tests.io.test_load_speed_paths import EXAMPLE_TEXTS, documents

TEXTS = {**EXAMPLE_TEXTS, **COLUMN_TEXTS}


def loaded(text: str) -> Architecture | None:
    try:
        return project.loads(text).arch
    except project.ProjectError:
        return None


def analysed_both_ways(arch: Architecture) -> None:
    """The analysis from the columns (the graph not yet written), then of the same design
    built by networkx's own methods: the same results in the same order."""
    from_columns = analyse(arch)
    built = networkx_built(arch)  # (which writes `arch`'s graph)
    from_graph = analyse(built)
    assert list(from_columns.results.items()) == list(from_graph.results.items())
    assert from_columns.totals() == from_graph.totals()
    same_graph(arch, built)


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_an_analysis_from_the_columns_is_the_graphs(name: str) -> None:
    arch = loaded(TEXTS[name])
    if arch is None:
        return  # a refused file: test_column_speed_paths compares its problems
    analysed_both_ways(arch)


def test_the_examples_saved_in_kahns_order_are_held() -> None:
    held = {name for name, text in EXAMPLE_TEXTS.items() if loaded(text).columns is not None}
    assert {"vgg16", "unet-small", "mobilenetv3-se-block", "lstm-text-classifier"} <= held
    assert "resnet18" not in held  # (its file lists a branch after the node it feeds)
    assert loaded(COLUMN_TEXTS["shares"]).columns is None  # shared weights: written at once
    assert loaded(COLUMN_TEXTS["edges backwards"]).columns is None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents)
def test_random_documents_analyse_the_same_from_columns(doc: dict[str, Any]) -> None:
    arch = loaded(json.dumps(doc))
    if arch is not None:
        analysed_both_ways(arch)


def test_what_a_check_asks_is_answered_without_writing_the_graph() -> None:
    arch = loaded(EXAMPLE_TEXTS["vgg16"])  # (biased convs and Linears: their warnings look
    engine = analyse(arch)  # at their neighbours)
    engine.totals()
    order = arch.report_order()
    assert order == arch.evaluation_order() == list(engine.results)
    assert len(arch) == len(order) and order[0] in arch and "nope" not in arch and [] not in arch
    assert arch.columns is not None
    assert arch.graph.number_of_nodes() == len(order) and arch.columns is None


def test_the_first_edit_writes_the_graph_and_the_engine_follows() -> None:
    arch = loaded(EXAMPLE_TEXTS["vgg16"])
    engine = Engine(arch)
    engine.refresh()
    conv = next(n for n in engine.results if arch.type_of(n) == "Conv2d")
    arch.set_params(conv, {**arch.params_of(conv), "out_channels": 48})
    assert arch.columns is None
    changed = engine.refresh()
    assert conv in changed
    assert engine.results == analyse(networkx_built(arch)).results
    assert engine.results[conv].output.shape[0] == 48


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_the_columns_name_each_nodes_neighbours_as_the_graph_does(name: str) -> None:
    arch = loaded(TEXTS[name])
    if arch is None or arch.columns is None:
        return
    ids = list(arch.columns.nodes.ids)
    asked = [(arch.type_of(n), arch.producers(n), arch.consumers(n)) for n in ids]
    assert arch.columns is not None
    assert len(arch.graph) == len(ids) and arch.columns is None  # written
    assert asked == [(arch.type_of(n), arch.producers(n), arch.consumers(n)) for n in ids]
