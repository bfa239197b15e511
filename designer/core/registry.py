"""Layer type name → LayerSpec, for every type of the project file format."""

from __future__ import annotations

from collections.abc import Mapping

from designer.core.layers import (
    activation,
    attention,
    conv,
    custom,
    io,
    linear,
    merge,
    norm,
    padding,
    pool,
    regularisation,
    resize,
    sequence,
    tensor,
    tensor_math,
)
from designer.core.params import clip_text, did_you_mean
from designer.core.spec import LayerSpec

CATEGORIES = (
    "Input/Output",
    "Convolution",
    "Pooling",
    "Linear",
    "Normalisation",
    "Activation",
    "Resize",
    "Padding",
    "Merge",
    "Sequence",
    "Attention",
    "Tensor ops",
    "Regularisation",
    "Custom",
)

FAMILIES = (
    io,
    conv,
    pool,
    linear,
    norm,
    activation,
    resize,
    padding,
    merge,
    sequence,
    attention,
    tensor,
    tensor_math,
    regularisation,
    custom,
)
LAYERS: dict[str, LayerSpec] = {spec.name: spec for family in FAMILIES for spec in family.SPECS}


def get(type_name: str) -> LayerSpec:
    """The spec of a layer type; KeyError names the type and the closest known ones."""
    try:
        return LAYERS[type_name]
    except KeyError:
        raise KeyError(unknown_type_message(type_name)) from None


def unknown_type_message(type_name: str, catalog: Mapping[str, LayerSpec] = LAYERS) -> str:
    shown = clip_text(repr(type_name))
    return f"unknown layer type {shown}{did_you_mean(str(type_name)[:200], catalog)}"
