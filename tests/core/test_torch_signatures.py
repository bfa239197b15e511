"""Every catalog type with a torch.nn class takes exactly that class's constructor
arguments (device and dtype aside), with PyTorch's defaults.

Arguments whose names start with an underscore are torch's private ones (Embedding's
`_weight`, a tensor to start from, and `_freeze`), which a design file cannot hold. RNN,
LSTM and GRU take `*args, **kwargs` and document their arguments in a typing overload:
that overload is their signature."""

from __future__ import annotations

import inspect
import typing

import pytest
from torch import nn

from designer.core.registry import LAYERS

NOT_LAYER_ARGUMENTS = {"self", "device", "dtype"}
WITH_TORCH_CLASS = sorted(name for name, spec in LAYERS.items() if spec.torch_name)
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def torch_signature(torch_class: type) -> inspect.Signature:
    """The constructor's signature, or its first overload naming arguments where the
    constructor itself only takes `*args, **kwargs`."""
    signature = inspect.signature(torch_class)
    overloads = typing.get_overloads(torch_class.__init__)
    if overloads and all(p.kind in _VARIADIC for p in signature.parameters.values()):
        return inspect.signature(overloads[0])
    return signature


def torch_parameters(name: str) -> dict[str, inspect.Parameter]:
    signature = torch_signature(getattr(nn, LAYERS[name].torch_name))
    return {
        p.name: p
        for p in signature.parameters.values()
        if p.name not in NOT_LAYER_ARGUMENTS
        and not p.name.startswith("_")
        and p.kind not in _VARIADIC
    }


def test_the_catalog_names_torch_classes_that_exist() -> None:
    assert len(WITH_TORCH_CLASS) >= 40
    for name in WITH_TORCH_CLASS:
        assert isinstance(getattr(nn, LAYERS[name].torch_name), type), name


@pytest.mark.parametrize("name", WITH_TORCH_CLASS)
def test_catalog_takes_every_constructor_argument(name: str) -> None:
    spec = LAYERS[name]
    assert [p.name for p in spec.params] == list(torch_parameters(name))


@pytest.mark.parametrize("name", WITH_TORCH_CLASS)
def test_catalog_defaults_are_pytorch_defaults(name: str) -> None:
    """Where torch has a default, ours is the same; where it has none, ours is required
    or inferred from the input (or, as LayerNorm's normalized_shape, follows from it)."""
    spec = LAYERS[name]
    for parameter in torch_parameters(name).values():
        param = spec.by_name[parameter.name]
        if parameter.default is inspect.Parameter.empty:
            assert param.required or param.inferred or param.nullable, parameter.name
        elif callable(parameter.default):  # activation=F.relu: a design stores its name
            assert param.torch_default == parameter.default.__name__, parameter.name
        else:
            assert param.torch_default == parameter.default, parameter.name


def test_types_without_a_torch_class_are_operations() -> None:
    """Input, the merges and the tensor operations written as expressions in exported
    code (Unflatten has its nn class), and Custom, which keeps the code it was imported as."""
    assert sorted(n for n, s in LAYERS.items() if s.torch_name is None) == [
        "Add",
        "Amax",
        "Chunk",
        "Clamp",
        "Concat",
        "Custom",
        "Divide",
        "Input",
        "MatMul",
        "Mean",
        "Multiply",
        "Parameter",
        "Permute",
        "Reshape",
        "ScaledDotProductAttention",
        "Select",
        "Slice",
        "Split",
        "Squeeze",
        "Stack",
        "Subtract",
        "Sum",
        "Transpose",
        "Unsqueeze",
    ]
