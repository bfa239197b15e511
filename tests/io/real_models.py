"""Models written as real projects write them, for the import tests: torchvision's wrapper
modules (written out here, since torchvision does not import in the test environment),
ViTs with a class token and attention, EfficientNet's MBConv, ShuffleNet's channel
shuffle, a ConvNeXt stage, einops, a cyclic shift, recurrent taggers and a Transformer
text classifier."""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from einops import rearrange, reduce
from einops.layers.torch import Rearrange
from torch import nn

# --- torchvision.ops.misc and torchvision.ops.stochastic_depth, as torchvision has them -----


class ConvNormActivation(nn.Sequential):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | None = None,
        groups: int = 1,
        norm_layer=nn.BatchNorm2d,
        activation_layer=nn.ReLU,
        inplace: bool | None = True,
        bias: bool | None = None,
    ) -> None:
        if padding is None:
            padding = (kernel_size - 1) // 2
        if bias is None:
            bias = norm_layer is None
        layers = [
            nn.Conv2d(
                in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=bias
            )
        ]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            params = {} if inplace is None else {"inplace": inplace}
            layers.append(activation_layer(**params))
        super().__init__(*layers)
        self.out_channels = out_channels


class Conv2dNormActivation(ConvNormActivation):
    pass


class SqueezeExcitation(nn.Module):
    def __init__(
        self,
        input_channels: int,
        squeeze_channels: int,
        activation=nn.ReLU,
        scale_activation=nn.Sigmoid,
    ) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def _scale(self, input: torch.Tensor) -> torch.Tensor:
        scale = self.avgpool(input)
        scale = self.fc1(scale)
        scale = self.activation(scale)
        scale = self.fc2(scale)
        return self.scale_activation(scale)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        scale = self._scale(input)
        return scale * input


def stochastic_depth(input: torch.Tensor, p: float, mode: str, training: bool = True):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    survival_rate = 1.0 - p
    size = [input.shape[0]] + [1] * (input.ndim - 1) if mode == "row" else [1] * input.ndim
    noise = torch.empty(size, dtype=input.dtype, device=input.device)
    noise = noise.bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise.div_(survival_rate)
    return input * noise


class StochasticDepth(nn.Module):
    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return stochastic_depth(input, self.p, self.mode, self.training)


class Permute(nn.Module):
    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.permute(x, self.dims)


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        x = x.permute(0, 3, 1, 2)
        return x


