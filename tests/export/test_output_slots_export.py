"""Export of what version 2 adds: layers with several outputs (unpacked from the tuple
torch returns), dtypes of inputs, padding modes, and a Concat of one input."""

from __future__ import annotations

from pathlib import Path

import torch

from designer.core.graph import Architecture, NodeRecord
from designer.core.propagate import analyse
from designer.export.pytorch import export
from designer.export.verify import verify
from tests.export.test_pytorch_export import ruff_clean


def pool_with_indices(indices_used: bool, values_used: bool = True) -> Architecture:
    arch = Architecture("pool with indices")
    arch.add_node(NodeRecord("x", "Input", {"shape": [3, 8, 8]}))
    arch.add_node(NodeRecord("pool", "MaxPool2d", {"kernel_size": 2, "return_indices": True}))
    arch.connect("x", "pool")
    if values_used:
        arch.add_node(NodeRecord("act", "ReLU"))
        arch.connect("pool", "act")
    if indices_used:
        arch.add_node(NodeRecord("where", "Flatten"))
        arch.connect("pool", "where", output=1)
    return arch


def run(source: str, class_name: str, *inputs: torch.Tensor) -> object:
    namespace: dict = {}
    exec(compile(source, "<test>", "exec"), namespace)  # noqa: S102
    return namespace[class_name]().eval()(*inputs)


def test_a_layer_with_two_outputs_is_unpacked(tmp_path: Path) -> None:
    arch = pool_with_indices(indices_used=True)
    engine = analyse(arch)
    exported = export(arch, engine, "Pooled")
    assert "pool_values, pool_indices = self.pool(x)" in exported.source
    assert "return (act, where)" in exported.source
    assert verify(exported, arch, engine) == []
    act, where = run(exported.source, "Pooled", torch.randn(2, 3, 8, 8))
    assert act.shape == (2, 3, 4, 4)
    assert where.shape == (2, 48) and where.dtype == torch.int64
    ruff_clean(exported.source, tmp_path)


def test_an_output_nothing_reads_is_an_underscore(tmp_path: Path) -> None:
    arch = pool_with_indices(indices_used=False)
    engine = analyse(arch)
    exported = export(arch, engine, "Pooled")
    assert "pool_values, _ = self.pool(x)" in exported.source
    assert verify(exported, arch, engine) == []
    ruff_clean(exported.source, tmp_path)


def test_a_result_with_two_outputs_returns_both() -> None:
    arch = pool_with_indices(indices_used=False, values_used=False)
    engine = analyse(arch)
    exported = export(arch, engine, "Pooled")
    assert exported.outputs == [("pool", 0), ("pool", 1)]
    assert verify(exported, arch, engine) == []
    values, indices = run(exported.source, "Pooled", torch.randn(1, 3, 8, 8))
    assert values.shape == indices.shape == (1, 3, 4, 4)


def test_dtype_padding_mode_and_a_concat_of_one(tmp_path: Path) -> None:
    arch = Architecture("modes")
    arch.add_node(NodeRecord("x", "Input", {"shape": [2, 6, 6], "dtype": "float64"}))
    arch.add_node(
        NodeRecord(
            "conv",
            "Conv2d",
            {"out_channels": 4, "kernel_size": 3, "padding": 1, "padding_mode": "reflect"},
        )
    )
    arch.add_node(NodeRecord("cat", "Concat"))
    arch.connect("x", "conv")
    arch.connect("conv", "cat", 0)
    engine = analyse(arch)
    assert engine.results["cat"].shape == (4, 6, 6)
    assert engine.results["cat"].output.dtype == "float64"
    exported = export(arch, engine, "Modes")
    assert 'padding_mode="reflect"' in exported.source
    assert "cat = torch.cat([conv], dim=1)" in exported.source
    assert "torch.zeros(1, 2, 6, 6, dtype=torch.float64)" in exported.source
    assert "model = Modes().to(torch.float64)" in exported.source
    ruff_clean(exported.source, tmp_path)
    assert verify(exported, arch, engine) == []


def test_a_default_in_another_spelling_is_not_exported() -> None:
    arch = Architecture("spellings")
    arch.add_node(NodeRecord("x", "Input", {"shape": [2, 6, 6]}))
    arch.add_node(
        NodeRecord("conv", "Conv2d", {"out_channels": 4, "kernel_size": [3, 3], "stride": [1, 1]})
    )
    arch.connect("x", "conv")
    assert arch.node("conv").params == {"out_channels": 4, "kernel_size": 3}
    assert "nn.Conv2d(2, 4, kernel_size=3)" in export(arch, analyse(arch)).source


def test_the_exported_main_runs_in_eval_mode(tmp_path: Path) -> None:
    """A BatchNorm after global pooling sees one value per channel: training mode refuses
    that at batch 1, so the file's own __main__ must run the module in eval()."""
    import subprocess
    import sys

    arch = Architecture("pooled norm")
    arch.add_node(NodeRecord("x", "Input", {"shape": [3, 8, 8]}))
    arch.add_node(NodeRecord("pool", "AdaptiveAvgPool2d", {"output_size": 1}))
    arch.add_node(NodeRecord("bn", "BatchNorm2d"))
    arch.add_node(NodeRecord("flat", "Flatten"))
    for source, target in (("x", "pool"), ("pool", "bn"), ("bn", "flat")):
        arch.connect(source, target)
    exported = export(arch, analyse(arch), "PooledNorm")
    assert "model = PooledNorm().eval()" in exported.source
    script = tmp_path / "pooled.py"
    script.write_text(exported.source)
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "torch.Size([1, 3])"
