"""PyTorch as the oracle for every layer type of the catalog, one layer at a time.

Hypothesis draws parameters (mostly inside each Param's declared range, sometimes a value
just below it) and small inputs; the same arguments build the real torch.nn module. Where
torch refuses, at construction or in the forward pass, the engine must refuse too (a
ParamError from `validate` or a LayerError from `evaluate`); where torch computes, the
engine must give its output shape, parameter count and MACs (FlopCounterMode counts
2 FLOPs per multiply-accumulate). The engine refuses a few things torch accepts on purpose;
the generators stay inside what the engine claims to take, and `DELIBERATE_REFUSALS` pins
those refusals down. One of them is general: where torch computes an empty tensor (a size
of 0), the engine must refuse.
"""

from __future__ import annotations

import functools
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from designer.core import receptive
from designer.core.layers.activation import SPECS as ACTIVATIONS
from designer.core.params import Kind, Param, ParamError
from designer.core.registry import LAYERS
from designer.core.spec import LayerError, LayerOutput, LayerSpec, Shape, Tensor

EXAMPLES_PER_TYPE = 150

Strategy = st.SearchStrategy


@dataclass(frozen=True)
class Case:
    """One layer with the params a user would write, fed tensors of these shapes.

    BatchNorm and GroupNorm run at batch 2: with batch statistics torch refuses a single
    value per channel (or group), which at batch 1 is a refusal of the batch, not the layer.
    So do the circular paddings: with a batch of 1 and one channel torch refuses some
    paddings whose wrap-around copy overlaps itself, which the engine warns of
    (`test_circular_padding_of_a_batch_of_one`).
    """

    name: str
    params: dict[str, Any]
    shapes: tuple[Shape, ...]
    batch: int = 1


@dataclass(frozen=True)
class TorchResult:
    """Torch's figures: the shape and dtype of every output (a layer with several
    outputs returns a tuple), parameters, FLOPs."""

    shapes: tuple[Shape, ...]
    params: int
    flops: int
    dtypes: tuple[str, ...] = ("float32",)


# --- drawing values -------------------------------------------------------------------

# Bounds to draw within, where a declaration leaves one open or wide: small tensors keep
# the run fast. The declared bounds still apply on top.
BOUNDS: dict[str, tuple[float, float]] = {
    "out_channels": (1, 8),
    "out_features": (1, 8),
    "kernel_size": (1, 5),
    "stride": (1, 3),
    "padding": (-2, 2),
    "dilation": (1, 2),
    "output_padding": (0, 2),
    "divisor_override": (1, 6),
    "output_size": (1, 5),
    "upscale_factor": (1, 3),
    "downscale_factor": (1, 3),
    "size": (1, 10),
    "scale_factor": (0.2, 3.0),
    "negative_slope": (-1.0, 1.0),
    "alpha": (0.0, 2.0),
    "eps": (1e-6, 0.1),
    "momentum": (0.0, 1.0),
    "min_val": (-3.0, 1.0),
    "max_val": (-1.0, 3.0),
    "min_value": (-3.0, 1.0),
    "max_value": (-1.0, 3.0),
    "beta": (-2.0, 3.0),
    "threshold": (-5.0, 25.0),
    "init": (-1.0, 1.0),
    "k": (0.0, 3.0),
    "value": (-3.0, 3.0),
}

# A value just below the declared range, which torch refuses as well.
BELOW: dict[str, Any] = {
    "out_channels": 0,
    "kernel_size": 0,
    "stride": 0,
    "padding": -1,
    "dilation": 0,
    "output_padding": -1,
    "groups": 0,
    "divisor_override": 0,
    "output_size": -1,
    "num_groups": 0,
    "upscale_factor": 0,
    "downscale_factor": 0,
    "size": 0,
    "scale_factor": -1.0,
    "p": 1.5,
}


def mostly(usual: Strategy, rare: Strategy, odds: int = 8) -> Strategy:
    """`usual` about odds-1 times in odds, else `rare` (st.integers would favour its ends)."""
    return st.sampled_from([usual] * (odds - 1) + [rare]).flatmap(lambda chosen: chosen)


