"""PyTorch as the oracle for Embedding and the recurrent layers, and for the layers that
take a tensor holding the batch beyond dim 0 (a sequence-first tensor).

Hypothesis draws the arguments a user would write and a small input; the same arguments
build the real torch.nn module, which runs a batch of BATCH samples (a size no drawn
dimension has, so the batch's place in torch's output is unambiguous). Where torch refuses,
at construction or in the forward pass, the engine must refuse; where it computes, the
engine gives every output slot's whole shape (its per-sample shape with the batch put back
at its batch_axis), dtype, the parameters and the MACs: FlopCounterMode counts the
recurrent products (2 FLOPs per multiply-accumulate) once oneDNN, whose fused LSTM kernel
it cannot see, is off.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
import torch
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

EXAMPLES_PER_TYPE = 80
BATCH = 7  # no drawn dimension is 7
Strategy = st.SearchStrategy


@dataclass(frozen=True)
class SeqCase:
    """One layer with the params a user would write, fed one tensor of this per-sample
    shape and dtype that holds the batch at `batch_axis`."""

    name: str
    params: dict[str, Any]
    shape: Shape
    dtype: str = "float32"
    batch_axis: int = 0


@dataclass(frozen=True)
class TorchResult:
    shapes: tuple[Shape, ...]  # whole, batch included
    dtypes: tuple[str, ...]
    params: int
    flops: int


def mostly(usual: Strategy, rare: Strategy, odds: int = 8) -> Strategy:
    """`usual` about odds-1 times in odds, else `rare`."""
    return st.sampled_from([usual] * (odds - 1) + [rare]).flatmap(lambda chosen: chosen)


def maybe(params: dict[str, Any], draw, name: str, value: Strategy) -> None:
    """Write `name` now and then; otherwise leave it to its default."""
    if draw(st.booleans()):
        params[name] = draw(value)


# --- drawing ------------------------------------------------------------------------------


@st.composite
def embedding(draw) -> SeqCase:
    """Token ids of any shape (mostly int64, now and then a type torch refuses), the batch
    mostly first; a table mostly of a fitting size, padding_idx sometimes out of range."""
    rows = draw(mostly(st.integers(1, 10), st.just(0), odds=16))
    params: dict[str, Any] = {
        "num_embeddings": rows,
        "embedding_dim": draw(mostly(st.integers(1, 6), st.just(0), odds=16)),
    }
    maybe(params, draw, "padding_idx", st.none() | st.integers(-rows - 2, rows + 1))
    maybe(params, draw, "max_norm", st.none() | st.floats(0.5, 2.0))
    maybe(params, draw, "norm_type", st.floats(1.0, 3.0))
    maybe(params, draw, "scale_grad_by_freq", st.booleans())
    maybe(params, draw, "sparse", st.booleans())
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    kind = draw(mostly(st.sampled_from(("int64", "int32")), st.sampled_from(("float32", "bool"))))
    batch_axis = draw(mostly(st.just(0), st.integers(1, len(shape)), odds=3))
    return SeqCase("Embedding", params, shape, kind, batch_axis)


@st.composite
def recurrent(draw, name: str) -> SeqCase:
    """A sequence L×H_in in the layout batch_first asks for; arguments mostly in range,
    now and then one torch refuses; input_size sometimes written, rarely wrong."""
    length, features = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    hidden = draw(mostly(st.integers(1, 6), st.just(0), odds=16))
    params: dict[str, Any] = {"hidden_size": hidden}
    maybe(params, draw, "num_layers", mostly(st.integers(1, 3), st.just(0), odds=16))
    maybe(params, draw, "bias", st.booleans())
    maybe(params, draw, "batch_first", st.booleans())
    maybe(params, draw, "dropout", mostly(st.sampled_from((0.0, 0.25)), st.just(1.5), odds=16))
    maybe(params, draw, "bidirectional", st.booleans())
    if name == "RNN":
        choices = mostly(st.sampled_from(("tanh", "relu")), st.just("sigmoid"), odds=16)
        maybe(params, draw, "nonlinearity", choices)
    if name == "LSTM":
        maybe(
            params,
            draw,
            "proj_size",
            mostly(st.integers(0, max(hidden - 1, 0)), st.integers(-1, 7)),
        )
    maybe(params, draw, "input_size", mostly(st.just(features), st.integers(1, 6), odds=4))
    batch_axis = 0 if params.get("batch_first") else 1
    kind = draw(mostly(st.just("float32"), st.just("float64"), odds=4))
    return SeqCase(name, params, (length, features), kind, batch_axis)


CASES: dict[str, Strategy] = {
    "Embedding": embedding(),
    "RNN": recurrent("RNN"),
    "LSTM": recurrent("LSTM"),
    "GRU": recurrent("GRU"),
}


# --- the two sides ------------------------------------------------------------------------


def torch_module(case: SeqCase) -> nn.Module:
    """The torch.nn module of the same name and args, inferred ones from the input."""
    spec = LAYERS[case.name]
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in case.params.items()}
    for param in spec.params:
        if param.from_input is not None and args.get(param.name) is None:
            args[param.name] = param.from_input(case.shape)
    module = getattr(nn, spec.torch_name)(**args)
    if case.dtype == "float64":
        module = module.to(torch.float64)
    return module.eval()


def torch_input(case: SeqCase) -> torch.Tensor:
    """BATCH samples of the case's shape and dtype, the batch at its batch_axis: token ids
    within the table (0 where it has no rows, which torch refuses)."""
    whole = (BATCH, *case.shape)
    if case.dtype in ("int64", "int32"):
        rows = max(case.params.get("num_embeddings", 1), 1)
        x = torch.randint(0, rows, whole, dtype=getattr(torch, case.dtype))
    elif case.dtype == "bool":
        x = torch.rand(whole) > 0.5
    else:
        x = torch.randn(whole, dtype=getattr(torch, case.dtype))
    return x.movedim(0, case.batch_axis)


def flattened(value: Any) -> tuple[torch.Tensor, ...]:
    """The tensors of a module's output, nested tuples (LSTM's) flattened in order."""
    if isinstance(value, tuple):
        return tuple(t for item in value for t in flattened(item))
    return (value,)


def run_torch(case: SeqCase) -> TorchResult | Exception:
    """Torch's whole output shapes and dtypes, parameters and FLOPs, or its refusal."""
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            module = torch_module(case)
            x = torch_input(case)
            outputs = flattened(module(x))
            counter = FlopCounterMode(display=False)
            with counter, torch.backends.mkldnn.flags(enabled=False):
                module(x)
    except Exception as refusal:  # noqa: BLE001 - torch refuses with many types
        return refusal
    return TorchResult(
        tuple(tuple(t.shape) for t in outputs),
        tuple(str(t.dtype).removeprefix("torch.") for t in outputs),
        sum(p.numel() for p in module.parameters()),
        counter.get_total_flops(),
    )


