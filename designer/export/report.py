"""The per-layer report (contract section 3) as CSV, Markdown or JSON.

`row` and `cells` say what each column holds, one node at a time (the window's summary
asks for one row when one node changes). A node without a result (an error, or waiting
on one) counts nothing: its numbers are empty cells, null in JSON, never 0s that would read
as figures. CSV and Markdown of a whole design go through
`_all_cells`, which writes the same text straight from the engine's results, remembering
the text of receptive fields and shapes that many nodes share: `designer report` of a
large design is mostly this loop.

What a file holds reaches a report as data, never as markup or a formula:

- CSV: a cell of user text (USER_TEXT_COLUMNS: the id, the name, the error and the
  warnings, which quote ids) that starts with `=`, `+`, `-`, `@`, a tab or a carriage
  return gets a `'` in front (OWASP's advice against formula injection), so a spreadsheet
  shows it as text rather than run it. Cells the designer writes itself (the type, shapes,
  numbers, receptive fields such as an rf_start of `-2x-2`) are left as they are: they
  hold no user text, and scripts read them as numbers. `csv_cells(row)` is a row as the
  CSV writes it; `cells(row)`, what the window shows, is not changed.
- Markdown: backslash, `|`, `<` and `&` are escaped (no cell can end early or pass HTML
  through: a tag needs its `<`, an entity its `&`), and control characters are written as
  escapes (a line break as `\\n`), so a line break in a name cannot split the table.
  `markdown_cell` does it.
- JSON: numbers beyond any float (a receptive field that outgrew one) are null, so the
  document stays JSON.

A design with blocks (contract 1b) is reported by `block_rows`: each block instance is one
row of its totals, among the top-level layers; `expand` adds its inner rows after it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from designer.core.analysis import NodeResult
from designer.core.block_flatten import InstanceInfo, InstanceTotals, instance_totals
from designer.core.blocks import PORT_TYPES, join, scope_order
from designer.core.params import printable
from designer.core.propagate import Engine
from designer.core.receptive import Field, Fields, fmt
from designer.core.spec import dims

if TYPE_CHECKING:
    from designer.core.graph import Architecture
    from designer.io.project_format import BlockDesign

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
USER_TEXT_COLUMNS = ("id", "name", "error", "warnings")
_HEADER = COLUMNS + EXTRA_COLUMNS
_USER_TEXT = tuple(_HEADER.index(name) for name in USER_TEXT_COLUMNS)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """A cell of user text that a spreadsheet would take as a formula, made text."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def csv_cells(row: dict[str, Any]) -> list[str]:
    """`cells(row)` as the CSV report writes them: user text made spreadsheet-safe."""
    out = cells(row)
    for index in _USER_TEXT:
        out[index] = spreadsheet_safe(out[index])
    return out


def report_order(engine: Engine) -> list[str]:
    """Topological order, ties broken by the order of the file (`Architecture.report_order`)."""
    return engine.arch.report_order()


def rows(engine: Engine) -> list[dict[str, Any]]:
    """One dict per node with the report's keys, values as JSON would hold them."""
    engine.refresh()
    return [row(engine, node_id) for node_id in report_order(engine)]


def row(engine: Engine, node_id: str) -> dict[str, Any]:
    """One node's report row from the engine's current results (no refresh)."""
    return row_of(engine.arch, node_id, engine.results[node_id])