# --- ViT, timm's way: a class token, a position table and attention ------------------------


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, fused: bool) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.fused = fused
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if self.fused:
            x = F.scaled_dot_product_attention(q, k, v)
        else:
            attn = (q @ k.transpose(-2, -1)) * self.scale
            attn = attn.softmax(dim=-1)
            x = attn @ v
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, fused: bool) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads, fused)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 4), nn.GELU(), nn.Linear(dim * 4, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    def __init__(
        self,
        image: int = 32,
        patch: int = 8,
        dim: int = 48,
        depth: int = 2,
        heads: int = 3,
        classes: int = 10,
        fused: bool = True,
    ) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, (image // patch) ** 2 + 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, fused) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


class ManualAttentionViT(VisionTransformer):
    def __init__(self) -> None:
        super().__init__(fused=False)


# --- EfficientNet's MBConv --------------------------------------------------------------


class MBConv(nn.Module):
    def __init__(
        self,
        cin: int = 16,
        expand_ratio: int = 4,
        kernel: int = 3,
        stride: int = 1,
        cout: int = 16,
        sd_prob: float = 0.2,
    ) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and cin == cout
        norm_layer = partial(nn.BatchNorm2d, eps=1e-3, momentum=0.01)
        expanded = cin * expand_ratio
        layers = [
            Conv2dNormActivation(
                cin, expanded, kernel_size=1, norm_layer=norm_layer, activation_layer=nn.SiLU
            ),
            Conv2dNormActivation(
                expanded,
                expanded,
                kernel_size=kernel,
                stride=stride,
                groups=expanded,
                norm_layer=norm_layer,
                activation_layer=nn.SiLU,
            ),
            SqueezeExcitation(
                expanded, max(1, cin // 4), activation=partial(nn.SiLU, inplace=True)
            ),
            Conv2dNormActivation(
                expanded, cout, kernel_size=1, norm_layer=norm_layer, activation_layer=None
            ),
        ]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(sd_prob, "row")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        result = self.block(input)
        if self.use_res_connect:
            result = self.stochastic_depth(result)
            result += input
        return result


# --- ShuffleNet V2 ----------------------------------------------------------------------


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    batchsize, num_channels, height, width = x.size()
    channels_per_group = num_channels // groups
    x = x.view(batchsize, groups, channels_per_group, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    x = x.view(batchsize, -1, height, width)
    return x


class ShuffleUnit(nn.Module):
    def __init__(self, channels: int = 24) -> None:
        super().__init__()
        branch = channels // 2
        self.branch2 = nn.Sequential(
            nn.Conv2d(branch, branch, 1, bias=False),
            nn.BatchNorm2d(branch),
            nn.ReLU(inplace=True),
            nn.Conv2d(branch, branch, 3, 1, 1, groups=branch, bias=False),
            nn.BatchNorm2d(branch),
            nn.Conv2d(branch, branch, 1, bias=False),
            nn.BatchNorm2d(branch),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=1)
        out = torch.cat((x1, self.branch2(x2)), dim=1)
        return channel_shuffle(out, 2)


# --- ConvNeXt ---------------------------------------------------------------------------


class CNBlock(nn.Module):
    def __init__(self, dim: int, layer_scale: float = 1e-6, sd_prob: float = 0.1) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim),
            nn.GELU(),
            nn.Linear(4 * dim, dim),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(sd_prob, "row")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        result = self.layer_scale * self.block(input)
        result = self.stochastic_depth(result)
        result += input
        return result


class ConvNeXtStage(nn.Module):
    def __init__(self, dim: int = 16, classes: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dim, 4, 4), LayerNorm2d(dim, eps=1e-6))
        self.stage = nn.Sequential(CNBlock(dim), CNBlock(dim))
        self.downsample = nn.Sequential(LayerNorm2d(dim, eps=1e-6), nn.Conv2d(dim, dim * 2, 2, 2))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Flatten(1), nn.Linear(dim * 2, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(self.stage(self.stem(x)))
        return self.classifier(self.avgpool(x))


# --- einops -----------------------------------------------------------------------------


class EinopsMixer(nn.Module):
    """A patch MLP written with einops: its layer for patches, its functions for the rest."""

    def __init__(self, patch: int = 4, dim: int = 32, classes: int = 10) -> None:
        super().__init__()
        self.to_patches = Rearrange("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=patch, p2=patch)
        self.embed = nn.Linear(patch * patch * 3, dim)
        self.token_mix = nn.Linear(16, 16)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(self.to_patches(x))
        mixed = self.token_mix(rearrange(x, "b n d -> b d n"))
        x = x + rearrange(mixed, "b d n -> b n d")
        return self.head(reduce(x, "b n d -> b d", "mean"))


# --- Swin's cyclic shift: an operation no layer type expresses ---------------------------


class CyclicShift(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.proj = nn.Conv2d(8, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        shifted = torch.roll(x, shifts=(-2, -2), dims=(2, 3))
        return self.proj(shifted) + x


class GramFeatures(nn.Module):
    """Style features: the Gram matrix of a conv's channels, an einsum."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Linear(64, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.conv(x).flatten(2)
        gram = torch.einsum("bcn,bdn->bcd", features, features) / features.shape[-1]
        return self.head(gram.flatten(1))


# --- what else real code is written with ---------------------------------------------------


class GrabBag(nn.Module):
    """Functional padding, resizing, normalisation and clamping, numbers in arithmetic,
    a stack, a sum, and sizes read with len() and a loop over x.size()."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3)
        self.conv2 = nn.Conv2d(8, 8, 3)
        self.fc = nn.Linear(8 * 28 * 28, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.local_response_norm(self.conv1(x), size=3)
        x = F.pad(x, (1, 1, 1, 1), mode="reflect")
        a = torch.clamp(self.conv2(x), min=0.0, max=6.0)
        b = 1.0 - torch.sigmoid(a) * 0.5
        x = torch.stack([a, b], dim=1).sum(dim=1)
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        features = 1
        for size in x.size()[1:]:
            features *= size
        return self.fc(x.view(len(x), features) / 2)


# --- sequences ------------------------------------------------------------------------------


class LSTMTagger(nn.Module):
    """Tags each token, and scores the sentence from the last layer's final state."""

    def __init__(self, vocab: int = 50, dim: int = 16, hidden: int = 24, tags: int = 5) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)
        self.lstm = nn.LSTM(dim, hidden, num_layers=2, batch_first=True)
        self.tagger = nn.Linear(hidden, tags)
        self.sentence = nn.Linear(hidden, 1)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, (h, _c) = self.lstm(self.embedding(tokens))
        return self.tagger(out), self.sentence(h[-1])


class BiGRUTagger(nn.Module):
    def __init__(self, vocab: int = 50, dim: int = 16, hidden: int = 12, tags: int = 7) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)
        self.gru = nn.GRU(dim, hidden, batch_first=True, bidirectional=True)
        self.tagger = nn.Linear(2 * hidden, tags)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.embedding(tokens))
        return F.log_softmax(self.tagger(out), dim=-1)


class TransformerClassifier(nn.Module):
    """Token ids → embeddings plus a learned position table → encoder layers → the mean of
    the tokens that are not padding (id 0) → classes."""

    def __init__(
        self, vocab: int = 200, length: int = 100, dim: int = 32, heads: int = 4, classes: int = 3
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)
        self.position = nn.Parameter(torch.zeros(1, length, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.head = nn.Linear(dim, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embedding(tokens) * self.embedding.embedding_dim**0.5 + self.position
        x = self.encoder(x)
        x = x.masked_fill((tokens == 0).unsqueeze(-1), 0.0)
        return self.head(x.mean(dim=1))
