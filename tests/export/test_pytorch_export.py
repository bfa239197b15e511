"""PyTorch export: runnable, readable, ruff-clean code that torch agrees with, node by node."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.cli import main
from designer.core.graph import Architecture, NodeRecord
from designer.core.propagate import analyse
from designer.core.registry import LAYERS
from designer.export import naming
from designer.export.pytorch import ExportError, export
from designer.export.verify import verify
from designer.io.project import load
from tests.conftest import EXAMPLES, WORKING_EXAMPLES

RUFF = (
    [sys.executable, "-m", "ruff"]
    if importlib.util.find_spec("ruff")
    else [shutil.which("ruff") or "ruff"]
)


def ruff_clean(source: str, tmp_path: Path) -> None:
    path = tmp_path / "exported.py"
    path.write_text(source)
    check = subprocess.run(
        [*RUFF, "check", "--isolated", str(path)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout
    formatted = subprocess.run(
        [*RUFF, "format", "--isolated", "--diff", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert formatted.returncode == 0, formatted.stdout


def load_module(source: str, class_name: str) -> torch.nn.Module:
    """Import the source from a real file: torch.jit.script reads the source back."""
    path = Path(tempfile.mkdtemp()) / "exported_module.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"exported_{abs(hash(source))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, class_name)().eval()


@pytest.mark.parametrize("path", WORKING_EXAMPLES, ids=lambda p: p.stem)
def test_every_example_exports_runs_and_verifies(path: Path, tmp_path: Path) -> None:
    arch = load(path).arch
    engine = analyse(arch)
    exported = export(arch, engine)
    ruff_clean(exported.source, tmp_path)
    model = load_module(exported.source, exported.class_name)
    torch.fx.symbolic_trace(model)
    torch.jit.script(model)
    assert sum(p.numel() for p in model.parameters()) == engine.totals().params
    assert verify(exported, arch, engine) == []


def test_the_exported_file_runs_as_a_script(tmp_path: Path) -> None:
    out = tmp_path / "lenet.py"
    assert (
        main(["export", str(EXAMPLES / "lenet5.nnd"), "-o", str(out), "--class-name", "LeNet"]) == 0
    )
    run = subprocess.run([sys.executable, str(out)], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "torch.Size([1, 10])"
    text = out.read_text()
    assert "class LeNet(nn.Module):" in text
    assert "# Parameters: 61,706. MACs per sample: 416,520." in text


def test_readable_code_for_resnet() -> None:
    arch = load(EXAMPLES / "resnet18.nnd").arch
    source = export(arch, analyse(arch)).source
    assert "        self.layer1_0 = nn.Sequential(\n" in source
    assert "nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)," in source
    assert "nn.BatchNorm2d(64)," in source  # defaults are left out
    assert "        residual_add = layer1_0 + conv1_to_maxpool\n" in source


def test_a_design_with_errors_is_not_exported(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.nnd"
    text = (EXAMPLES / "seed-16-linear.nnd").read_text()
    path.write_text(text.replace('"out_features": 2', '"in_features": 5, "out_features": 2'))
    arch = load(path).arch
    with pytest.raises(ExportError) as refused:
        export(arch, analyse(arch))
    assert refused.value.problems == ["fc: in_features is 5 in the design, but the input has 4"]
    out = tmp_path / "bad.py"
    assert main(["export", str(path), "-o", str(out)]) == 2
    assert not out.exists()
    assert "not exported, the design has errors: fc: in_features is 5" in capsys.readouterr().err


def test_verify_reports_a_difference_by_node(monkeypatch) -> None:
    arch = load(EXAMPLES / "seed-17-conv-10-filters.nnd").arch
    engine = analyse(arch)
    exported = export(arch, engine)
    exported.source = exported.source.replace("kernel_size=3", "kernel_size=3, padding=1")
    assert verify(exported, arch, engine) == ["conv: torch gives 10x6x6, the designer 10x4x4"]


def test_verify_without_torch_says_how_to_install(monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    assert (
        main(["export", str(EXAMPLES / "lenet5.nnd"), "-o", str(tmp_path / "x.py"), "--verify"])
        == 1
    )
    assert "pip install torch==2.13.0" in capsys.readouterr().err


HOSTILE = [
    '"); import os; os.system("echo owned") #',
    "class",
    "__init__",
    "forward",
    "x",
    "torch",
    "nn",
    "self",
    "eval",
    "Ünïcødé 名前 ✓",
    "a" * 500,
    "line\nbreak\r\u2028# comment",
    "",
]


def test_hostile_names_export_code_that_runs_and_does_nothing_else(tmp_path: Path) -> None:
    arch = Architecture('"""; import os #')
    arch.add_node(NodeRecord("input", "Input", {"shape": [3, 8, 8]}, name=HOSTILE[0]))
    previous = "input"
    for index, name in enumerate(HOSTILE):
        node_id = name or f"n{index}"
        arch.add_node(NodeRecord(node_id, "ReLU", {}, name=name or None))
        arch.connect(previous, node_id)
        arch.add_node(
            NodeRecord(
                f"side{index}", "Conv2d", {"out_channels": 3, "kernel_size": 1}, name=name or None
            )
        )
        arch.connect(previous, f"side{index}")
        arch.add_node(NodeRecord(f"sum{index}", "Add", {}, name=name or None))
        arch.connect(node_id, f"sum{index}", 0)
        arch.connect(f"side{index}", f"sum{index}", 1)
        previous = f"sum{index}"
    engine = analyse(arch)
    exported = export(arch, engine, class_name="import os")
    ruff_clean(exported.source, tmp_path)
    assert "os.system" not in exported.source.replace("# ", "") or all(
        "os.system" not in line
        for line in exported.source.splitlines()
        if not line.lstrip().startswith("#")
    )
    script = tmp_path / "hostile.py"
    script.write_text(exported.source)
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "torch.Size([1, 3, 8, 8])"
    assert verify(exported, arch, engine) == []
    model = load_module(exported.source, exported.class_name)
    torch.jit.script(model)
    for line in exported.source.splitlines():
        assert line.isascii() and len(line) <= 88