def engine_input(case: SeqCase) -> Tensor:
    fields = receptive.input_fields(case.shape[1:]) if len(case.shape) > 1 else None
    return Tensor(case.shape, fields, case.dtype, case.batch_axis)


def run_engine(case: SeqCase) -> LayerOutput | ParamError | LayerError:
    spec = LAYERS[case.name]
    try:
        explicit = spec.validate(case.params)
        return spec.apply([engine_input(case)], spec.resolve(explicit))
    except (ParamError, LayerError) as refusal:
        return refusal


def whole(x: Tensor) -> Shape:
    """The engine's tensor as torch holds it: BATCH samples at its batch_axis."""
    return (*x.shape[: x.batch_axis], BATCH, *x.shape[x.batch_axis :])


def slots(out: LayerOutput) -> tuple[Tensor, ...]:
    return (Tensor(out.shape, out.fields, out.dtype, out.batch_axis), *out.more)


def agree(case: SeqCase) -> str:
    """Assert that engine and torch agree on `case`; say whether both refused or compared."""
    expected = run_torch(case)
    got = run_engine(case)
    if isinstance(expected, Exception) or any(0 in shape for shape in expected.shapes):
        assert isinstance(got, Exception), (
            f"torch refuses {case} ({expected}), the engine gives {got}"
        )
        return "refused"
    assert not isinstance(got, Exception), (
        f"the engine refuses {case} ({got}), torch gives {expected}"
    )
    assert tuple(whole(t) for t in slots(got)) == expected.shapes, case
    assert tuple(t.dtype for t in slots(got)) == expected.dtypes, case
    assert got.params == expected.params, case
    assert 2 * got.macs * BATCH == expected.flops, case
    return "compared"