def declared(param: Param) -> Strategy:
    """A value of the declared kind, bounds and tuple length, within BOUNDS."""
    lo, hi = BOUNDS.get(param.name, (param.minimum, param.maximum))
    lo = -4 if lo is None else lo
    hi = lo + 4 if hi is None else hi
    if param.minimum is not None:
        lo = max(lo, param.minimum)
    if param.maximum is not None:
        hi = min(hi, param.maximum)
    integral = param.kind in (Kind.INT, Kind.INT_TUPLE, Kind.PADDING)
    if integral:
        scalar = st.integers(int(lo), int(hi))
    else:
        exclude = param.exclusive_minimum and lo == param.minimum
        scalar = st.floats(lo, hi, exclude_min=exclude)
    lengths = (param.length, param.length) if param.length else (1, 3)
    element = mostly(scalar, st.none(), odds=4) if param.holes else scalar
    values = {
        Kind.INT: scalar,
        Kind.FLOAT: scalar,
        Kind.BOOL: st.booleans(),
        Kind.CHOICE: st.sampled_from(param.choices),
        Kind.INT_TUPLE: scalar | st.lists(element, min_size=lengths[0], max_size=lengths[1]),
        Kind.FLOAT_TUPLE: scalar | st.lists(scalar, min_size=lengths[0], max_size=lengths[1]),
    }
    if param.kind is Kind.PADDING:
        tuples = st.lists(scalar, min_size=lengths[0], max_size=lengths[1])
        value = scalar | tuples | st.sampled_from(("same", "valid"))
    else:
        value = values[param.kind]
    return mostly(value, st.none()) if param.nullable else value


def param_value(param: Param) -> Strategy:
    """Mostly a declared value; now and then one below the range, which torch refuses."""
    if param.name in BELOW:
        return mostly(declared(param), st.just(BELOW[param.name]), odds=16)
    return declared(param)


@st.composite
def written_params(
    draw, spec: LayerSpec, skip: Sequence[str] = (), **special: Strategy
) -> dict[str, Any]:
    """What a user writes: required params, and each optional one or its default."""
    params = {}
    for param in spec.params:
        if param.inferred or param.name in skip:
            continue
        if param.required or draw(st.booleans()):
            strategy = special[param.name] if param.name in special else param_value(param)
            params[param.name] = draw(strategy)
    return params


CHANNELS = st.integers(1, 8)


def shape(rank: int, channels: Strategy = CHANNELS) -> Strategy:
    """[C, *spatial] with `rank` spatial axes; rank 0 is a feature vector [F]."""
    side = st.integers(1, 12)
    return st.tuples(channels, *([side] * rank))


def any_shape(ranks: Sequence[int] = (0, 1, 2, 3), channels: Strategy = CHANNELS) -> Strategy:
    return st.sampled_from(ranks).flatmap(lambda rank: shape(rank, channels))


