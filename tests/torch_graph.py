"""Run an Architecture in real PyTorch, node by node: the oracle for whole graphs.

Each node becomes the torch.nn module of the same name and arguments (inferred ones from
the input), so a test can compare what torch computes with what the engine predicts.
"""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import torch
from torch import nn

from designer.core.graph import Architecture

_INFERRED = {
    "in_channels": lambda shape: shape[0],
    "num_features": lambda shape: shape[0],
    "num_channels": lambda shape: shape[0],
    "in_features": lambda shape: shape[-1],
}


def module_for(arch: Architecture, node_id: str, input_shape: tuple[int, ...]) -> nn.Module:
    """The torch.nn module a node stands for, given the shape (no batch) it is fed."""
    kind = arch.graph.nodes[node_id]["type"]
    spec = arch.spec(node_id)
    args = arch.resolved_params(node_id)
    for param in spec.params:
        if param.inferred:
            args[param.name] = _INFERRED[param.name](input_shape)
    if kind == "LayerNorm" and args["normalized_shape"] is None:
        args["normalized_shape"] = input_shape[-1:]
    return getattr(nn, kind)(**args)


def run(
    arch: Architecture,
    inputs: dict[str, torch.Tensor],
    replace: Callable[[str, nn.Module], nn.Module] | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, nn.Module]]:
    """Every node's output for the given input tensors (batch included), and the modules."""
    graph = arch.graph
    values: dict[str, torch.Tensor] = {}
    modules: dict[str, nn.Module] = {}
    for node_id in nx.topological_sort(graph):
        kind = graph.nodes[node_id]["type"]
        feeds = [values[source] for _, source in arch.inputs(node_id)]
        params = arch.resolved_params(node_id)
        if kind == "Input":
            values[node_id] = inputs[node_id]
        elif kind == "Add":
            values[node_id] = sum(feeds[1:], feeds[0])
        elif kind == "Multiply":
            values[node_id] = feeds[0] * feeds[1]
        elif kind == "Concat":
            values[node_id] = torch.cat(feeds, dim=params["dim"])
        else:
            module = module_for(arch, node_id, tuple(feeds[0].shape[1:]))
            if replace is not None:
                module = replace(kind, module)
            modules[node_id] = module.eval()
            values[node_id] = module(feeds[0])
    return values, modules
