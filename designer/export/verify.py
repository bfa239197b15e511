"""Check an export by running it: torch's shapes and parameter counts, node by node.

The module runs on PyTorch's `meta` device: tensors there have shapes and dtypes but no
data, so a design of any size verifies in the time its shapes take to compute, with no
memory for weights or activations (a 3×8000×8000 input took 2 minutes and 13.7 GB on the
CPU). Forward hooks see the shapes as they would on the CPU. Where an operation has no
meta implementation, the module runs on the CPU instead, if the design's own estimate of
its memory allows; otherwise verify refuses, saying why.

Shapes are compared whole, batch included: the designer's per-sample shape with the batch
put back where its tensor holds it (dim 0, or 1 for a sequence-first tensor and every
h_n), so a layout torch holds otherwise is a difference too.

torch is imported only inside `verify`, so the designer runs without it.
"""

from __future__ import annotations

from typing import Any

from designer.core.graph import Architecture
from designer.core.params import clip_text
from designer.core.propagate import Engine
from designer.core.spec import Shape, Tensor, dims
from designer.export.pytorch import ExportedModule, run_dtype

INSTALL_HINT = (
    "verifying needs PyTorch: pip install torch==2.13.0 (or pip install 'designer[torch]')"
)


CPU_MEMORY_LIMIT = 2 * 1024**3  # bytes a run on the CPU may take, where meta cannot run
BATCH = 2  # GroupNorm refuses one value per group at batch 1


class TorchMissing(RuntimeError):
    def __init__(self) -> None:
        super().__init__(INSTALL_HINT)


class VerifyRefused(RuntimeError):
    """The module cannot be run here: the message says why, in one line."""


def verify(exported: ExportedModule, arch: Architecture, engine: Engine) -> list[str]:
    """Differences between torch and the engine, one line per node; empty when none."""
    try:
        import torch
    except ImportError:
        raise TorchMissing() from None
    namespace: dict[str, Any] = {"__name__": "designer_export"}
    code = compile(exported.source, f"<export of {exported.class_name}>", "exec")
    exec(code, namespace)  # noqa: S102 (the code was generated here, from escaped names)
    module_class = namespace[exported.class_name]
    dtype = getattr(torch, run_dtype(exported.input_dtypes))
    try:
        model, seen, returned = _run(torch, module_class, dtype, exported, "meta")
    except NotImplementedError as error:  # an operation without a meta kernel
        needed = _cpu_bytes(engine)
        if needed > CPU_MEMORY_LIMIT:
            raise VerifyRefused(
                f"cannot verify: torch cannot run {exported.class_name} without data "
                f"({clip_text(_first_line(error), 120)}), and on the CPU it would need about "
                f"{needed / 2**30:,.1f} GiB, more than the {CPU_MEMORY_LIMIT / 2**30:.0f} GiB "
                "verify allows"
            ) from None
        try:
            model, seen, returned = _run(torch, module_class, dtype, exported, "cpu")
        except Exception as error:  # noqa: BLE001 (torch refusing the module is an answer)
            return [_refusal(error)]
    except Exception as error:  # noqa: BLE001 (torch refusing the module is an answer)
        return [_refusal(error)]
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
        torch_shapes = _observed(node_id, arch, exported, seen, final)
        for slot, (ours, theirs) in enumerate(zip(result.outputs, torch_shapes)):
            if theirs is not None and theirs != _whole(ours):
                which = f" output {slot}" if len(result.outputs) > 1 else ""
                differences.append(f"{node_id}:{which} {_difference(theirs, ours)}")
        if node_id in exported.module_paths and arch.owner_of(node_id) is None:
            module = model.get_submodule(exported.module_paths[node_id])
            torch_params = sum(p.numel() for p in module.parameters())
            if torch_params != result.params:
                differences.append(
                    f"{node_id}: torch counts {torch_params:,} parameters, "
                    f"the designer {result.params:,}"
                )
    return differences


Shapes = tuple[Shape, ...]


