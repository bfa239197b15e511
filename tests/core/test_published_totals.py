"""torchvision's published totals, reproduced by designs of the six networks built here.

torchvision publishes, for each model, its parameter count and its "GFLOPS", which are
multiply-accumulates in the designer's convention (contracts.md section 3: weight and
tensor products, bias excluded). For each network this file

- rebuilds it in plain torch (tests/published_nets.py) and holds that to the published
  parameter count and, through FlopCounterMode (2 FLOPs per multiply-accumulate), to the
  published GFLOPS, so the torch rebuild is the network torchvision measured;
- builds the same network as a designer design, layer by layer, and holds the engine's
  totals to the published parameter count exactly, to the published GFLOPS as rounded,
  and to the torch rebuild's multiply-accumulates exactly;
- exports that design with the designer's own exporter and has torch run it (meta
  device), counting the same parameters and multiply-accumulates again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from torch import nn

from designer.export.pytorch import export
from designer.export.verify import verify
from tests import published_nets as nets
from tests.design_builder import (
    Design,
    Source,
    conv_bn_act,
    layer_norm_2d,
    mlp,
    roll,
    squeeze_excitation,
)

IMAGE = (3, 224, 224)


# --- ViT-B/16 -------------------------------------------------------------------------


def self_attention(d: Design, x: Source, tokens: int, dim: int, heads: int) -> str:
    """nn.MultiheadAttention on L×D tokens: one Linear makes q, k and v, heads attend
    (ScaledDotProductAttention), a Linear projects the joined heads."""
    qkv = d.chain(
        x,
        ("Linear", {"out_features": 3 * dim}),
        ("Reshape", {"shape": [tokens, 3, heads, dim // heads]}),
        ("Permute", {"dims": [0, 2, 3, 1, 4]}),  # 3 × heads × L × head size
    )
    q, k, v = (d.add("Select", qkv, dim=1, index=i) for i in range(3))
    return d.chain(
        d.add("ScaledDotProductAttention", q, k, v),
        ("Transpose", {"dim0": 1, "dim1": 2}),
        ("Reshape", {"shape": [tokens, dim]}),
        ("Linear", {"out_features": dim}),
    )


def vit_b_16() -> Design:
    dim, heads, hidden, tokens = 768, 12, 3072, 14 * 14 + 1
    d = Design("ViT-B/16", IMAGE)
    patches = d.chain(
        d.input,
        ("Conv2d", {"out_channels": dim, "kernel_size": 16, "stride": 16}),
        ("Flatten", {"start_dim": 2}),
        ("Transpose", {"dim0": 1, "dim1": 2}),  # 196 patches × 768
    )
    x = d.add("Concat", d.add("Parameter", shape=[1, dim]), patches, dim=1)  # class token
    x = d.add("Add", x, d.add("Parameter", shape=[tokens, dim]))  # position embedding
    x = d.add("Dropout", x, p=0.0)
    for _ in range(12):
        attention = self_attention(d, d.add("LayerNorm", x, eps=1e-6), tokens, dim, heads)
        x = d.add("Add", x, d.add("Dropout", attention, p=0.0))
        x = d.add("Add", x, mlp(d, d.add("LayerNorm", x, eps=1e-6), dim, hidden))
    d.chain(
        x,
        ("LayerNorm", {"eps": 1e-6}),
        ("Select", {"dim": 1, "index": 0}),  # the class token
        ("Linear", {"out_features": 1000}),
    )
    return d


# --- Swin-T ---------------------------------------------------------------------------


def relative_position_bias(d: Design, window: int, heads: int) -> str:
    """The learned bias of each head for each pair of positions in a window, as a
    heads × W² × W² tensor, 1 × heads × W² × W² to broadcast over the windows.

    torchvision gathers it from a table of (2W−1)² × heads parameters, one row per
    relative offset (dy, dx) of two positions. The designer has no gather, so the table
    here is a (2W−1) × (2W−1) × heads Parameter holding the same rows in reverse order
    (offset (dy, dx) at [W−1−dy, W−1−dx]): the bias of a query at (y, x) for every key
    is then one W × W Slice of it, [W−1−y : 2W−1−y, W−1−x : 2W−1−x]. Stacking the W²
    slices gives the bias: the same parameters, no multiply-accumulates."""
    span = 2 * window - 1
    table = d.add("Parameter", shape=[span, span, heads])
    rows = [d.add("Slice", table, dim=1, start=window - 1 - y, end=span - y) for y in range(window)]
    per_query = [
        d.add("Slice", rows[y], dim=2, start=window - 1 - x, end=span - x)
        for y in range(window)
        for x in range(window)
    ]
    return d.chain(
        d.add("Stack", *per_query, dim=1),  # W² queries × W × W keys × heads
        ("Reshape", {"shape": [window**2, window**2, heads]}),
        ("Permute", {"dims": [0, 3, 1, 2]}),
        ("Unsqueeze", {"dim": 1}),
    )


def window_attention(
    d: Design, x: Source, size: int, dim: int, heads: int, window: int, shift: int
) -> str:
    """torchvision's shifted_window_attention on a size × size × dim map: roll by −shift,
    cut into windows, attend within each with the relative position bias, join the
    windows and roll back.

    Left out: in a shifted block torchvision also adds a constant mask (−100 between
    positions that the roll brought together from different regions) to the attention
    weights. It has no parameters and no multiply-accumulates, and the catalog has no
    layer for a constant tensor."""
    cells, area, head_size = size // window, window * window, dim // heads
    if shift:
        x = roll(d, roll(d, x, -shift, dim=1), -shift, dim=2)
    x = d.chain(
        x,
        ("Reshape", {"shape": [cells, window, cells, window, dim]}),
        ("Permute", {"dims": [0, 1, 3, 2, 4, 5]}),
        ("Reshape", {"shape": [cells * cells, area, dim]}),  # windows × W² × dim
    )
    qkv = d.chain(
        x,
        ("Linear", {"out_features": 3 * dim}),
        ("Reshape", {"shape": [cells * cells, area, 3, heads, head_size]}),
        ("Permute", {"dims": [0, 3, 1, 4, 2, 5]}),  # 3 × windows × heads × W² × head size
    )
    q, k, v = (d.add("Select", qkv, dim=1, index=i) for i in range(3))
    q = d.add("Multiply", q, other=head_size**-0.5)
    weights = d.add("MatMul", q, d.add("Transpose", k, dim0=-2, dim1=-1))
    weights = d.add("Add", weights, relative_position_bias(d, window, heads))
    weights = d.chain(weights, ("Softmax", {"dim": -1}), ("Dropout", {"p": 0.0}))
    x = d.chain(
        d.add("MatMul", weights, v),
        ("Transpose", {"dim0": 2, "dim1": 3}),
        ("Reshape", {"shape": [cells * cells, area, dim]}),
        ("Linear", {"out_features": dim}),
        ("Dropout", {"p": 0.0}),
        ("Reshape", {"shape": [cells, cells, window, window, dim]}),
        ("Permute", {"dims": [0, 1, 3, 2, 4, 5]}),
        ("Reshape", {"shape": [size, size, dim]}),
    )
    if shift:
        x = roll(d, roll(d, x, shift, dim=1), shift, dim=2)
    return x


def patch_merging(d: Design, x: Source, dim: int) -> str:
    """The four positions of each 2×2 neighbourhood joined (4·dim), LayerNorm, Linear to
    2·dim without bias."""
    corners = [
        d.chain(
            x,
            ("Slice", {"dim": 1, "start": i, "step": 2}),
            ("Slice", {"dim": 2, "start": j, "step": 2}),
        )
        for j in (0, 1)
        for i in (0, 1)
    ]
    return d.chain(
        d.add("Concat", *corners, dim=-1),
        ("LayerNorm", {}),
        ("Linear", {"out_features": 2 * dim, "bias": False}),
    )


def swin_t() -> Design:
    embed, window, depths, heads = 96, 7, (2, 2, 6, 2), (3, 6, 12, 24)
    d = Design("Swin-T", IMAGE)
    x = d.chain(
        d.input,
        ("Conv2d", {"out_channels": embed, "kernel_size": 4, "stride": 4}),
        ("Permute", {"dims": [0, 2, 3, 1]}),  # channels last from here on
        ("LayerNorm", {}),
    )
    size = IMAGE[1] // 4
    for stage, (depth, head_count) in enumerate(zip(depths, heads)):
        dim = embed * 2**stage
        for i in range(depth):
            shift = window // 2 if i % 2 and window < size else 0
            attention = window_attention(
                d, d.add("LayerNorm", x), size, dim, head_count, window, shift
            )
            x = d.add("Add", x, attention)
            x = d.add("Add", x, mlp(d, d.add("LayerNorm", x), dim, 4 * dim))
        if stage < len(depths) - 1:
            x = patch_merging(d, x, dim)
            size //= 2
    d.chain(
        x,
        ("LayerNorm", {}),
        ("Permute", {"dims": [0, 3, 1, 2]}),
        ("AdaptiveAvgPool2d", {"output_size": 1}),
        ("Flatten", {}),
        ("Linear", {"out_features": 1000}),
    )
    return d


# --- ConvNeXt-T -----------------------------------------------------------------------


def convnext_t() -> Design:
    depths, dims = (3, 3, 9, 3), (96, 192, 384, 768)
    d = Design("ConvNeXt-T", IMAGE)
    x = d.add("Conv2d", d.input, out_channels=dims[0], kernel_size=4, stride=4)
    x = layer_norm_2d(d, x)
    for stage, (depth, dim) in enumerate(zip(depths, dims)):
        for _ in range(depth):
            branch = d.chain(
                x,
                ("Conv2d", {"out_channels": dim, "kernel_size": 7, "padding": 3, "groups": dim}),
                ("Permute", {"dims": [0, 2, 3, 1]}),
                ("LayerNorm", {"eps": 1e-6}),
                ("Linear", {"out_features": 4 * dim}),
                ("GELU", {}),
                ("Linear", {"out_features": dim}),
                ("Permute", {"dims": [0, 3, 1, 2]}),
            )
            scaled = d.add("Multiply", d.add("Parameter", shape=[dim, 1, 1]), branch)
            x = d.add("Add", x, scaled)
        if stage < len(dims) - 1:
            x = layer_norm_2d(d, x)
            x = d.add("Conv2d", x, out_channels=dims[stage + 1], kernel_size=2, stride=2)
    x = d.add("AdaptiveAvgPool2d", x, output_size=1)
    d.chain(layer_norm_2d(d, x), ("Flatten", {}), ("Linear", {"out_features": 1000}))
    return d


# --- EfficientNet-B0 ------------------------------------------------------------------


def efficientnet_b0() -> Design:
    d = Design("EfficientNet-B0", IMAGE)
    x = conv_bn_act(d, d.input, 32, 3, 2, activation="SiLU")
    for expansion, kernel, stride, cin, cout, repeats in nets.EFFICIENTNET_B0:
        for i in range(repeats):
            inp = cin if i == 0 else cout
            step = stride if i == 0 else 1
            hidden = inp * expansion
            y: Source = x
            if hidden != inp:
                y = conv_bn_act(d, y, hidden, 1, activation="SiLU")
            y = conv_bn_act(d, y, hidden, kernel, step, groups=hidden, activation="SiLU")
            y = squeeze_excitation(d, y, hidden, max(1, inp // 4), "SiLU", "Sigmoid")
            y = conv_bn_act(d, y, cout, 1, activation=None)
            x = d.add("Add", x, y) if step == 1 and inp == cout else y
    x = conv_bn_act(d, x, 1280, 1, activation="SiLU")
    d.chain(
        x,
        ("AdaptiveAvgPool2d", {"output_size": 1}),
        ("Flatten", {}),
        ("Dropout", {"p": 0.2}),
        ("Linear", {"out_features": 1000}),
    )
    return d


# --- MobileNetV3-Large ----------------------------------------------------------------


def mobilenet_v3_large() -> Design:
    d = Design("MobileNetV3-Large", IMAGE)
    x = conv_bn_act(d, d.input, 16, 3, 2, activation="Hardswish")
    for cin, kernel, hidden, cout, se, hs, stride in nets.MOBILENET_V3_LARGE:
        act = "Hardswish" if hs else "ReLU"
        y: Source = x
        if hidden != cin:
            y = conv_bn_act(d, y, hidden, 1, activation=act)
        y = conv_bn_act(d, y, hidden, kernel, stride, groups=hidden, activation=act)
        if se:
            squeezed = nets.make_divisible(hidden // 4)
            y = squeeze_excitation(d, y, hidden, squeezed, "ReLU", "Hardsigmoid")
        y = conv_bn_act(d, y, cout, 1, activation=None)
        x = d.add("Add", x, y) if stride == 1 and cin == cout else y
    x = conv_bn_act(d, x, 960, 1, activation="Hardswish")
    d.chain(
        x,
        ("AdaptiveAvgPool2d", {"output_size": 1}),
        ("Flatten", {}),
        ("Linear", {"out_features": 1280}),
        ("Hardswish", {}),
        ("Dropout", {"p": 0.2}),
        ("Linear", {"out_features": 1000}),
    )
    return d


# --- ShuffleNetV2 x1.0 ----------------------------------------------------------------


def shuffle_unit(d: Design, x: Source, cin: int, cout: int, stride: int) -> str:
    """Stride 1: Chunk the channels in two, one half passes; stride 2: a depthwise
    branch beside. Concat, then ChannelShuffle in two groups."""
    half = cout // 2
    if stride == 1:
        chunk = d.add("Chunk", x, chunks=2, dim=1)
        kept: Source = (chunk, 0)
        x = (chunk, 1)
    else:
        kept = conv_bn_act(d, x, cin, 3, stride, groups=cin, activation=None)
        kept = conv_bn_act(d, kept, half, 1)
    branch = conv_bn_act(d, x, half, 1)
    branch = conv_bn_act(d, branch, half, 3, stride, groups=half, activation=None)
    branch = conv_bn_act(d, branch, half, 1)
    return d.add("ChannelShuffle", d.add("Concat", kept, branch, dim=1), groups=2)


def shufflenet_v2_x1_0() -> Design:
    repeats, channels = (4, 8, 4), (24, 116, 232, 464, 1024)
    d = Design("ShuffleNetV2 x1.0", IMAGE)
    x = conv_bn_act(d, d.input, channels[0], 3, 2)
    x = d.add("MaxPool2d", x, kernel_size=3, stride=2, padding=1)
    for count, cin, cout in zip(repeats, channels, channels[1:]):
        x = shuffle_unit(d, x, cin, cout, 2)
        for _ in range(count - 1):
            x = shuffle_unit(d, x, cout, cout, 1)
    x = conv_bn_act(d, x, channels[-1], 1)
    d.chain(x, ("Mean", {"dim": [2, 3]}), ("Linear", {"out_features": 1000}))
    return d


# --- the published figures -------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """One model of torchvision's table, and the two rebuilds of it here."""

    name: str
    params: int
    gflops: str  # torchvision's "GFLOPS" (multiply-accumulates), as printed
    torch_net: Callable[[], nn.Module]
    design: Callable[[], Design]


