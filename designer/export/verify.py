"""Check an export by running it: torch's shapes and parameter counts, node by node.

torch is imported only inside `verify`, so the designer runs without it.
"""

from __future__ import annotations

from typing import Any

from designer.core.graph import Architecture
from designer.core.propagate import Engine
from designer.core.spec import dims
from designer.export.pytorch import MERGES, ExportedModule

INSTALL_HINT = (
    "verifying needs PyTorch: pip install torch==2.13.0 (or pip install 'designer[torch]')"
)


class TorchMissing(RuntimeError):
    def __init__(self) -> None:
        super().__init__(INSTALL_HINT)


def verify(exported: ExportedModule, arch: Architecture, engine: Engine) -> list[str]:
    """Differences between torch and the engine, one line per node; empty when none."""
    try:
        import torch
    except ImportError:
        raise TorchMissing() from None
    namespace: dict[str, Any] = {"__name__": "designer_export"}
    code = compile(exported.source, f"<export of {exported.class_name}>", "exec")
    exec(code, namespace)  # noqa: S102 (the code was generated here, from escaped names)
    model = namespace[exported.class_name]().eval()
    seen: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}  # path → (input, output)

    def remember(path: str):
        def hook(module: Any, inputs: tuple, output: Any) -> None:
            seen[path] = (tuple(inputs[0].shape[1:]), tuple(output.shape[1:]))

        return hook

    for path in exported.module_paths.values():
        model.get_submodule(path).register_forward_hook(remember(path))
    with torch.no_grad():  # a batch of 2: GroupNorm refuses one value per group at batch 1
        outputs = model(*(torch.zeros(2, *shape) for shape in exported.input_shapes))
    if isinstance(outputs, torch.Tensor):
        outputs = (outputs,)
    sinks = [n.id for n in arch.nodes() if arch.graph.out_degree(n.id) == 0 and n.type != "Input"]
    final = {node_id: tuple(t.shape[1:]) for node_id, t in zip(sinks, outputs)}
    differences = []
    for node in arch.nodes():
        result = engine.results[node.id]
        if node.type == "Input":
            continue
        torch_shape, torch_params = _observed(
            node.id, node.type, arch, exported, seen, final, model
        )
        if torch_shape is not None and torch_shape != result.shape:
            differences.append(
                f"{node.id}: torch gives {dims(torch_shape)}, the designer {dims(result.shape)}"
            )
        if torch_params is not None and torch_params != result.params:
            differences.append(
                f"{node.id}: torch counts {torch_params:,} parameters, the designer {result.params:,}"
            )
    return differences


def _observed(
    node_id: str,
    kind: str,
    arch: Architecture,
    exported: ExportedModule,
    seen: dict[str, tuple[tuple[int, ...], tuple[int, ...]]],
    final: dict[str, tuple[int, ...]],
    model: Any,
) -> tuple[tuple[int, ...] | None, int | None]:
    """(output shape, parameter count) torch showed for a node; None where it did not.

    A merge has no module: its output is the input of a unit it feeds, or a model output.
    """
    if node_id in final:
        shape = final[node_id]
    elif kind in MERGES:
        shape = next(
            (
                seen[exported.module_paths[c]][0]
                for c in arch.graph.successors(node_id)
                if c in exported.module_paths
                and exported.module_paths[c] in seen
                and _is_first(exported.module_paths[c])
            ),
            None,
        )
    else:
        shape = seen.get(exported.module_paths[node_id], (None, None))[1]
    params = None
    if kind not in MERGES:
        module = model.get_submodule(exported.module_paths[node_id])
        params = sum(p.numel() for p in module.parameters())
    return shape, params


def _is_first(path: str) -> bool:
    """A layer that starts its unit, so its input is what the unit was given."""
    head, _, index = path.rpartition(".")
    return not head or index == "0"
