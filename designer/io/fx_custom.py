"""A traced call the catalog cannot express, as the params of a Custom node: the call as
Python (`torch.roll(x, 1, 2)`), the shapes torch traced it with, and the parameters and
MACs torch counts for it.

The code is written from the fx node, so it reads as the user wrote the call: positional
arguments stay positional, keywords stay keywords. The node's inputs are named x (or x0,
x1, …) as designer.core.layers.custom defines; a constant that follows the batch size is
written as the batch size of the first input (`x.shape[0]`), so the code runs at any batch.
"""

from __future__ import annotations

import inspect
import math
import operator
from collections.abc import Callable
from typing import Any

from designer.core.layers import custom
from designer.core.spec import Shape
from designer.io.fx_trace import BATCHES
from designer.io.import_errors import Unsupported

_INFIX = {
    operator.add: "+",
    operator.iadd: "+",
    operator.sub: "-",
    operator.isub: "-",
    operator.mul: "*",
    operator.imul: "*",
    operator.truediv: "/",
    operator.itruediv: "/",
    operator.floordiv: "//",
    operator.ifloordiv: "//",
    operator.mod: "%",
    operator.pow: "**",
    operator.matmul: "@",
    operator.and_: "&",
    operator.or_: "|",
    operator.xor: "^",
    operator.lshift: "<<",
    operator.rshift: ">>",
    operator.eq: "==",
    operator.ne: "!=",
    operator.lt: "<",
    operator.le: "<=",
    operator.gt: ">",
    operator.ge: ">=",
}
_PREFIX = {operator.neg: "-", operator.pos: "+", operator.invert: "~", operator.not_: "not "}
# torch's namespaces as the exported file names them (it imports torch and nn)
_NAMESPACES = (
    ("torch", "torch"),
    ("torch.nn.functional", "nn.functional"),
    ("torch.fft", "torch.fft"),
    ("torch.linalg", "torch.linalg"),
    ("torch.special", "torch.special"),
)


class Code:
    """Writes one fx node as Python over named inputs."""

    def __init__(self, names: dict[str, str], batch_places: dict[tuple, str]) -> None:
        self.names = names  # fx node name → the input's name in the code
        self.batch_places = batch_places  # where constants follow the batch size
        self.batch = next(iter(names.values()), "x")

    def call(self, node: Any) -> str:
        args = [self.value(a, (0, i)) for i, a in enumerate(node.args)]
        keywords = [f"{k}={self.value(v, (1, k))}" for k, v in node.kwargs.items()]
        if node.op == "call_module":
            return f"{custom.MODULE_NAME}({', '.join(args + keywords)})"
        if node.op == "call_method":
            head, *rest = args
            return f"{_atom(head)}.{node.target}({', '.join(rest + keywords)})"
        target = node.target
        if target is operator.getitem:
            return f"{_atom(args[0])}[{self.index(node.args[1], (0, 1))}]"
        if target in _INFIX and len(args) == 2 and not keywords:
            return f"{_atom(args[0])} {_INFIX[target]} {_atom(args[1])}"
        if target in _PREFIX and len(args) == 1:
            return f"{_PREFIX[target]}{_atom(args[0])}"
        if target is getattr and len(args) == 2:
            return f"{_atom(args[0])}.{node.args[1]}"
        return f"{function_name(target)}({', '.join(args + keywords)})"

    def value(self, value: Any, place: tuple) -> str:
        """An argument as Python source."""
        if hasattr(value, "op"):
            return self.names[value.name]
        if place in self.batch_places:
            if self.batch_places[place] != "batch":
                raise Unsupported(
                    f"an argument computed from the batch size ({value!r} at batch "
                    f"{BATCHES[0]}) is something the exported code could not write"
                )
            return f"{self.batch}.shape[0]"
        if isinstance(value, (list, tuple)):
            items = [self.value(v, (*place, i)) for i, v in enumerate(value)]
            if isinstance(value, list):
                return f"[{', '.join(items)}]"
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        if isinstance(value, slice):
            return f"slice({self._slice(value, place, ', ', 'None')})"
        return literal(value)

    def index(self, value: Any, place: tuple) -> str:
        """What goes between the brackets of x[...]: slices as a:b:c."""
        items = value if isinstance(value, tuple) else (value,)
        written = []
        for i, item in enumerate(items):
            where = (*place, i) if isinstance(value, tuple) else place
            if isinstance(item, slice):
                written.append(self._slice(item, where, ":", ""))
            else:
                written.append(self.value(item, where))
        text = ", ".join(written)
        return f"{text}," if isinstance(value, tuple) and len(items) == 1 else text

    def _slice(self, item: slice, place: tuple, separator: str, empty: str) -> str:
        parts = [item.start, item.stop, item.step]
        if separator == ":" and item.step is None:
            parts = parts[:2]
        return separator.join(empty if p is None else self.value(p, place) for p in parts)