PUBLISHED = [
    Published("ViT-B/16", 86_567_656, "17.564", nets.VisionTransformer, vit_b_16),
    Published("Swin-T", 28_288_354, "4.491", nets.SwinTransformer, swin_t),
    Published("ConvNeXt-T", 28_589_128, "4.456", nets.ConvNeXt, convnext_t),
    Published("EfficientNet-B0", 5_288_548, "0.386", nets.EfficientNet, efficientnet_b0),
    Published("MobileNetV3-Large", 5_483_032, "0.217", nets.MobileNetV3, mobilenet_v3_large),
    Published("ShuffleNetV2 x1.0", 2_278_604, "0.145", nets.ShuffleNetV2, shufflenet_v2_x1_0),
]
BY_NAME = {model.name: model for model in PUBLISHED}
NAMES = list(BY_NAME)


def giga(macs: int) -> str:
    """Multiply-accumulates in billions to three places, as torchvision prints them."""
    return f"{macs / 1e9:.3f}"


@functools.cache
def torch_counts(name: str) -> tuple[int, int]:
    """The torch rebuild's parameters, and its multiply-accumulates per 224×224 image
    (FlopCounterMode over a batch of two on the meta device)."""
    model = nets.on_meta(BY_NAME[name].torch_net)
    return nets.parameter_count(model), nets.forward_macs(model, batch=2)


