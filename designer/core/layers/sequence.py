"""Embedding and the recurrent layers RNN, LSTM and GRU.

Shapes, per sample as everywhere in the designer: Embedding maps token ids of any shape to
(*ids, embedding_dim), float32. A recurrent layer takes a sequence (L, H_in) and gives
output (L, D·H_out), h_n (D·num_layers, H_out) and, for LSTM, c_n (D·num_layers,
hidden_size): D is 2 when bidirectional, H_out is proj_size where it is set (LSTM only),
else hidden_size. The output slots are LSTM 0 output, 1 h_n, 2 c_n; GRU and RNN 0 output,
1 h_n.

Where the batch is: with batch_first the input and output hold it at dim 0 (N, L, H);
otherwise torch reads dim 0 as the sequence, so the input must hold the batch at dim 1
(after a layer with batch_first=False, or a Transpose of dims 0 and 1) and the output holds
it there too. h_n and c_n hold it at dim 1 always, as torch returns them: `h_n[-1]`, a
Select of dim 0, gives the last layer's state batch-first. Embedding keeps the batch where
its input has it.

MACs, per step, layer and direction: gates × hidden × (input + H_out), gates being 1 for
RNN, 3 for GRU and 4 for LSTM, and input the layer's input width (input_size for the first
layer, D·H_out above it); an LSTM with proj_size P multiplies the hidden-to-hidden weights
by the P-wide projected state (so H_out = P above) and adds the projection itself,
hidden × P. Summed over the L steps, the layers and the directions; bias excluded. This is
what torch's FlopCounterMode counts (as 2 FLOPs each). Embedding is a lookup: 0.

FLOPs: 2 × MACs, plus the bias additions where `bias` is set: b_ih and b_hh, 2 × gates ×
hidden per step, layer and direction. The gates' nonlinearities and the elementwise state
updates are not counted. Embedding: 0.

Receptive fields: a recurrent output step depends on every step before it (and after it,
bidirectional), which no window and stride describe; a sequence layer is taken to see its
whole input, as Flatten and global pooling do, and its outputs have no receptive field (the
report's rf column is empty after them). Embedding's output has none either: its last axis
is a learned vector, not a position.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from designer.core.params import Kind, Param, ParamError, show_value
from designer.core.spec import (
    LayerError,
    LayerOutput,
    LayerSpec,
    Module,
    Tensor,
    check_inferred,
    dims,
    last_dimension,
)

CATEGORY = "Sequence"
TOKEN_DTYPES = ("int64", "int32")
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


# --- Embedding ----------------------------------------------------------------------------


def _check_embedding(p: dict[str, Any]) -> None:
    """torch asserts that padding_idx names a row of the table, from either end."""
    rows, padding = p["num_embeddings"], p["padding_idx"]
    if padding is not None and not -rows <= padding < rows:
        raise ParamError(
            "padding_idx",
            f"{padding} must be within num_embeddings {rows}: from {-rows} to {rows - 1} "
            "(PyTorch refuses it)",
        )


def _embedding(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    if x.dtype not in TOKEN_DTYPES:
        raise LayerError(
            f"Embedding takes integer token ids (int64 or int32), got {x.dtype}: "
            "give the Input dtype int64"
        )
    width = p["embedding_dim"]
    return LayerOutput(
        (*x.shape, width),
        None,
        params=p["num_embeddings"] * width,
        dtype="float32",
    )


# --- RNN, LSTM, GRU -----------------------------------------------------------------------


def _check_recurrent(p: dict[str, Any]) -> None:
    proj, hidden = p.get("proj_size", 0), p["hidden_size"]
    if proj >= hidden:
        raise ParamError(
            "proj_size",
            f"{proj} must be smaller than hidden_size {hidden} (PyTorch refuses it)",
        )


def _expect_sequence(layer: str, x: Tensor, batch_first: bool) -> None:
    """Refuse an input that is not one sequence (L, H_in) per sample, or whose batch is
    not where batch_first tells torch to read it."""
    if len(x.shape) != 2:
        hint = (
            "; Unsqueeze dim 1 for a sequence of length 1"
            if len(x.shape) == 1
            else "; Flatten the features of each step into one dimension"
        )
        raise LayerError(
            f"{layer} takes a sequence L×H_in per sample, got {dims(x.shape)} "
            f"({len(x.shape)}-D){hint}"
        )
    wanted = 0 if batch_first else 1
    if x.batch_axis == wanted:
        return
    if batch_first:
        raise LayerError(
            f"{layer} with batch_first=true reads (N, L, H_in), but this input holds the "
            f"batch at dim {x.batch_axis}: set batch_first=false, or "
            "Transpose dims 0 and 1 before it"
        )
    raise LayerError(
        f"{layer} with batch_first=false reads (L, N, H_in), but this input holds the batch "
        f"at dim {x.batch_axis}: set batch_first=true, or Transpose dims 0 and 1 before it"
    )


def _per_step(gates: int, p: dict[str, Any], input_size: int) -> tuple[int, int]:
    """Weights and multiply-accumulates of one step over every layer and direction (the
    same count: each weight is used once per step), and the bias parameters. Layers above
    the first all read the D·H_out-wide output of the one below: counted in closed form,
    however many there are."""
    hidden, proj, layers = p["hidden_size"], p.get("proj_size", 0), p["num_layers"]
    out = proj or hidden
    directions = 2 if p["bidirectional"] else 1

    def layer(width: int) -> int:
        return directions * (gates * hidden * (width + out) + hidden * proj)

    weights = layer(input_size) + (layers - 1) * layer(directions * out)
    biases = 2 * gates * hidden * directions * layers if p["bias"] else 0
    return weights, biases


def _recurrent(layer: str):
    gates = GATES[layer]

    def evaluate(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
        (x,) = inputs
        _expect_sequence(layer, x, p["batch_first"])
        steps, features = x.shape
        check_inferred(p, "input_size", features)
        hidden, proj = p["hidden_size"], p.get("proj_size", 0)
        out = proj or hidden
        directions = 2 if p["bidirectional"] else 1
        states = directions * p["num_layers"]
        weights, biases = _per_step(gates, p, features)
        macs = steps * weights
        more = [Tensor((states, out), None, x.dtype, 1)]
        if layer == "LSTM":
            more.append(Tensor((states, hidden), None, x.dtype, 1))
        warnings = ()
        if p["dropout"] > 0 and p["num_layers"] == 1:
            warning = (
                f"dropout {show_value(p['dropout'])} acts between stacked layers: with "
                "num_layers 1 it does nothing (PyTorch warns)"
            )
            warnings = (warning,)
        return LayerOutput(
            (steps, directions * out),
            None,
            params=weights + biases,
            macs=macs,
            flops=2 * macs + steps * biases,
            warnings=warnings,
            more=tuple(more),
        )

    return evaluate


def _recurrent_slots(layer: str):
    names = ("output", "h_n", "c_n") if layer == "LSTM" else ("output", "h_n")
    return lambda p: names


def _recurrent_params(layer: str) -> tuple[Param, ...]:
    """torch's constructor arguments, in its order: RNN adds nonlinearity after
    num_layers, LSTM adds proj_size at the end."""
    head = (
        Param(
            "input_size",
            Kind.INT,
            None,
            minimum=1,
            nullable=True,
            inferred=True,
            from_input=last_dimension,
        ),
        Param("hidden_size", Kind.INT, 64, minimum=1, required=True),
        Param("num_layers", Kind.INT, 1, minimum=1, help="recurrent layers stacked"),
    )
    nonlinearity = Param("nonlinearity", Kind.CHOICE, "tanh", choices=("tanh", "relu"))
    tail = (
        Param("bias", Kind.BOOL, True),
        Param(
            "batch_first",
            Kind.BOOL,
            False,
            help="true: (N, L, H) in and out; false: the input holds the batch at dim 1",
        ),
        Param(
            "dropout",
            Kind.FLOAT,
            0.0,
            minimum=0,
            maximum=1,
            help="between stacked layers, not after the last",
        ),
        Param("bidirectional", Kind.BOOL, False),
    )
    proj = Param(
        "proj_size",
        Kind.INT,
        0,
        minimum=0,
        help="0: none; else h_n and the output are projected to this width",
    )
    if layer == "RNN":
        return (*head, nonlinearity, *tail)
    if layer == "LSTM":
        return (*head, *tail, proj)
    return (*head, *tail)


_SUMMARIES = {
    "RNN": "Elman recurrent layer: tanh or relu of the input and the previous state",
    "LSTM": "long short-term memory: outputs 0 output, 1 h_n, 2 c_n",
    "GRU": "gated recurrent unit: outputs 0 output, 1 h_n",
}


def _recurrent_spec(layer: str) -> LayerSpec:
    return LayerSpec(
        layer,
        CATEGORY,
        _recurrent_params(layer),
        _recurrent(layer),
        summary=_SUMMARIES[layer] + " (per sample: L×H_in in, L×D·H_out out)",
        check=_check_recurrent,
        suggested={"batch_first": True},
        torch_name=layer,
        written_as=Module(
            positional=("input_size", "hidden_size"),
            returns=(0, (1, 2)) if layer == "LSTM" else None,
        ),
        slots=_recurrent_slots(layer),
        batch_anywhere=True,
    )


SPECS = [
    LayerSpec(
        "Embedding",
        CATEGORY,
        (
            Param("num_embeddings", Kind.INT, 1000, minimum=1, required=True),
            Param("embedding_dim", Kind.INT, 128, minimum=1, required=True),
            Param(
                "padding_idx",
                Kind.INT,
                None,
                nullable=True,
                help="a row whose vector is not trained",
            ),
            Param("max_norm", Kind.FLOAT, None, nullable=True),
            Param("norm_type", Kind.FLOAT, 2.0),
            Param("scale_grad_by_freq", Kind.BOOL, False),
            Param("sparse", Kind.BOOL, False),
        ),
        _embedding,
        summary="a learned vector per token id: int ids of any shape → (*ids, embedding_dim)",
        check=_check_embedding,
        torch_name="Embedding",
        written_as=Module(positional=("num_embeddings", "embedding_dim")),
        dtypes="any",
        batch_anywhere=True,
    ),
    _recurrent_spec("RNN"),
    _recurrent_spec("LSTM"),
    _recurrent_spec("GRU"),
]
