"""MultiheadAttention, TransformerEncoderLayer and TransformerDecoderLayer, as torch.nn
builds them.

Inputs are sequences, [L, E] per sample. With `batch_first=false` (PyTorch's default)
torch's tensors hold the batch at dim 1, [L, N, E]: the inputs must then come
sequence-first (batch_axis 1, as a Transpose of dims 0 and 1 makes them), and so does the
output; attention weights always hold the batch first. MultiheadAttention runs its
forward with torch's defaults (need_weights=True, average_attn_weights=True): output 0
attn_output [L, E], output 1 attn_weights [L, S] averaged over the heads, S counting the
extra key of `add_bias_kv` and the zero key of `add_zero_attn`.

MACs (weight and tensor products, biases excluded): each projection is a Linear over every
position (query, key and value in-projections, the out-projection), and attention is
Q·Kᵀ and the weights times V, heads × L × S × head_dim each. A Transformer layer counts
its attention(s) (self-attention, and the decoder's attention over the memory) and its
two feed-forward Linears.

FLOPs: projections and feed-forward Linears as Linear counts them (2 × MACs, less one per
output element without a bias); the two attention products 2 × MACs; 4 per attention
weight and head for the scaling and the softmax (as ScaledDotProductAttention); and
MultiheadAttention's average of the weights over the heads, 1 per weight and head. A
Transformer layer adds 1 per residual addition and per element of the feed-forward
activation, and 5 per element for each LayerNorm; dropout is 0 (inference).

Receptive fields: every output unit sees the whole of its inputs (every position of every
sequence), which no window and stride describe; as Flatten, global pooling and the
recurrent layers do, these layers give their outputs no receptive field (the report's rf
column is empty after them). The engine merges the inputs' fields of any layer fed several
inputs itself, whatever the layer says (as for MatMul and ScaledDotProductAttention), so
MultiheadAttention's attn_output and the decoder layer's output show their inputs'
merged fields there; attention weights have none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from designer.core.params import Kind, Param, ParamError
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

CATEGORY = "Attention"
ACTIVATIONS = ("relu", "gelu")  # the strings torch takes; a callable cannot be stored
LAYER_NORM_FLOPS = 5  # per element, as designer.core.layers.norm counts LayerNorm


class Cost(NamedTuple):
    """What a part of a layer adds up to (a projection, an attention)."""

    params: int
    macs: int
    flops: int


# --- checks ---------------------------------------------------------------------------


def _batch_axis(layer: str, inputs: Sequence[Tensor], names: Sequence[str], first: bool) -> int:
    """Where the inputs must hold the batch, and the output will: dim 0 with batch_first,
    else dim 1 (torch reads [L, N, E]); a LayerError names the input that disagrees."""
    axis = 0 if first else 1
    for name, x in zip(names, inputs):
        if x.batch_axis == axis:
            continue
        if first:
            raise LayerError(
                f"{layer} has batch_first=true, but its {name} holds the batch at dim "
                f"{x.batch_axis} (sequence-first): set batch_first=false, or Transpose dims 0 "
                "and 1 before it"
            )
        raise LayerError(
            f"{layer} has batch_first=false (PyTorch's default), so torch would read its {name} "
            f"as [L, N, E], but it holds the batch at dim {x.batch_axis}: set batch_first=true, "
            "or Transpose dims 0 and 1 before it"
        )
    return axis


def _sequence(layer: str, name: str, x: Tensor) -> tuple[int, int]:
    """(L, E) of an input that must be one sequence per sample."""
    if len(x.shape) != 2:
        raise LayerError(
            f"{layer} takes a sequence [L, E] per sample as its {name}, got {dims(x.shape)} "
            f"({len(x.shape)}-D)"
        )
    length, embed = x.shape
    return length, embed


def _same_dtype(layer: str, inputs: Sequence[Tensor], names: Sequence[str]) -> None:
    if len({x.dtype for x in inputs}) > 1:
        raise LayerError(
            f"{layer} needs inputs of one dtype, got "
            + ", ".join(f"{n} {x.dtype}" for n, x in zip(names, inputs))
        )


def _heads_divide(width: int, heads: int, width_name: str, heads_name: str) -> str | None:
    """The complaint where `heads` does not divide `width`, torch's assertion in words."""
    if width % heads == 0:
        return None
    return f"{width_name} {width} is not divisible by {heads_name} {heads}"


def _check_mha(p: dict[str, Any]) -> None:
    if p.get("embed_dim") is not None:
        problem = _heads_divide(p["embed_dim"], p["num_heads"], "embed_dim", "num_heads")
        if problem:
            raise ParamError("num_heads", problem)


def _check_transformer(p: dict[str, Any]) -> None:
    if p.get("d_model") is not None:
        problem = _heads_divide(p["d_model"], p["nhead"], "d_model", "nhead")
        if problem:
            raise ParamError("nhead", problem)


# --- costs ----------------------------------------------------------------------------


