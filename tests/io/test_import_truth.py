"""Import tells the truth: what the model computes at inference, where the user's code is,
and what the design leaves out."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from designer.core.propagate import analyse
from designer.export.pytorch import export
from designer.export.verify import verify
from designer.io import pytorch_import
from tests.io.models import truth_models

MODELS = Path(truth_models.__file__)


def torch_params(class_name: str) -> int:
    return sum(p.numel() for p in getattr(truth_models, class_name)().parameters())


def test_a_conv2d_subclass_calling_f_conv2d_on_its_weight_is_the_conv2d() -> None:
    arch = pytorch_import.import_model(MODELS, "SubclassedConvs", [(3, 16, 16)])
    convs = [n for n in arch.nodes() if n.type == "Conv2d"]
    assert [(n.name, n.params) for n in convs] == [
        ("shift", {"out_channels": 3, "kernel_size": 1}),
        ("stem", {"out_channels": 8, "kernel_size": 3, "stride": 2, "bias": False}),
    ]
    engine = analyse(arch)
    assert engine.totals().params == torch_params("SubclassedConvs")
    (out,) = arch.outputs()
    model = truth_models.SubclassedConvs().eval()
    assert engine.results[out].shape == tuple(model(torch.zeros(1, 3, 16, 16)).shape[1:])
    assert verify(export(arch, engine), arch, engine) == []


def test_forward_arguments_with_defaults_are_traced_at_their_defaults() -> None:
    arch = pytorch_import.import_model(MODELS, "WithScale", [(3, 8, 8)])
    assert [n.type for n in arch.nodes()] == ["Input", "Conv2d", "PixelShuffle"]
    assert analyse(arch).results["shuffle"].shape == (3, 16, 16)


def test_a_training_only_branch_vanishes_in_eval_mode() -> None:
    arch = pytorch_import.import_model(MODELS, "DropConnect", [(4, 8, 8)])
    assert [n.type for n in arch.nodes()] == ["Input", "Conv2d", "Add"]


def test_parameters_forward_never_uses_are_named() -> None:
    notes: list[str] = []
    arch = pytorch_import.import_model(MODELS, "WithUnusedUpsamplers", [(3, 8, 8)], notes=notes)
    unused = 3 * 27 * 9 + 27 + 3 * 48 * 9 + 48 + 48 * 48 + 48
    assert notes == [
        (
            f"{unused:,} parameters are in modules forward never calls, not in the design: "
            f"up3 ({3 * 27 * 9 + 27:,}), up4 ({3 * 48 * 9 + 48 + 48 * 48 + 48:,})"
        )
    ]
    assert analyse(arch).totals().params + unused == torch_params("WithUnusedUpsamplers")


def test_a_trace_that_differs_from_the_real_forward_is_said() -> None:
    notes: list[str] = []
    pytorch_import.import_model(MODELS, "IsinstanceSkip", [(2, 8, 8)], notes=notes)
    assert notes == [
        (
            "torch.fx's trace of IsinstanceSkip does not compute what its forward does: forward "
            "returns 8x8x8, the trace 4x8x8. The design follows the trace; code that fx cannot "
            "follow (torch.jit.isinstance, branches on values) is the likely cause, not your model"
        )
    ]


def test_a_custom_node_names_the_users_line_and_the_library_line() -> None:
    """torch.roll, called inside a library the user's model imports, becomes a Custom
    node; its note names the user's line first, then the library's line that does it."""
    notes: list[str] = []
    arch = pytorch_import.import_model(MODELS, "LibraryShift", [(3, 8, 8)], notes=notes)
    assert arch.type_of("roll") == "Custom"
    assert arch.params_of("roll")["code"] == "torch.roll(x, 1, 2)"
    (note,) = notes
    place, _, what = note.partition("): ")
    assert place.startswith("truth_models.py line ")
    assert place.endswith("activ_lib.py line 10 (return torch.roll(x, 1, 2)")
    assert what.startswith("torch.roll(x, 1, 2) is not something the catalog expresses")
    assert "fixed at import" in what


def test_the_command_says_the_notes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from designer.cli import main

    out = tmp_path / "carn.nnd"
    model = f"{MODELS}:WithUnusedUpsamplers"
    assert main(["import", model, "--input", "3x8x8", "-o", str(out)]) == 0
    assert out.exists()
    assert "designer: note: 4,452 parameters are in modules forward never calls" in (
        capsys.readouterr().err
    )


def test_a_module_called_three_times_is_counted_once_and_exported_tied(tmp_path: Path) -> None:
    arch = pytorch_import.import_model(MODELS, "Recursive", [(3, 8, 8)])
    blocks = [n for n in arch.nodes() if n.type == "Conv2d" and n.id != "entry"]
    assert [n.shares for n in blocks] == [None, blocks[0].id, blocks[0].id]
    assert all(n.shares is None for n in arch.nodes() if n.type == "ReLU")  # no weights
    engine = analyse(arch)
    assert engine.totals().params == torch_params("Recursive")
    assert [engine.results[n.id].params for n in blocks] == [8 * 8 * 9 + 8, 0, 0]
    exported = export(arch, engine, "Recursive")
    assert exported.source.count("nn.Conv2d(8, 8") == 1
    assert exported.source.count("self.block(") == 3
    assert verify(exported, arch, engine) == []
    namespace: dict = {}
    exec(compile(exported.source, "<recursive>", "exec"), namespace)  # noqa: S102
    assert sum(p.numel() for p in namespace["Recursive"]().parameters()) == torch_params(
        "Recursive"
    )
