"""PyTorch as the oracle for MultiheadAttention, TransformerEncoderLayer and
TransformerDecoderLayer.

Hypothesis draws their constructor arguments and small sequences; the same arguments build
the real torch.nn module (eval mode), which runs a batch of 2, laid out as `batch_first`
says ([N, L, E], or [L, N, E]). Where torch refuses, the engine must refuse; where it
computes, the engine gives every output slot's shape (and where its batch is), the
parameters and the MACs.

FlopCounterMode does not see the attention kernels torch 2.13 takes on the CPU, so MACs are
held to a reimplementation written here with plain products (F.linear for projections,
`@` for Q·Kᵀ and the weights times V): it must give the module's own outputs from the
module's own weights, and FlopCounterMode counts its products (2 FLOPs per
multiply-accumulate). A few cases are also checked by hand against the contract's formula.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from designer.core import receptive
from designer.core.graph import Architecture, NodeRecord
from designer.core.params import ParamError
from designer.core.propagate import analyse
from designer.core.registry import LAYERS
from designer.core.spec import LayerError, LayerOutput, Shape, Tensor
from tests.helpers import chain

EXAMPLES_PER_TYPE = 50
BATCH = 2

Strategy = st.SearchStrategy
Tensors = Sequence[torch.Tensor]


@dataclass(frozen=True)
class Case:
    """One layer with the params a user would write, fed sequences of these shapes (per
    sample), laid out as its batch_first says."""

    name: str
    params: dict[str, Any]
    shapes: tuple[Shape, ...]

    @property
    def batch_first(self) -> bool:
        return self.params.get("batch_first", False) is True


@dataclass(frozen=True)
class TorchResult:
    """Every output slot's shape (batch dropped) and where its batch was, the parameters,
    and the FLOPs FlopCounterMode counts on the reimplementation."""

    shapes: tuple[Shape, ...]
    batch_axes: tuple[int, ...]
    params: int
    flops: int


# --- drawing ------------------------------------------------------------------------------


def mostly(usual: Strategy, rare: Strategy, odds: int = 8) -> Strategy:
    """`usual` about odds-1 times in odds, else `rare`."""
    return st.sampled_from([usual] * (odds - 1) + [rare]).flatmap(lambda chosen: chosen)


@st.composite
def width(draw, heads: int) -> int:
    """A width the heads divide (head_dim 1 to 3), now and then any width."""
    return draw(mostly(st.integers(1, 3).map(lambda d: d * heads), st.integers(1, 9)))


def some(draw, params: dict[str, Any], values: dict[str, Strategy]) -> None:
    """Write each argument about half the time, as a user leaves defaults alone."""
    for name, value in values.items():
        if draw(st.booleans()):
            params[name] = draw(value)


@st.composite
def multihead_attention(draw) -> Case:
    """Query [L, E], key [S, kdim], value [S, vdim]; rarely a key or value that does not
    fit, positions that differ, or a query that is not one sequence per sample."""
    heads = draw(st.integers(1, 4))
    embed = draw(width(heads))
    length, source = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    params: dict[str, Any] = {"num_heads": heads}
    some(draw, params, {"kdim": st.integers(1, 6), "vdim": st.integers(1, 6)})
    key, value = params.get("kdim", embed), params.get("vdim", embed)
    query, positions = (length, embed), source
    misfit = draw(mostly(st.none(), st.sampled_from(("key", "value", "positions", "rank"))))
    if misfit == "key":
        key += 1
    elif misfit == "value":
        value += 1
    elif misfit == "positions":
        positions += 1
    elif misfit == "rank":
        query = (2, length, embed)
    some(
        draw,
        params,
        {
            "dropout": st.sampled_from((0.0, 0.1, 1.0)),
            "bias": st.booleans(),
            "add_bias_kv": st.booleans(),
            "add_zero_attn": st.booleans(),
            "batch_first": st.booleans(),
        },
    )
    if draw(mostly(st.just(False), st.just(True), odds=4)):  # written, as imported code has it
        params["embed_dim"] = draw(mostly(st.just(embed), st.integers(1, 8), odds=3))
    return Case("MultiheadAttention", params, (query, (source, key), (positions, value)))


@st.composite
def transformer(draw, name: str) -> Case:
    """A sequence [L, E] (and for the decoder a memory [S, E], rarely of another width);
    rarely an argument torch refuses whatever the input."""
    nhead = draw(st.integers(1, 4))
    embed = draw(width(nhead))
    params: dict[str, Any] = {"nhead": nhead}
    some(
        draw,
        params,
        {
            "dim_feedforward": st.integers(1, 8),
            "dropout": mostly(st.sampled_from((0.0, 0.1, 1.0)), st.just(1.5)),
            "activation": mostly(st.sampled_from(("relu", "gelu")), st.just("tanh")),
            "layer_norm_eps": st.sampled_from((1e-5, 1e-3, 0.1)),
            "batch_first": st.booleans(),
            "norm_first": st.booleans(),
            "bias": st.booleans(),
        },
    )
    if draw(mostly(st.just(False), st.just(True), odds=4)):
        params["d_model"] = draw(mostly(st.just(embed), st.integers(1, 8), odds=3))
    shapes: tuple[Shape, ...] = ((draw(st.integers(1, 5)), embed),)
    if name == "TransformerDecoderLayer":
        memory = draw(mostly(st.just(embed), st.integers(1, 9)))
        shapes += ((draw(st.integers(1, 5)), memory),)
    return Case(name, params, shapes)


CASES: dict[str, Strategy] = {
    "MultiheadAttention": multihead_attention(),
    "TransformerEncoderLayer": transformer("TransformerEncoderLayer"),
    "TransformerDecoderLayer": transformer("TransformerDecoderLayer"),
}


# --- the reimplementation: plain products on the module's own weights --------------------


def attend(m: nn.MultiheadAttention, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
    """MultiheadAttention on batch-first tensors: (output, weights averaged over heads)."""
    n, length, embed = q.shape
    heads, head_dim = m.num_heads, embed // m.num_heads
    if m._qkv_same_embed_dim:
        wq, wk, wv = m.in_proj_weight.chunk(3)
    else:
        wq, wk, wv = m.q_proj_weight, m.k_proj_weight, m.v_proj_weight
    bq, bk, bv = m.in_proj_bias.chunk(3) if m.in_proj_bias is not None else (None,) * 3
    queries, keys, values = F.linear(q, wq, bq), F.linear(k, wk, bk), F.linear(v, wv, bv)
    if m.bias_k is not None:
        keys = torch.cat([keys, m.bias_k.expand(n, 1, embed)], 1)
        values = torch.cat([values, m.bias_v.expand(n, 1, embed)], 1)
    if m.add_zero_attn:
        keys = torch.cat([keys, keys.new_zeros(n, 1, embed)], 1)
        values = torch.cat([values, values.new_zeros(n, 1, embed)], 1)

    def by_head(x: torch.Tensor) -> torch.Tensor:
        return x.view(n, -1, heads, head_dim).transpose(1, 2)

    scores = (by_head(queries) / math.sqrt(head_dim)) @ by_head(keys).transpose(-2, -1)
    weights = scores.softmax(-1)
    mixed = (weights @ by_head(values)).transpose(1, 2).reshape(n, length, embed)
    return F.linear(mixed, m.out_proj.weight, m.out_proj.bias), weights.mean(1)


def _norm(norm: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)


def _feed_forward(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
    act = F.gelu if m.activation is F.gelu else F.relu
    hidden = act(F.linear(x, m.linear1.weight, m.linear1.bias))
    return F.linear(hidden, m.linear2.weight, m.linear2.bias)


def _sublayers(m: nn.Module, x: torch.Tensor, blocks: Sequence[Callable], norms) -> torch.Tensor:
    """Residual sublayers, each with its LayerNorm before (norm_first) or after."""
    for block, norm in zip(blocks, norms):
        x = x + block(_norm(norm, x)) if m.norm_first else _norm(norm, x + block(x))
    return x


def encode(m: nn.TransformerEncoderLayer, src: torch.Tensor) -> tuple[torch.Tensor]:
    blocks = (lambda x: attend(m.self_attn, x, x, x)[0], lambda x: _feed_forward(m, x))
    return (_sublayers(m, src, blocks, (m.norm1, m.norm2)),)


def decode(
    m: nn.TransformerDecoderLayer, tgt: torch.Tensor, memory: torch.Tensor
) -> tuple[torch.Tensor]:
    blocks = (
        lambda x: attend(m.self_attn, x, x, x)[0],
        lambda x: attend(m.multihead_attn, x, memory, memory)[0],
        lambda x: _feed_forward(m, x),
    )
    return (_sublayers(m, tgt, blocks, (m.norm1, m.norm2, m.norm3)),)


REIMPLEMENTED: dict[str, Callable[..., tuple[torch.Tensor, ...]]] = {
    "MultiheadAttention": attend,
    "TransformerEncoderLayer": encode,
    "TransformerDecoderLayer": decode,
}


# --- the two sides ------------------------------------------------------------------------

INFERRED = {
    "MultiheadAttention": "embed_dim",
    "TransformerEncoderLayer": "d_model",
    "TransformerDecoderLayer": "d_model",
}


def torch_module(case: Case) -> nn.Module:
    """The torch.nn module of the same name and args, the width from the first input."""
    args = {INFERRED[case.name]: case.shapes[0][-1], **case.params}
    return getattr(nn, case.name)(**args).eval()


def _batch_axes(case: Case) -> tuple[int, ...]:
    """Where torch's outputs hold the batch: the layout's; attention weights first."""
    axis = 0 if case.batch_first else 1
    return (axis, 0) if case.name == "MultiheadAttention" else (axis,)


def _first(x: torch.Tensor, axis: int) -> torch.Tensor:
    return x if axis == 0 else x.transpose(0, axis)


def torch_forward(case: Case, samples: Tensors) -> tuple[nn.Module, tuple] | Exception:
    """The module and its outputs on batch-first `samples`, laid out as the case says; or
    torch's refusal."""
    axis = 0 if case.batch_first else 1
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            module = torch_module(case)
            y = module(*(_first(x, axis) for x in samples))
    except Exception as refusal:  # noqa: BLE001 - torch refuses with many types
        return refusal
    return module, y if isinstance(y, tuple) else (y,)


