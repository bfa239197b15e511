"""Import of models that use what format version 2 added: each imported design's
numbers are torch's, it exports, and the export verifies."""

from __future__ import annotations

from pathlib import Path

import torch

from designer.core.graph import EdgeRecord
from designer.core.propagate import analyse
from designer.export.pytorch import export
from designer.export.verify import verify
from designer.io import pytorch_import
from tests.io.models import v2_models

MODELS = Path(v2_models.__file__)


def imported(class_name: str, shape: tuple[int, ...]):
    arch = pytorch_import.import_model(MODELS, class_name, [shape])
    engine = analyse(arch)
    assert engine.totals().errors == 0
    exported = export(arch, engine)
    assert verify(exported, arch, engine) == []
    return arch, engine


def test_a_module_with_two_outputs_and_a_padding_mode() -> None:
    arch, engine = imported("PoolWithIndices", (3, 16, 16))
    assert arch.node("conv").params == {
        "out_channels": 8,
        "kernel_size": 3,
        "padding": 1,
        "bias": False,
        "padding_mode": "reflect",
    }
    assert arch.node("pool").params == {"kernel_size": 2, "return_indices": True}
    assert arch.node("bn").params == {}
    pool_edges = [e for e in arch.edges() if e.source == "pool"]
    assert sorted(e.output for e in pool_edges) == [0, 1]
    model = v2_models.PoolWithIndices()
    assert engine.totals().params == sum(p.numel() for p in model.parameters())
    logits, indices = model.eval()(torch.zeros(1, 3, 16, 16))
    # the returned indices also feed nothing else now: an Identity makes them a result
    results = [engine.results[n] for n in arch.outputs()]
    assert [r.shape for r in results] == [tuple(logits.shape[1:]), tuple(indices.shape[1:])]
    assert [r.output.dtype for r in results] == ["float32", "int64"]


def test_a_function_with_two_outputs() -> None:
    arch, engine = imported("FunctionalIndices", (2, 8, 8))
    (pool,) = [n for n in arch.nodes() if n.type == "MaxPool2d"]
    assert pool.params == {"kernel_size": 2, "return_indices": True}
    (cat,) = [n for n in arch.nodes() if n.type == "Concat"]
    assert arch.in_edges(cat.id) == [EdgeRecord(pool.id, cat.id, 0, 0)]
    assert engine.results[cat.id].shape == (2, 4, 4)


def test_a_concat_of_one_and_circular_padding() -> None:
    arch, engine = imported("CircularDense", (4, 12))
    assert arch.node("conv").params["padding_mode"] == "circular"
    assert arch.node("norm").params == {"num_groups": 2, "bias": False}
    assert engine.results["norm"].shape == (8, 12)
    assert engine.totals().params == sum(p.numel() for p in v2_models.CircularDense().parameters())
