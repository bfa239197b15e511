"""Conv1d/2d/3d and ConvTranspose1d/2d/3d."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from designer.core import receptive
from designer.core.layers.windows import floor_warnings, kernel_param, tuple_param
from designer.core.params import Kind, Param, ParamError, expand, show_value
from designer.core.shapes import conv_transpose_out, same_padding
from designer.core.spec import (
    LayerError,
    LayerOutput,
    LayerSpec,
    Module,
    Tensor,
    check_inferred,
    dims,
    expect_rank,
    first_dimension,
    numel,
    spatial_axes,
)


def _common_params(n: int, transposed: bool) -> tuple[Param, ...]:
    padding = (
        tuple_param("padding", n, 0, 0)
        if transposed
        else Param("padding", Kind.PADDING, 0, minimum=0, length=n)
    )
    head = (
        Param(
            "in_channels",
            Kind.INT,
            None,
            minimum=1,
            nullable=True,
            inferred=True,
            from_input=first_dimension,
        ),
        Param("out_channels", Kind.INT, 16, minimum=1, required=True),
        kernel_param(n),
        tuple_param("stride", n, 1, 1),
        padding,
    )
    dilation = tuple_param("dilation", n, 1, 1)
    groups = Param("groups", Kind.INT, 1, minimum=1)
    bias = Param("bias", Kind.BOOL, True)
    padding_mode = Param(
        "padding_mode",
        Kind.CHOICE,
        "zeros",
        choices=PADDING_MODES,
        help="what the padding holds: zeros, or the input reflected, replicated or wrapped",
    )
    if transposed:  # PyTorch's argument order differs between the two
        output_padding = tuple_param("output_padding", n, 0, 0)
        return (*head, output_padding, groups, bias, dilation, padding_mode)
    return (*head, dilation, groups, bias, padding_mode)


PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _check_groups(p: dict[str, Any]) -> None:
    if p["out_channels"] % p["groups"]:
        raise ParamError(
            "groups", f"{p['groups']} does not divide out_channels {p['out_channels']}"
        )


def _check_conv(n: int):
    def check(p: dict[str, Any]) -> None:
        _check_groups(p)
        strides = expand(p["stride"], n)
        if p["padding"] == "same" and any(s != 1 for s in strides):
            raise ParamError(
                "padding",
                f"'same' needs stride 1 (PyTorch refuses it), got stride {show_value(p['stride'])}",
            )

    return check


def _check_transposed(n: int):
    def check(p: dict[str, Any]) -> None:
        _check_groups(p)
        if p["padding_mode"] != "zeros":
            raise ParamError(
                "padding_mode",
                f"{p['padding_mode']!r}: transposed convolutions take only 'zeros' "
                "(PyTorch refuses the others)",
            )
        triples = zip(
            expand(p["output_padding"], n), expand(p["stride"], n), expand(p["dilation"], n)
        )
        for op, s, d in triples:
            if op >= s and op >= d:
                raise ParamError(
                    "output_padding",
                    f"{op} must be smaller than stride {s} or dilation {d}",
                )

    return check


def _in_channels(layer: str, x: Tensor, p: dict[str, Any], n: int) -> int:
    """The input's channels, after the checks PyTorch makes (common case first: this
    runs for every convolution of every analysis)."""
    if len(x.shape) != n + 1:
        expect_rank(layer, x, n)
    channels = x.shape[0]
    if p.get("in_channels") is not None:
        check_inferred(p, "in_channels", channels)
    if channels % p["groups"]:
        raise LayerError(
            f"in_channels {channels} (from the input {dims(x.shape)}) is not divisible by groups {p['groups']}"
        )
    return channels


def _paddings(padding: Any, kernels: tuple, dilations: tuple, n: int) -> list[tuple[int, int]]:
    """(before, after) per axis; 'same' puts the odd pixel after, as PyTorch does."""
    if padding == "same":
        return [same_padding(k, d) for k, d in zip(kernels, dilations)]
    if padding == "valid":
        return [(0, 0)] * n
    return [(p, p) for p in expand(padding, n)]


def _conv(n: int, layer: str):
    def evaluate(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
        (x,) = inputs
        c_in = _in_channels(layer, x, p, n)
        kernels = expand(p["kernel_size"], n)
        dilations = expand(p["dilation"], n)
        spans = []
        uneven = False
        mode = p["padding_mode"]
        for size, k, s, d, (before, after) in zip(
            x.shape[1:],
            kernels,
            expand(p["stride"], n),
            dilations,
            _paddings(p["padding"], kernels, dilations, n),
        ):
            if mode != "zeros":
                _check_padding_fits(mode, size, max(before, after), spatial_axes(n)[len(spans)])
            effective = d * (k - 1) + 1
            covered = size + before + after - effective
            if covered < 0:
                raise LayerError(
                    f"kernel_size {k}{_dilated(k, d)} is larger than the padded input "
                    f"{size + before + after} ({size} + {before + after} padding) along "
                    f"{spatial_axes(n)[len(spans)]}"
                )
            uneven = uneven or covered % s != 0
            spans.append((size, before, after, effective, s, covered // s + 1))
        c_out = p["out_channels"]
        shape = (c_out, *[span[5] for span in spans])
        per_output = (c_in // p["groups"]) * math.prod(kernels)
        outputs = math.prod(shape)
        macs = outputs * per_output
        fields = None
        if x.fields is not None:
            fields = tuple(
                [receptive.window(f, span[3], span[4], span[1]) for f, span in zip(x.fields, spans)]
            )
        bias = p["bias"]
        return LayerOutput(
            shape,
            fields,
            c_out * per_output + (c_out if bias else 0),
            0,
            macs,
            2 * macs - (0 if bias else outputs),
            floor_warnings(spans, n) if uneven else (),
        )

    return evaluate


def _conv_transposed(n: int, layer: str):
    def evaluate(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
        (x,) = inputs
        c_in = _in_channels(layer, x, p, n)
        kernels = expand(p["kernel_size"], n)
        geometry = list(
            zip(
                spatial_axes(n),
                x.shape[1:],
                kernels,
                expand(p["stride"], n),
                expand(p["padding"], n),
                expand(p["dilation"], n),
                expand(p["output_padding"], n),
            )
        )
        spatial = []
        for axis, size, k, s, pad, d, op in geometry:
            out = conv_transpose_out(size, k, s, pad, d, op)
            if out < 1:
                raise LayerError(
                    f"output length along {axis} would be {out}: ({size} − 1)·{s} − 2·{pad} + "
                    f"{d}·({k} − 1) + {op} + 1; reduce padding {pad}"
                )
            spatial.append(out)
        c_out = p["out_channels"]
        shape = (c_out, *spatial)
        per_position = c_in * (c_out // p["groups"]) * math.prod(kernels)
        macs = per_position * numel(x.shape[1:])
        fields = None
        if x.fields is not None:
            fields = tuple(
                receptive.transposed_window(f, d * (k - 1) + 1, s, pad)
                for f, (_, _, k, s, pad, d, _) in zip(x.fields, geometry)
            )
        return LayerOutput(
            shape,
            fields,
            params=per_position + (c_out if p["bias"] else 0),
            macs=macs,
            flops=2 * macs - (0 if p["bias"] else numel(shape)),
        )

    return evaluate


def _check_padding_fits(mode: str, size: int, pad: int, axis: str) -> None:
    """PyTorch's limits on padding that reads the input: reflect mirrors inside it, so
    the padding must be smaller than the input; circular may wrap around once."""
    if mode == "reflect" and pad >= size:
        raise LayerError(
            f"padding_mode 'reflect' needs padding smaller than the input: padding {pad} "
            f"against {size} along {axis}"
        )
    if mode == "circular" and pad > size:
        raise LayerError(
            f"padding_mode 'circular' needs padding at most the input's size: padding {pad} "
            f"against {size} along {axis} would wrap around more than once"
        )


def _dilated(kernel: int, dilation: int) -> str:
    return f" (dilation {dilation} spans {dilation * (kernel - 1) + 1})" if dilation > 1 else ""


def _specs() -> list[LayerSpec]:
    specs = []
    for n in (1, 2, 3):
        name = f"Conv{n}d"
        specs.append(
            LayerSpec(
                name,
                "Convolution",
                _common_params(n, False),
                _conv(n, name),
                summary=f"{n}-D convolution",
                check=_check_conv(n),
                torch_name=name,
                written_as=Module(positional=("in_channels", "out_channels")),
                functions=(f"conv{n}d",),
                weighted=True,
            )
        )
    for n in (1, 2, 3):
        name = f"ConvTranspose{n}d"
        specs.append(
            LayerSpec(
                name,
                "Convolution",
                _common_params(n, True),
                _conv_transposed(n, name),
                summary=f"{n}-D transposed convolution (learned up-sampling)",
                check=_check_transposed(n),
                torch_name=name,
                written_as=Module(positional=("in_channels", "out_channels")),
                weighted=True,
            )
        )
    return specs


SPECS = _specs()