def run_torch(case: Case) -> TorchResult | Exception:
    """Torch's outputs, or its refusal; the reimplementation must give the same values,
    and FlopCounterMode counts its products."""
    samples = [torch.randn(BATCH, *shape) for shape in case.shapes]
    ran = torch_forward(case, samples)
    if isinstance(ran, Exception):
        return ran
    module, outputs = ran
    axes = _batch_axes(case)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        mine = REIMPLEMENTED[case.name](module, *samples)
    for theirs, ours, at in zip(outputs, mine, axes):
        torch.testing.assert_close(_first(theirs, at), ours, atol=1e-5, rtol=1e-4)
    return TorchResult(
        tuple(tuple(n for i, n in enumerate(t.shape) if i != at) for t, at in zip(outputs, axes)),
        axes,
        sum(p.numel() for p in module.parameters()),
        counter.get_total_flops(),
    )


def run_engine(case: Case, batch_axis: int | None = None) -> LayerOutput | ParamError | LayerError:
    """The engine's figures for inputs laid out as the case's batch_first says (or at
    `batch_axis`)."""
    spec = LAYERS[case.name]
    axis = (0 if case.batch_first else 1) if batch_axis is None else batch_axis
    tensors = [
        Tensor(s, receptive.input_fields(s[1:]) if len(s) > 1 else None, "float32", axis)
        for s in case.shapes
    ]
    try:
        explicit = spec.validate(case.params)
        return spec.apply(tensors, spec.resolve(explicit))
    except (ParamError, LayerError) as refusal:
        return refusal


