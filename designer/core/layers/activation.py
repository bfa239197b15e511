"""Activation functions: shape kept (GLU halves one dimension), receptive fields kept.

FLOPs: 1 per element for every elementwise activation, whatever its formula (ReLU, GELU,
Hardtanh, PReLU, Mish, Softplus, SELU, CELU, LogSigmoid, Softsign…); Softmax, LogSoftmax
and Softmin 3 (an exponential, a share of the sum, a divide); GLU 2 per output element
(a sigmoid and a product). Only PReLU has parameters: its learned slopes.

A number argument must fit the type torch computes in, or torch refuses it ("value cannot
be converted to type float without overflow"): float32 for every floating input but
float64 (ELU's alpha, LeakyReLU's negative_slope, CELU's alpha and 1/alpha, Softplus's beta
and threshold), and the input's own dtype for Hardtanh's bounds (65504 in float16).

Every activation takes the batch wherever torch's tensor holds it (dim 0, or 1 in a
sequence-first layout); `dim` counts it there. PReLU with one slope per channel reads the
channels at dim 1 and so takes only a batch-first input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from designer.core import receptive
from designer.core.params import Kind, Param, ParamError, show_value
from designer.core.spec import (
    LayerError,
    LayerOutput,
    LayerSpec,
    Tensor,
    dims,
    normalise_dim,
    numel,
    pointwise,
)

_INPLACE = Param("inplace", Kind.BOOL, False)

# The largest finite value of each floating dtype. Torch converts a number argument to the
# type it computes in and refuses one beyond that type's range (infinity converts).
FLOAT_MAX = {
    "float16": 65504.0,
    "bfloat16": 3.3895313892515355e38,
    "float32": 3.4028234663852886e38,
    "float64": math.inf,
}


def computing_type(dtype: str) -> str:
    """The type torch's elementwise kernels compute in: float32, but float64 for float64."""
    return "float64" if dtype == "float64" else "float32"


def check_fits(name: str, value: float, dtype: str) -> None:
    """Refuse, as torch does, a number argument beyond the range of `dtype`."""
    if math.isfinite(value) and abs(value) > FLOAT_MAX.get(dtype, math.inf):
        raise LayerError(
            f"{name} {show_value(value)} is beyond ±{FLOAT_MAX[dtype]:g}, the range of {dtype}, "
            "which PyTorch converts it to: PyTorch refuses it"
        )


