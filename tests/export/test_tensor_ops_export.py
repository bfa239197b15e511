"""Export of the tensor operations: each is written as torch code writes it, and the
module runs in torch with the shapes the designer predicts (verify), traces with
torch.fx, compiles with torch.jit.script and passes ruff."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from designer.core.graph import Architecture, NodeRecord
from designer.core.propagate import analyse
from designer.export.pytorch import ExportError, export
from designer.export.verify import verify
from tests.export.test_pytorch_export import load_module, ruff_clean

Node = tuple[str, str, dict[str, Any], tuple]  # id, type, params, sources (id or (id, slot))


def build(shapes: dict[str, list[int]], *nodes: Node) -> Architecture:
    arch = Architecture("ops")
    for node_id, shape in shapes.items():
        arch.add_node(NodeRecord(node_id, "Input", {"shape": shape}))
    for node_id, kind, params, sources in nodes:
        arch.add_node(NodeRecord(node_id, kind, params))
        for port, source in enumerate(sources):
            source, slot = source if isinstance(source, tuple) else (source, 0)
            arch.connect(source, node_id, port, output=slot)
    return arch


def exported_and_checked(arch: Architecture, tmp_path: Path) -> str:
    """The source, once verify agrees, fx traces it, TorchScript compiles it, ruff is clean
    and a batch of 3 gives every returned tensor the designer's shape."""
    engine = analyse(arch)
    errors = {n: r.error for n, r in engine.results.items() if r.error}
    assert not errors
    exported = export(arch, engine)
    assert verify(exported, arch, engine) == [], exported.source
    model = load_module(exported.source, exported.class_name)
    torch.fx.symbolic_trace(model)
    torch.jit.script(model)
    ruff_clean(exported.source, tmp_path)
    inputs = [torch.randn(3, *shape) for shape in exported.input_shapes]
    returned = model(*inputs)
    returned = returned if isinstance(returned, tuple) else (returned,)
    for (node_id, slot), tensor in zip(exported.outputs, returned):
        assert tuple(tensor.shape) == (3, *engine.results[node_id].outputs[slot].shape), node_id
    return exported.source


def test_shape_operations(tmp_path: Path) -> None:
    arch = build(
        {"x": [6, 4, 1]},
        ("flat", "Reshape", {"shape": [2, -1]}, ("x",)),
        ("perm", "Permute", {"dims": [0, 3, 1, 2]}, ("x",)),
        ("swap", "Transpose", {"dim0": -1, "dim1": 1}, ("x",)),
        ("grid", "Unflatten", {"dim": 1, "unflattened_size": [2, 3]}, ("x",)),
        ("thin", "Squeeze", {}, ("x",)),
        ("same", "Squeeze", {"dim": 1}, ("x",)),
        ("wide", "Unsqueeze", {"dim": -2}, ("x",)),
    )
    source = exported_and_checked(arch, tmp_path)
    assert "flat = x.reshape(x.shape[0], 2, -1)" in source
    assert "perm = torch.permute(x, (0, 3, 1, 2))" in source
    assert "swap = torch.transpose(x, -1, 1)" in source
    assert "nn.Unflatten(1, (2, 3))" in source
    assert "thin = torch.squeeze(x, 3)" in source  # the size-1 dims, never the batch
    assert "same = x" in source  # a dimension of 6 does not squeeze
    assert "wide = torch.unsqueeze(x, -2)" in source


def test_pieces_and_selections(tmp_path: Path) -> None:
    arch = build(
        {"x": [5, 7]},
        ("halves", "Split", {"split_size_or_sections": 2}, ("x",)),
        ("two", "Split", {"split_size_or_sections": [1, 4]}, ("x",)),
        ("whole", "Chunk", {"chunks": 1, "dim": 2}, ("x",)),
        ("few", "Chunk", {"chunks": 4}, ("x",)),  # torch makes 3 chunks of 2, 2 and 1
        ("row", "Select", {"dim": 1, "index": -1}, (("halves", 2),)),
        ("odd", "Slice", {"dim": 2, "start": 1, "step": 2}, (("two", 1),)),
        ("all", "Slice", {}, (("few", 2),)),
        ("tail", "Slice", {"dim": -1, "end": -2}, ("whole",)),
    )
    source = exported_and_checked(arch, tmp_path)
    assert analyse(arch).results["halves"].more[-1].shape == (1, 7)
    assert "_, _, halves_output_2 = torch.split(x, 2, dim=1)" in source  # unused: _
    assert "_, two_output_1 = torch.split(x, (1, 4), dim=1)" in source
    assert "whole = torch.chunk(x, 1, dim=2)[0]" in source
    assert "row = halves_output_2[:, -1]" in source
    assert "odd = two_output_1[:, :, 1::2]" in source
    assert "all_ = few_output_2[:, :]" in source
    assert "tail = whole[:, :, :-2]" in source


def test_reductions_write_out_every_dimension_of_the_sample(tmp_path: Path) -> None:
    arch = build(
        {"x": [3, 4, 5]},
        ("mean", "Mean", {"keepdim": True}, ("x",)),
        ("sum", "Sum", {"dim": [1, -1]}, ("x",)),
        ("most", "Amax", {"dim": 2}, ("x",)),
    )
    source = exported_and_checked(arch, tmp_path)
    assert "mean = torch.mean(x, dim=(1, 2, 3), keepdim=True)" in source
    assert "sum_ = torch.sum(x, dim=(1, -1))" in source
    assert "most = torch.amax(x, dim=2)" in source