def agree(case: Case) -> str:
    """Assert that engine and torch agree on `case`; say whether both refused or compared."""
    expected = run_torch(case)
    got = run_engine(case)
    if isinstance(expected, Exception):
        assert isinstance(got, Exception), (
            f"torch refuses {case} ({type(expected).__name__}: {expected}), "
            f"but the engine gives {got}"
        )
        return "refused"
    assert not isinstance(got, Exception), (
        f"the engine refuses {case} ({got}), but torch gives {expected}"
    )
    assert (got.shape, *(t.shape for t in got.more)) == expected.shapes, case
    assert (got.batch_axis, *(t.batch_axis for t in got.more)) == expected.batch_axes, case
    assert got.params == expected.params, case
    assert 2 * got.macs * BATCH == expected.flops, case
    return "compared"


# --- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_engine_agrees_with_torch(name: str) -> None:
    outcomes: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES_PER_TYPE,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(CASES[name])
    def agrees(case: Case) -> None:
        outcomes[agree(case)] += 1

    agrees()
    assert outcomes["compared"] >= EXAMPLES_PER_TYPE // 3, outcomes


def _macs(name: str, params: dict[str, Any], *shapes: Shape) -> int:
    out = run_engine(Case(name, {"batch_first": True, **params}, shapes))
    assert isinstance(out, LayerOutput), out
    return out.macs


