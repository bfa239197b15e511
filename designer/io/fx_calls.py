"""How the import reads a traced call: the values it gives fx nodes (a design tensor, a
learned tensor, a constant), the layer specs a call's name points to, and the call's
arguments by name."""

from __future__ import annotations

import itertools
import operator
import re
import typing
from dataclasses import dataclass
from typing import Any

from designer.core.graph import Catalog
from designer.core.spec import Function, LayerSpec
from designer.io.fx_trace import axis_of_batch


@dataclass(frozen=True)
class Ref:
    """A tensor of the design: output `slot` of node `node`."""

    node: str
    slot: int


@dataclass(frozen=True)
class Learned:
    """A parameter of the model used as a tensor; it becomes a Parameter node when used."""

    fx_name: str
    path: str


@dataclass(frozen=True)
class Constant:
    """A tensor that follows from no input and is no parameter (a buffer, a mask)."""

    what: str


class SpecIndex:
    """The catalog indexed the ways a traced model names a layer: by torch.nn class, by
    torch function and by Tensor method (each LayerSpec says its own names)."""

    def __init__(self, catalog: Catalog) -> None:
        specs = [s for s in catalog.values() if s.name != "Custom"]
        self.by_class = {s.torch_name: s for s in specs if s.torch_name}
        self.by_function: dict[str, list[LayerSpec]] = {}
        for spec in specs:
            names = list(spec.functions)
            if isinstance(spec.written_as, Function):
                names.append(spec.written_as.name.rpartition(".")[2])
            if spec.torch_name:
                names.append(functional_name(spec.torch_name))
            for name in dict.fromkeys(names):
                self.by_function.setdefault(name, []).append(spec)
        self.by_method = {m: s for s in specs for m in s.methods}

    def function(self, name: str, rank: int | None) -> LayerSpec | None:
        """The spec for a torch function; of several (batch_norm), the one for the
        input's number of spatial axes."""
        found = self.by_function.get(name) or self.by_function.get(name.rstrip("_")) or []
        if len(found) > 1 and rank is not None:  # BatchNorm1d, 2d, 3d: by the spatial axes
            found = [s for s in found if s.name.endswith(f"{rank - 1}d")]
        return found[0] if len(found) == 1 else None

    def method(self, name: str, rank: int | None) -> LayerSpec | None:
        """A Tensor method's spec: listed as a method, else the torch function of the
        same name (x.mean(1) is torch.mean(x, 1))."""
        import torch

        spec = self.by_method.get(name) or self.by_method.get(name.rstrip("_"))
        if spec is None and hasattr(torch, name.rstrip("_")):
            spec = self.function(name, rank)
        return spec


def functional_name(torch_name: str) -> str:
    """torch.nn.functional's name for a class: LayerNorm → layer_norm, BatchNorm2d →
    batch_norm (the rank is the input's), ConvTranspose2d → conv_transpose2d."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", torch_name).lower()
    return re.sub(r"_norm[123]d$", "_norm", snake)


class NotThisSpec(Exception):
    """The call is not the layer its name suggests (a tensor argument the layer has no
    input for, an operand it cannot take): a Custom node instead."""


def structure(value: Any, node_id: str) -> Any:
    """Refs to a layer's output slots, nested as torch returns them: (out, (h, c))."""
    slots = itertools.count()

    def build(item: Any) -> Any:
        if isinstance(item, (tuple, list)):
            return tuple(build(i) for i in item)
        slot = next(slots)
        return None if item is None else Ref(node_id, slot)

    return build(value)


def leaves(value: Any) -> list[Any]:
    """The items of a value nested in tuples and lists, in order."""
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


def batch_axis_of(first: Any, second: Any, name: str) -> int | None:
    """Where a tensor traced as `first` and `second` holds the batch (fx_trace)."""
    return axis_of_batch(tuple(first.shape), tuple(second.shape), name)


