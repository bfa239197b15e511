"""Six networks of torchvision's model zoo, written again in plain torch.

torchvision does not import beside the torch installed here, so each net is rebuilt from
its paper and torchvision's structure: the same modules, parameter shapes and forward
arithmetic (weights initialise however torch's defaults do; only counts matter here). The
tests hold each to torchvision's published parameter count and, through
torch.utils.flop_counter.FlopCounterMode, to its published "GFLOPS" (multiply-accumulates).

Attention is written with explicit matmuls rather than nn.MultiheadAttention or
F.scaled_dot_product_attention: in torch 2.13 FlopCounterMode counts neither on the CPU
(the attention kernel, and the whole of MultiheadAttention's inference fast path, count
0 FLOPs), though it does count both on the meta device. Explicit matmuls count anywhere.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Activation = Callable[[], nn.Module]


def make_divisible(value: float, divisor: int = 8) -> int:
    """torchvision's _make_divisible: round to a multiple of divisor, losing under 10 %."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn_act(
    cin: int,
    cout: int,
    kernel: int,
    stride: int = 1,
    groups: int = 1,
    activation: Activation | None = nn.ReLU,
    eps: float = 1e-5,
) -> nn.Sequential:
    """torchvision's Conv2dNormActivation: a bias-free conv, BatchNorm, an activation."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout, eps=eps),
    ]
    if activation is not None:
        layers.append(activation())
    return nn.Sequential(*layers)


class SqueezeExcitation(nn.Module):
    """Channel gate: pool, 1×1 conv down, activation, 1×1 conv up, gate, times the input."""

    def __init__(self, channels: int, squeezed: int, activation: Activation, gate: Activation):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeezed, 1)
        self.fc2 = nn.Conv2d(squeezed, channels, 1)
        self.activation = activation()
        self.gate = gate()

    def forward(self, x: Tensor) -> Tensor:
        scale = F.adaptive_avg_pool2d(x, 1)
        return x * self.gate(self.fc2(self.activation(self.fc1(scale))))


class Mlp(nn.Sequential):
    """The transformer's feed-forward block: Linear, GELU, Dropout, Linear, Dropout."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__(
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim),
            nn.Dropout(dropout),
        )


# --- ViT-B/16 -------------------------------------------------------------------------


