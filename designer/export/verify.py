"""Check an export by running it: torch's shapes and parameter counts, node by node.

torch is imported only inside `verify`, so the designer runs without it.
"""

from __future__ import annotations

from typing import Any

from designer.core.graph import Architecture
from designer.core.propagate import Engine
from designer.core.spec import Shape, dims
from designer.export.pytorch import ExportedModule, run_dtype

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
    model = namespace[exported.class_name]().to(getattr(torch, run_dtype(exported.input_dtypes)))
    model.eval()
    seen: dict[str, tuple[Shape, Shapes]] = {}  # module path → (input, every output)

    def remember(path: str):
        def hook(module: Any, inputs: tuple, output: Any) -> None:
            seen[path] = (_shape(inputs[0]), _shapes(output))

        return hook

    for path in exported.module_paths.values():
        model.get_submodule(path).register_forward_hook(remember(path))
    zeros = [
        torch.zeros(2, *shape, dtype=getattr(torch, dtype))
        for shape, dtype in zip(exported.input_shapes, exported.input_dtypes)
    ]
    with torch.no_grad():  # a batch of 2: GroupNorm refuses one value per group at batch 1
        returned = _shapes(model(*zeros))
    # forward returns its outputs in the exporter's order (the report's), not the file's
    final: dict[str, dict[int, Shape]] = {}
    for (node_id, slot), shape in zip(exported.outputs, returned):
        final.setdefault(node_id, {})[slot] = shape
    differences = []
    inputs = set(arch.input_ids())
    for node_id in arch.file_order():
        if node_id in inputs:
            continue
        result = engine.results[node_id]
        designer_shapes = tuple(t.shape for t in result.outputs)
        torch_shapes = _observed(node_id, arch, exported, seen, final)
        for slot, (ours, theirs) in enumerate(zip(designer_shapes, torch_shapes)):
            if theirs is not None and theirs != ours:
                which = f" output {slot}" if len(designer_shapes) > 1 else ""
                differences.append(
                    f"{node_id}:{which} torch gives {dims(theirs)}, the designer {dims(ours)}"
                )
        if node_id in exported.module_paths:
            module = model.get_submodule(exported.module_paths[node_id])
            torch_params = sum(p.numel() for p in module.parameters())
            if torch_params != result.params:
                differences.append(
                    f"{node_id}: torch counts {torch_params:,} parameters, "
                    f"the designer {result.params:,}"
                )
    return differences


Shapes = tuple[Shape, ...]


def _shape(tensor: Any) -> Shape:
    return tuple(tensor.shape[1:])


def _shapes(value: Any) -> Shapes:
    """The shapes (batch dropped) of a tensor or of a tuple of them."""
    return tuple(_shape(t) for t in value) if isinstance(value, tuple) else (_shape(value),)


def _observed(
    node_id: str,
    arch: Architecture,
    exported: ExportedModule,
    seen: dict[str, tuple[Shape, Shapes]],
    final: dict[str, dict[int, Shape]],
) -> tuple[Shape | None, ...]:
    """The output shapes torch showed for a node, slot by slot; None where it did not.

    A module's come from its hook. An operation (a + b, torch.cat) has no module: its
    output is what `forward` returns, or the input of a unit it feeds first.
    """
    if node_id in exported.module_paths:
        return seen.get(exported.module_paths[node_id], ((), ()))[1]
    shapes: dict[int, Shape] = dict(final.get(node_id, {}))
    for consumer in arch.consumers(node_id):
        path = exported.module_paths.get(consumer)
        if path in seen and _is_first(path):
            (edge,) = arch.in_edges(consumer)
            shapes.setdefault(edge.output, seen[path][0])
    return (shapes.get(0),)


def _is_first(path: str) -> bool:
    """A layer that starts its unit, so its input is what the unit was given."""
    head, _, index = path.rpartition(".")
    return not head or index == "0"