# --- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_engine_agrees_with_torch(name: str) -> None:
    outcomes: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES_PER_TYPE, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(CASES[name])
    def agrees(case: SeqCase) -> None:
        outcomes[agree(case)] += 1

    agrees()
    assert outcomes["compared"] >= EXAMPLES_PER_TYPE // 2, outcomes


def test_the_slots_are_output_h_n_and_c_n() -> None:
    lstm = run_engine(
        SeqCase(
            "LSTM",
            {
                "hidden_size": 8,
                "num_layers": 3,
                "bidirectional": True,
                "proj_size": 5,
                "batch_first": True,
            },
            (9, 4),
        )
    )
    assert [(t.shape, t.batch_axis) for t in slots(lstm)] == [
        ((9, 10), 0),
        ((6, 5), 1),
        ((6, 8), 1),
    ]
    gru = run_engine(SeqCase("GRU", {"hidden_size": 8}, (9, 4), batch_axis=1))
    assert [(t.shape, t.batch_axis) for t in slots(gru)] == [((9, 8), 1), ((1, 8), 1)]
    assert LAYERS["LSTM"].output_names({}) == ("output", "h_n", "c_n")
    assert LAYERS["RNN"].output_names({}) == ("output", "h_n")


def test_macs_follow_the_contract_formula() -> None:
    """Per step, layer and direction: gates × hidden × (input + hidden); with proj_size P
    the hidden-to-hidden product reads the P-wide state, and the projection adds hidden × P."""
    two_layers = run_engine(
        SeqCase("LSTM", {"hidden_size": 20, "num_layers": 2, "batch_first": True}, (7, 10))
    )
    assert two_layers.macs == 7 * (4 * 20 * (10 + 20) + 4 * 20 * (20 + 20))
    both_ways = run_engine(
        SeqCase("GRU", {"hidden_size": 16, "bidirectional": True, "batch_first": True}, (5, 8))
    )
    assert both_ways.macs == 5 * 2 * 3 * 16 * (8 + 16)
    projected = run_engine(
        SeqCase(
            "LSTM",
            {
                "hidden_size": 20,
                "proj_size": 5,
                "num_layers": 2,
                "bidirectional": True,
                "batch_first": True,
            },
            (7, 10),
        )
    )
    first = 4 * 20 * (10 + 5) + 20 * 5
    second = 4 * 20 * (2 * 5 + 5) + 20 * 5
    assert projected.macs == 7 * 2 * (first + second)
    assert projected.shape == (7, 10)
    for case in (two_layers, both_ways, projected):
        assert case.params > 0


def test_flops_are_twice_the_macs_and_the_bias_additions() -> None:
    with_bias = run_engine(SeqCase("RNN", {"hidden_size": 3, "batch_first": True}, (6, 4)))
    assert with_bias.macs == 6 * 3 * (4 + 3)
    assert with_bias.flops == 2 * with_bias.macs + 6 * 2 * 3
    without = run_engine(
        SeqCase("RNN", {"hidden_size": 3, "bias": False, "batch_first": True}, (6, 4))
    )
    assert without.flops == 2 * without.macs
    assert (
        run_engine(
            SeqCase("Embedding", {"num_embeddings": 9, "embedding_dim": 4}, (5,), "int64")
        ).flops
        == 0
    )


def test_embedding_takes_token_ids_of_any_shape() -> None:
    out = run_engine(
        SeqCase("Embedding", {"num_embeddings": 20, "embedding_dim": 300}, (100,), "int64")
    )
    assert (out.shape, out.dtype, out.params, out.macs) == ((100, 300), "float32", 6000, 0)
    refused = run_engine(SeqCase("Embedding", {"num_embeddings": 20, "embedding_dim": 3}, (100,)))
    assert isinstance(refused, LayerError) and "int64" in str(refused) and "float32" in str(refused)