def test_attention_macs_are_the_contract_formula() -> None:
    """Projections as Linears over every position, Q·Kᵀ and weights·V as heads × L × S ×
    head_dim each (L 5 queries, S 7 keys, E 8 in 2 heads of 4)."""
    projections = 5 * 8 * 8 + 7 * 8 * 8 + 7 * 8 * 8 + 5 * 8 * 8  # q, k, v in; out
    products = 2 * (2 * 5 * 7 * 4)
    assert _macs("MultiheadAttention", {"num_heads": 2}, (5, 8), (7, 8), (7, 8)) == (
        projections + products
    )
    # key of width 3, value of width 6; add_bias_kv and add_zero_attn make 9 keys
    wide = {"num_heads": 2, "kdim": 3, "vdim": 6, "add_bias_kv": True, "add_zero_attn": True}
    assert _macs("MultiheadAttention", wide, (5, 8), (7, 3), (7, 6)) == (
        5 * 8 * 8 + 7 * 3 * 8 + 7 * 6 * 8 + 5 * 8 * 8 + 2 * (2 * 5 * 9 * 4)
    )


def test_transformer_macs_are_attention_and_feed_forward() -> None:
    """An encoder of E 8, 2 heads, dim_feedforward 16 over 5 positions; a decoder of 5
    positions over a memory of 7."""
    self_attention = 4 * 5 * 8 * 8 + 2 * (2 * 5 * 5 * 4)
    feed_forward = 5 * 8 * 16 + 5 * 16 * 8
    encoder = {"nhead": 2, "dim_feedforward": 16}
    assert _macs("TransformerEncoderLayer", encoder, (5, 8)) == self_attention + feed_forward
    cross_attention = 5 * 8 * 8 + 2 * 7 * 8 * 8 + 5 * 8 * 8 + 2 * (2 * 5 * 7 * 4)
    assert _macs("TransformerDecoderLayer", encoder, (5, 8), (7, 8)) == (
        self_attention + cross_attention + feed_forward
    )


