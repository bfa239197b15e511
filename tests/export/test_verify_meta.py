"""`export --verify` runs the module on PyTorch's meta device: shapes without data, so the
size of the input costs nothing (3×8000×8000 took 2 minutes and 13.7 GB on the CPU)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from designer.cli import main
from designer.core.graph import Architecture, EdgeRecord, NodeRecord
from designer.core.propagate import analyse
from designer.export import verify as verify_module
from designer.export.pytorch import export
from designer.io.project import save

pytest.importorskip("torch")


def large_design() -> Architecture:
    nodes = [
        NodeRecord("input", "Input", {"shape": [3, 8000, 8000]}),
        NodeRecord("conv", "Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}),
        NodeRecord("relu", "ReLU"),
        NodeRecord("pool", "MaxPool2d", {"kernel_size": 2, "return_indices": True}),
        NodeRecord("up", "Upsample", {"scale_factor": 2.0}),
    ]
    edges = [
        EdgeRecord("input", "conv"),
        EdgeRecord("conv", "relu"),
        EdgeRecord("relu", "pool"),
        EdgeRecord("pool", "up"),
    ]
    return Architecture.build("Large", nodes, edges)


def test_a_3x8000x8000_design_verifies_in_moments(tmp_path: Path, capsys) -> None:
    path = tmp_path / "large.nnd"
    save(path, large_design())
    start = time.perf_counter()
    status = main(["export", str(path), "-o", str(tmp_path / "large.py"), "--verify"])
    elapsed = time.perf_counter() - start
    out = capsys.readouterr().out
    assert status == 0, out
    assert out == "verified: torch agrees on every node of Large\n"
    assert elapsed < 30


def test_verify_still_finds_a_difference_on_meta() -> None:
    arch = large_design()
    engine = analyse(arch)
    exported = export(arch, engine)
    wrong = exported.source.replace("nn.MaxPool2d(kernel_size=2,", "nn.MaxPool2d(kernel_size=4,")
    assert wrong != exported.source
    exported.source = wrong
    differences = verify_module.verify(exported, arch, engine)
    assert "pool: output 0 torch gives 16x2000x2000, the designer 16x4000x4000" in differences


def _no_meta(torch, module_class, dtype, exported, device):
    if device == "meta":
        raise NotImplementedError("aten::something has no meta kernel\nmore text")
    return original_run(torch, module_class, dtype, exported, device)


original_run = verify_module._run


def test_without_a_meta_kernel_a_small_design_runs_on_the_cpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    arch = Architecture.build(
        "small",
        [NodeRecord("input", "Input", {"shape": [3, 8, 8]}), NodeRecord("relu", "ReLU")],
        [EdgeRecord("input", "relu")],
    )
    engine = analyse(arch)
    monkeypatch.setattr(verify_module, "_run", _no_meta)
    assert verify_module.verify(export(arch, engine), arch, engine) == []


def test_without_a_meta_kernel_a_large_design_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    path = tmp_path / "large.nnd"
    save(path, large_design())
    monkeypatch.setattr(verify_module, "_run", _no_meta)
    assert main(["export", str(path), "-o", str(tmp_path / "large.py"), "--verify"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(
        "designer: cannot verify: torch cannot run Large without data "
        "(aten::something has no meta kernel), and on the CPU it would need about "
    )
    assert err.endswith(" GiB, more than the 2 GiB verify allows\n")


def test_a_module_torch_refuses_is_a_difference_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args) -> None:
        raise RuntimeError("Given groups=1, weight of size [8, 3, 3, 3]\nexpected …")

    arch = large_design()
    engine = analyse(arch)
    monkeypatch.setattr(verify_module, "_run", refuse)
    assert verify_module.verify(export(arch, engine), arch, engine) == [
        "torch refuses the module: RuntimeError: Given groups=1, weight of size [8, 3, 3, 3]"
    ]
