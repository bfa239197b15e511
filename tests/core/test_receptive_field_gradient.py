"""The engine's receptive fields against an independent measurement.

With positive weights, average pooling in place of max pooling and no activations, the
input pixels that one output unit depends on are exactly those where the gradient of
that unit with respect to the input is non-zero. Their span must equal the engine's
receptive field, and their first pixel the engine's start for that unit.
"""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from designer.core.graph import Architecture, NodeRecord
from designer.core.propagate import analyse
from tests import torch_graph
from tests.helpers import chain, example, outputs

_LINEAR_STAND_INS = {"ReLU": nn.Identity, "Tanh": nn.Identity, "Sigmoid": nn.Identity}


def _measurable(kind: str, module: nn.Module) -> nn.Module:
    """Make every path's gradient positive: weights 1, no bias, averages for maxima."""
    if kind in _LINEAR_STAND_INS:
        return _LINEAR_STAND_INS[kind]()
    if kind.startswith("MaxPool"):
        average = getattr(nn, kind.replace("Max", "Avg"))
        return average(
            module.kernel_size, module.stride, module.padding, ceil_mode=module.ceil_mode
        )
    if isinstance(module, nn.modules.conv._ConvNd):
        with torch.no_grad():
            module.weight.fill_(1.0)
            if module.bias is not None:
                module.bias.zero_()
    return module


def _measured(arch: Architecture, target: str) -> tuple:
    """The engine's result for `target`, the input shape, and torch's input and output
    for it, with every path's gradient made positive (see `_measurable`)."""
    engine = analyse(arch)
    result = engine.results[target]
    shape = engine.results["input"].shape
    x = torch.ones((1, *shape), dtype=torch.float64, requires_grad=True)
    torch.set_default_dtype(torch.float64)
    try:
        values, _ = torch_graph.run(arch, {"input": x}, replace=_measurable)
    finally:
        torch.set_default_dtype(torch.float32)
    out = values[target]
    assert tuple(out.shape[1:]) == result.shape
    return result, shape, x, out