def test_flops_follow_the_documented_convention() -> None:
    """One head over 2 queries and 3 keys of width 4, without biases: each projection
    2 × MACs less its outputs, the products 2 × MACs, 4 per weight for the scaling and
    softmax and 1 per weight for the average over heads."""
    params = {"num_heads": 1, "bias": False, "batch_first": True}
    out = run_engine(Case("MultiheadAttention", params, ((2, 4), (3, 4), (3, 4))))
    projections = (2 * 32 - 8) + 2 * (2 * 48 - 12) + (2 * 32 - 8)  # q, k and v, out
    products = 2 * (2 * 2 * 3 * 4)
    assert out.flops == projections + products + 4 * 6 + 6
    encoder = run_engine(
        Case(
            "TransformerEncoderLayer",
            {"nhead": 1, "dim_feedforward": 3, "batch_first": True},
            ((2, 4),),
        )
    )
    attention = 2 * (4 * 2 * 16) + 2 * (2 * 2 * 2 * 4) + 4 * 4
    feed_forward = 2 * (2 * 4 * 3) + 2 * (2 * 3 * 4) + 2 * 3  # the Linears, the activation
    assert encoder.flops == attention + feed_forward + 2 * (5 + 1) * 8  # norms and residuals


# Arguments and inputs torch refuses: the engine must too, and say why with the numbers.
REFUSED = [
    (Case("MultiheadAttention", {"num_heads": 3, "embed_dim": 10}, ((4, 10),) * 3), ("10", "3")),
    (Case("MultiheadAttention", {"num_heads": 3}, ((4, 10),) * 3), ("10", "3")),
    (Case("MultiheadAttention", {"num_heads": 2, "kdim": 5}, ((4, 8), (6, 4), (6, 8))), ("4", "5")),
    (Case("MultiheadAttention", {"num_heads": 2}, ((4, 8), (6, 8), (6, 6))), ("6", "8")),
    (Case("MultiheadAttention", {"num_heads": 2}, ((4, 8), (6, 8), (5, 8))), ("6", "5")),
    (Case("MultiheadAttention", {"num_heads": 2}, ((3, 4, 8), (6, 8), (6, 8))), ("3x4x8",)),
    (Case("TransformerEncoderLayer", {"nhead": 4}, ((5, 6),)), ("6", "4")),
    (Case("TransformerEncoderLayer", {"nhead": 2, "d_model": 6}, ((5, 8),)), ("6", "8")),
    (Case("TransformerEncoderLayer", {"nhead": 2, "dropout": 1.5}, ((5, 8),)), ("1.5",)),
    (Case("TransformerEncoderLayer", {"nhead": 2, "activation": "tanh"}, ((5, 8),)), ("tanh",)),
    (Case("TransformerDecoderLayer", {"nhead": 2}, ((5, 8), (7, 6))), ("6", "8")),
]


@pytest.mark.parametrize(("case", "numbers"), REFUSED, ids=[c.name for c, _ in REFUSED])
def test_refusals_name_the_numbers(case: Case, numbers: tuple[str, ...]) -> None:
    assert agree(case) == "refused"
    message = str(run_engine(case))
    for number in numbers:
        assert number in message, message


# Inputs torch takes that the engine refuses on purpose: (why, case).
DELIBERATE_REFUSALS = [
    (
        "torch would read a query of one dimension per sample as one unbatched sequence",
        Case("MultiheadAttention", {"num_heads": 1, "batch_first": True}, ((8,),) * 3),
    ),
    (
        "torch ignores dropout outside [0, 1] in eval mode, and refuses it in training",
        Case("MultiheadAttention", {"num_heads": 1, "dropout": 1.5}, ((3, 8),) * 3),
    ),
    (
        "an eps of 0 can divide by zero: LayerNorm's eps is positive in the designer",
        Case("TransformerEncoderLayer", {"nhead": 1, "layer_norm_eps": 0.0}, ((3, 8),)),
    ),
    (
        "a feed-forward of width 0 leaves only the biases",
        Case("TransformerEncoderLayer", {"nhead": 1, "dim_feedforward": 0}, ((3, 8),)),
    ),
]