class SelfAttention(nn.Module):
    """nn.MultiheadAttention's arithmetic (one in-projection, heads, out-projection)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)  # in_proj_weight and in_proj_bias
        self.out = nn.Linear(dim, dim)  # out_proj

    def forward(self, x: Tensor) -> Tensor:
        n, length, dim = x.shape
        qkv = self.qkv(x).reshape(n, length, 3, self.heads, dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        weights = (q * (dim // self.heads) ** -0.5) @ k.transpose(-2, -1)
        x = weights.softmax(dim=-1) @ v
        return self.out(x.transpose(1, 2).reshape(n, length, dim))


class EncoderBlock(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=1e-6)
        self.self_attention = SelfAttention(dim, heads)
        self.dropout = nn.Dropout(0.0)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, hidden)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.dropout(self.self_attention(self.ln_1(x)))
        return x + self.mlp(self.ln_2(x))


class VisionTransformer(nn.Module):
    """ViT-B/16 (Dosovitskiy et al. 2020) as torchvision's vit_b_16."""

    def __init__(
        self,
        image: int = 224,
        patch: int = 16,
        layers: int = 12,
        heads: int = 12,
        dim: int = 768,
        hidden: int = 3072,
        classes: int = 1000,
    ):
        super().__init__()
        self.conv_proj = nn.Conv2d(3, dim, patch, patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        tokens = (image // patch) ** 2 + 1
        self.pos_embedding = nn.Parameter(torch.zeros(1, tokens, dim))
        self.dropout = nn.Dropout(0.0)
        self.layers = nn.Sequential(*(EncoderBlock(dim, heads, hidden) for _ in range(layers)))
        self.ln = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.ln(self.layers(self.dropout(x + self.pos_embedding)))
        return self.head(x[:, 0])


# --- Swin-T ---------------------------------------------------------------------------


def relative_position_index(window: int) -> Tensor:
    """For each pair of positions in a window, the row of the bias table for their offset."""
    coords = torch.stack(
        torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    ).flatten(1)
    offsets = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + window - 1
    return (offsets[..., 0] * (2 * window - 1) + offsets[..., 1]).flatten()


def shift_mask(size: int, window: int, shift: int) -> Tensor:
    """−100 where two positions of a shifted window came from different regions, else 0:
    shape (windows, window², window²)."""
    regions = torch.zeros(size, size)
    bounds = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    for index, (rows, columns) in enumerate((r, c) for r in bounds for c in bounds):
        regions[rows, columns] = index
    per_window = regions.view(size // window, window, size // window, window)
    per_window = per_window.permute(0, 2, 1, 3).reshape(-1, window * window)
    differs = per_window[:, None, :] != per_window[:, :, None]
    return differs.float() * -100.0


class ShiftedWindowAttention(nn.Module):
    """Multi-head attention within 7×7 windows, shifted by `shift` (torch.roll), with a
    learned bias per head for each relative offset, as torchvision's."""

    def __init__(self, dim: int, heads: int, window: int, shift: int):
        super().__init__()
        self.heads, self.window, self.shift = heads, window, shift
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        self.register_buffer("relative_position_index", relative_position_index(window))

    def forward(self, x: Tensor) -> Tensor:
        n, height, width, dim = x.shape
        w, heads = self.window, self.heads
        shift = self.shift if w < height else 0  # one window covers it all: no shift
        if shift:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
        windows = (height // w) * (width // w)
        x = x.view(n, height // w, w, width // w, w, dim).permute(0, 1, 3, 2, 4, 5)
        x = x.reshape(n * windows, w * w, dim)
        qkv = self.qkv(x).reshape(n * windows, w * w, 3, heads, dim // heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        weights = (q * (dim // heads) ** -0.5) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index]
        weights = weights + bias.view(w * w, w * w, heads).permute(2, 0, 1)
        if shift:
            mask = shift_mask(height, w, shift).to(weights.device)
            weights = weights.view(n, windows, heads, w * w, w * w) + mask[None, :, None]
            weights = weights.view(n * windows, heads, w * w, w * w)
        x = (weights.softmax(dim=-1) @ v).transpose(1, 2).reshape(n * windows, w * w, dim)
        x = self.proj(x)
        x = x.view(n, height // w, width // w, w, w, dim).permute(0, 1, 3, 2, 4, 5)
        x = x.reshape(n, height, width, dim)
        if shift:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        return x


class SwinBlock(nn.Module):
    def __init__(self, dim: int, heads: int, window: int, shift: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = ShiftedWindowAttention(dim, heads, window, shift)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))  # stochastic depth is the identity at inference
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """Each 2×2 neighbourhood's four C-vectors joined (4C), normalised, mapped to 2C."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        corners = [x[:, i::2, j::2, :] for j in (0, 1) for i in (0, 1)]
        return self.reduction(self.norm(torch.cat(corners, dim=-1)))


class SwinTransformer(nn.Module):
    """Swin-T (Liu et al. 2021) as torchvision's swin_t: channels last throughout."""

    def __init__(
        self,
        dim: int = 96,
        depths: tuple[int, ...] = (2, 2, 6, 2),
        heads: tuple[int, ...] = (3, 6, 12, 24),
        window: int = 7,
        classes: int = 1000,
    ):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, dim, 4, 4), Permute(0, 2, 3, 1), nn.LayerNorm(dim)]
        for stage, (depth, head_count) in enumerate(zip(depths, heads)):
            channels = dim * 2**stage
            layers += [
                SwinBlock(channels, head_count, window, 0 if i % 2 == 0 else window // 2)
                for i in range(depth)
            ]
            if stage < len(depths) - 1:
                layers.append(PatchMerging(channels))
        self.features = nn.Sequential(*layers)
        channels = dim * 2 ** (len(depths) - 1)
        self.norm = nn.LayerNorm(channels)
        self.head = nn.Linear(channels, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(self.features(x)).permute(0, 3, 1, 2)
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))


class Permute(nn.Module):
    def __init__(self, *dims: int):
        super().__init__()
        self.dims = dims

    def forward(self, x: Tensor) -> Tensor:
        return x.permute(*self.dims)


# --- ConvNeXt-T -----------------------------------------------------------------------


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an N×C×H×W tensor."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """7×7 depthwise conv, LayerNorm, Linear ×4, GELU, Linear back, a learned scale per
    channel, and the residual."""

    def __init__(self, dim: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, 7, padding=3, groups=dim),
            Permute(0, 2, 3, 1),
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim),
            nn.GELU(),
            nn.Linear(4 * dim, dim),
            Permute(0, 3, 1, 2),
        )
        self.layer_scale = nn.Parameter(torch.full((dim, 1, 1), 1e-6))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.layer_scale * self.block(x)


class ConvNeXt(nn.Module):
    """ConvNeXt-T (Liu et al. 2022) as torchvision's convnext_tiny."""

    def __init__(
        self,
        depths: tuple[int, ...] = (3, 3, 9, 3),
        dims: tuple[int, ...] = (96, 192, 384, 768),
        classes: int = 1000,
    ):
        super().__init__()
        layers: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(3, dims[0], 4, 4), LayerNorm2d(dims[0], eps=1e-6))
        ]
        for stage, (depth, dim) in enumerate(zip(depths, dims)):
            layers.append(nn.Sequential(*(ConvNeXtBlock(dim) for _ in range(depth))))
            if stage < len(dims) - 1:
                layers.append(
                    nn.Sequential(LayerNorm2d(dim, eps=1e-6), nn.Conv2d(dim, dims[stage + 1], 2, 2))
                )
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            LayerNorm2d(dims[-1], eps=1e-6), nn.Flatten(1), nn.Linear(dims[-1], classes)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)))