def _atom(text: str) -> str:
    """An operand that binds tighter than any operator: a name, a call, a literal."""
    simple = text.replace(".", "").replace("_", "").isalnum()
    bracketed = text.endswith((")", "]")) and not any(f" {s} " in text for s in _INFIX.values())
    return text if simple or bracketed else f"({text})"


def function_name(target: Callable) -> str:
    """torch.roll, nn.functional.pad: a torch function by the name the exported file
    knows it by; Unsupported for a function outside torch."""
    import importlib

    name = getattr(target, "__name__", None)
    for module_name, written in _NAMESPACES:
        module = importlib.import_module(module_name)
        if name and getattr(module, name, None) is target:
            return f"{written}.{name}"
    where = getattr(target, "__module__", None) or "an unknown module"
    raise Unsupported(f"{where}.{name}() is a function the exported code could not call")


def literal(value: Any) -> str:
    """A constant argument as Python source: numbers, strings, None, dtypes."""
    import torch

    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else 'float("-inf")'
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value is Ellipsis:
        return "..."
    if isinstance(value, (tuple, list)):
        items = [literal(v) for v in value]
        if isinstance(value, list):
            return f"[{', '.join(items)}]"
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, (torch.dtype, torch.memory_format)):
        return str(value)
    if isinstance(value, torch.device):
        return '"cpu"'  # traced on the meta device; the exported model runs where it is put
    raise Unsupported(f"{type(value).__name__} {value!r} is an argument the code cannot hold")


def module_code(module: Any) -> str:
    """`nn.Bilinear(in1_features=3, …)`: the constructor call that builds a module like
    this one, from its attributes named as the constructor's arguments; Unsupported
    where building it so gives another module (its repr or parameter count differ)."""
    import torch

    kind = type(module)
    if getattr(torch.nn, kind.__name__, None) is not kind:
        raise Unsupported(f"{kind.__module__}.{kind.__name__} is not a torch.nn module")
    arguments = []
    for name, parameter in inspect.signature(kind.__init__).parameters.items():
        if name in ("self", "device", "dtype") or parameter.kind in (
            parameter.VAR_POSITIONAL,
            parameter.VAR_KEYWORD,
        ):
            continue
        if not hasattr(module, name):
            continue
        value = getattr(module, name)
        if isinstance(parameter.default, bool) and not isinstance(value, bool):
            value = value is not None  # bias=True kept as the bias parameter, or None
        if parameter.default is not parameter.empty and _equal(value, parameter.default):
            continue
        arguments.append(f"{name}={literal(value)}")
    code = f"nn.{kind.__name__}({', '.join(arguments)})"
    try:
        with torch.device("meta"):
            # the code was written just above, from the module's attribute values
            rebuilt = eval(code, {"nn": torch.nn, "torch": torch})
    except Exception:  # noqa: BLE001 (a module that cannot be rebuilt from its attributes)
        rebuilt = None
    if rebuilt is None or repr(rebuilt) != repr(module) or _count(rebuilt) != _count(module):
        raise Unsupported(f"torch.nn.{kind.__name__} cannot be rebuilt from its attributes")
    return code


def _equal(value: Any, default: Any) -> bool:
    try:
        return bool(value == default)
    except Exception:  # noqa: BLE001 (a tensor attribute compares elementwise)
        return False


def _count(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


def macs_per_sample(run: Callable[[], Any], batch: int) -> int:
    """The multiply-accumulates torch's FlopCounterMode counts for `run` (2 FLOPs each),
    per sample of a batch of `batch`."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        run()
    return counter.get_total_flops() // 2 // batch


def per_sample(shape: Shape, batch_axis: int | None) -> Shape:
    """A traced shape without its batch; a tensor without one (a parameter) stands for a
    batch of one where its first dimension is 1, as a class token (1, 1, 768) does."""
    if batch_axis is not None:
        return shape[:batch_axis] + shape[batch_axis + 1 :]
    return shape[1:] if len(shape) > 1 and shape[0] == 1 else shape
