"""Max, average and adaptive pooling in 1, 2 and 3 dimensions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from designer.core import receptive
from designer.core.layers.windows import floor_warnings, kernel_param, tuple_param
from designer.core.params import Kind, Param, ParamError, expand
from designer.core.shapes import pool_out
from designer.core.spec import (
    SPATIAL_AXES,
    LayerError,
    LayerOutput,
    LayerSpec,
    Tensor,
    expect_rank,
    numel,
)

MAX_ADAPTIVE_OUTPUT = 65_536


def _check_padding(n: int):
    def check(p: dict[str, Any]) -> None:
        for k, pad in zip(expand(p["kernel_size"], n), expand(p["padding"], n)):
            if pad > k // 2:
                raise ParamError("padding", f"{pad} must be at most half of kernel_size {k}")

    return check


def _pool(n: int, layer: str, is_max: bool):
    def evaluate(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
        (x,) = inputs
        expect_rank(layer, x, n)
        kernels = expand(p["kernel_size"], n)
        strides = expand(p["stride"] if p["stride"] is not None else p["kernel_size"], n)
        pads = expand(p["padding"], n)
        dilations = expand(p["dilation"], n) if is_max else (1,) * n
        ceil_mode = p["ceil_mode"]
        spatial, spans = [], []
        for axis, size, k, s, pad, d in zip(
            SPATIAL_AXES[n], x.shape[1:], kernels, strides, pads, dilations
        ):
            if n == 3 and not is_max and size < k:  # aten's avg_pool3d checks it, padding aside
                raise LayerError(
                    f"kernel_size {k} is larger than the input {size} along {axis}; "
                    f"AvgPool3d needs the input alone to cover the kernel, padding aside"
                )
            out = pool_out(size, k, s, pad, d, ceil_mode)
            effective = d * (k - 1) + 1
            if out < 1:
                raise LayerError(
                    f"kernel_size {k} does not fit along {axis}: the input is {size}"
                    + (f" + {2 * pad} padding" if pad else "")
                    + (f" and dilation {d} spans {effective}" if d > 1 else "")
                )
            spatial.append(out)
            spans.append((size, pad, pad, effective, s, out))
        shape = (x.shape[0], *spatial)
        window = math.prod(kernels)
        fields = None
        if x.fields is not None:
            fields = tuple(
                receptive.window(f, span[3], span[4], span[1]) for f, span in zip(x.fields, spans)
            )
        return LayerOutput(
            shape,
            fields,
            flops=(window - 1 if is_max else window) * numel(shape),
            warnings=() if ceil_mode else floor_warnings(spans, n),
        )

    return evaluate


def _adaptive(n: int, layer: str, is_max: bool):
    def evaluate(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
        (x,) = inputs
        expect_rank(layer, x, n)
        sizes = expand(p["output_size"], n)
        shape = (x.shape[0], *sizes)
        reads_per_axis = [
            sum(math.ceil((i + 1) * size / out) - (i * size) // out for i in range(out))
            for size, out in zip(x.shape[1:], sizes)
        ]
        fields = None
        if x.fields is not None:
            fields = tuple(
                receptive.adaptive(f, size, out)
                for f, size, out in zip(x.fields, x.shape[1:], sizes)
            )
        reads = x.shape[0] * math.prod(reads_per_axis)
        return LayerOutput(shape, fields, flops=reads - numel(shape) if is_max else reads)

    return evaluate


def _specs() -> list[LayerSpec]:
    specs = []
    for n in (1, 2, 3):
        common = (
            kernel_param(n, default=2),
            tuple_param("stride", n, None, 1, nullable=True, help="defaults to kernel_size"),
            tuple_param("padding", n, 0, 0),
        )
        max_params = (
            *common,
            tuple_param("dilation", n, 1, 1),
            Param("ceil_mode", Kind.BOOL, False),
        )
        avg_params = (
            *common,
            Param("ceil_mode", Kind.BOOL, False),
            Param("count_include_pad", Kind.BOOL, True),
            # AvgPool1d has no divisor_override in PyTorch
            *(
                (Param("divisor_override", Kind.INT, None, minimum=1, nullable=True),)
                if n > 1
                else ()
            ),
        )
        adaptive_params = (
            # bounded: window sizes are counted one output position at a time
            tuple_param("output_size", n, 1, 1, required=True, maximum=MAX_ADAPTIVE_OUTPUT),
        )
        specs += [
            LayerSpec(
                f"MaxPool{n}d",
                "Pooling",
                max_params,
                _pool(n, f"MaxPool{n}d", True),
                summary=f"{n}-D max pooling",
                check=_check_padding(n),
            ),
            LayerSpec(
                f"AvgPool{n}d",
                "Pooling",
                avg_params,
                _pool(n, f"AvgPool{n}d", False),
                summary=f"{n}-D average pooling",
                check=_check_padding(n),
            ),
            LayerSpec(
                f"AdaptiveAvgPool{n}d",
                "Pooling",
                adaptive_params,
                _adaptive(n, f"AdaptiveAvgPool{n}d", False),
                summary=f"{n}-D average pooling to a fixed output size",
            ),
            LayerSpec(
                f"AdaptiveMaxPool{n}d",
                "Pooling",
                adaptive_params,
                _adaptive(n, f"AdaptiveMaxPool{n}d", True),
                summary=f"{n}-D max pooling to a fixed output size",
            ),
        ]
    return specs


SPECS = _specs()