# --- EfficientNet-B0 ------------------------------------------------------------------

# (expansion, kernel, stride, in, out, repeats) per stage, from the paper's Table 1
EFFICIENTNET_B0 = (
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)


class MBConv(nn.Module):
    """Expand (1×1), depthwise k×k, squeeze-and-excite (a quarter of the input's
    channels), project (1×1); a residual where the shape stays."""

    def __init__(self, expansion: int, kernel: int, stride: int, cin: int, cout: int):
        super().__init__()
        hidden = cin * expansion
        layers: list[nn.Module] = []
        if hidden != cin:
            layers.append(conv_bn_act(cin, hidden, 1, activation=nn.SiLU))
        layers += [
            conv_bn_act(hidden, hidden, kernel, stride, groups=hidden, activation=nn.SiLU),
            SqueezeExcitation(hidden, max(1, cin // 4), nn.SiLU, nn.Sigmoid),
            conv_bn_act(hidden, cout, 1, activation=None),
        ]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        out = self.block(x)
        return x + out if self.residual else out  # stochastic depth: identity at inference


class EfficientNet(nn.Module):
    """EfficientNet-B0 (Tan and Le 2019) as torchvision's efficientnet_b0."""

    def __init__(self, classes: int = 1000):
        super().__init__()
        layers: list[nn.Module] = [conv_bn_act(3, 32, 3, 2, activation=nn.SiLU)]
        for expansion, kernel, stride, cin, cout, repeats in EFFICIENTNET_B0:
            for i in range(repeats):
                first = i == 0
                layers.append(
                    MBConv(expansion, kernel, stride if first else 1, cin if first else cout, cout)
                )
        layers.append(conv_bn_act(320, 1280, 1, activation=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


# --- MobileNetV3-Large ----------------------------------------------------------------

# (in, kernel, expanded, out, squeeze-excite, hard-swish, stride), from the paper's Table 1
MOBILENET_V3_LARGE = (
    (16, 3, 16, 16, False, False, 1),
    (16, 3, 64, 24, False, False, 2),
    (24, 3, 72, 24, False, False, 1),
    (24, 5, 72, 40, True, False, 2),
    (40, 5, 120, 40, True, False, 1),
    (40, 5, 120, 40, True, False, 1),
    (40, 3, 240, 80, False, True, 2),
    (80, 3, 200, 80, False, True, 1),
    (80, 3, 184, 80, False, True, 1),
    (80, 3, 184, 80, False, True, 1),
    (80, 3, 480, 112, True, True, 1),
    (112, 3, 672, 112, True, True, 1),
    (112, 5, 672, 160, True, True, 2),
    (160, 5, 960, 160, True, True, 1),
    (160, 5, 960, 160, True, True, 1),
)


class InvertedResidual(nn.Module):
    """MobileNetV3's block: expand, depthwise, optional squeeze-and-excite, project."""

    def __init__(
        self, cin: int, kernel: int, hidden: int, cout: int, se: bool, hs: bool, stride: int
    ):
        super().__init__()
        act: Activation = nn.Hardswish if hs else nn.ReLU
        bn = 0.001
        layers: list[nn.Module] = []
        if hidden != cin:
            layers.append(conv_bn_act(cin, hidden, 1, activation=act, eps=bn))
        layers.append(conv_bn_act(hidden, hidden, kernel, stride, hidden, act, eps=bn))
        if se:
            squeezed = make_divisible(hidden // 4)
            layers.append(SqueezeExcitation(hidden, squeezed, nn.ReLU, nn.Hardsigmoid))
        layers.append(conv_bn_act(hidden, cout, 1, activation=None, eps=bn))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        out = self.block(x)
        return x + out if self.residual else out


class MobileNetV3(nn.Module):
    """MobileNetV3-Large (Howard et al. 2019) as torchvision's mobilenet_v3_large."""

    def __init__(self, classes: int = 1000):
        super().__init__()
        layers: list[nn.Module] = [conv_bn_act(3, 16, 3, 2, activation=nn.Hardswish, eps=0.001)]
        layers += [InvertedResidual(*config) for config in MOBILENET_V3_LARGE]
        layers.append(conv_bn_act(160, 960, 1, activation=nn.Hardswish, eps=0.001))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(960, 1280), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(1280, classes)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


# --- ShuffleNetV2 x1.0 ----------------------------------------------------------------


class ShuffleUnit(nn.Module):
    """ShuffleNetV2's unit: half the channels pass (stride 1) or go through a depthwise
    branch (stride 2), the other half through 1×1, depthwise 3×3, 1×1; the halves are
    joined and shuffled in two groups."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        half = cout // 2
        self.stride = stride
        if stride > 1:
            self.branch1 = nn.Sequential(
                conv_bn_act(cin, cin, 3, stride, groups=cin, activation=None),
                conv_bn_act(cin, half, 1),
            )
        self.branch2 = nn.Sequential(
            conv_bn_act(cin if stride > 1 else half, half, 1),
            conv_bn_act(half, half, 3, stride, groups=half, activation=None),
            conv_bn_act(half, half, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            kept, x = x.chunk(2, dim=1)
            out = torch.cat((kept, self.branch2(x)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return F.channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNetV2 x1.0 (Ma et al. 2018) as torchvision's shufflenet_v2_x1_0."""

    def __init__(
        self,
        repeats: tuple[int, ...] = (4, 8, 4),
        channels: tuple[int, ...] = (24, 116, 232, 464, 1024),
        classes: int = 1000,
    ):
        super().__init__()
        self.conv1 = conv_bn_act(3, channels[0], 3, 2)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages: list[nn.Module] = []
        for count, cin, cout in zip(repeats, channels, channels[1:]):
            stages.append(ShuffleUnit(cin, cout, 2))
            stages += [ShuffleUnit(cout, cout, 1) for _ in range(count - 1)]
        self.stages = nn.Sequential(*stages)
        self.conv5 = conv_bn_act(channels[-2], channels[-1], 1)
        self.fc = nn.Linear(channels[-1], classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv5(self.stages(self.maxpool(self.conv1(x))))
        return self.fc(x.mean([2, 3]))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def forward_macs(model: nn.Module, batch: int = 2, size: int = 224) -> int:
    """Multiply-accumulates per image of a forward pass on the meta device, as
    FlopCounterMode counts them (its FLOPs are 2 per multiply-accumulate; biases and
    elementwise operations are not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    images = torch.empty(batch, 3, size, size, device="meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(images)
    flops = counter.get_total_flops()
    assert flops % (2 * batch) == 0, flops
    return flops // (2 * batch)


def on_meta(build: Callable[[], nn.Module]) -> nn.Module:
    """The model with its tensors on the meta device: shapes without memory or work."""
    with torch.device("meta"):
        return build()


__all__ = [
    "ConvNeXt",
    "EfficientNet",
    "MobileNetV3",
    "ShuffleNetV2",
    "SwinTransformer",
    "VisionTransformer",
    "forward_macs",
    "on_meta",
    "parameter_count",
]
