"""docs/file-format.md describes every key the loader reads and every layer type."""

from __future__ import annotations

import re

from designer.core.registry import LAYERS
from designer.io import format_doc, project_format

TEXT = format_doc.DOCUMENT.read_text(encoding="utf-8")


def test_the_layer_catalog_section_is_current() -> None:
    assert format_doc.with_catalog(TEXT) == TEXT, "run python -m designer.io.format_doc"


def test_every_key_the_loader_reads_is_described() -> None:
    described = set(re.findall(r"^\| `(\w+)` \|", TEXT, flags=re.MULTILINE))
    keys = {
        *project_format.TOP_LEVEL,
        *project_format.NODE_KEYS,
        *project_format.EDGE_KEYS,
        "blocks",
    }
    assert keys <= described
    for key in project_format.NOT_YET:
        assert f"`{key}`" in TEXT


def test_every_layer_type_and_parameter_is_described() -> None:
    for spec in LAYERS.values():
        (row,) = [line for line in TEXT.splitlines() if line.startswith(f"| `{spec.name}` |")]
        for param in spec.params:
            assert f"`{param.name}`:" in row, (spec.name, param.name)