def assert_fields_match_gradient(arch: Architecture, target: str) -> None:
    result, shape, x, out = _measured(arch, target)
    index, expected_starts = [], []
    for axis, (field, length, size) in enumerate(zip(result.fields, result.shape[1:], shape[1:])):
        inside = [
            i
            for i in range(length)
            if field.start + i * field.jump >= 0
            and field.start + i * field.jump + field.size - 1 <= size - 1
        ]
        assert inside, f"axis {axis}: no output unit sees only the input; make the input larger"
        middle = inside[len(inside) // 2]
        index.append(middle)
        expected_starts.append(field.start + middle * field.jump)
    (gradient,) = torch.autograd.grad(out[(0, slice(None), *index)].sum(), x)
    support = gradient[0].abs().sum(dim=0)
    for axis, (field, start) in enumerate(zip(result.fields, expected_starts)):
        others = tuple(d for d in range(support.dim()) if d != axis)
        touched = (support.sum(dim=others) if others else support).nonzero().flatten()
        assert touched.numel() > 0
        first, last = int(touched[0]), int(touched[-1])
        assert (first, last - first + 1) == (start, field.size), f"axis {axis}"


_conv = st.builds(
    lambda k, s, d, p: (
        "Conv1d",
        {"out_channels": 2, "kernel_size": k, "stride": s, "dilation": d, "padding": p},
    ),
    st.integers(1, 5),
    st.integers(1, 2),
    st.integers(1, 3),
    st.integers(0, 2),
)
_pool = st.builds(
    lambda kind, k, s, extra: (
        kind,
        {"kernel_size": k, "stride": s, "padding": min(extra, k // 2)},
    ),
    st.sampled_from(["MaxPool1d", "AvgPool1d"]),
    st.integers(2, 3),
    st.integers(1, 2),
    st.integers(0, 1),
)
_layers = st.lists(st.one_of(_conv, _pool, st.just(("ReLU", {}))), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(_layers)
def test_chains(layers: list[tuple[str, dict]]) -> None:
    arch = chain((2, 1200), *layers)
    assert_fields_match_gradient(arch, f"l{len(layers)}")


def _branching(merge: str, trunk_stride: int, a: int, dilation: int, b: int) -> Architecture:
    """input → trunk conv → (dilated conv | max pool) → Add or Concat → strided conv."""
    arch = Architecture("diamond")
    nodes = [
        ("input", "Input", {"shape": [2, 400]}),
        ("trunk", "Conv1d", {"out_channels": 2, "kernel_size": 3, "stride": trunk_stride}),
        (
            "wide",
            "Conv1d",
            {
                "out_channels": 2,
                "kernel_size": 2 * a + 1,
                "dilation": dilation,
                "padding": a * dilation,
            },
        ),
        ("pool", "MaxPool1d", {"kernel_size": 2 * b + 1, "stride": 1, "padding": b}),
        ("merge", merge, {}),
        ("head", "Conv1d", {"out_channels": 2, "kernel_size": 3, "stride": 2}),
    ]
    for node_id, kind, params in nodes:
        arch.add_node(NodeRecord(node_id, kind, params))
    for source, target, port in [
        ("input", "trunk", 0),
        ("trunk", "wide", 0),
        ("trunk", "pool", 0),
        ("wide", "merge", 0),
        ("pool", "merge", 1),
        ("merge", "head", 0),
    ]:
        arch.connect(source, target, port)
    return arch


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(["Add", "Concat"]),
    st.integers(1, 2),
    st.integers(0, 3),
    st.integers(1, 3),
    st.integers(0, 3),
)
def test_branches_take_the_largest_field(
    merge: str, stride: int, a: int, dilation: int, b: int
) -> None:
    arch = _branching(merge, stride, a, dilation, b)
    assert_fields_match_gradient(arch, "merge")
    assert_fields_match_gradient(arch, "head")


def test_inception_modules() -> None:
    for name in ("seed-19-inception-naive", "seed-20-inception-reduced"):
        arch, _ = example(name)
        (last,) = outputs(arch)
        assert_fields_match_gradient(arch, last)


def test_residual_downsampling_block() -> None:
    """A ResNet block with a strided 1×1 shortcut, in 2-D."""
    arch = Architecture("block")
    nodes = [
        ("input", "Input", {"shape": [2, 41, 41]}),
        ("conv1", "Conv2d", {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}),
        ("relu", "ReLU", {}),
        ("conv2", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
        ("short", "Conv2d", {"out_channels": 4, "kernel_size": 1, "stride": 2}),
        ("add", "Add", {}),
        ("pool", "MaxPool2d", {"kernel_size": 3, "stride": 2, "padding": 1}),
    ]
    for node_id, kind, params in nodes:
        arch.add_node(NodeRecord(node_id, kind, params))
    for source, target, port in [
        ("input", "conv1", 0),
        ("conv1", "relu", 0),
        ("relu", "conv2", 0),
        ("input", "short", 0),
        ("conv2", "add", 0),
        ("short", "add", 1),
        ("add", "pool", 0),
    ]:
        arch.connect(source, target, port)
    assert_fields_match_gradient(arch, "add")
    assert_fields_match_gradient(arch, "pool")
    assert [f.size for f in analyse(arch).results["pool"].fields] == [11, 11]


def assert_clipped_fields_match_gradient(
    arch: Architecture, target: str, exact: bool = True
) -> None:
    """As `assert_fields_match_gradient`, for fields that may reach past the input (a gate
    that sees all of it): each unit's field, clipped to the input, against its support.
    Units at both ends and in the middle of every axis are measured.

    Where a broadcast gate does not see the whole input (a strided stem whose floor drops
    the last rows) the support of a unit is its own window joined to the gate's fixed
    one, which one (size, stride, centre) per axis cannot say exactly: there (`exact`
    False) the field must contain the support."""
    result, shape, x, out = _measured(arch, target)
    lengths = result.shape[1:]
    for picks in {
        (0,) * len(lengths),
        tuple(n // 2 for n in lengths),
        tuple(n - 1 for n in lengths),
    }:
        (gradient,) = torch.autograd.grad(out[(0, slice(None), *picks)].sum(), x, retain_graph=True)
        support = gradient[0].abs().sum(dim=0)
        for axis, (field, unit, size) in enumerate(zip(result.fields, picks, shape[1:])):
            start = field.start + unit * field.jump
            expected = (max(0, start), min(size - 1, start + field.size - 1))
            others = tuple(d for d in range(support.dim()) if d != axis)
            touched = (support.sum(dim=others) if others else support).nonzero().flatten()
            measured = (int(touched[0]), int(touched[-1]))
            if exact:
                assert measured == expected, (axis, picks)
            else:
                assert expected[0] <= measured[0] <= measured[1] <= expected[1], (axis, picks)


def _build(nodes: list[tuple[str, str, dict]], edges: list[tuple[str, str, int]]) -> Architecture:
    arch = Architecture("gated")
    for node_id, kind, params in nodes:
        arch.add_node(NodeRecord(node_id, kind, params))
    for source, target, port in edges:
        arch.connect(source, target, port)
    return arch


def _squeeze_excitation(shape: list[int], stride: int, padding: int = 1) -> Architecture:
    """input → strided conv → SE gate (global pool, 1×1 convs, sigmoid) × the features →
    conv → residual add with the gated features."""
    return _build(
        [
            ("input", "Input", {"shape": shape}),
            (
                "stem",
                "Conv2d",
                {"out_channels": 4, "kernel_size": 3, "stride": stride, "padding": padding},
            ),
            ("squeeze", "AdaptiveAvgPool2d", {"output_size": 1}),
            ("reduce", "Conv2d", {"out_channels": 2, "kernel_size": 1}),
            ("relu", "ReLU", {}),
            ("expand", "Conv2d", {"out_channels": 4, "kernel_size": 1}),
            ("gate", "Sigmoid", {}),
            ("scale", "Multiply", {}),
            ("conv", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
            ("add", "Add", {}),
        ],
        [
            ("input", "stem", 0),
            ("stem", "squeeze", 0),
            ("squeeze", "reduce", 0),
            ("reduce", "relu", 0),
            ("relu", "expand", 0),
            ("expand", "gate", 0),
            ("stem", "scale", 0),
            ("gate", "scale", 1),
            ("scale", "conv", 0),
            ("conv", "add", 0),
            ("scale", "add", 1),
        ],
    )


def test_a_squeeze_excitation_gate_keeps_the_stride_of_the_features() -> None:
    """Square and not: the gated units stay `stride` apart, centred where the stem's are,
    and see the whole input (the gate does); the residual add is aligned."""
    for shape, stride in (([2, 23, 23], 2), ([2, 17, 31], 3), ([2, 9, 40], 1)):
        arch = _squeeze_excitation(shape, stride)
        results = analyse(arch).results
        assert [f.jump for f in results["scale"].fields] == [stride, stride]
        assert [f.centre for f in results["scale"].fields] == [0, 0]  # the stem's
        assert results["add"].warnings == ()
        for node in ("scale", "conv", "add"):
            assert_clipped_fields_match_gradient(arch, node)


def test_a_gate_that_misses_rows_still_contains_the_support() -> None:
    """A stem without padding whose stride drops the last rows: the gate does not see
    them, and no unit does."""
    arch = _squeeze_excitation([2, 17, 30], 3, padding=0)
    assert [f.jump for f in analyse(arch).results["scale"].fields] == [3, 3]
    for node in ("scale", "conv", "add"):
        assert_clipped_fields_match_gradient(arch, node, exact=False)


def test_a_cbam_style_block_gates_channels_then_positions() -> None:
    """A channel gate (C×1×1) and a spatial gate (1×H×W from a 7×7 conv) in turn."""
    arch = _build(
        [
            ("input", "Input", {"shape": [2, 21, 27]}),
            (
                "stem",
                "Conv2d",
                {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1},
            ),
            ("pool", "AdaptiveAvgPool2d", {"output_size": 1}),  # a max's gradient is one pixel
            ("mlp", "Conv2d", {"out_channels": 4, "kernel_size": 1}),
            ("channel_gate", "Sigmoid", {}),
            ("channels", "Multiply", {}),
            ("spatial", "Conv2d", {"out_channels": 1, "kernel_size": 7, "padding": 3}),
            ("spatial_gate", "Sigmoid", {}),
            ("positions", "Multiply", {}),
        ],
        [
            ("input", "stem", 0),
            ("stem", "pool", 0),
            ("pool", "mlp", 0),
            ("mlp", "channel_gate", 0),
            ("stem", "channels", 0),
            ("channel_gate", "channels", 1),
            ("channels", "spatial", 0),
            ("spatial", "spatial_gate", 0),
            ("channels", "positions", 0),
            ("spatial_gate", "positions", 1),
        ],
    )
    results = analyse(arch).results
    assert [f.jump for f in results["positions"].fields] == [2, 2]
    assert results["positions"].warnings == ()
    assert_clipped_fields_match_gradient(arch, "channels")
    assert_clipped_fields_match_gradient(arch, "positions")


def test_an_attention_gate() -> None:
    """Attention U-Net's gate: the skip and a wider-seeing gating signal (here a dilated
    conv, at the skip's resolution), each through a 1×1 conv, added, to a 1×H×W gate
    that scales the skip. (Up-sampled gating signals put units at fractional centres,
    which this measurement of whole pixels cannot check.)"""
    arch = _build(
        [
            ("input", "Input", {"shape": [2, 24, 16]}),
            ("skip", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
            (
                "up",
                "Conv2d",
                {"out_channels": 4, "kernel_size": 3, "padding": 2, "dilation": 2},
            ),
            ("theta", "Conv2d", {"out_channels": 2, "kernel_size": 1}),
            ("phi", "Conv2d", {"out_channels": 2, "kernel_size": 1}),
            ("sum", "Add", {}),
            ("psi", "Conv2d", {"out_channels": 1, "kernel_size": 1}),
            ("gate", "Sigmoid", {}),
            ("gated", "Multiply", {}),
        ],
        [
            ("input", "skip", 0),
            ("skip", "up", 0),
            ("skip", "theta", 0),
            ("up", "phi", 0),
            ("theta", "sum", 0),
            ("phi", "sum", 1),
            ("sum", "psi", 0),
            ("psi", "gate", 0),
            ("skip", "gated", 0),
            ("gate", "gated", 1),
        ],
    )
    assert_clipped_fields_match_gradient(arch, "gated")