def test_refusals_name_the_numbers() -> None:
    proj = run_engine(SeqCase("LSTM", {"hidden_size": 4, "proj_size": 4}, (3, 2), batch_axis=1))
    assert isinstance(proj, ParamError) and "4 must be smaller than hidden_size 4" in str(proj)
    wrong = run_engine(SeqCase("GRU", {"hidden_size": 4, "input_size": 5}, (3, 2), batch_axis=1))
    assert (
        isinstance(wrong, LayerError) and "input_size is 5" in str(wrong) and "has 2" in str(wrong)
    )
    padding = run_engine(
        SeqCase(
            "Embedding", {"num_embeddings": 5, "embedding_dim": 2, "padding_idx": 5}, (3,), "int64"
        )
    )
    assert isinstance(padding, ParamError) and "from -5 to 4" in str(padding)
    for case in (
        SeqCase("LSTM", {"hidden_size": 4, "proj_size": 4}, (3, 2), batch_axis=1),
        SeqCase(
            "Embedding", {"num_embeddings": 5, "embedding_dim": 2, "padding_idx": 5}, (3,), "int64"
        ),
    ):
        assert agree(case) == "refused"


def test_a_layout_other_than_batch_first_asks_for_is_refused_with_the_fix() -> None:
    first = run_engine(SeqCase("LSTM", {"hidden_size": 4}, (3, 2)))
    assert isinstance(first, LayerError) and "Transpose dims 0 and 1" in str(first)
    assert "batch_first=true" in str(first)
    second = run_engine(
        SeqCase("LSTM", {"hidden_size": 4, "batch_first": True}, (3, 2), batch_axis=1)
    )
    assert isinstance(second, LayerError) and "batch_first=false" in str(second)


def test_dropout_on_one_layer_is_a_warning_as_in_torch() -> None:
    out = run_engine(
        SeqCase("GRU", {"hidden_size": 4, "dropout": 0.5, "batch_first": True}, (3, 2))
    )
    assert any("num_layers 1" in w for w in out.warnings)


# Inputs torch takes that the engine refuses on purpose: (why, layer, params, shape, batch axis).
_LAYOUT = "torch would read the batch as the sequence, or the sequence as the batch"
DELIBERATE_REFUSALS = [
    (_LAYOUT, "LSTM", {"hidden_size": 4}, (5, 3), 0),
    (_LAYOUT, "GRU", {"hidden_size": 4, "batch_first": True}, (5, 3), 1),
    (
        "torch would read (N, H_in) as one unbatched sequence",
        "RNN",
        {"hidden_size": 4, "batch_first": True},
        (3,),
        0,
    ),
]


@pytest.mark.parametrize(
    ("why", "name", "params", "shape", "batch_axis"),
    DELIBERATE_REFUSALS,
    ids=[f"{r[1]}-{i}" for i, r in enumerate(DELIBERATE_REFUSALS)],
)
def test_deliberate_refusals(
    why: str, name: str, params: dict[str, Any], shape: Shape, batch_axis: int
) -> None:
    case = SeqCase(name, params, shape, batch_axis=batch_axis)
    assert isinstance(run_torch(case), TorchResult), "torch refuses it too: not deliberate"
    assert isinstance(run_engine(case), LayerError), why


# --- other layers fed a tensor that holds the batch beyond dim 0 --------------------------

MOVED = [
    "Linear",
    "LayerNorm",
    "RMSNorm",
    "Softmax",
    "LogSoftmax",
    "GLU",
    "ReLU",
    "GELU",
    "Tanh",
    "PReLU",
    "Dropout",
    "AlphaDropout",
    "Identity",
    "Flatten",
    "Embedding",
]


@st.composite
def moved(draw, name: str) -> SeqCase:
    """A layer fed a tensor of one to three dims per sample, the batch beyond dim 0 (for
    the layers of the last dims, mostly not last); its dims never the batch (Flatten's on
    one side of it)."""
    last_dims = name in ("Linear", "LayerNorm", "RMSNorm")
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1 + last_dims, max_size=3)))
    batch_axis = draw(st.integers(1, len(shape)))
    if last_dims:
        batch_axis = draw(mostly(st.integers(1, len(shape) - 1), st.just(len(shape))))
    ndim = len(shape) + 1
    beside = [d for d in range(ndim) if d != batch_axis]
    params: dict[str, Any] = {}
    kind = "float32"
    if name == "Linear":
        params = {"out_features": draw(st.integers(1, 6)), "bias": draw(st.booleans())}
    elif name in ("LayerNorm", "RMSNorm"):
        count = draw(mostly(st.integers(1, max(len(shape) - batch_axis, 1)), st.just(len(shape))))
        params = {"normalized_shape": list(shape[-count:])} if draw(st.booleans()) else {}
    elif name in ("Softmax", "LogSoftmax", "GLU"):
        params = {"dim": draw(st.sampled_from([*beside, *(d - ndim for d in beside)]))}
    elif name == "Flatten":
        side = draw(
            st.sampled_from(
                [[d for d in beside if d < batch_axis], [d for d in beside if d > batch_axis]]
            ).filter(bool)
        )
        start, end = sorted(draw(st.lists(st.sampled_from(side), min_size=2, max_size=2)))
        params = {"start_dim": start, "end_dim": end - ndim if draw(st.booleans()) else end}
    elif name == "Embedding":
        params = {"num_embeddings": 9, "embedding_dim": draw(st.integers(1, 5))}
        kind = "int64"
    return SeqCase(name, params, shape, kind, batch_axis)