def test_module_attribute_list_matches_torch() -> None:
    public = {n for n in dir(torch.nn.Module) if not n.startswith("_")}
    assert public | {"training"} == set(naming.MODULE_ATTRIBUTES)


# Random valid designs --------------------------------------------------------------------

SPATIAL_TYPES = [
    name for name, spec in LAYERS.items() if name not in ("Input", "Add", "Multiply", "Concat")
]


def _variation(kind: str, draw) -> dict:
    params = dict(LAYERS[kind].starting_params())
    for param in LAYERS[kind].params:
        if param.inferred or not draw(st.booleans()):
            continue
        if param.name in ("out_channels", "out_features"):
            params[param.name] = draw(st.integers(1, 6))
        elif param.name in ("kernel_size", "output_size"):
            params[param.name] = draw(st.integers(1, 3))
        elif param.name in ("stride", "dilation", "upscale_factor", "downscale_factor"):
            params[param.name] = draw(st.integers(1, 2))
        elif param.name == "padding" and param.kind.name == "PADDING":
            params[param.name] = draw(st.sampled_from([0, 1, "same", "valid"]))
        elif param.name == "padding":
            params[param.name] = draw(st.integers(0, 1))
        elif param.kind.name == "BOOL" and not param.nullable:
            params[param.name] = draw(st.booleans())
    return params


