"""Import of models written as real projects write them (tests/io/real_models.py): each is
imported, reported, exported, and the exported module has the original's parameters,
MACs and output shapes in torch."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from designer.cli import main
from designer.core import registry
from designer.core.params import ParamError
from designer.core.propagate import analyse
from designer.export import report
from designer.export.pytorch import export
from designer.export.verify import verify
from designer.io import pytorch_import
from designer.io.project import load
from tests.io import real_models

MODELS = Path(real_models.__file__)
BATCH = 2

CASES = {
    "VisionTransformer": ["3x32x32"],
    "ManualAttentionViT": ["3x32x32"],
    "MBConv": ["16x16x16"],
    "ShuffleUnit": ["24x16x16"],
    "ConvNeXtStage": ["3x32x32"],
    "EinopsMixer": ["3x16x16"],
    "CyclicShift": ["3x16x16"],
    "GramFeatures": ["3x8x8"],
    "GrabBag": ["3x16x16"],
    "LSTMTagger": ["12:int64"],
    "BiGRUTagger": ["12:int64"],
    "TransformerClassifier": ["100:int64"],
}


def examples(texts: list[str]) -> list[torch.Tensor]:
    """Ones, a batch of BATCH: token id 1 where ids are asked for (0 is padding)."""
    tensors = []
    for shape, dtype in map(pytorch_import.parse_input, texts):
        tensors.append(torch.ones(BATCH, *shape, dtype=getattr(torch, dtype or "float32")))
    return tensors


def torch_figures(model: torch.nn.Module, inputs: list[torch.Tensor]) -> tuple[int, int, list]:
    """Parameters, FLOPs per sample and output shapes (batch left out), as torch has them.
    FlopCounterMode cannot see torch's fused CPU kernels, so they are off: attention runs
    on the math backend, recurrent layers without oneDNN, and Transformer layers with
    autograd on (their fast path runs only without it)."""
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # oneDNN's flags warn of absent GPUs
        with (
            FlopCounterMode(display=False) as counter,
            torch.enable_grad(),
            sdpa_kernel(SDPBackend.MATH),
            torch.backends.mkldnn.flags(enabled=False),
        ):
            output = model(*inputs)
    outputs = output if isinstance(output, tuple) else (output,)
    params = sum(p.numel() for p in model.parameters())
    return params, counter.get_total_flops() // BATCH, [tuple(o.shape[1:]) for o in outputs]


def imported(class_name: str):
    texts = CASES[class_name]
    inputs = [pytorch_import.parse_input(t) for t in texts]
    notes: list[str] = []
    arch = pytorch_import.import_model(
        MODELS,
        class_name,
        [s for s, _ in inputs],
        notes=notes,
        input_dtypes=[d for _, d in inputs],
    )
    return arch, analyse(arch), notes


@pytest.mark.parametrize("class_name", list(CASES))
def test_imported_and_exported_models_are_torchs(class_name: str) -> None:
    arch, engine, _ = imported(class_name)
    totals = engine.totals()
    assert totals.errors == 0
    original = getattr(real_models, class_name)()
    params, flops, shapes = torch_figures(original, examples(CASES[class_name]))
    assert totals.params == params
    assert 2 * totals.macs == flops
    assert [t.shape for n in arch.outputs() for t in engine.results[n].outputs] == shapes
    rows = json.loads(report.to_json(engine))
    assert rows["totals"]["params"] == params
    exported = export(arch, engine)
    assert verify(exported, arch, engine) == []
    namespace: dict = {"__name__": "exported"}
    exec(compile(exported.source, "<exported>", "exec"), namespace)  # noqa: S102
    rebuilt = namespace[exported.class_name]()
    assert torch_figures(rebuilt, examples(CASES[class_name])) == (params, flops, shapes)


@pytest.mark.parametrize("fused", [True, False])
def test_attention_maps_onto_tensor_operations(fused: bool) -> None:
    arch, engine, notes = imported("VisionTransformer" if fused else "ManualAttentionViT")
    types = [n.type for n in arch.nodes()]
    assert "Custom" not in types and notes == []
    assert types.count("Parameter") == 2  # the class token and the position table
    assert types.count("ScaledDotProductAttention" if fused else "MatMul") == (2 if fused else 4)
    token = arch.node("cls_token")
    assert (token.params, engine.results[token.id].params) == ({"shape": (1, 48)}, 48)
    # B, N, C = x.shape: the reshape's sizes are the sample's, the batch left out
    reshape = next(n for n in arch.nodes() if n.type == "Reshape")
    assert reshape.params == {"shape": (17, 3, 3, 16)}
    assert [n.params for n in arch.nodes() if n.type == "Select"][:3] == [
        {"dim": 0, "index": i} for i in range(3)
    ]


def test_channel_shuffle_reads_sizes_from_the_trace() -> None:
    arch, _, _ = imported("ShuffleUnit")
    assert [(n.type, n.params) for n in arch.nodes() if n.type in ("Reshape", "Transpose")] == [
        ("Reshape", {"shape": (2, 12, 16, 16)}),
        ("Transpose", {"dim0": 1, "dim1": 2}),
        ("Reshape", {"shape": (-1, 16, 16)}),
    ]


def test_wrappers_are_traced_through() -> None:
    """Conv2dNormActivation, SqueezeExcitation and StochasticDepth (nothing in eval
    mode); ConvNeXt's permuting LayerNorm2d is its LayerNorm, named after the module."""
    arch, _, _ = imported("MBConv")
    assert [n.type for n in arch.nodes()][-3:] == ["Conv2d", "BatchNorm2d", "Add"]
    convnext, _, _ = imported("ConvNeXtStage")
    norms = [n for n in convnext.nodes() if n.type == "LayerNorm"]
    assert [n.name or n.id for n in norms][:1] == ["stem.1"]
    assert norms[0].params == {"eps": 1e-6}


