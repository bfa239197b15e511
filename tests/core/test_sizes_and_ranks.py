"""Tensors of any rank, and sizes no torch tensor can hold: refused with the numbers,
never a crash."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from designer.core.graph import Architecture, NodeRecord
from designer.core.propagate import analyse
from designer.export import report
from tests.helpers import chain


def test_an_input_with_four_spatial_axes_flows_through_pointwise_layers() -> None:
    arch = chain(
        (1, 2, 3, 4, 5),
        ("ReLU", {}),
        ("Dropout", {}),
        ("Conv2d", {"out_channels": 2, "kernel_size": 1}),
    )
    engine = analyse(arch)
    assert engine.results["l2"].shape == (1, 2, 3, 4, 5)
    assert [f.size for f in engine.results["l2"].fields] == [1, 1, 1, 1]
    assert engine.results["l3"].error == ("Conv2d expects a C×H×W input, got 1x2x3x4x5 (5-D)")
    row = report.row(engine, "l1")
    assert row["rf"] == [1, 1, 1, 1]


def test_every_rank_from_one_to_five_reports() -> None:
    for shape in [(4,), (3, 8), (3, 8, 8), (2, 4, 4, 4), (1, 2, 3, 4, 5)]:
        engine = analyse(chain(shape, ("ReLU", {}), ("Flatten", {})))
        assert engine.totals().errors == 0, shape
        assert engine.results["l2"].shape == (math.prod(shape),), shape
        assert report.to_csv(engine).count("\n") == 4


def test_an_output_larger_than_a_tensor_is_an_error_naming_the_numbers() -> None:
    arch = chain((3, 4096, 4096), ("Conv2d", {"out_channels": 2**40, "kernel_size": 1}))
    result = analyse(arch).results["l1"]
    assert result.error == (
        "the output would be 1099511627776x4096x4096 = 18,446,744,073,709,551,616 elements "
        "per sample, more than a torch tensor can hold (2**63 − 1)"
    )


def design_file(tmp_path: Path, out_channels: int) -> Path:
    path = tmp_path / "huge.nnd"
    path.write_text(
        json.dumps(
            {
                "format": "nn-designer-project",
                "version": 2,
                "nodes": [
                    {"id": "x", "type": "Input", "params": {"shape": [3, 8, 8]}},
                    {
                        "id": "c",
                        "type": "Conv2d",
                        "params": {"out_channels": out_channels, "kernel_size": 3},
                    },
                ],
                "edges": [{"source": "x", "target": "c"}],
            }
        )
    )
    return path


def test_a_count_beyond_int64_is_refused_at_load_naming_the_parameter(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "designer", "check", str(design_file(tmp_path, 10**30))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert run.stderr.strip().endswith(
        "nodes[1].params.out_channels: 100000000000000000000000… (31 digits) is more than "
        "PyTorch can hold (at most 2**63 − 1)"
    )


def test_concat_of_length_one_pieces_along_a_spatial_axis() -> None:
    """Every piece 1 long on the joined axis, the output 2 long: no input runs along the
    axis and none is broadcast (the engine raised an IndexError here)."""
    arch = Architecture("pieces")
    arch.add_node(NodeRecord("input", "Input", {"shape": [1, 1]}))
    arch.add_node(NodeRecord("cat", "Concat", {"dim": 2}))
    arch.connect("input", "cat", 0)
    arch.connect("input", "cat", 1)
    result = analyse(arch).results["cat"]
    assert result.error is None and result.shape == (1, 2)
    assert [(f.size, f.jump) for f in result.fields] == [(1, 1)]  # the same pixel twice


def test_layers_that_see_every_position_give_no_receptive_field() -> None:
    """MatMul, attention and Stack make each output unit from every position of their
    inputs: no window describes that, so their outputs have no field (the engine used
    to merge the inputs' fields and show a 3x3 field after a MatMul). Add still merges."""
    arch = Architecture("fields")
    arch.add_node(NodeRecord("input", "Input", {"shape": [4, 8, 8]}))
    arch.add_node(NodeRecord("conv", "Conv2d", {"out_channels": 4, "kernel_size": 3}))
    arch.connect("input", "conv")
    several = {
        "matmul": ("MatMul", {}, 2),
        "sdpa": ("ScaledDotProductAttention", {}, 3),
        "stack": ("Stack", {}, 2),
        "add": ("Add", {}, 2),
    }
    for node_id, (kind, params, ports) in several.items():
        arch.add_node(NodeRecord(node_id, kind, params))
        for port in range(ports):
            arch.connect("conv", node_id, port)
    results = analyse(arch).results
    for node_id in ("matmul", "sdpa", "stack"):
        assert results[node_id].error is None and results[node_id].fields is None, node_id
    assert [f.size for f in results["add"].fields] == [3, 3]
    assert report.row(analyse(arch), "matmul")["rf"] is None