@st.composite
def designs(draw) -> Architecture:
    """Grow a graph node by node, keeping only additions the engine accepts."""
    arch = Architecture("random design")
    rank = draw(st.sampled_from([1, 2, 2, 3]))
    shape = [draw(st.integers(1, 4))] + [draw(st.integers(4, 9)) for _ in range(rank)]
    arch.add_node(NodeRecord("input", "Input", {"shape": shape}))
    engine = analyse(arch)
    for index in range(draw(st.integers(1, 10))):
        node_id = f"n{index}"
        ready = [n for n, r in engine.results.items() if r.output is not None]
        merge = draw(st.sampled_from(["Add", "Multiply", "Concat", None, None, None, None]))
        try:
            if merge:
                sources = draw(
                    st.lists(
                        st.sampled_from(ready), min_size=2, max_size=2 if merge == "Multiply" else 3
                    )
                )
                arch.add_node(NodeRecord(node_id, merge, {}))
                for port, source in enumerate(sources):
                    arch.connect(source, node_id, port)
            else:
                kind = draw(st.sampled_from(SPATIAL_TYPES))
                arch.add_node(NodeRecord(node_id, kind, _variation(kind, draw)))
                arch.connect(draw(st.sampled_from(ready)), node_id)
        except ValueError:  # a refused parameter combination or connection
            if node_id in arch:
                arch.remove_node(node_id)
            continue
        engine = analyse(arch)
        if engine.results[node_id].output is None:
            arch.remove_node(node_id)
            engine = analyse(arch)
    if len(arch) == 1:  # nothing was accepted: a design needs one layer to export
        arch.add_node(NodeRecord("last", "ReLU", {}))
        arch.connect("input", "last")
    return arch


# TorchScript cannot compile torch's own attention without biases (its forward reads
# `in_proj_bias.dtype`), and a failed compile spoils every later one of that class in
# the process (pytorch/pytorch#91504): such designs are checked by verify and fx alone,
# and the test below keeps the limitation in view, in a process of its own.
UNSCRIPTABLE_WITHOUT_BIAS = (
    "MultiheadAttention",
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
)


def scriptable(arch: Architecture) -> bool:
    return not any(
        arch.type_of(n) in UNSCRIPTABLE_WITHOUT_BIAS and arch.resolved_params(n)["bias"] is False
        for n in arch.graph
    )


def test_torch_cannot_script_its_attention_without_biases() -> None:
    code = "import torch; torch.jit.script(torch.nn.MultiheadAttention(4, 2, bias=False))"
    run = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert run.returncode != 0 and "in_proj_bias" in run.stderr


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arch=designs())
def test_random_designs_agree_with_torch(arch: Architecture) -> None:
    engine = analyse(arch)
    exported = export(arch, engine)
    assert verify(exported, arch, engine) == []
    model = load_module(exported.source, exported.class_name)
    torch.fx.symbolic_trace(model)
    if scriptable(arch):
        torch.jit.script(model)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(arch=designs())
def test_random_designs_are_ruff_clean(arch: Architecture, tmp_path: Path) -> None:
    ruff_clean(export(arch, analyse(arch)).source, tmp_path)


def test_long_names_many_inputs_and_outputs_are_laid_out_as_ruff_does(tmp_path: Path) -> None:
    arch = Architecture("wide")
    long = "a_rather_long_descriptive_name_"
    for i in range(3):
        arch.add_node(NodeRecord(f"{long}in{i}", "Input", {"shape": [2, 4, 4]}))
    arch.add_node(NodeRecord(f"{long}cat", "Concat", {}))
    arch.add_node(NodeRecord(f"{long}sum", "Add", {}))
    for i in range(3):
        arch.connect(f"{long}in{i}", f"{long}cat", i)
        arch.connect(f"{long}in{i}", f"{long}sum", i)
    for i in range(6):
        arch.add_node(NodeRecord(f"{long}out{i}", "Conv2d", {"out_channels": 2, "kernel_size": 1}))
        arch.connect(f"{long}cat" if i % 2 else f"{long}sum", f"{long}out{i}")
    engine = analyse(arch)
    exported = export(arch, engine)
    ruff_clean(exported.source, tmp_path)
    assert ") -> tuple[\n" in exported.source
    assert verify(exported, arch, engine) == []