def _run(torch: Any, module_class: type, dtype: Any, exported: ExportedModule, device: str):
    """Build the module on `device`, run zeros of the input shapes through it with forward
    hooks on every submodule: the module, what each hook saw, and the returned shapes."""
    with torch.device(device):
        model = module_class().to(dtype)
    model.eval()
    # module path → (input, every output) of each call, in the order forward makes them
    seen: dict[str, list[tuple[Shape, Shapes]]] = {}

    def remember(path: str):
        def hook(module: Any, inputs: tuple, output: Any) -> None:
            seen.setdefault(path, []).append((_shape(inputs[0]), _shapes(output)))

        return hook

    for path in set(exported.module_paths.values()):
        model.get_submodule(path).register_forward_hook(remember(path))
    zeros = [
        torch.zeros(BATCH, *shape, dtype=getattr(torch, dtype_name), device=device)
        for shape, dtype_name in zip(exported.input_shapes, exported.input_dtypes)
    ]
    with torch.no_grad():
        returned = _shapes(model(*zeros))
    return model, seen, returned


def _cpu_bytes(engine: Engine) -> int:
    """About what a run on the CPU takes: every activation at batch BATCH, and the params."""
    totals = engine.totals()
    per_sample = totals.activation_memory // engine.settings.batch_size
    return BATCH * per_sample + (totals.params + totals.buffers) * 8


def _refusal(error: Exception) -> str:
    return f"torch refuses the module: {type(error).__name__}: {clip_text(_first_line(error))}"


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _shape(tensor: Any) -> Shape:
    return tuple(tensor.shape)


def _shapes(value: Any) -> Shapes:
    """The whole shapes (batch included) of a tensor or of a tuple of them, nested tuples
    flattened in order: LSTM's `output, (h_n, c_n)` gives three."""
    if isinstance(value, tuple):
        return tuple(shape for item in value for shape in _shapes(item))
    return (_shape(value),)


def _whole(x: Tensor) -> Shape:
    """The designer's tensor as torch holds it in verify: the batch of BATCH at its dim."""
    return (*x.shape[: x.batch_axis], BATCH, *x.shape[x.batch_axis :])


def _difference(theirs: Shape, ours: Tensor) -> str:
    """A shape torch gives and the designer does not, per sample where both hold the
    batch at one dim (`torch gives 10x6x6, the designer 10x4x4`), else whole."""
    axis = ours.batch_axis
    if len(theirs) == len(ours.shape) + 1 and theirs[axis] == BATCH:
        sample = theirs[:axis] + theirs[axis + 1 :]
        return f"torch gives {dims(sample)}, the designer {dims(ours.shape)}"
    return (
        f"torch gives {dims(theirs)} at a batch of {BATCH}, the designer "
        f"{dims(_whole(ours))} (the batch at dim {axis})"
    )


def _observed(
    node_id: str,
    arch: Architecture,
    exported: ExportedModule,
    seen: dict[str, list[tuple[Shape, Shapes]]],
    final: dict[str, dict[int, Shape]],
) -> tuple[Shape | None, ...]:
    """The output shapes torch showed for a node, slot by slot; None where it did not.

    A module's come from its hook. An operation (a + b, torch.cat) has no module: its
    output is what `forward` returns, or the input of a unit it feeds first.
    """
    if node_id in exported.module_paths:
        return _call(node_id, exported, seen)[1]
    shapes: dict[int, Shape] = dict(final.get(node_id, {}))
    for consumer in arch.consumers(node_id):
        path = exported.module_paths.get(consumer)
        if path in seen and (not exported.runs or _is_first(path)):
            for edge in arch.in_edges(consumer):  # the hook records the call's first input
                if edge.port == 0 and edge.source == node_id:
                    shapes.setdefault(edge.output, _call(consumer, exported, seen)[0])
    return (shapes.get(0),)


def _call(
    node_id: str, exported: ExportedModule, seen: dict[str, list[tuple[Shape, Shapes]]]
) -> tuple[Shape, Shapes]:
    """The (input, outputs) of the call of its module that stands for this node; empty
    where forward never made it."""
    calls = seen.get(exported.module_paths[node_id], [])
    index = exported.calls.get(node_id, 0)
    return calls[index] if index < len(calls) else ((), ())


def _is_first(path: str) -> bool:
    """A layer that starts its unit (in an export that groups runs), so its input is what
    the unit was given."""
    head, _, index = path.rpartition(".")
    return not head or index == "0"
