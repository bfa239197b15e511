"""Export of the attention layers: MultiheadAttention called on query, key and value and
unpacked into its two outputs, Transformer layers as torch.nn modules. Each design runs
in torch with the designer's shapes (where the batch is included), parameters and MACs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from designer.core.graph import Architecture, NodeRecord
from designer.core.propagate import Engine, analyse
from designer.export.pytorch import export
from designer.export.verify import verify
from tests.export.test_pytorch_export import load_module, ruff_clean

Node = tuple[str, str, dict[str, Any], tuple]  # id, type, params, sources (id or (id, slot))
BATCH = 3


def build(shapes: dict[str, list[int]], *nodes: Node) -> Architecture:
    arch = Architecture("attention")
    for node_id, shape in shapes.items():
        arch.add_node(NodeRecord(node_id, "Input", {"shape": shape}))
    for node_id, kind, params, sources in nodes:
        arch.add_node(NodeRecord(node_id, kind, params))
        for port, source in enumerate(sources):
            source, slot = source if isinstance(source, tuple) else (source, 0)
            arch.connect(source, node_id, port, output=slot)
    return arch


def exported_and_run(arch: Architecture, tmp_path: Path) -> tuple[str, torch.nn.Module, Engine]:
    """The source, its module, and the engine, once ruff is clean, the module has the
    designer's parameters and a batch of BATCH gives every returned tensor the designer's
    shape, the batch where the designer says it is, and verify agrees."""
    engine = analyse(arch)
    assert not {n: r.error for n, r in engine.results.items() if r.error}
    exported = export(arch, engine)
    assert verify(exported, arch, engine) == [], exported.source
    ruff_clean(exported.source, tmp_path)
    model = load_module(exported.source, exported.class_name)
    assert sum(p.numel() for p in model.parameters()) == engine.totals().params
    inputs = [torch.randn(BATCH, *shape) for shape in exported.input_shapes]
    with torch.no_grad():
        returned = model(*inputs)
    returned = returned if isinstance(returned, tuple) else (returned,)
    for (node_id, slot), tensor in zip(exported.outputs, returned):
        ours = engine.results[node_id].outputs[slot]
        whole = (*ours.shape[: ours.batch_axis], BATCH, *ours.shape[ours.batch_axis :])
        assert tuple(tensor.shape) == whole, node_id
    return exported.source, model, engine


def counted_macs(model: torch.nn.Module, shapes: list[tuple[int, ...]]) -> int:
    """MACs of a batch of one, as FlopCounterMode counts them (2 FLOPs each), on kernels
    whose products it sees."""
    counter = FlopCounterMode(display=False)
    inputs = [torch.randn(1, *shape) for shape in shapes]
    with torch.no_grad(), counter, visible_attention():
        model(*inputs)
    return counter.get_total_flops() // 2


@contextmanager
def visible_attention() -> Iterator[None]:
    """torch's math attention, and no fused Transformer fast path: FlopCounterMode counts
    nothing inside either of the kernels torch 2.13 otherwise takes on the CPU."""
    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)


def test_a_transformer_encoder_text_classifier(tmp_path: Path) -> None:
    """Embedded text [L, E] → two encoder layers → the mean over the sequence → classes."""
    arch = build(
        {"text": [12, 16]},
        (
            "enc1",
            "TransformerEncoderLayer",
            {"nhead": 4, "dim_feedforward": 32, "batch_first": True},
            ("text",),
        ),
        (
            "enc2",
            "TransformerEncoderLayer",
            {"nhead": 4, "dim_feedforward": 32, "batch_first": True},
            ("enc1",),
        ),
        ("pool", "Mean", {"dim": 1}, ("enc2",)),
        ("head", "Linear", {"out_features": 3}, ("pool",)),
    )
    source, model, engine = exported_and_run(arch, tmp_path)
    assert "nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True)" in source, (
        source
    )
    assert engine.results["head"].shape == (3,)
    assert counted_macs(model, [(12, 16)]) == engine.totals().macs


def test_cross_attention_uses_both_outputs(tmp_path: Path) -> None:
    """Queries from one input attend over keys and values made from another by a Linear;
    the output goes on, and the weights are returned."""
    arch = build(
        {"queries": [5, 8], "context": [7, 6]},
        ("memory", "Linear", {"out_features": 4}, ("context",)),
        (
            "attn",
            "MultiheadAttention",
            {"num_heads": 2, "kdim": 4, "vdim": 4, "add_bias_kv": True, "batch_first": True},
            ("queries", "memory", "memory"),
        ),
        ("out", "Linear", {"out_features": 2}, (("attn", 0),)),
        ("weights", "Flatten", {}, (("attn", 1),)),
    )
    source, model, engine = exported_and_run(arch, tmp_path)
    assert "attn_attn_output, attn_attn_weights = self.attn(queries, memory, memory)" in source
    assert engine.results["attn"].outputs[1].shape == (5, 8)  # 7 keys and the learned one
    assert engine.results["weights"].shape == (40,)
    assert counted_macs(model, [(5, 8), (7, 6)]) == engine.totals().macs


def test_a_decoder_layer_takes_target_and_memory(tmp_path: Path) -> None:
    arch = build(
        {"tgt": [4, 8], "memory": [9, 8]},
        (
            "dec",
            "TransformerDecoderLayer",
            {"nhead": 2, "dim_feedforward": 16, "activation": "gelu", "batch_first": True},
            ("tgt", "memory"),
        ),
        ("head", "Linear", {"out_features": 5}, ("dec",)),
    )
    source, model, engine = exported_and_run(arch, tmp_path)
    assert "self.dec(tgt, memory)" in source  # a module of two inputs stands alone
    assert 'activation="gelu"' in source
    assert counted_macs(model, [(4, 8), (9, 8)]) == engine.totals().macs


def test_sequence_first_attention(tmp_path: Path) -> None:
    """batch_first=false (PyTorch's default) after a Transpose of dims 0 and 1: the
    module's output holds the batch at dim 1, its weights at dim 0."""
    arch = build(
        {"x": [6, 8]},
        ("seq", "Transpose", {"dim0": 0, "dim1": 1}, ("x",)),
        ("attn", "MultiheadAttention", {"num_heads": 2}, ("seq", "seq", "seq")),
        ("enc", "TransformerEncoderLayer", {"nhead": 2, "dim_feedforward": 16}, (("attn", 0),)),
    )
    engine = analyse(arch)
    assert engine.results["attn"].output.batch_axis == 1
    assert engine.results["attn"].outputs[1].batch_axis == 0
    source, model, engine = exported_and_run(arch, tmp_path)  # verify: a Transpose feeds 3
    assert "nn.MultiheadAttention(8, 2)" in source
    assert counted_macs(model, [(6, 8)]) == engine.totals().macs
