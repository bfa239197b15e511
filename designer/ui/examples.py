"""The shipped examples as File ▸ Examples lists them: a title (the file's own "name") and
a one-line description (the file's optional top-level "description", else the one here).
Files are read when the menu is built; one that cannot be read is listed by its file name.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import NamedTuple

from designer.core.blocks import Library
from designer.io.project import ProjectError, load

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "resources" / "examples"
WORKED_PREFIX = "seed-"  # the worked cases, in a submenu of their own
BLOCKS_PREFIX = "blocks-"  # the library of blocks, in another

DESCRIPTIONS = {
    "alexnet": "The 2012 ImageNet winner: 5 convolutions, 3 Linear layers, 61 M parameters",
    "espcn": "Super-resolution by sub-pixel convolution: PixelShuffle turns 9 channels into ×3",
    "lenet5": "LeCun's 1998 digit reader on 32×32: two conv-pool stages and three Linear layers",
    "mistake-template": "A template written for 1-channel input, fed 3×32×32: it works, since "
    "in_channels follow from the input",
    "mistake-template-as-written": "The same template with in_channels=1 written down, as its "
    "code has it: the channel mismatch shows on conv1",
    "mobilenetv3-se-block": "An inverted residual: 1×1 expand, 5×5 depthwise, a "
    "squeeze-and-excitation gate (Multiply), 1×1 project, and the skip (Add)",
    "lstm-text-classifier": "Token ids → Embedding → a 2-layer LSTM; its last state h_n[-1] "
    "classifies the text",
    "transformer-encoder-classifier": "Token ids → Embedding + learned positions → two "
    "Transformer encoder layers → the mean over tokens → Linear",
    "vit-tiny": "A Vision Transformer on 32×32: 4×4 patches, a class token, a position table "
    "and three pre-norm encoder layers",
    "blocks-resnet-basic": "ResNet's BasicBlock as blocks (identity, and with a 1×1 downsample "
    "for stride 2), each used at two widths on CIFAR 32×32",
    "blocks-inception": "An Inception block with the branch widths as params (Concat of four "
    "branches): GoogLeNet's 3a, 3b and 4a",
    "blocks-mobilenetv2": "MobileNetV2's inverted residual as blocks, with the skip (Add) and "
    "without it (stride 2 or new width); expand ratio and width as params",
    "blocks-squeeze-excitation": "A squeeze-and-excitation gate block (Sigmoid, Multiply) "
    "nested in a conv stage block used at three widths",
    "blocks-convnext": "The ConvNeXt block: 7×7 depthwise, LayerNorm over channels via "
    "Permute, Linear ×4, GELU, Linear, residual Add; repeated in two stages",
    "blocks-transformer": "A pre-norm Transformer encoder block (LayerNorm, MultiheadAttention, "
    "Linear-GELU-Linear, Adds), repeated at two widths",
    "unet-blocks": "U-Net with a DoubleConv block at every level: MaxPool down, "
    "ConvTranspose2d up, Concat skips",
    "resnet18": "Residual blocks with identity and 1×1 shortcuts (Add): 11.7 M parameters",
    "resnet50-blocks": "ResNet-50 written with blocks: a Bottleneck, and a Stage block that "
    "repeats it; 25.6 M parameters, 4.1 G MACs",
    "unet-small": "Encoder-decoder with skip connections (Concat), 3 levels of 16/32/64 channels",
    "upsampling-three-ways": "Bicubic Upsample vs transposed convolutions, with and without "
    "output_padding",
    "vgg16": "Thirteen 3×3 convolutions in five stages: 138 M parameters, 15.5 G MACs",
    "seed-01-conv-k5": "Output size of a 5×5 convolution with padding 1",
    "seed-02-conv-k3": "A 3×3 convolution with padding 1 keeps the size",
    "seed-03-conv-k5-same-size": "Padding 2 keeps the size of a 5×5 convolution",
    "seed-04-two-conv-k3": "Two 3×3 convolutions see as far as one 5×5, with fewer parameters",
    "seed-05-conv-256-to-512": "Parameters and MACs of a wide 3×3 convolution",
    "seed-06-bottleneck-1x1": "A 1×1 reduction first: the same output for far fewer MACs",
    "seed-07-conv-padding-same": 'padding "same" worked out for you',
    "seed-08-conv-stride2-floor": "A stride that does not divide the span: the size floors, "
    "with a warning",
    "seed-09-convtranspose-s2": "A transposed convolution with stride 2 nearly doubles the size",
    "seed-10-conv-k3-small": "A 3×3 convolution on a 6×6 image, small enough to count by hand",
    "seed-11-conv-dilated": "Dilation 2: a 3×3 kernel that sees 5×5",
    "seed-12-convtranspose-k2": "A 2×2 transposed convolution with stride 1 grows the size by 1",
    "seed-13-convtranspose-k3-s2": "Stride 2, padding 1: a transposed convolution's output size",
    "seed-14-pools-max-avg": "Max and average pooling side by side",
    "seed-15-maxpool-k2": "2×2 max pooling halves the size",
    "seed-16-linear": "The smallest Linear layer: parameters and FLOPs by hand",
    "seed-17-conv-10-filters": "Ten 3×3 filters over three channels: 280 parameters",
    "seed-18-alexnet-stem": "AlexNet's 11×11 stride-4 convolution and its pool",
    "seed-19-inception-naive": "An Inception module without reductions: where the MACs go",
    "seed-20-inception-reduced": "The same module with 1×1 reductions before the large kernels",
}


class Example(NamedTuple):
    path: Path
    title: str
    description: str

    @property
    def worked_case(self) -> bool:
        return self.path.stem.startswith(WORKED_PREFIX)

    @property
    def block_library(self) -> bool:
        return self.path.stem.startswith(BLOCKS_PREFIX)


def is_example(path: Path) -> bool:
    """Whether a file is one of the shipped examples (opened as a copy: Save asks where);
    EXAMPLES is read when asked."""
    try:
        return path.resolve().parent == EXAMPLES.resolve()
    except OSError:
        return False


@cache
def shipped_blocks(folder: Path = EXAMPLES) -> dict[str, Library]:
    """Every block the shipped examples define, by id, with the library of the file that
    defines it (the first, by file name, where two do): the palette's block library."""
    found: dict[str, Library] = {}
    for path in sorted(folder.glob("*.nnd")):
        try:
            blocks = load(path).blocks
        except ProjectError:
            continue
        for block in blocks.library if blocks is not None else ():
            found.setdefault(block.id, blocks.library)
    return found


def examples(folder: Path = EXAMPLES) -> list[Example]:
    """Every example of `folder`, by file name."""
    found = []
    for path in sorted(folder.glob("*.nnd")):
        title, description = path.stem, DESCRIPTIONS.get(path.stem, "")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict):
            if isinstance(data.get("name"), str) and data["name"].strip():
                title = data["name"].strip()
            if isinstance(data.get("description"), str) and data["description"].strip():
                description = data["description"].strip()
        found.append(Example(path, title, description))
    return found