def test_einops_patterns_become_permutes_and_reshapes() -> None:
    arch, _, notes = imported("EinopsMixer")
    assert notes == []
    assert [n.type for n in arch.nodes()][:4] == ["Input", "Reshape", "Permute", "Reshape"]
    assert arch.node("mean").params == {"dim": 2}


def test_an_operation_the_catalog_lacks_is_a_custom_node(tmp_path: Path) -> None:
    arch, engine, notes = imported("CyclicShift")
    roll = arch.node("roll")
    assert roll.type == "Custom"
    assert roll.params == {
        "code": "torch.roll(x, shifts=(-2, -2), dims=(2, 3))",
        "inputs": "8x16x16",
        "outputs": "8x16x16",
    }
    assert notes == [
        (
            "real_models.py line 346 (shifted = torch.roll(x, shifts=(-2, -2), dims=(2, 3))): "
            "torch.roll(x, shifts=(-2, -2), dims=(2, 3)) is not something the catalog "
            "expresses; it is the Custom node roll, whose output (8x16x16) is fixed at import"
        )
    ]
    (row,) = [r for r in report.rows(engine) if r["id"] == "roll"]
    assert row["output_shape"] == [8, 16, 16]
    assert "fixed at import" in row["warnings"][0]
    exported = export(arch, engine)
    assert "torch.roll(conv, shifts=(-2, -2), dims=(2, 3))" in exported.source
    # the shape is fixed: another input is an error naming both
    arch.set_params("x", {"shape": [3, 20, 20]})
    assert analyse(arch).results["roll"].error == (
        "the input is 8x20x20, but the code was traced with 8x16x16: a Custom node's "
        "shapes are fixed at import"
    )


def test_custom_nodes_count_what_torch_counts() -> None:
    """A Custom node holds torch's MACs for its call: an einsum's products."""
    arch, engine, _ = imported("GramFeatures")
    gram = arch.node("einsum")
    assert gram.params["code"] == 'torch.einsum("bcn,bdn->bcd", x, x)'
    assert gram.params["macs"] == 8 * 8 * 64
    assert engine.results["einsum"].macs == 8 * 8 * 64


def test_a_mask_computed_from_token_ids() -> None:
    arch, engine, notes = imported("TransformerClassifier")
    customs = {n.id: n.params["code"] for n in arch.nodes() if n.type == "Custom"}
    assert customs == {"eq": "x == 0", "masked_fill": "x0.masked_fill(x1, 0.0)"}
    assert arch.node("masked_fill").params["inputs"] == "100x32, 100x1:bool"
    assert engine.results["eq"].output.dtype == "bool"
    assert len(notes) == 2


def test_nested_outputs_of_a_recurrent_layer() -> None:
    """out, (h, c) = self.lstm(x): output 0 feeds the tagger, h_n[-1] the sentence head."""
    arch, engine, _ = imported("LSTMTagger")
    edges = {(e.source, e.output, e.target) for e in arch.edges()}
    assert ("lstm", 0, "tagger") in edges
    (select,) = [n for n in arch.nodes() if n.type == "Select"]
    assert ("lstm", 1, select.id) in edges
    assert select.params == {"dim": 0, "index": -1}
    assert engine.results[select.id].shape == (24,)


@pytest.mark.parametrize(
    "code",
    [
        '__import__("os").system("true")',
        'torch.load("weights.pt")',
        "x.__class__",
        "torch.hub.load(x)",
        "(lambda: x)()",
        "x.numpy()",
        "open(x)",
    ],
)
def test_custom_code_is_held_to_its_grammar(code: str) -> None:
    """Exported code runs (export --verify runs it at once): a project file cannot slip
    anything but tensor computation into it."""
    spec = registry.get("Custom")
    with pytest.raises(ParamError):
        spec.validate({"code": code, "inputs": "4", "outputs": "4"})


@pytest.mark.parametrize("class_name", list(CASES))
def test_the_command_imports_and_reports(class_name: str, tmp_path: Path, capsys) -> None:
    out, table = tmp_path / "model.nnd", tmp_path / "report.json"
    inputs = [a for text in CASES[class_name] for a in ("--input", text)]
    assert main(["import", f"{MODELS}:{class_name}", *inputs, "-o", str(out)]) == 0
    assert "node(s) in error" not in capsys.readouterr().err
    assert main(["report", str(out), "--format", "json", "-o", str(table)]) == 0
    totals = json.loads(table.read_text())["totals"]
    _, engine, _ = imported(class_name)
    assert (totals["params"], totals["macs"]) == (engine.totals().params, engine.totals().macs)


def test_the_command_takes_token_ids(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "classifier.nnd"
    model = f"{MODELS}:TransformerClassifier"
    assert main(["import", model, "--input", "100:int64", "-o", str(out)]) == 0
    assert "is the Custom node masked_fill" in capsys.readouterr().err
    assert load(out).arch.node("tokens").params == {"shape": (100,), "dtype": "int64"}


def test_an_input_fed_to_an_embedding_takes_token_ids() -> None:
    """Where --input names no dtype, an input that goes straight into an Embedding is
    int64 (token ids), as torch would refuse floats there."""
    arch = pytorch_import.import_model(MODELS, "LSTMTagger", [(12,)])
    assert arch.node("tokens").params == {"shape": (12,), "dtype": "int64"}


def test_the_command_refuses_an_unknown_dtype(tmp_path: Path, capsys) -> None:
    out = tmp_path / "o.nnd"
    assert main(["import", f"{MODELS}:LSTMTagger", "--input", "12:int65", "-o", str(out)]) == 1
    assert "'int65' is not a dtype" in capsys.readouterr().err