def _projection(rows: int, features: int, out: int, bias: bool) -> Cost:
    """A Linear applied to `rows` vectors, counted as Linear counts it."""
    macs = rows * features * out
    return Cost(features * out + (out if bias else 0), macs, 2 * macs - (0 if bias else rows * out))


def _attention(
    length: int,
    source: int,
    key_dim: int,
    value_dim: int,
    embed: int,
    heads: int,
    bias: bool,
    columns: int,
    averaged: bool,
) -> Cost:
    """One multi-head attention of `length` queries over `source` keys and values (of
    widths key_dim and value_dim), each query weighing `columns` keys (source plus
    add_bias_kv's and add_zero_attn's). in_proj_bias stands for the three projections'
    biases, and out_proj.bias for the last one's: one bias of `embed` each."""
    parts = (
        _projection(length, embed, embed, bias),
        _projection(source, key_dim, embed, bias),
        _projection(source, value_dim, embed, bias),
        _projection(length, embed, embed, bias),
    )
    weights = heads * length * columns  # attention weights, every head
    products = 2 * length * columns * embed  # Q·Kᵀ and weights·V: heads × L × S × head_dim each
    return Cost(
        sum(c.params for c in parts),
        sum(c.macs for c in parts) + products,
        sum(c.flops for c in parts) + 2 * products + 4 * weights + (weights if averaged else 0),
    )


def _block(
    length: int, embed: int, p: dict[str, Any], attentions: Sequence[Cost], norms: int
) -> Cost:
    """A Transformer layer: its attentions, the feed-forward Linears with their activation,
    a LayerNorm and a residual addition after each of the `norms` sublayers."""
    hidden, bias = p["dim_feedforward"], p["bias"]
    parts = (
        *attentions,
        _projection(length, embed, hidden, bias),
        _projection(length, hidden, embed, bias),
    )
    elements = length * embed
    return Cost(
        sum(c.params for c in parts) + norms * embed * (2 if bias else 1),
        sum(c.macs for c in parts),
        sum(c.flops for c in parts)
        + length * hidden  # the activation
        + norms * (LAYER_NORM_FLOPS + 1) * elements,
    )


# --- layers ---------------------------------------------------------------------------

_MHA_PORTS = ("query", "key", "value")


