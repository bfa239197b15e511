"""The per-layer report (contract section 3) as CSV, Markdown or JSON."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import networkx as nx

from designer.core.propagate import Engine
from designer.core.receptive import fmt
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
EXTRA_COLUMNS = ("rf_start", "input_shapes", "memory", "non_trainable", "warnings")
FORMATS = ("csv", "markdown", "json")


def report_order(engine: Engine) -> list[str]:
    """Topological order, ties broken by the order of the file."""
    graph = engine.arch.graph
    return list(nx.lexicographical_topological_sort(graph, key=lambda n: graph.nodes[n]["seq"]))


def rows(engine: Engine) -> list[dict[str, Any]]:
    """One dict per node with the report's keys, values as JSON would hold them."""
    engine.refresh()
    return [row(engine, node_id) for node_id in report_order(engine)]


def row(engine: Engine, node_id: str) -> dict[str, Any]:
    """One node's report row from the engine's current results (no refresh)."""
    data = engine.arch.graph.nodes[node_id]
    result = engine.results[node_id]
    fields = result.fields
    return {
        "id": node_id,
        "name": data["name"] or "",
        "type": data["type"],
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
        elif key == "input_shapes":
            out.append(" ".join(dims(tuple(s)) for s in value))
        elif key == "warnings":
            out.append(" | ".join(value))
        else:
            out.append(str(value))
    return out


def to_csv(engine: Engine) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS + EXTRA_COLUMNS)
    writer.writerows(cells(row) for row in rows(engine))
    return buffer.getvalue()


def to_markdown(engine: Engine) -> str:
    header = COLUMNS + EXTRA_COLUMNS
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows(engine):
        escaped = [cell.replace("|", "\\|") for cell in cells(row)]
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
