"""Max, average and adaptive pooling in 1, 2 and 3 dimensions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from designer.core import receptive
from designer.core.layers.windows import floor_warnings, kernel_param, tuple_param
from designer.core.params import Kind, Param, ParamError, expand
from designer.core.receptive import Fields
from designer.core.shapes import pool_out
from designer.core.spec import (
    LayerError,
    LayerOutput,
    LayerSpec,
    Shape,
    Tensor,
    expect_rank,
    numel,
    spatial_axes,
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
            spatial_axes(n), x.shape[1:], kernels, strides, pads, dilations
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
            more=_indices(shape, fields, p),
        )

    return evaluate


def _indices(shape: Shape, fields: Fields | None, p: dict[str, Any]) -> tuple[Tensor, ...]:
    """Max pooling's second output where `return_indices` asks for it: where each maximum
    was, as int64, in the shape of the values."""
    return (Tensor(shape, fields, "int64"),) if p.get("return_indices") else ()


def _max_slots(p: dict[str, Any]) -> tuple[str, ...]:
    return ("values", "indices") if p["return_indices"] else ("output",)


def _adaptive(n: int, layer: str, is_max: bool):
    def evaluate(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
        (x,) = inputs
        expect_rank(layer, x, n)
        sizes = tuple(
            size if out is None else out
            for size, out in zip(x.shape[1:], expand(p["output_size"], n))
        )
        shape = (x.shape[0], *sizes)
        reads_per_axis = [_reads(size, out) for size, out in zip(x.shape[1:], sizes)]
        fields = None
        if x.fields is not None:
            fields = tuple(
                receptive.adaptive(f, size, out)
                for f, size, out in zip(x.fields, x.shape[1:], sizes)
            )
        reads = x.shape[0] * math.prod(reads_per_axis)
        flops = reads - numel(shape) if is_max else reads
        return LayerOutput(shape, fields, flops=flops, more=_indices(shape, fields, p))

    return evaluate


def _reads(size: int, out: int) -> int:
    """Input positions adaptive pooling reads along one axis: window i spans
    [floor(i·size/out), ceil((i+1)·size/out)). Windows of one width where `out` divides
    `size` (an axis that keeps its size among them, which may be long); otherwise `out` is
    at most MAX_ADAPTIVE_OUTPUT, and each window is counted, in exact integer arithmetic."""
    if size % out == 0:
        return size
    return sum(-(-(i + 1) * size // out) - (i * size) // out for i in range(out))


def _specs() -> list[LayerSpec]:
    specs = []
    for n in (1, 2, 3):
        common = (
            kernel_param(n, default=2),
            tuple_param("stride", n, None, 1, nullable=True, help="defaults to kernel_size"),
            tuple_param("padding", n, 0, 0),
        )
        return_indices = Param(
            "return_indices", Kind.BOOL, False, help="a second output: where each maximum was"
        )
        max_params = (
            *common,
            tuple_param("dilation", n, 1, 1),
            return_indices,
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
        # bounded: window sizes are counted one output position at a time
        output_size = tuple_param(
            "output_size", n, 1, 1, required=True, maximum=MAX_ADAPTIVE_OUTPUT, holes=n > 1
        )
        specs += [
            LayerSpec(
                f"MaxPool{n}d",
                "Pooling",
                max_params,
                _pool(n, f"MaxPool{n}d", True),
                summary=f"{n}-D max pooling",
                check=_check_padding(n),
                torch_name=f"MaxPool{n}d",
                functions=(f"max_pool{n}d", f"max_pool{n}d_with_indices"),
                slots=_max_slots,
            ),
            LayerSpec(
                f"AvgPool{n}d",
                "Pooling",
                avg_params,
                _pool(n, f"AvgPool{n}d", False),
                summary=f"{n}-D average pooling",
                check=_check_padding(n),
                torch_name=f"AvgPool{n}d",
                functions=(f"avg_pool{n}d",),
            ),
            LayerSpec(
                f"AdaptiveAvgPool{n}d",
                "Pooling",
                (output_size,),
                _adaptive(n, f"AdaptiveAvgPool{n}d", False),
                summary=f"{n}-D average pooling to a fixed output size",
                torch_name=f"AdaptiveAvgPool{n}d",
                functions=(f"adaptive_avg_pool{n}d",),
            ),
            LayerSpec(
                f"AdaptiveMaxPool{n}d",
                "Pooling",
                (output_size, return_indices),
                _adaptive(n, f"AdaptiveMaxPool{n}d", True),
                summary=f"{n}-D max pooling to a fixed output size",
                torch_name=f"AdaptiveMaxPool{n}d",
                functions=(f"adaptive_max_pool{n}d", f"adaptive_max_pool{n}d_with_indices"),
                slots=_max_slots,
            ),
        ]
    return specs


SPECS = _specs()