@pytest.mark.parametrize("name", NAMES)
def test_torch_rebuild_has_the_published_totals(name: str) -> None:
    model = BY_NAME[name]
    params, macs = torch_counts(name)
    assert params == model.params
    assert giga(macs) == model.gflops


@pytest.mark.parametrize("name", NAMES)
def test_design_has_the_published_totals(name: str) -> None:
    model = BY_NAME[name]
    totals = model.design().totals()
    params, macs = torch_counts(name)
    assert totals.params == model.params == params
    assert totals.macs == macs
    assert giga(totals.macs) == model.gflops


def test_vit_macs_by_hand() -> None:
    """ViT-B/16's figure from its shape alone: the patch embedding, per block the q/k/v
    projection, Q·Kᵀ and the weights times V over 12 heads of 64, the out projection and
    the MLP, and the head on the class token."""
    tokens, dim, hidden, blocks = 197, 768, 3072, 12
    patches = (tokens - 1) * dim * 3 * 16 * 16
    block = (
        tokens * dim * 3 * dim  # q, k, v
        + 2 * tokens * tokens * dim  # Q·Kᵀ and weights·V, 12 heads × 64 = 768
        + tokens * dim * dim  # out projection
        + 2 * tokens * dim * hidden  # MLP
    )
    macs = patches + blocks * block + dim * 1000
    assert giga(macs) == BY_NAME["ViT-B/16"].gflops
    assert vit_b_16().totals().macs == macs


@pytest.mark.parametrize("name", NAMES)
def test_exported_design_runs_with_the_same_totals(name: str) -> None:
    """The design as the designer exports it to PyTorch: verify finds no node where torch
    disagrees, and torch counts the design's parameters and multiply-accumulates."""
    design = BY_NAME[name].design()
    engine = design.analyse()
    exported = export(design.arch, engine)
    assert verify(exported, design.arch, engine) == []
    namespace: dict[str, object] = {"__name__": "published_export"}
    exec(compile(exported.source, f"<export of {name}>", "exec"), namespace)  # noqa: S102
    model = nets.on_meta(namespace[exported.class_name])  # type: ignore[arg-type]
    totals = engine.totals()
    assert nets.parameter_count(model) == totals.params
    assert nets.forward_macs(model, batch=2) == totals.macs
