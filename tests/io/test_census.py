"""The loader's census (`project._Reader.census`): where every node and edge is plain, it
reads their columns and walks only the params and the top level's other values, and it
counts exactly the keys, and refuses exactly the nesting, that a walk over every value
(`json_text.census`) does."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from designer.io import json_text, project
from tests.io.test_load_speed_paths import EXAMPLE_TEXTS, ODD_TEXTS, documents


def both_counts(document: Any) -> tuple[int | None, int | None]:
    reader = project._Reader(copy.deepcopy(document))
    return reader.census(), json_text.census([document])


PARSED = {
    name: document
    for name, text in {**EXAMPLE_TEXTS, **ODD_TEXTS}.items()
    if (document := json_text.plain_parse(text)) is not json_text.CAREFUL
}


@pytest.mark.parametrize("name", sorted(PARSED))
def test_the_census_counts_what_the_walk_counts(name: str) -> None:
    mine, walked = both_counts(PARSED[name])
    assert mine == walked


def test_the_plain_files_are_counted_from_their_columns() -> None:
    for name in ("vgg16", "resnet18", "plain", "key twice in params"):
        reader = project._Reader(PARSED[name])
        reader.census()
        assert reader.plain is not None, name
    reader = project._Reader(PARSED["nested 97 deep in params"])  # (its params refused:
    assert reader.census() is None and reader.plain is None  # the walk looks everywhere)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents)
def test_random_documents_are_counted_as_the_walk_counts(doc: dict[str, Any]) -> None:
    mine, walked = both_counts(json.loads(json.dumps(doc)))
    assert mine == walked


@pytest.mark.parametrize(
    "name, problem",
    [
        ("key twice in params", "nodes[1].params.kernel_size: appears twice in the same object"),
        ("key twice in an edge", "edges[0].source: appears twice in the same object"),
        ("key twice in an extra", "view.a: appears twice in the same object"),
        ("key twice at the top", "version: appears twice in the same object"),
        ("nested 97 deep in params", "lists and objects nested more than 100 levels deep"),
    ],
)
def test_what_the_columns_leave_open_is_still_refused(name: str, problem: str) -> None:
    with pytest.raises(project.ProjectError) as caught:
        project.loads(ODD_TEXTS[name])
    assert any(said.endswith(problem) for said in caught.value.problems), caught.value.problems