def row_of(arch: Architecture, node_id: str, result: NodeResult) -> dict[str, Any]:
    """A node's report row from its result (an instance's, where the node is one)."""
    fields = result.fields
    counted = result.output is not None  # a node without a result counts nothing: null
    return {
        "id": node_id,
        "name": arch.name_of(node_id) or "",
        "type": arch.type_of(node_id),
        "output_shape": list(result.shape) if result.shape is not None else None,
        "params": result.params if counted else None,
        "macs": result.macs if counted else None,
        "flops": result.flops if counted else None,
        "rf": [f.size for f in fields] if fields else None,
        "rf_stride": [f.jump for f in fields] if fields else None,
        "error": result.reason,
        "rf_start": [f.start for f in fields] if fields else None,
        "input_shapes": [list(s) for s in result.input_shapes],
        "memory": result.memory if counted else None,
        "non_trainable": result.buffers if counted else None,
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
        elif value is None:  # dtype, or a number of a node without a result
            out.append("")
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
        if output is None:  # an error, or waiting on one: no numbers, empty cells
            shape = shapes = dtype = ""
            field_cells = ["", "", ""]
            numbers = ["", "", "", "", ""]
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
            numbers = [
                str(result.params),
                str(result.macs),
                str(result.flops),
                str(result.memory),
                str(result.buffers),
            ]
        inputs = result.input_shapes
        yield [
            node_id,
            arch.name_of(node_id) or "",
            arch.type_of(node_id),
            shape,
            *numbers[:3],
            field_cells[0],
            field_cells[1],
            result.reason,
            field_cells[2],
            dims(inputs[0]) if len(inputs) == 1 else " ".join([dims(s) for s in inputs]),
            *numbers[3:],
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
        for index in _USER_TEXT:
            if line_cells[index].startswith(_FORMULA_STARTS):
                line_cells[index] = "'" + line_cells[index]
        line = ",".join(line_cells)
        if line.count(",") == commas and '"' not in line and "\n" not in line and "\r" not in line:
            lines.append(line)
        else:  # a comma, quote or line break in a cell (a name, say): the csv module quotes it
            lines.append(_csv_line(line_cells))
    lines.append("")
    return buffer.getvalue() + "\n".join(lines)


def _csv_line(line_cells: list[str]) -> str:
    """One row as the csv module writes it, without its line end. The writer is told the
    line ends in CR LF, so that it quotes a cell holding either (it quotes only what its
    line terminator holds: with none, a line break in an id split the row)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(line_cells)
    return buffer.getvalue()[:-2]


_MARKDOWN = re.compile(r"[\\|<&]")
_MARKDOWN_ESCAPES = {"\\": "\\\\", "|": "\\|", "<": "&lt;", "&": "&amp;"}


def markdown_cell(cell: str) -> str:
    """A cell as a Markdown table holds it: one line, no HTML, no early end (see above)."""
    if _MARKDOWN.search(cell):
        cell = _MARKDOWN.sub(lambda m: _MARKDOWN_ESCAPES[m.group()], cell)
    return printable(cell)


def to_markdown(engine: Engine, nodes: list[dict[str, Any]] | None = None) -> str:
    """The Markdown report: `nodes` are the rows (every node's where not given)."""
    header = COLUMNS + EXTRA_COLUMNS
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    every = _all_cells(engine) if nodes is None else map(cells, nodes)
    for line in every:
        escaped = [markdown_cell(cell) for cell in line]
        lines.append("| " + " | ".join(escaped) + " |")
    totals = engine.totals().as_dict()
    lines.append("")
    lines.append("| total | value |")
    lines.append("|---|---|")
    lines += [f"| {key} | {value:,} |" for key, value in totals.items()]
    return "\n".join(lines) + "\n"


def block_rows(engine: Engine, design: BlockDesign, expand: bool = False) -> list[dict[str, Any]]:
    """The rows of a design with blocks, whose flattened design `engine` analyses: the
    top-level layers and each instance as one row (its totals; its id the path, its type
    the block's), in topological order, file order breaking ties. `expand` adds each
    instance's inner rows after it, nested instances and copies as rows of their own,
    ids as paths: the flattening's order, so every layer comes once."""
    flat, library = design.flat, design.library
    totals = instance_totals(engine, flat)

    def rows_of(path: str, name: str | None) -> Iterator[dict[str, Any]]:
        info = flat.instances.get(path)
        if info is None:  # a layer
            yield row(engine, path)
            return
        yield _instance_row(engine, info, totals[path], name or "")
        if not expand:
            return
        if info.repeat > 1:
            for copy in info.copies:
                yield from rows_of(copy, None)
            return
        for member in library.order_of(info.type):
            if member.type not in PORT_TYPES:
                yield from rows_of(join(path, member.id), member.name)

    top = scope_order(design.nodes, design.edges)
    return [found for member in top for found in rows_of(member.id, member.name)]


def _instance_row(
    engine: Engine, info: InstanceInfo, found: InstanceTotals, name: str
) -> dict[str, Any]:
    """An instance's report row: its totals, its first output's shape and receptive field,
    and its first error inside (a count of the others after it)."""
    results = engine.results
    totals = found.totals
    outputs = [tensor for tensor in found.outputs if tensor is not None]
    output = found.outputs[0] if found.outputs else None
    counted = output is not None and not totals.errors and not totals.blocked
    fields = output.fields if output is not None else None
    reasons = list(found.errors) or [
        results[m].reason for m in info.members if results[m].output is None
    ]
    more = f" (and {len(reasons) - 1:,} more)" if len(reasons) > 1 else ""
    inputs = [results[source].slot(slot) for source, slot in filter(None, info.inputs)]
    return {
        "id": info.path,
        "name": name,
        "type": info.type,
        "output_shape": list(output.shape) if output is not None else None,
        "params": totals.params if counted else None,
        "macs": totals.macs if counted else None,
        "flops": totals.flops if counted else None,
        "rf": [f.size for f in fields] if fields else None,
        "rf_stride": [f.jump for f in fields] if fields else None,
        "error": reasons[0] + more if reasons else "",
        "rf_start": [f.start for f in fields] if fields else None,
        "input_shapes": [list(t.shape) for t in inputs if t is not None],
        "memory": totals.activation_memory if counted else None,
        "non_trainable": totals.buffers if counted else None,
        "warnings": [f"{m}: {w}" for m in info.members for w in results[m].warnings],
        "output_shapes": [list(t.shape) for t in outputs],
        "dtype": output.dtype if output is not None else None,
    }


def _rows_csv(found: list[dict[str, Any]]) -> str:
    """The CSV report of these rows, each line as `to_csv` writes it."""
    lines = [",".join(COLUMNS + EXTRA_COLUMNS), *(_csv_line(csv_cells(r)) for r in found)]
    return "\n".join(lines) + "\n"


def to_json(engine: Engine, nodes: list[dict[str, Any]] | None = None) -> str:
    """The JSON report: `nodes` are the rows (every node's where not given)."""
    document = {
        "nodes": rows(engine) if nodes is None else nodes,
        "totals": engine.totals().as_dict(),
        "settings": {"batch_size": engine.settings.batch_size, "dtype": engine.settings.dtype},
    }
    try:
        text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError:  # a receptive field beyond any float: null, as JSON has no inf
        for node in document["nodes"]:
            for key in ("rf", "rf_stride", "rf_start"):
                if node[key] is not None:
                    node[key] = [v if math.isfinite(v) else None for v in node[key]]
        text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)
    return text + "\n"


def render(
    engine: Engine, format: str, blocks: BlockDesign | None = None, expand: bool = False
) -> str:
    """The report in `format`; of a design with `blocks`, one row per instance (and its
    inner rows where `expand`)."""
    if blocks is None:
        return {"csv": to_csv, "markdown": to_markdown, "json": to_json}[format](engine)
    found = block_rows(engine, blocks, expand)
    if format == "csv":
        return _rows_csv(found)
    return {"markdown": to_markdown, "json": to_json}[format](engine, found)
