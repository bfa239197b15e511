"""The per-layer report (contract section 3) as CSV, Markdown or JSON.

`row` and `cells` say what each column holds, one node at a time (the window's summary
asks for one row when one node changes). CSV and Markdown of a whole design go through
`_all_cells`, which writes the same text straight from the engine's results, remembering
the text of receptive fields and shapes that many nodes share: `designer report` of a
large design is mostly this loop.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from designer.core.analysis import NodeResult
from designer.core.propagate import Engine
from designer.core.receptive import Field, Fields, fmt
from designer.core.spec import dims

COLUMNS = (
    "id",
    "name",
    "type",
    "output_shape",
    "params",
    "macs",
    "flops",
    "rf",
    "rf_stride",
    "error",
)
EXTRA_COLUMNS = (
    "rf_start",
    "input_shapes",
    "memory",
    "non_trainable",
    "warnings",
    "output_shapes",  # every output slot's shape, slot 0 first (output_shape is slot 0's)
    "dtype",  # slot 0's dtype
)
FORMATS = ("csv", "markdown", "json")


def report_order(engine: Engine) -> list[str]:
    """Topological order, ties broken by the order of the file (`Architecture.report_order`)."""
    return engine.arch.report_order()


def rows(engine: Engine) -> list[dict[str, Any]]:
    """One dict per node with the report's keys, values as JSON would hold them."""
    engine.refresh()
    return [row(engine, node_id) for node_id in report_order(engine)]


def row(engine: Engine, node_id: str) -> dict[str, Any]:
    """One node's report row from the engine's current results (no refresh)."""
    arch = engine.arch
    result = engine.results[node_id]
    fields = result.fields
    return {
        "id": node_id,
        "name": arch.name_of(node_id) or "",
        "type": arch.type_of(node_id),
        "output_shape": list(result.shape) if result.shape is not None else None,
        "params": result.params,
        "macs": result.macs,
        "flops": result.flops,
        "rf": [f.size for f in fields] if fields else None,
        "rf_stride": [f.jump for f in fields] if fields else None,
        "error": result.reason,
        "rf_start": [f.start for f in fields] if fields else None,
        "input_shapes": [list(s) for s in result.input_shapes],
        "memory": result.memory,
        "non_trainable": result.buffers,
        "warnings": list(result.warnings),
        "output_shapes": [list(t.shape) for t in result.outputs],
        "dtype": result.output.dtype if result.output is not None else None,
    }


def cells(row: dict[str, Any]) -> list[str]:
    """A row as text: shapes and fields joined by x, warnings by ' | '."""
    out = []
    for key in COLUMNS + EXTRA_COLUMNS:
        value = row[key]
        if key in ("rf", "rf_stride", "rf_start"):
            out.append("x".join(fmt(v) for v in value) if value else "")
        elif key == "output_shape":
            out.append(dims(tuple(value)) if value is not None else "")
        elif key in ("input_shapes", "output_shapes"):
            out.append(" ".join(dims(tuple(s)) for s in value))
        elif key == "warnings":
            out.append(" | ".join(value))
        elif key == "dtype":
            out.append(value or "")
        else:
            out.append(str(value))
    return out


def _all_cells(engine: Engine) -> Iterator[list[str]]:
    """`cells(row(engine, node_id))` of every node in report order, after a refresh."""
    engine.refresh()
    arch = engine.arch
    results = engine.results
    by_fields: dict[int, tuple[Fields, list[str]]] = {}  # id(fields) → the fields, their text
    by_field: dict[Field, tuple[str, str, str]] = {}
    for node_id in arch.report_order():
        result: NodeResult = results[node_id]
        output = result.output
        if output is None:
            shape = shapes = dtype = ""
            field_cells = ["", "", ""]
        else:
            shape = dims(output.shape)
            shapes = " ".join([dims(t.shape) for t in result.outputs]) if result.more else shape
            dtype = output.dtype
            fields = output.fields
            if not fields:
                field_cells = ["", "", ""]
            else:  # a pointwise layer passes its input's fields on: the same object
                known = by_fields.get(id(fields))
                if known is None or known[0] is not fields:
                    known = by_fields[id(fields)] = (fields, _field_cells(fields, by_field))
                field_cells = known[1]
        inputs = result.input_shapes
        yield [
            node_id,
            arch.name_of(node_id) or "",
            arch.type_of(node_id),
            shape,
            str(result.params),
            str(result.macs),
            str(result.flops),
            field_cells[0],
            field_cells[1],
            result.reason,
            field_cells[2],
            dims(inputs[0]) if len(inputs) == 1 else " ".join([dims(s) for s in inputs]),
            str(result.memory),
            str(result.buffers),
            " | ".join(result.warnings),
            shapes,
            dtype,
        ]


def _field_cells(fields: Fields, known: dict[Field, tuple[str, str, str]]) -> list[str]:
    """The rf, rf_stride and rf_start cells of `fields`; `known` holds each axis's texts."""
    texts = []
    for f in fields:
        text = known.get(f)
        if text is None:
            text = known[f] = (fmt(f.size), fmt(f.jump), fmt(f.start))
        texts.append(text)
    return ["x".join(column) for column in zip(*texts)]


def to_csv(engine: Engine) -> str:
    """The csv module's text; a row with nothing to quote is joined with commas directly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS + EXTRA_COLUMNS)
    commas = len(COLUMNS + EXTRA_COLUMNS) - 1
    lines = []
    for line_cells in _all_cells(engine):
        line = ",".join(line_cells)
        if line.count(",") == commas and '"' not in line and "\n" not in line and "\r" not in line:
            lines.append(line)
        else:  # a comma, quote or line break in a cell (a name, say): the csv module quotes it
            lines.append(_csv_line(line_cells))
    lines.append("")
    return buffer.getvalue() + "\n".join(lines)


def _csv_line(line_cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(line_cells)
    return buffer.getvalue()


def to_markdown(engine: Engine) -> str:
    header = COLUMNS + EXTRA_COLUMNS
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for line in _all_cells(engine):
        escaped = [cell.replace("|", "\\|") for cell in line]
        lines.append("| " + " | ".join(escaped) + " |")
    totals = engine.totals().as_dict()
    lines.append("")
    lines.append("| total | value |")
    lines.append("|---|---|")
    lines += [f"| {key} | {value:,} |" for key, value in totals.items()]
    return "\n".join(lines) + "\n"


def to_json(engine: Engine) -> str:
    document = {
        "nodes": rows(engine),
        "totals": engine.totals().as_dict(),
        "settings": {"batch_size": engine.settings.batch_size, "dtype": engine.settings.dtype},
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render(engine: Engine, format: str) -> str:
    return {"csv": to_csv, "markdown": to_markdown, "json": to_json}[format](engine)