def multiples(of: int, most: int = 8) -> Strategy:
    """Counts that `of` divides (any count when `of` is 0, torch refusing those anyway)."""
    step = max(of, 1)
    return st.integers(1, max(most // step, 1)).map(lambda m: m * step)


def dim_index(rank: int) -> Strategy:
    """A dim of the batched tensor (batch, C, `rank` axes) other than the batch; rarely
    one out of range."""
    ndim = rank + 2
    inside = st.sampled_from([*range(1, ndim), *range(-ndim + 1, 0)])
    return mostly(inside, st.sampled_from((ndim, -ndim - 1)))


# --- a strategy of cases per layer type -----------------------------------------------


def single(name: str, ranks: Sequence[int], batch: int = 1) -> Strategy:
    """A one-input layer whose params all follow their declarations."""
    return st.builds(
        Case,
        st.just(name),
        written_params(LAYERS[name]),
        any_shape(ranks).map(lambda s: (s,)),
        st.just(batch),
    )


@st.composite
def grouped(draw, name: str, rank: int) -> Case:
    """Conv and ConvTranspose: channel counts mostly divisible by groups, sometimes not."""
    spec = LAYERS[name]
    groups = draw(mostly(st.integers(1, 3), st.just(BELOW["groups"])))
    special = {"groups": st.just(groups), "out_channels": mostly(multiples(groups), CHANNELS)}
    if name.startswith("ConvTranspose"):
        # Torch's depthwise transposed kernel skips its dilation check (kernel 1 takes
        # dilation 0 there), so no dilation below the range here.
        special["dilation"] = declared(spec.by_name["dilation"])
    params = draw(written_params(spec, **special))
    if params.get("padding_mode", "zeros") != "zeros" and _negative(params.get("padding")):
        del params["padding"]  # torch crops there instead of refusing: DELIBERATE_REFUSALS
    groups = params.get("groups", 1)
    channels = mostly(multiples(groups), CHANNELS)
    return Case(name, params, (draw(shape(rank, channels)),))


def _negative(value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return any(isinstance(v, int) and v < 0 for v in values)


@st.composite
def group_norm(draw) -> Case:
    """Channel counts mostly divisible by num_groups, sometimes not."""
    groups = draw(mostly(st.integers(1, 4), st.just(BELOW["num_groups"])))
    x = draw(any_shape(channels=mostly(multiples(groups), CHANNELS)))
    params = draw(written_params(LAYERS["GroupNorm"], num_groups=st.just(groups)))
    return Case("GroupNorm", params, (x,), batch=2)


@st.composite
def layer_norm(draw, name: str = "LayerNorm") -> Case:
    """LayerNorm, RMSNorm: normalized_shape is mostly a suffix of the input's shape,
    sometimes not."""
    x = draw(any_shape())
    suffix = st.integers(1, len(x)).map(lambda n: list(x[-n:])) | st.just(x[-1])
    other = st.lists(st.integers(1, 12), min_size=1, max_size=len(x))
    normalized = mostly(suffix, other | st.none())
    params = draw(written_params(LAYERS[name], normalized_shape=normalized))
    return Case(name, params, (x,))


@st.composite
def prelu(draw) -> Case:
    """num_parameters mostly 1 or the input's channels, sometimes another count."""
    x = draw(any_shape())
    count = mostly(st.sampled_from((1, x[0])), st.integers(1, 8))
    return Case("PReLU", draw(written_params(LAYERS["PReLU"], num_parameters=count)), (x,))


@st.composite
def glu(draw) -> Case:
    """The halved dim mostly of even size, sometimes odd; rarely out of range."""
    x = list(draw(any_shape()))
    params = draw(written_params(LAYERS["GLU"], dim=dim_index(len(x) - 1)))
    ndim = len(x) + 1
    dim = params.get("dim", -1)
    if -ndim <= dim < ndim and dim % ndim and draw(mostly(st.just(True), st.just(False), 4)):
        x[dim % ndim - 1] = 2 * draw(st.integers(1, 6))
    return Case("GLU", params, (tuple(x),))


@st.composite
def channel_shuffle(draw) -> Case:
    """Channel counts mostly divisible by groups, sometimes not; rarely a feature vector."""
    groups = draw(mostly(st.integers(1, 4), st.just(BELOW["groups"])))
    channels = mostly(multiples(groups), CHANNELS)
    x = draw(mostly(any_shape((1, 2, 3), channels), shape(0, channels)))
    params = draw(written_params(LAYERS["ChannelShuffle"], groups=st.just(groups)))
    return Case("ChannelShuffle", params, (x,))


@st.composite
def with_dims(draw, name: str, *dims: str) -> Case:
    """Flatten, Softmax, LogSoftmax: dims count the batch but never name it."""
    x = draw(any_shape())
    special = {d: dim_index(len(x) - 1) for d in dims}
    return Case(name, draw(written_params(LAYERS[name], **special)), (x,))


# The modes that interpolate inputs with 1, 2 and 3 spatial axes.
UPSAMPLE_MODES = {
    1: ("nearest", "linear"),
    2: ("nearest", "bilinear", "bicubic"),
    3: ("nearest", "trilinear"),
}


@st.composite
def upsample(draw) -> Case:
    """Mostly a mode, size or scale_factor and align_corners that fit the input; rarely not."""
    spec = LAYERS["Upsample"]
    x = draw(mostly(any_shape((1, 2, 3)), shape(0)))
    rank = len(x) - 1

    def fitting(scalar: Strategy) -> Strategy:
        return scalar | st.lists(scalar, min_size=rank, max_size=rank) if rank else scalar

    modes = st.sampled_from(UPSAMPLE_MODES.get(rank, ("nearest",)))
    params = draw(
        written_params(
            spec,
            skip=("size", "scale_factor", "align_corners"),
            mode=mostly(modes, declared(spec.by_name["mode"])),
        )
    )
    if draw(st.booleans()):
        fits = st.none() if params.get("mode", "nearest") == "nearest" else st.booleans()
        params["align_corners"] = draw(mostly(fits, declared(spec.by_name["align_corners"])))
    one = st.sampled_from((("size",), ("scale_factor",)))
    for name in draw(mostly(one, st.sampled_from(((), ("size", "scale_factor"))))):
        scalar = st.integers(1, 10) if name == "size" else st.floats(0.2, 3.0)
        params[name] = draw(mostly(fitting(scalar), param_value(spec.by_name[name])))
    return Case("Upsample", params, (x,))


@st.composite
def pixel_shuffle(draw, name: str, factor: str) -> Case:
    """PixelShuffle's channels, PixelUnshuffle's height and width: mostly multiples."""
    params = draw(written_params(LAYERS[name]))
    r = max(params[factor], 0)
    if name == "PixelShuffle":
        x = draw(shape(2, mostly(multiples(r * r, 18), CHANNELS)))
    else:
        side = mostly(multiples(r, 12), st.integers(1, 12))
        x = draw(st.tuples(CHANNELS, side, side))
    return Case(name, params, (x,))


@st.composite
def add(draw) -> Case:
    x = draw(any_shape())
    return Case("Add", {}, (x,) * draw(st.integers(2, 4)))


@st.composite
def multiply(draw) -> Case:
    """Two inputs of one rank, each axis of each the common size or 1 (rarely neither)."""
    x = draw(any_shape())

    def axis(size: int) -> Strategy:
        return mostly(st.sampled_from((size, 1)), st.integers(1, 8))

    a, b = (draw(st.tuples(*(axis(n) for n in x))) for _ in range(2))
    return Case("Multiply", {}, (a, b))


@st.composite
def concat(draw) -> Case:
    """Inputs alike but along dim (rarely elsewhere too)."""
    x = draw(any_shape())
    dim = draw(dim_index(len(x) - 1))
    params = draw(st.sampled_from(({}, {"dim": dim})))
    axis = params.get("dim", 1) % (len(x) + 1) - 1
    shapes = []
    for _ in range(draw(st.integers(1, 3))):  # torch.cat([x], 1) too
        y = list(x)
        if 0 <= axis < len(x):
            y[axis] = draw(st.integers(1, 8))
        if draw(mostly(st.just(False), st.just(True))):
            y[draw(st.integers(0, len(x) - 1))] = draw(st.integers(1, 8))
        shapes.append(tuple(y))
    return Case("Concat", params, tuple(shapes))


def with_inferred(cases: Strategy) -> Strategy:
    """Now and then an inferred argument written down, as imported code has it: mostly
    the input's own value, sometimes another."""

    @st.composite
    def written(draw, case: Case) -> Case:
        (param,) = (p for p in LAYERS[case.name].params if p.inferred)
        actual = INFERRED[param.name](case.shapes[0])
        value = draw(mostly(st.just(actual), st.integers(1, 8), odds=4))
        return Case(case.name, {**case.params, param.name: value}, case.shapes, case.batch)

    return mostly(cases, cases.flatmap(written), odds=4)


PADDINGS = ("ZeroPad", "ConstantPad", "ReflectionPad", "ReplicationPad", "CircularPad")


def _cases() -> dict[str, Strategy]:
    cases: dict[str, Strategy] = {}
    for n in (1, 2, 3):
        for family in ("Conv", "ConvTranspose"):
            cases[f"{family}{n}d"] = grouped(f"{family}{n}d", n)
        for family in ("MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool"):
            cases[f"{family}{n}d"] = single(f"{family}{n}d", (n,))
        cases[f"BatchNorm{n}d"] = single(f"BatchNorm{n}d", (0, 1) if n == 1 else (n,), batch=2)
        cases[f"InstanceNorm{n}d"] = single(f"InstanceNorm{n}d", (n,))
        for family in PADDINGS:
            batch = 2 if family == "CircularPad" else 1
            cases[f"{family}{n}d"] = single(f"{family}{n}d", (n,), batch=batch)
    for spec in ACTIVATIONS:
        if "dim" in spec.by_name:
            cases[spec.name] = with_dims(spec.name, "dim")
        else:
            cases[spec.name] = single(spec.name, (0, 1, 2, 3))
    cases |= {
        "PReLU": prelu(),
        "GLU": glu(),
        "RMSNorm": layer_norm("RMSNorm"),
        "LocalResponseNorm": single("LocalResponseNorm", (0, 1, 2, 3)),
        "Dropout1d": single("Dropout1d", (1,)),
        "Dropout3d": single("Dropout3d", (3,)),
        "AlphaDropout": single("AlphaDropout", (0, 1, 2, 3)),
        "ChannelShuffle": channel_shuffle(),
    }
    cases |= {
        "Linear": single("Linear", (0, 1, 2, 3)),
        "Flatten": with_dims("Flatten", "start_dim", "end_dim"),
        "Identity": single("Identity", (0, 1, 2, 3)),
        "Dropout": single("Dropout", (0, 1, 2, 3)),
        "Dropout2d": single("Dropout2d", (2,)),
        "GroupNorm": group_norm(),
        "LayerNorm": layer_norm(),
        "Upsample": upsample(),
        "PixelShuffle": pixel_shuffle("PixelShuffle", "upscale_factor"),
        "PixelUnshuffle": pixel_shuffle("PixelUnshuffle", "downscale_factor"),
        "Add": add(),
        "Multiply": multiply(),
        "Concat": concat(),
    }
    return {
        name: with_inferred(strategy) if any(p.inferred for p in LAYERS[name].params) else strategy
        for name, strategy in cases.items()
    }


CASES = _cases()


# --- the two sides --------------------------------------------------------------------

INFERRED: dict[str, Callable[[Shape], Any]] = {
    "in_channels": lambda s: s[0],
    "num_features": lambda s: s[0],
    "num_channels": lambda s: s[0],
    "in_features": lambda s: s[-1],
}

_MERGES: dict[str, Callable[[list[torch.Tensor], dict[str, Any]], torch.Tensor]] = {
    "Add": lambda xs, p: functools.reduce(torch.add, xs),
    "Multiply": lambda xs, p: torch.mul(*xs),
    "Concat": lambda xs, p: torch.cat(xs, dim=p.get("dim", 1)),
}


def torch_module(case: Case) -> nn.Module:
    """The torch.nn module of the same name and args, inferred ones from the input."""
    spec = LAYERS[case.name]
    # Tuples, as the engine's canonical form: nn.Upsample takes no list for scale_factor.
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in case.params.items()}
    for param in spec.params:
        if param.inferred:
            args.setdefault(param.name, INFERRED[param.name](case.shapes[0]))
    if case.name in ("LayerNorm", "RMSNorm") and args.get("normalized_shape") is None:
        args["normalized_shape"] = case.shapes[0][-1:]
    return getattr(nn, spec.torch_name)(**args).eval()


def run_torch(case: Case) -> TorchResult | Exception:
    """Torch's output shape (batch dropped), parameter count and FLOPs, or its refusal.

    The forward runs once outside FlopCounterMode, which decides refusals: under the mode
    some ops take decompositions that skip torch's checks (Upsample to 0 gives an empty
    tensor there).
    """
    inputs = [torch.randn(case.batch, *s) for s in case.shapes]
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            if case.name in _MERGES:
                params, forward = 0, functools.partial(_MERGES[case.name], p=case.params)
            else:
                module = torch_module(case)
                params = sum(p.numel() for p in module.parameters())
                forward = lambda xs: module(*xs)
            y = forward(inputs)
            counter = FlopCounterMode(display=False)
            with counter:
                forward(inputs)
    except Exception as refusal:  # noqa: BLE001 - torch refuses with many types
        return refusal
    outputs = y if isinstance(y, tuple) else (y,)
    return TorchResult(
        tuple(tuple(t.shape[1:]) for t in outputs),
        params,
        counter.get_total_flops(),
        tuple(str(t.dtype).removeprefix("torch.") for t in outputs),
    )


def run_engine(case: Case) -> LayerOutput | ParamError | LayerError:
    spec = LAYERS[case.name]
    tensors = [
        Tensor(s, receptive.input_fields(s[1:]) if len(s) > 1 else None) for s in case.shapes
    ]
    try:
        explicit = spec.validate(case.params)
        return spec.apply(tensors, spec.resolve(explicit))
    except (ParamError, LayerError) as refusal:
        return refusal


def disagrees_with_input(case: Case) -> str | None:
    """The written-down inferred argument that the input contradicts, if any."""
    for param in LAYERS[case.name].params:
        written = case.params.get(param.name)
        if param.inferred and written not in (None, INFERRED[param.name](case.shapes[0])):
            return param.name
    return None


def agree(case: Case) -> str:
    """Assert that engine and torch agree on `case`; say whether both refused or compared.

    A written-down inferred argument that the input contradicts is refused whatever torch
    does: torch ignores it where no weight or statistic has its size (BatchNorm with
    affine=False and track_running_stats=False).
    """
    expected = run_torch(case)
    got = run_engine(case)
    if (contradicted := disagrees_with_input(case)) is not None:
        assert isinstance(got, Exception), f"{case}: {contradicted} contradicts the input"
        return "refused"
    if isinstance(expected, Exception) or any(0 in shape for shape in expected.shapes):
        why = (
            "gives an empty tensor"
            if isinstance(expected, TorchResult)
            else (f"refuses ({type(expected).__name__}: {expected})")
        )
        assert isinstance(got, Exception), f"torch {why} for {case}, but the engine gives {got}"
        return "refused"
    assert not isinstance(got, Exception), (
        f"the engine refuses {case} ({got}), but torch gives {expected}"
    )
    assert (got.shape, *(t.shape for t in got.more)) == expected.shapes, case
    assert (got.dtype, *(t.dtype for t in got.more)) == expected.dtypes, case
    assert got.params == expected.params, case
    assert 2 * got.macs * case.batch == expected.flops, case
    return "compared"


# --- the tests ------------------------------------------------------------------------


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
    # Enough drawn cases must be ones torch computes, or the oracle checks little.
    assert outcomes["compared"] >= EXAMPLES_PER_TYPE // 8, outcomes


# Cases the oracle found the engine taking while torch refuses them, kept as examples.
FOUND = [
    # "flatten() has invalid args: start_dim cannot come after end_dim"
    Case("Flatten", {"start_dim": 2, "end_dim": 1}, ((6, 9, 8),)),
    Case("Flatten", {"start_dim": -1, "end_dim": 1}, ((3, 2),)),
    # "input image (T: 5 H: 5 W: 1) smaller than kernel size (kT: 2 kH: 2 kW: 2)"
    Case("AvgPool3d", {"kernel_size": 2, "stride": 1, "padding": 1}, ((2, 5, 5, 1),)),
    # "narrow(): length must be non-negative": the crop of 2 comes before the pad of 2
    Case("ZeroPad2d", {"padding": [2, -2, -1, 2]}, ((1, 6, 1),)),
    Case("ConstantPad1d", {"padding": [-6, 2], "value": 1.0}, ((2, 5),)),
    # "Padding size should be less than the corresponding input dimension", though the
    # other side crops
    Case("ReflectionPad1d", {"padding": [6, -4]}, ((2, 5),)),
    Case("ReflectionPad2d", {"padding": [0, 0, -1, 1]}, ((2, 1, 3),)),
    # "Padding value causes wrapping around more than once"
    Case("CircularPad1d", {"padding": [6, -4]}, ((2, 5),), batch=2),
    # "The size of tensor a (3) must match the size of tensor b (0)": its copy of what is
    # left after the crop does not fit
    Case("CircularPad1d", {"padding": [-6, 5]}, ((2, 5),), batch=2),
    # "Expected more than 1 spatial element when training"
    Case("InstanceNorm2d", {}, ((3, 1, 1),)),
    # "alpha cannot be 0 for CELU"
    Case("CELU", {"alpha": 0.0}, ((3,),)),
    # "max_val (1.0) must be greater than min_val (2.0)", min_value overriding min_val
    Case("Hardtanh", {"min_val": 0.0, "min_value": 2.0}, ((3,),)),
    # "Mismatch of parameter numbers and input channel size"
    Case("PReLU", {"num_parameters": 2}, ((3, 4),)),
]


@pytest.mark.parametrize("case", FOUND, ids=[c.name for c in FOUND])
def test_found_refusals(case: Case) -> None:
    assert agree(case) == "refused"


# Inputs torch takes that the engine refuses on purpose (see the contract): each row is
# (why, layer, params, input shapes).
_UNBATCHED = "torch would read it as one unbatched sample"
_BATCH_DIM = "the dim names the batch"
_EMPTY = "the output would be empty"
_PADS_ITS_AXES = "a padding takes exactly its number of spatial axes"
DELIBERATE_REFUSALS = [
    (_BATCH_DIM, "Flatten", {"start_dim": 0}, [(3, 4)]),
    (_BATCH_DIM, "Flatten", {"start_dim": -3, "end_dim": 1}, [(3, 4)]),
    (_BATCH_DIM, "Softmax", {"dim": 0}, [(5,)]),
    (_BATCH_DIM, "LogSoftmax", {"dim": -4}, [(3, 4, 4)]),
    (_BATCH_DIM, "Concat", {"dim": 0}, [(3, 4), (3, 4)]),
    (_BATCH_DIM, "Concat", {"dim": -3}, [(3, 4), (3, 4)]),
    (_UNBATCHED, "Conv2d", {"out_channels": 2, "kernel_size": 1}, [(1, 5)]),
    (
        "negative padding: torch crops with a padding_mode, refuses with zeros",
        "Conv1d",
        {"out_channels": 1, "kernel_size": 1, "padding": -1, "padding_mode": "reflect"},
        [(1, 3)],
    ),
    (_UNBATCHED, "ConvTranspose3d", {"out_channels": 2, "kernel_size": 1}, [(1, 4, 4)]),
    (_UNBATCHED, "MaxPool2d", {"kernel_size": 2}, [(3, 4)]),
    (_UNBATCHED, "AvgPool3d", {"kernel_size": 1}, [(3, 4, 4)]),
    (_UNBATCHED, "AdaptiveAvgPool3d", {"output_size": 1}, [(3, 4, 4)]),
    *(
        (_UNBATCHED, f"{family}{n}d", {"padding": 1, **value}, [(3, *(4,) * (n - 1))])
        for family, value in [
            ("ZeroPad", {}),
            ("ConstantPad", {"value": 2.0}),
            ("ReflectionPad", {}),
            ("ReplicationPad", {}),
            ("CircularPad", {}),
        ]
        for n in (1, 2, 3)
    ),
    (_PADS_ITS_AXES, "ZeroPad1d", {"padding": 1}, [(3, 4, 4)]),
    (_PADS_ITS_AXES, "ZeroPad2d", {"padding": 1}, [(3, 4, 4, 4)]),
    (_PADS_ITS_AXES, "ConstantPad1d", {"padding": 1, "value": 2.0}, [(3, 4, 4, 4)]),
    (_UNBATCHED, "InstanceNorm1d", {}, [(3,)]),
    (_UNBATCHED, "InstanceNorm2d", {}, [(3, 4)]),
    (_UNBATCHED, "InstanceNorm3d", {}, [(3, 4, 4)]),
    (_UNBATCHED, "Dropout1d", {}, [(3,)]),
    ("Dropout3d takes C×D×H×W only", "Dropout3d", {}, [(3, 4, 4)]),
    ("Dropout3d takes C×D×H×W only", "Dropout3d", {}, [(3, 4)]),
    ("Dropout3d takes C×D×H×W only", "Dropout3d", {}, [(3,)]),
    (_BATCH_DIM, "Softmin", {"dim": 0}, [(5,)]),
    ("Dropout2d takes C×H×W only", "Dropout2d", {}, [(3, 4)]),
    ("Dropout2d takes C×H×W only", "Dropout2d", {}, [(3, 4, 4, 4)]),
    ("PixelShuffle takes C×H×W only", "PixelShuffle", {"upscale_factor": 2}, [(2, 4, 2, 2)]),
    ("PixelUnshuffle takes C×H×W only", "PixelUnshuffle", {"downscale_factor": 2}, [(1, 4, 4, 4)]),
    ("normalized_shape would span the batch", "LayerNorm", {"normalized_shape": [1, 5]}, [(5,)]),
    ("normalized_shape would span the batch", "RMSNorm", {"normalized_shape": [1, 5]}, [(5,)]),
    (
        "num_features contradicts the input",
        "InstanceNorm2d",
        {"num_features": 5},
        [(3, 4, 4)],
    ),
    (
        "num_features contradicts the input",
        "BatchNorm2d",
        {"num_features": 5, "affine": False, "track_running_stats": False},
        [(3, 4, 4)],
    ),
    (_EMPTY, "AdaptiveAvgPool2d", {"output_size": 0}, [(3, 4, 4)]),
    (_EMPTY, "AdaptiveMaxPool1d", {"output_size": [0]}, [(3, 4)]),
    (_EMPTY, "Linear", {"out_features": 0}, [(3,)]),
    (_EMPTY, "ZeroPad2d", {"padding": [-2, -3, 0, 0]}, [(3, 5, 5)]),
    (_EMPTY, "ConstantPad3d", {"padding": [0, 0, -4, 0, 0, 0], "value": 1.0}, [(3, 2, 4, 2)]),
    (_EMPTY, "CircularPad1d", {"padding": [-5, 0]}, [(3, 5)]),
    (
        _EMPTY,
        "ConvTranspose1d",
        {"out_channels": 4, "kernel_size": 2, "stride": 2, "padding": 2, "groups": 2},
        [(4, 2)],
    ),
]


@pytest.mark.parametrize(
    ("why", "name", "params", "shapes"),
    DELIBERATE_REFUSALS,
    ids=[f"{r[1]}-{i}" for i, r in enumerate(DELIBERATE_REFUSALS)],
)
def test_deliberate_refusals(
    why: str, name: str, params: dict[str, Any], shapes: list[Shape]
) -> None:
    case = Case(name, params, tuple(shapes))
    assert isinstance(run_torch(case), TorchResult), "torch refuses it too: not deliberate"
    assert isinstance(run_engine(case), (ParamError, LayerError)), why


def test_glu_never_halves_the_batch() -> None:
    """torch halves an even batch; a design is for any batch, so the engine refuses."""
    case = Case("GLU", {"dim": 0}, ((3, 4),), batch=2)
    assert isinstance(run_torch(case), TorchResult)
    assert isinstance(run_engine(case), LayerError)


@st.composite
def small_circular_pads(draw) -> Case:
    n = draw(st.integers(1, 3))
    channels = draw(st.sampled_from((1, 1, 2)))
    sides = draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
    padding = draw(st.lists(st.integers(-5, 5), min_size=2 * n, max_size=2 * n))
    return Case(f"CircularPad{n}d", {"padding": padding}, ((channels, *sides),))


@settings(max_examples=400, deadline=None)
@given(small_circular_pads())
def test_circular_padding_of_a_batch_of_one(case: Case) -> None:
    """At batch 1 torch also refuses a wrap-around copy that overlaps itself where the
    copied slices are contiguous (one channel): the engine computes it and warns."""
    expected, got = run_torch(case), run_engine(case)
    if isinstance(got, Exception):
        assert isinstance(expected, Exception) or 0 in expected.shapes[0], case
        return
    overlapping = any("overlaps what it copies" in w for w in got.warnings)
    assert isinstance(expected, Exception) == overlapping, (case, expected, got)
    if not overlapping:
        assert expected.shapes == (got.shape,), case


def test_flop_counter_counts_macs_as_torch_publishes_them() -> None:
    """A sanity check of the oracle itself: a 3x3 conv, 2x4 channels, on 5x5, padding 1."""
    conv = Case("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, ((2, 5, 5),))
    assert run_torch(conv) == TorchResult(((4, 5, 5),), 4 * 2 * 9 + 4, 2 * (4 * 2 * 9) * 25)