@pytest.mark.parametrize(
    ("why", "case"), DELIBERATE_REFUSALS, ids=[c.name for _, c in DELIBERATE_REFUSALS]
)
def test_deliberate_refusals(why: str, case: Case) -> None:
    samples = [torch.randn(BATCH, *shape) for shape in case.shapes]
    assert not isinstance(torch_forward(case, samples), Exception), "torch refuses it too"
    assert isinstance(run_engine(case), (ParamError, LayerError)), why


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_batch_must_be_where_batch_first_says(name: str) -> None:
    """Sequence-first layers take sequence-first inputs; batch-first ones, batch-first."""
    shapes = ((4, 8),) * LAYERS[name].inputs[0]
    heads = {"num_heads" if name == "MultiheadAttention" else "nhead": 2}
    sequence_first = run_engine(Case(name, heads, shapes), batch_axis=0)
    assert isinstance(sequence_first, LayerError)
    assert "batch_first=true" in str(sequence_first)
    assert "Transpose dims 0 and 1" in str(sequence_first)
    batch_first = run_engine(Case(name, {**heads, "batch_first": True}, shapes), batch_axis=1)
    assert isinstance(batch_first, LayerError)
    assert "dim 1" in str(batch_first)


def test_a_new_node_is_batch_first() -> None:
    """Inputs hold the batch first, so the palette suggests batch_first=true (PyTorch's
    default, false, would refuse them)."""
    for name in CASES:
        assert LAYERS[name].starting_params()["batch_first"] is True


def test_an_encoder_layer_sees_its_whole_input() -> None:
    """No window and stride describe it: as after Flatten, the output has no field."""
    arch = chain((5, 8), ("TransformerEncoderLayer", {"nhead": 2, "batch_first": True}))
    assert analyse(arch).results["input"].fields is not None
    assert analyse(arch).results["l1"].fields is None


def test_self_attention_in_a_graph() -> None:
    """One input feeding query, key and value; attention weights are [L, L]."""
    arch = Architecture("self attention")
    arch.add_node(NodeRecord("x", "Input", {"shape": [6, 8]}))
    arch.add_node(NodeRecord("attn", "MultiheadAttention", {"num_heads": 4, "batch_first": True}))
    for port in range(3):
        arch.connect("x", "attn", port)
    arch.add_node(NodeRecord("w", "Flatten"))
    arch.connect("attn", "w", output=1)
    engine = analyse(arch)
    output, weights = engine.results["attn"].outputs
    assert (output.shape, weights.shape) == ((6, 8), (6, 6))
    assert weights.fields is None
    assert engine.results["w"].shape == (36,)
    assert engine.results["attn"].params == 4 * 8 * 8 + 4 * 8


def test_sequence_first_attention_after_a_transpose() -> None:
    """Transpose dims 0 and 1 makes the sequence-first layout batch_first=false takes; the
    output stays sequence-first and the weights batch-first."""
    arch = Architecture("sequence first")
    arch.add_node(NodeRecord("x", "Input", {"shape": [6, 8]}))
    arch.add_node(NodeRecord("t", "Transpose", {"dim0": 0, "dim1": 1}))
    arch.connect("x", "t")
    arch.add_node(NodeRecord("attn", "MultiheadAttention", {"num_heads": 2}))
    for port in range(3):
        arch.connect("t", "attn", port)
    arch.add_node(NodeRecord("enc", "TransformerEncoderLayer", {"nhead": 2}))
    arch.connect("attn", "enc")
    engine = analyse(arch)
    assert engine.results["t"].output.batch_axis == 1
    output, weights = engine.results["attn"].outputs
    assert (output.shape, output.batch_axis) == ((6, 8), 1)
    assert (weights.shape, weights.batch_axis) == ((6, 6), 0)
    assert engine.results["enc"].output.batch_axis == 1