def _multihead_attention(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    layer = "MultiheadAttention"
    q, k, v = inputs
    axis = _batch_axis(layer, inputs, _MHA_PORTS, p["batch_first"])
    length, embed = _sequence(layer, "query", q)
    source, key_dim = _sequence(layer, "key", k)
    value_source, value_dim = _sequence(layer, "value", v)
    _same_dtype(layer, inputs, _MHA_PORTS)
    check_inferred(p, "embed_dim", embed)
    heads = p["num_heads"]
    problem = _heads_divide(embed, heads, "embed_dim", "num_heads")
    if problem:
        raise LayerError(f"{problem} (embed_dim is the query's last dimension)")
    for name, written, actual in (("kdim", p["kdim"], key_dim), ("vdim", p["vdim"], value_dim)):
        expected = embed if written is None else written
        if actual != expected:
            port = "key" if name == "kdim" else "value"
            why = f"{name} {written}" if written is not None else f"embed_dim ({name} is null)"
            raise LayerError(f"the {port}'s last dimension is {actual}, but {why} is {expected}")
    if value_source != source:
        raise LayerError(
            f"key and value need as many positions: the key has {source}, the value {value_source}"
        )
    columns = source + int(p["add_bias_kv"]) + int(p["add_zero_attn"])
    cost = _attention(length, source, key_dim, value_dim, embed, heads, p["bias"], columns, True)
    return LayerOutput(
        (length, embed),
        None,
        params=cost.params + (2 * embed if p["add_bias_kv"] else 0),
        macs=cost.macs,
        flops=cost.flops,
        more=(Tensor((length, columns), None, q.dtype, 0),),
        batch_axis=axis,
    )


def _encoder_layer(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    layer = "TransformerEncoderLayer"
    (x,) = inputs
    axis = _batch_axis(layer, inputs, ("src",), p["batch_first"])
    length, embed = _sequence(layer, "src", x)
    check_inferred(p, "d_model", embed)
    problem = _heads_divide(embed, p["nhead"], "d_model", "nhead")
    if problem:
        raise LayerError(f"{problem} (d_model is the input's last dimension)")
    attention = _attention(
        length, length, embed, embed, embed, p["nhead"], p["bias"], length, False
    )
    cost = _block(length, embed, p, (attention,), 2)
    return LayerOutput(
        x.shape, None, params=cost.params, macs=cost.macs, flops=cost.flops, batch_axis=axis
    )


def _decoder_layer(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    layer = "TransformerDecoderLayer"
    tgt, memory = inputs
    names = ("tgt", "memory")
    axis = _batch_axis(layer, inputs, names, p["batch_first"])
    length, embed = _sequence(layer, "tgt", tgt)
    source, memory_dim = _sequence(layer, "memory", memory)
    _same_dtype(layer, inputs, names)
    check_inferred(p, "d_model", embed)
    heads, bias = p["nhead"], p["bias"]
    problem = _heads_divide(embed, heads, "d_model", "nhead")
    if problem:
        raise LayerError(f"{problem} (d_model is the tgt's last dimension)")
    if memory_dim != embed:
        raise LayerError(
            f"the memory's last dimension is {memory_dim}, but d_model (the tgt's) is {embed}"
        )
    attentions = (
        _attention(length, length, embed, embed, embed, heads, bias, length, False),
        _attention(length, source, embed, embed, embed, heads, bias, source, False),
    )
    cost = _block(length, embed, p, attentions, 3)
    return LayerOutput(
        tgt.shape, None, params=cost.params, macs=cost.macs, flops=cost.flops, batch_axis=axis
    )


def _mha_slots(p: dict[str, Any]) -> tuple[str, ...]:
    return ("attn_output", "attn_weights")


# --- declarations ---------------------------------------------------------------------


def _inferred_width(name: str, help: str) -> Param:
    return Param(
        name,
        Kind.INT,
        None,
        minimum=1,
        nullable=True,
        inferred=True,
        from_input=last_dimension,
        help=help,
    )


def _heads(name: str) -> Param:
    return Param(name, Kind.INT, 1, minimum=1, required=True, help="must divide the width")


_DROPOUT_HELP = "used in training; torch refuses a probability outside [0, 1] there"


_BATCH_FIRST = Param(
    "batch_first",
    Kind.BOOL,
    False,
    help="false (PyTorch's default): torch's tensors are [L, N, E], the batch at dim 1",
)


def _transformer_params() -> tuple[Param, ...]:
    return (
        _inferred_width("d_model", "the input's last dimension"),
        _heads("nhead"),
        Param("dim_feedforward", Kind.INT, 2048, minimum=1),
        Param("dropout", Kind.FLOAT, 0.1, minimum=0, maximum=1),
        Param(
            "activation",
            Kind.CHOICE,
            "relu",
            choices=ACTIVATIONS,
            help="by name: a Python function cannot be stored in a design",
        ),
        Param("layer_norm_eps", Kind.FLOAT, 1e-5, minimum=0, exclusive_minimum=True),
        _BATCH_FIRST,
        Param("norm_first", Kind.BOOL, False, help="LayerNorm before each sublayer"),
        Param("bias", Kind.BOOL, True, help="in the Linears and the LayerNorms"),
    )


SPECS = [
    LayerSpec(
        "MultiheadAttention",
        CATEGORY,
        (
            _inferred_width("embed_dim", "the query's last dimension"),
            _heads("num_heads"),
            Param("dropout", Kind.FLOAT, 0.0, minimum=0, maximum=1, help=_DROPOUT_HELP),
            Param("bias", Kind.BOOL, True),
            Param("add_bias_kv", Kind.BOOL, False, help="a learned extra key and value"),
            Param("add_zero_attn", Kind.BOOL, False, help="an extra key and value of zeros"),
            Param("kdim", Kind.INT, None, minimum=1, nullable=True, help="null: embed_dim"),
            Param("vdim", Kind.INT, None, minimum=1, nullable=True, help="null: embed_dim"),
            _BATCH_FIRST,
        ),
        _multihead_attention,
        summary="attention of port 0 query [L, E] over port 1 key [S, kdim] and port 2 "
        "value [S, vdim]; outputs attn_output [L, E] and attn_weights [L, S]",
        inputs=(3, 3),
        ports=("query", "key", "value"),
        check=_check_mha,
        suggested={"batch_first": True},
        torch_name="MultiheadAttention",
        written_as=Module(positional=("embed_dim", "num_heads")),
        slots=_mha_slots,
        batch_anywhere=True,
    ),
    LayerSpec(
        "TransformerEncoderLayer",
        CATEGORY,
        _transformer_params(),
        _encoder_layer,
        summary="self-attention and a feed-forward network, each with a residual and a "
        "LayerNorm: src [L, E] → [L, E]",
        check=_check_transformer,
        suggested={"batch_first": True},
        torch_name="TransformerEncoderLayer",
        written_as=Module(positional=("d_model", "nhead")),
        batch_anywhere=True,
    ),
    LayerSpec(
        "TransformerDecoderLayer",
        CATEGORY,
        _transformer_params(),
        _decoder_layer,
        summary="self-attention, attention over port 1 memory [S, E] and a feed-forward "
        "network: port 0 tgt [L, E] → [L, E]",
        inputs=(2, 2),
        ports=("tgt", "memory"),
        check=_check_transformer,
        suggested={"batch_first": True},
        torch_name="TransformerDecoderLayer",
        written_as=Module(positional=("d_model", "nhead")),
        batch_anywhere=True,
    ),
]