def _fitting(*names: str):
    """pointwise(1), refusing the number arguments `names` beyond the computing type."""

    def evaluate(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
        (x,) = inputs
        for name in names:
            check_fits(name, p[name], computing_type(x.dtype))
        return LayerOutput(x.shape, x.fields, flops=numel(x.shape))

    return evaluate


def _softmax(layer: str):
    def evaluate(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
        (x,) = inputs
        normalise_dim(layer, "dim", p["dim"], x.shape, x.batch_axis)
        return LayerOutput(x.shape, x.fields, flops=3 * numel(x.shape))

    return evaluate


def _elementwise(
    name: str,
    summary: str,
    *params: Param,
    function: str,
    method: bool = False,
    evaluate=None,
    check=None,
    traced_as: tuple[str, ...] = (),
) -> LayerSpec:
    """A pointwise activation, imported from torch's `function` (and the Tensor method of
    that name where `method`; `traced_as`: other names torch.fx records the call by)."""
    return LayerSpec(
        name,
        "Activation",
        params,
        evaluate or pointwise(1),
        summary=summary,
        check=check,
        torch_name=name,
        functions=(function, f"{function}_", *traced_as),
        methods=(function, f"{function}_") if method else (),
        batch_anywhere=True,
    )


_SOFTMAX_FUNCTIONS = {"Softmax": "softmax", "LogSoftmax": "log_softmax", "Softmin": "softmin"}


def _softmax_spec(name: str, summary: str) -> LayerSpec:
    dim = Param(
        "dim",
        Kind.INT,
        1,
        pytorch_default=None,
        help="counts the batch dimension; 1 is the channels",
    )
    function = _SOFTMAX_FUNCTIONS[name]
    return LayerSpec(
        name,
        "Activation",
        (dim,),
        _softmax(name),
        summary=summary,
        torch_name=name,
        functions=(function,),
        methods=(function,) if name != "Softmin" else (),  # torch.Tensor has no .softmin
        batch_anywhere=True,
    )


def _hardtanh_bounds(p: dict[str, Any]) -> tuple[float, float]:
    """min_val and max_val, or the deprecated min_value and max_value that override them."""
    low = p["min_val"] if p["min_value"] is None else p["min_value"]
    high = p["max_val"] if p["max_value"] is None else p["max_value"]
    return low, high


def _check_hardtanh(p: dict[str, Any]) -> None:
    low, high = _hardtanh_bounds(p)
    if high <= low:
        name = "max_val" if p["max_value"] is None else "max_value"
        raise ParamError(
            name,
            f"{show_value(high)} must be greater than the lower bound {show_value(low)} "
            "(PyTorch refuses it)",
        )


def _hardtanh(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    low, high = _hardtanh_bounds(p)
    check_fits("the lower bound", low, x.dtype)
    check_fits("the upper bound", high, x.dtype)
    deprecated = [name for name in ("min_value", "max_value") if p[name] is not None]
    warnings = tuple(
        f"{name} is deprecated: PyTorch calls it {name.replace('value', 'val')} now"
        for name in deprecated
    )
    return LayerOutput(x.shape, x.fields, flops=numel(x.shape), warnings=warnings)


def _prelu(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    (x,) = inputs
    slopes, channels = p["num_parameters"], x.shape[0]
    if slopes > 1 and x.batch_axis != 0:
        raise LayerError(
            f"PReLU with {slopes} slopes reads the channels at dim 1, which holds the batch "
            "here: Transpose dims 0 and 1 before it, or use num_parameters 1"
        )
    if slopes not in (1, channels):
        raise LayerError(
            f"num_parameters {slopes} must be 1 or the input's channels, {channels} "
            f"(the input is {dims(x.shape)})"
        )
    return LayerOutput(x.shape, x.fields, params=slopes, flops=numel(x.shape))


def _check_celu(p: dict[str, Any]) -> None:
    if p["alpha"] == 0:
        raise ParamError("alpha", "cannot be 0 (CELU divides by it; PyTorch refuses it)")


def _celu(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    """CELU is ELU of x/alpha, scaled by alpha: torch converts both alpha and 1/alpha."""
    (x,) = inputs
    alpha, computing = p["alpha"], computing_type(x.dtype)
    check_fits("alpha", alpha, computing)
    check_fits("1/alpha", 1.0 / alpha, computing)  # in double, as torch: 1/5e-324 is inf
    return LayerOutput(x.shape, x.fields, flops=numel(x.shape))


def _check_prelu(p: dict[str, Any]) -> None:
    if abs(p["init"]) > FLOAT_MAX["float32"]:
        raise ParamError(
            "init",
            f"{show_value(p['init'])} is beyond what float32 holds, the type of the slopes: "
            "PyTorch refuses it",
        )


def _glu(inputs: Sequence[Tensor], p: dict[str, Any]) -> LayerOutput:
    """GLU splits `dim` into halves a and b and gives a·sigmoid(b): along a spatial axis an
    output unit sees its position in both halves, `half` apart."""
    (x,) = inputs
    axis = normalise_dim("GLU", "dim", p["dim"], x.shape, x.batch_axis)
    size = x.shape[axis]
    if size % 2:
        raise LayerError(
            f"GLU halves dim {p['dim']}, which has size {size} in the input {dims(x.shape)}: "
            "it must be even"
        )
    half = size // 2
    shape = (*x.shape[:axis], half, *x.shape[axis + 1 :])
    fields = x.fields
    if fields is not None and axis > 0:
        fields = tuple(
            receptive.window(f, half + 1, 1, 0) if i == axis - 1 else f
            for i, f in enumerate(fields)
        )
    return LayerOutput(shape, fields, flops=2 * numel(shape))


SPECS = [
    _elementwise("ReLU", "max(0, x)", _INPLACE, function="relu", method=True),
    _elementwise("ReLU6", "min(max(0, x), 6)", _INPLACE, function="relu6"),
    _elementwise(
        "LeakyReLU",
        "x, or negative_slope·x below 0",
        Param("negative_slope", Kind.FLOAT, 0.01),
        _INPLACE,
        function="leaky_relu",
        evaluate=_fitting("negative_slope"),
    ),
    _elementwise(
        "ELU",
        "x, or alpha·(eˣ − 1) below 0",
        Param("alpha", Kind.FLOAT, 1.0),
        _INPLACE,
        function="elu",
        evaluate=_fitting("alpha"),
    ),
    _elementwise(
        "GELU",
        "x·Φ(x)",
        Param("approximate", Kind.CHOICE, "none", choices=("none", "tanh")),
        function="gelu",
    ),
    _elementwise("SiLU", "x·sigmoid(x)", _INPLACE, function="silu"),
    _elementwise("Sigmoid", "1 / (1 + e⁻ˣ)", function="sigmoid", method=True),
    _elementwise("Tanh", "tanh(x)", function="tanh", method=True),
    _elementwise("Hardswish", "x·ReLU6(x + 3)/6", _INPLACE, function="hardswish"),
    _softmax_spec("Softmax", "exponentials normalised to sum to 1 along dim"),
    _softmax_spec("LogSoftmax", "log of Softmax along dim"),
    _elementwise("Hardsigmoid", "ReLU6(x + 3)/6", _INPLACE, function="hardsigmoid"),
    _elementwise(
        "Hardtanh",
        "x clamped to [min_val, max_val]",
        Param("min_val", Kind.FLOAT, -1.0),
        Param("max_val", Kind.FLOAT, 1.0),
        _INPLACE,
        Param("min_value", Kind.FLOAT, None, nullable=True, help="deprecated: min_val"),
        Param("max_value", Kind.FLOAT, None, nullable=True, help="deprecated: max_val"),
        function="hardtanh",
        evaluate=_hardtanh,
        check=_check_hardtanh,
    ),
    LayerSpec(
        "PReLU",
        "Activation",
        (
            Param(
                "num_parameters",
                Kind.INT,
                1,
                minimum=1,
                help="learned slopes: 1 shared, or one per input channel",
            ),
            Param("init", Kind.FLOAT, 0.25, help="the slopes' starting value"),
        ),
        _prelu,
        summary="x, or a learned slope·x below 0",
        check=_check_prelu,
        torch_name="PReLU",
        batch_anywhere=True,
    ),
    _elementwise("Mish", "x·tanh(softplus(x))", _INPLACE, function="mish"),
    _elementwise(
        "Softplus",
        "log(1 + e^(beta·x))/beta, x above threshold",
        Param("beta", Kind.FLOAT, 1.0),
        Param("threshold", Kind.FLOAT, 20.0, help="beta·x above which it is linear"),
        function="softplus",
        evaluate=_fitting("beta", "threshold"),
    ),
    _elementwise("SELU", "scale·ELU(x, 1.6733…)", _INPLACE, function="selu"),
    _elementwise(
        "CELU",
        "x, or alpha·(e^(x/alpha) − 1) below 0",
        Param("alpha", Kind.FLOAT, 1.0),
        _INPLACE,
        function="celu",
        evaluate=_celu,
        check=_check_celu,
    ),
    LayerSpec(
        "GLU",
        "Activation",
        (
            Param(
                "dim",
                Kind.INT,
                -1,
                help="the dimension halved, counting the batch; -1 is the last",
            ),
        ),
        _glu,
        summary="a·sigmoid(b), a and b the halves of dim",
        torch_name="GLU",
        functions=("glu",),
        batch_anywhere=True,
    ),
    _elementwise(
        "LogSigmoid", "log(1 / (1 + e⁻ˣ))", function="logsigmoid", traced_as=("log_sigmoid",)
    ),
    _elementwise("Softsign", "x / (1 + |x|)", function="softsign"),
    _softmax_spec("Softmin", "Softmax of −x along dim"),
]
