"""Output-size arithmetic, exactly as PyTorch computes it (aten's Pool.h and ConvUtils.h)."""

from __future__ import annotations


def conv_transpose_out(
    size: int, kernel: int, stride: int, padding: int, dilation: int, output_padding: int
) -> int:
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def pool_out(
    size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool
) -> int:
    """Pooling output length; with ceil_mode a last window starting in the padding is dropped."""
    numerator = size + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = numerator // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def same_padding(kernel: int, dilation: int) -> tuple[int, int]:
    """PyTorch's padding='same': d(k-1) in total, the odd pixel on the right."""
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2
