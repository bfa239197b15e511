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


def assert_fields_match_gradient(arch: Architecture, target: str) -> None:
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
