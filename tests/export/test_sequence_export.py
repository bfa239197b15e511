"""Export of sequence models: token ids through an Embedding, recurrent layers whose
outputs are unpacked as torch returns them (LSTM's `output, (h_n, c_n)`), and tensors that
hold the batch at dim 1 (batch_first=False). Each design is exported, verified, traced with
torch.fx, compiled with TorchScript and checked with ruff; it runs in torch with the
designer's output shapes, parameter count and MACs, and computes what the same model
written by hand computes, with the same weights."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from designer.core.graph import Architecture
from designer.core.propagate import Engine, analyse
from designer.export.pytorch import export
from designer.export.verify import verify
from tests.export.test_pytorch_export import load_module, ruff_clean
from tests.helpers import Node
from tests.helpers import build as build_design

BATCH = 3


def build(name: str, input_params: dict[str, Any], *nodes: Node) -> Architecture:
    """A design named `name` whose one Input, x, has `input_params`."""
    return build_design({"x": input_params}, *nodes, name=name)


def exported_model(arch: Architecture, tmp_path: Path) -> tuple[str, nn.Module, Engine]:
    """The source and its module, once verify agrees, fx traces it, TorchScript compiles
    it and ruff is clean."""
    engine = analyse(arch)
    assert {n: r.error for n, r in engine.results.items() if r.error} == {}
    exported = export(arch, engine)
    assert verify(exported, arch, engine) == [], exported.source
    model = load_module(exported.source, exported.class_name)
    torch.fx.symbolic_trace(model)
    torch.jit.script(model)
    ruff_clean(exported.source, tmp_path)
    return exported.source, model, engine


def counted_macs(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulates per sample as FlopCounterMode counts them (oneDNN off: its
    fused LSTM kernel is invisible to the counter)."""
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter, torch.backends.mkldnn.flags(enabled=False):
        model(x)
    return counter.get_total_flops() // 2 // BATCH


def same_weights(reference: nn.Module, model: nn.Module) -> None:
    """Copy the exported module's parameters into the hand-written one, in order."""
    theirs, ours = list(reference.parameters()), list(model.parameters())
    assert [p.shape for p in theirs] == [p.shape for p in ours]
    with torch.no_grad():
        for target, source in zip(theirs, ours):
            target.copy_(source)


def agrees_with(reference: nn.Module, model: nn.Module, engine: Engine, x: torch.Tensor) -> None:
    """The exported module computes what the reference computes, with the designer's
    parameters, MACs and output shape."""
    reference.eval()
    same_weights(reference, model)
    with torch.no_grad():
        expected, got = reference(x), model(x)
    torch.testing.assert_close(got, expected)
    totals = engine.totals()
    assert sum(p.numel() for p in model.parameters()) == totals.params
    assert counted_macs(model, x) == totals.macs
    (output,) = [r for n, r in engine.results.items() if n in ("fc", "tags")]
    assert tuple(got.shape) == (BATCH, *output.shape)


class LSTMNet(nn.Module):
    """torchinfo's LSTMNet, classifying from the last layer's final state."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(20, 300)
        self.encoder = nn.LSTM(300, 512, num_layers=2, batch_first=True)
        self.decoder = nn.Linear(512, 20)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.encoder(self.embedding(x))
        return self.decoder(h_n[-1])


def lstm_net(head: Node) -> Architecture:
    return build(
        "LSTMNet",
        {"shape": [100], "dtype": "int64"},
        ("embedding", "Embedding", {"num_embeddings": 20, "embedding_dim": 300}, ("x",)),
        (
            "encoder",
            "LSTM",
            {"hidden_size": 512, "num_layers": 2, "batch_first": True},
            ("embedding",),
        ),
        head,
        ("fc", "Linear", {"out_features": 20}, ("last",)),
    )


def test_lstm_net_from_h_n(tmp_path: Path) -> None:
    arch = lstm_net(("last", "Select", {"dim": 0, "index": -1}, (("encoder", 1),)))
    source, model, engine = exported_model(arch, tmp_path)
    assert "_, (encoder_h_n, _) = self." in source
    assert "encoder_h_n[-1]" in source
    assert engine.totals().params == 3_784_580
    ids = torch.randint(0, 20, (BATCH, 100))
    agrees_with(LSTMNet(), model, engine, ids)


def test_lstm_net_from_the_last_step(tmp_path: Path) -> None:
    """The last step of the output is the last layer's h_n: the same classifier."""
    arch = lstm_net(("last", "Select", {"dim": 1, "index": -1}, ("encoder",)))
    source, model, engine = exported_model(arch, tmp_path)
    assert ", (_, _)" not in source  # a group nothing reads is one `_`
    assert engine.totals().params == 3_784_580
    agrees_with(LSTMNet(), model, engine, torch.randint(0, 20, (BATCH, 100)))