def test_products_and_attention(tmp_path: Path) -> None:
    arch = build(
        {"q": [4, 6, 8], "k": [2, 5, 8], "v": [2, 5, 3], "w": [8]},
        (
            "att",
            "ScaledDotProductAttention",
            {"is_causal": True, "enable_gqa": True},
            ("q", "k", "v"),
        ),
        ("kt", "Transpose", {"dim0": -1, "dim1": -2}, ("k",)),
        ("one", "Select", {"dim": 1, "index": 0}, ("kt",)),  # 8 x 5
        ("scores", "MatMul", {}, ("q", "one")),  # 4x6x8 @ 8x5: the lower rank gets [:, None]
        ("row", "MatMul", {}, ("w", "kt")),  # a vector times a stack of matrices
        ("column", "MatMul", {}, ("q", "w")),  # a stack of matrices times a vector
    )
    source = exported_and_checked(arch, tmp_path)
    assert "att = nn.functional.scaled_dot_product_attention(\n" in source
    assert "            q, k, v, is_causal=True, enable_gqa=True\n" in source
    assert "scores = q @ one[:, None]" in source
    assert 'row = torch.einsum("nk,n...km->n...m", w, kt)' in source
    assert 'column = torch.einsum("n...lk,nk->n...l", q, w)' in source
    results = analyse(arch).results
    assert results["att"].macs == 4 * 6 * 5 * (8 + 3)
    assert results["scores"].macs == 4 * 6 * 5 * 8


def test_arithmetic_broadcasts_within_the_sample(tmp_path: Path) -> None:
    arch = build(
        {"x": [3, 4, 4], "gate": [3, 1, 1], "bias": [4]},
        ("plus", "Add", {}, ("x", "gate", "bias")),
        ("minus", "Subtract", {}, ("bias", "x")),  # a vector of 4 from every row
        ("times", "Multiply", {"other": 0.2}, ("x",)),
        ("over", "Divide", {}, ("x", "gate")),
        ("shift", "Add", {"other": -3}, ("over",)),
        ("half", "Divide", {"other": 2}, ("shift",)),
        ("less", "Subtract", {"other": 1}, ("half",)),
        ("clip", "Clamp", {"min": 0, "max": 6}, ("less",)),
        ("low", "Clamp", {"max": 1.5}, ("x",)),
    )
    source = exported_and_checked(arch, tmp_path)
    assert "plus = x_ + gate + bias[:, None, None]" in source  # x_: x is the input's own
    assert "minus = bias[:, None, None] - x_" in source
    assert "times = x_ * 0.2" in source
    assert "shift = over + -3.0" in source
    assert "half_ = shift / 2.0" in source
    assert "clip = torch.clamp(less, min=0.0, max=6.0)" in source
    assert "low = torch.clamp(x_, max=1.5)" in source


def test_stack_and_a_learned_class_token(tmp_path: Path) -> None:
    arch = build(
        {"x": [3, 8, 8]},
        ("patches", "Conv2d", {"out_channels": 16, "kernel_size": 4, "stride": 4}, ("x",)),
        ("flat", "Flatten", {"start_dim": 2}, ("patches",)),
        ("tokens", "Transpose", {"dim0": 1, "dim1": 2}, ("flat",)),  # 4 x 16
        ("cls", "Parameter", {"shape": [1, 16]}, ()),
        ("seq", "Concat", {"dim": 1}, ("cls", "tokens")),
        ("pos", "Parameter", {"shape": [5, 16]}, ()),
        ("embedded", "Add", {}, ("seq", "pos")),
        ("both", "Stack", {"dim": -1}, ("embedded", "seq")),
    )
    source = exported_and_checked(arch, tmp_path)
    assert "self.cls = nn.Parameter(torch.zeros(1, 1, 16))" in source
    assert "cls = self.cls.expand(x.shape[0], -1, -1)" in source
    assert "self.pos = nn.Parameter(torch.zeros(1, 5, 16))" in source
    assert "both = torch.stack([embedded, seq], dim=-1)" in source
    model = load_module(source, "ops")
    assert sum(p.numel() for p in model.parameters()) == analyse(arch).totals().params
    assert analyse(arch).results["pos"].params == 5 * 16


def test_a_design_of_parameters_alone_has_no_input() -> None:
    arch = build({}, ("cls", "Parameter", {"shape": [1, 4]}, ()))
    arch.add_node(NodeRecord("act", "ReLU", {}))
    arch.connect("cls", "act")
    with pytest.raises(ExportError, match="no Input node"):
        export(arch, analyse(arch))


def test_long_names_split_as_ruff_does(tmp_path: Path) -> None:
    long = "a_rather_long_descriptive_name_"
    arch = build(
        {f"{long}q": [2, 5, 8], f"{long}k": [2, 5, 8], f"{long}v": [2, 5, 8]},
        (
            f"{long}att",
            "ScaledDotProductAttention",
            {"is_causal": True, "scale": 0.125, "dropout_p": 0.0},
            (f"{long}q", f"{long}k", f"{long}v"),
        ),
        (f"{long}split", "Split", {"split_size_or_sections": [1, 4], "dim": 2}, (f"{long}att",)),
        (f"{long}one", "Chunk", {"chunks": 1, "dim": 3}, ((f"{long}split", 1),)),
        (f"{long}mean", "Mean", {"dim": [1, 2, 3], "keepdim": True}, (f"{long}one",)),
    )
    exported_and_checked(arch, tmp_path)