@pytest.mark.parametrize("name", MOVED)
def test_layers_take_the_batch_where_torch_holds_it(name: str) -> None:
    outcomes: Counter[str] = Counter()

    @settings(
        max_examples=30,
        deadline=None,
        derandomize=True,  # the count of compared cases below must not depend on luck
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(moved(name))
    def agrees(case: SeqCase) -> None:
        outcomes[agree(case)] += 1

    agrees()
    assert outcomes["compared"] >= 10, outcomes


MOVED_REFUSALS = [
    (
        "Flatten would join the batch with data",
        "Flatten",
        {"start_dim": 0, "end_dim": 2},
        (3, 4),
        1,
    ),
    ("PReLU's slopes would run along the batch", "PReLU", {"num_parameters": BATCH}, (3, 4), 1),
    (
        "normalized_shape would reach across the batch",
        "LayerNorm",
        {"normalized_shape": [BATCH, 4]},
        (3, 4),
        1,
    ),
]


@pytest.mark.parametrize(
    ("why", "name", "params", "shape", "batch_axis"),
    MOVED_REFUSALS,
    ids=[r[1] for r in MOVED_REFUSALS],
)
def test_deliberate_refusals_with_the_batch_moved(
    why: str, name: str, params: dict[str, Any], shape: Shape, batch_axis: int
) -> None:
    case = SeqCase(name, params, shape, batch_axis=batch_axis)
    assert isinstance(run_torch(case), TorchResult), "torch refuses it too: not deliberate"
    assert isinstance(run_engine(case), LayerError), why


def test_layers_that_read_channels_at_dim_1_refuse_a_sequence_first_tensor() -> None:
    for name, params in (
        ("BatchNorm1d", {}),
        ("Conv1d", {"out_channels": 2, "kernel_size": 1}),
        ("Dropout1d", {}),
    ):
        refused = run_engine(SeqCase(name, params, (3, 4), batch_axis=1))
        assert isinstance(refused, LayerError) and "Transpose dims 0 and 1" in str(refused), name


# --- in a design ---------------------------------------------------------------------------


def test_a_classifier_on_the_last_layer_of_h_n() -> None:
    """Transpose to sequence-first, an LSTM with batch_first=False, h_n[-1], Linear: the
    engine carries the batch through, as torch does."""
    arch = Architecture("sequence first")
    arch.add_node(NodeRecord("x", "Input", {"shape": [12, 6]}))
    arch.add_node(NodeRecord("swap", "Transpose", {"dim0": 0, "dim1": 1}))
    arch.add_node(NodeRecord("lstm", "LSTM", {"hidden_size": 8, "num_layers": 2}))
    arch.add_node(NodeRecord("last", "Select", {"dim": 0, "index": -1}))
    arch.add_node(NodeRecord("fc", "Linear", {"out_features": 3}))
    arch.connect("x", "swap")
    arch.connect("swap", "lstm")
    arch.connect("lstm", "last", output=1)
    arch.connect("last", "fc")
    engine = analyse(arch)
    results = engine.results
    assert [r.error for r in results.values()] == [None] * 5
    assert (results["swap"].output.shape, results["swap"].output.batch_axis) == ((12, 6), 1)
    assert [(t.shape, t.batch_axis) for t in results["lstm"].outputs] == [
        ((12, 8), 1),
        ((2, 8), 1),
        ((2, 8), 1),
    ]
    assert (results["fc"].shape, results["fc"].output.batch_axis) == ((3,), 0)
    assert results["lstm"].fields is None