def flattened(value: Any, values: dict[str, Any] | None = None) -> list[Any]:
    """The leaves of nested arguments; with `values`, fx nodes replaced by what they are
    (and the structures those are, flattened too)."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in flattened(item, values)]
    if isinstance(value, slice):
        return flattened([value.start, value.stop, value.step], values)
    if values is not None and is_node(value):
        found = values.get(value.name)
        return flattened(found, values) if isinstance(found, (tuple, list)) else [found]
    return [value]


def dtype_name(tensor: Any) -> str:
    """torch.int64 as the file format names it: int64."""
    return str(tensor.dtype).removeprefix("torch.")


def sizes_of(args: Any) -> tuple[int, ...]:
    """x.view(2, 3, 4) and x.view((2, 3, 4)) alike."""
    args = list(args)
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = list(args[0])
    return tuple(args)


def bound(node: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """A call's arguments by the names of its parameters, in order (F.pad's schema is
    not one torch's normalisation knows)."""
    return {**dict(zip(names, node.args)), **node.kwargs}


def checks_a_constant(node: Any) -> bool:
    """fx's check that an argument traced as a constant keeps its value: no layer."""
    from torch.fx._symbolic_trace import _assert_is_none

    return node.target is _assert_is_none


def arguments_of(node: Any) -> dict[str, Any]:
    """The call's arguments by name: positional ones named from the function's schema."""
    import torch
    from torch.fx.operator_schemas import normalize_function

    def kind(value: Any) -> Any:
        if hasattr(value, "op"):
            return torch.Tensor
        if isinstance(value, (list, tuple)) and value and all(hasattr(v, "op") for v in value):
            return list[torch.Tensor]
        if isinstance(value, (list, tuple)) and value and all(type(v) is int for v in value):
            return typing.List[int]  # noqa: UP006 (the form torch's schema matching knows)
        return type(value)

    target = node.target
    if node.op == "call_method":  # x.mean(1) as torch.mean(x, 1), whose schema torch knows
        target = getattr(torch, node.target, None) or getattr(torch.Tensor, node.target)
    try:
        normalized = normalize_function(
            target,
            node.args,
            node.kwargs,
            arg_types=tuple(kind(a) for a in node.args),
            kwarg_types={k: kind(v) for k, v in node.kwargs.items()},
            normalize_to_only_use_kwargs=True,
        )
    except Exception:  # noqa: BLE001 torch found no single schema: fall back to what is certain
        normalized = None
    if normalized is None:
        return {"input": node.args[0], **node.kwargs} if node.args else dict(node.kwargs)
    return dict(normalized.kwargs)


def is_node(value: Any) -> bool:
    """Whether a traced call's argument is a value of the graph (not a constant)."""
    return hasattr(value, "op")


_OPERATORS = {
    operator.add: "add",
    operator.iadd: "add",
    operator.mul: "mul",
    operator.imul: "mul",
    operator.sub: "sub",
    operator.isub: "sub",
    operator.truediv: "div",
    operator.itruediv: "div",
    operator.matmul: "matmul",
    operator.imatmul: "matmul",
}


def callable_name(target: Any) -> str:
    """The name a call goes by: a method's, a function's, an operator's (a + b: add)."""
    if isinstance(target, str):
        return target
    if target in _OPERATORS:
        return _OPERATORS[target]
    return getattr(target, "__name__", str(target)).lstrip("_")


def plain(value: Any) -> Any:
    """Module attributes as JSON-like values: tuples, ints, floats, strings; an empty list
    (F.avg_pool2d's "stride not given") as None."""
    if isinstance(value, (list, tuple)):
        return tuple(plain(v) for v in value) if value else None
    if hasattr(value, "item"):
        return value.item()
    return value


def tidy(spec: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Drop defaults and collapse (3, 3) to 3, as a person writes them; a pool's stride
    equal to its kernel is PyTorch's default and left out."""
    if "Pool" in spec.name and params.get("stride") == params.get("kernel_size"):
        params = {k: v for k, v in params.items() if k != "stride"}
    kept = {}
    for param in spec.params:
        if param.name not in params:
            continue
        value = params[param.name]
        if (
            isinstance(value, tuple)
            and value
            and len(set(value)) == 1
            and param.kind.name != "SHAPE"
        ):
            value = value[0]
        if param.kind.name == "FLOAT" and isinstance(value, int):
            value = float(value)
        kept[param.name] = value
    return spec.explicit(kept)