class Tagger(nn.Module):
    """A bidirectional GRU tagging every step of a sequence."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(16, 32, num_layers=2, batch_first=True, bidirectional=True)
        self.tags = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.gru(x)
        return self.tags(output)


def test_bidirectional_gru_tagger(tmp_path: Path) -> None:
    arch = build(
        "Tagger",
        {"shape": [30, 16]},
        (
            "gru",
            "GRU",
            {"hidden_size": 32, "num_layers": 2, "batch_first": True, "bidirectional": True},
            ("x",),
        ),
        ("tags", "Linear", {"out_features": 10}, ("gru",)),
    )
    source, model, engine = exported_model(arch, tmp_path)
    assert "gru_output, _ = self.gru(x)" in source
    assert engine.results["tags"].shape == (30, 10)
    agrees_with(Tagger(), model, engine, torch.randn(BATCH, 30, 16))


class SequenceFirst(nn.Module):
    """An LSTM with batch_first=False, fed (L, N, H) and classifying from h_n[-1]."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(6, 8, num_layers=2)
        self.fc = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.lstm(torch.transpose(x, 0, 1))
        return self.fc(h_n[-1])


def test_sequence_first_lstm_through_a_transpose(tmp_path: Path) -> None:
    arch = build(
        "Sequence first",
        {"shape": [12, 6]},
        ("swap", "Transpose", {"dim0": 0, "dim1": 1}, ("x",)),
        ("lstm", "LSTM", {"hidden_size": 8, "num_layers": 2}, ("swap",)),
        ("last", "Select", {"dim": 0, "index": -1}, (("lstm", 1),)),
        ("fc", "Linear", {"out_features": 3}, ("last",)),
    )
    source, model, engine = exported_model(arch, tmp_path)
    assert "_, (lstm_h_n, _) = self.lstm(swap)" in source
    assert "lstm_h_n[-1]" in source
    assert engine.results["swap"].output.batch_axis == 1
    agrees_with(SequenceFirst(), model, engine, torch.randn(BATCH, 12, 6))


def test_every_slot_of_an_lstm_is_returned_and_verified(tmp_path: Path) -> None:
    """An LSTM whose three outputs are the design's outputs: forward returns each, h_n
    and c_n holding the batch at dim 1 as torch's do, and verify compares all three."""
    arch = build(
        "States",
        {"shape": [5, 4]},
        (
            "lstm",
            "LSTM",
            {"hidden_size": 6, "proj_size": 3, "bidirectional": True, "batch_first": True},
            ("x",),
        ),
    )
    source, model, engine = exported_model(arch, tmp_path)
    assert "lstm_output, (lstm_h_n, lstm_c_n) = self.lstm(x)" in source
    with torch.no_grad():
        output, h_n, c_n = model(torch.randn(BATCH, 5, 4))
    assert (tuple(output.shape), tuple(h_n.shape), tuple(c_n.shape)) == (
        (BATCH, 5, 6),
        (2, BATCH, 3),
        (2, BATCH, 6),
    )
    assert [(t.shape, t.batch_axis) for t in engine.results["lstm"].outputs] == [
        ((5, 6), 0),
        ((2, 3), 1),
        ((2, 6), 1),
    ]


def test_verify_sees_a_batch_torch_holds_elsewhere() -> None:
    """verify compares whole shapes: a sequence-first tensor the designer took for a
    batch-first one would be a difference, not a coincidence of sizes."""
    arch = build(
        "States",
        {"shape": [5, 3]},
        ("gru", "GRU", {"hidden_size": 4, "batch_first": True}, ("x",)),
    )
    engine = analyse(arch)
    exported = export(arch, engine)
    wrong = exported.source.replace("batch_first=True", "batch_first=False")
    # torch's output (2, 5, 4) looks like the designer's batch-first one; its h_n does not
    assert verify(replace(exported, source=wrong), arch, engine) == [
        "gru: output 1 torch gives 1x5x4 at a batch of 2, the designer 1x2x4 (the batch at dim 1)"
    ]


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_a_recurrent_layer_in_a_run_of_modules(kind: str, tmp_path: Path) -> None:
    """A recurrent layer after another module joins its nn.Sequential; the run returns
    its tuple, unpacked after the run."""
    arch = build(
        "Run",
        {"shape": [7], "dtype": "int64"},
        ("embedding", "Embedding", {"num_embeddings": 11, "embedding_dim": 5}, ("x",)),
        ("rnn", kind, {"hidden_size": 4, "batch_first": True}, ("embedding",)),
        ("last", "Select", {"dim": 0, "index": -1}, (("rnn", 1),)),
    )
    _, model, engine = exported_model(arch, tmp_path)
    with torch.no_grad():
        got = model(torch.randint(0, 11, (BATCH, 7)))
    assert tuple(got.shape) == (BATCH, *engine.results["last"].shape)
    assert sum(p.numel() for p in model.parameters()) == engine.totals().params
