"""Import a PyTorch model: trace it with torch.fx and map what it does onto the catalog.

This runs the user's own Python file (their code, on their machine); opening a project
file never does. torch is imported inside the functions, so the designer runs without it.
The trace (designer.io.fx_trace) knows every value's shape, the mapping
(designer.io.fx_mapping) turns the graph into layers, and what the catalog cannot express
becomes a Custom node, said in a note.

Channel and feature counts written in the model's code (in_channels=1) are kept where
they disagree with what the input implies, so the engine shows the mistake on that node
naming both numbers; where they agree they are dropped, as the file format prefers.
`import_project` keeps the user's classes used more than once as blocks
(designer.io.fx_blocks); `import_model` gives the flat design.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, NamedTuple

from designer.core import registry
from designer.core.graph import Architecture
from designer.core.layout import layered_positions
from designer.core.propagate import analyse
from designer.core.spec import DTYPE_BYTES, Shape, dims
from designer.io import fx_blocks, fx_trace
from designer.io.fx_mapping import Mapper
from designer.io.import_errors import ImportFailure, TorchMissing, Unsupported
from designer.io.project_format import Project

__all__ = [
    "ImportFailure",
    "TorchMissing",
    "Unsupported",
    "import_model",
    "import_project",
    "parse_input",
]


def load_class(path: Path, class_name: str) -> type:
    """Run the user's file as a module and return the class it defines."""
    if not path.is_file():
        raise ImportFailure(f"cannot read {path}: no such file")
    spec = importlib.util.spec_from_file_location(f"designer_import_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportFailure(f"cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # noqa: BLE001 (the user's code may raise anything)
        raise ImportFailure(f"{path} raised {type(error).__name__}: {error}") from None
    found = getattr(module, class_name, None)
    if not isinstance(found, type):
        raise ImportFailure(f"{path} defines no class {class_name!r}")
    return found


def import_model(
    path: Path,
    class_name: str,
    input_shapes: list[Shape],
    arguments: dict[str, Any] | None = None,
    notes: list[str] | None = None,
    input_dtypes: list[str | None] | None = None,
) -> Architecture:
    """Build the class with `arguments`, trace it, and return it as an Architecture.

    The model is traced in eval() mode, since a design describes inference (training-only
    branches such as drop-connect's random masks vanish), with `forward`'s arguments
    beyond the inputs fixed at their defaults, on inputs of `input_shapes` (per sample)
    and `input_dtypes` (where one is None or none are given: int64 for an input that goes
    straight into an Embedding, else float32). What the user should know about the
    import (the Custom nodes it made; parameters of modules forward never calls; a trace
    that does not compute what the model does) is appended to `notes`."""
    return _imported(path, class_name, input_shapes, arguments, notes, input_dtypes).arch


def import_project(
    path: Path,
    class_name: str,
    input_shapes: list[Shape],
    arguments: dict[str, Any] | None = None,
    notes: list[str] | None = None,
    input_dtypes: list[str | None] | None = None,
    flat: bool = False,
) -> Project:
    """The model imported as `import_model` does, as a project: the user's classes used
    more than once are blocks (designer.io.fx_blocks), unless `flat` or none is; the
    project's `arch` is then the design flattened, whose ids are paths."""
    found = _imported(path, class_name, input_shapes, arguments, notes, input_dtypes)
    if flat:
        return Project(found.arch)
    placed = fx_blocks.places(found.arch, found.graph, found.origins)
    design = fx_blocks.block_design(found.arch, placed)
    if design is None:
        return Project(found.arch)
    return Project(design.flat.architecture(class_name), blocks=design)


class _Imported(NamedTuple):
    """A traced, mapped model: the flat design, the fx graph it was read from, and the
    fx node each design node does (where it does one alone)."""

    arch: Architecture
    graph: Any
    origins: dict[str, Any]


def _imported(
    path: Path,
    class_name: str,
    input_shapes: list[Shape],
    arguments: dict[str, Any] | None,
    notes: list[str] | None,
    input_dtypes: list[str | None] | None,
) -> _Imported:
    """See `import_model`."""
    try:
        import torch
        import torch.fx
    except ImportError:
        raise TorchMissing("importing needs PyTorch: pip install torch==2.13.0") from None
    model_class = load_class(path, class_name)
    try:
        model = model_class(**(arguments or {}))
    except Exception as error:  # noqa: BLE001 (the user's code may raise anything)
        raise ImportFailure(
            f"{class_name}(**args) raised {type(error).__name__}: {error}"
        ) from None
    if not isinstance(model, torch.nn.Module):
        raise ImportFailure(f"{class_name} is not a torch.nn.Module")
    model.eval().to("meta")  # shapes without data: the weights are never needed
    fixed = _fixed_arguments(model, class_name, len(input_shapes))
    _check_input_count(model, class_name, len(input_shapes), fixed)
    dtypes = _dtypes(model, fixed, input_dtypes or [None] * len(input_shapes))
    examples = [fx_trace.Example(tuple(s), d) for s, d in zip(input_shapes, dtypes)]
    try:
        layers = frozenset(s.torch_name for s in registry.LAYERS.values() if s.torch_name)
        traced = fx_trace.trace(model, class_name, fixed, examples, layers)
    except fx_trace.NoValue as error:
        where = fx_trace.place(error.frames, path) or path.name
        raise Unsupported(f"{where}: {error}") from None
    mapper = Mapper(model, path, traced, examples)
    arch = mapper.build(class_name)
    _drop_agreeing_inferred(arch)
    if notes is not None:
        notes += mapper.notes
        notes += _unused_parameters(model, traced.graph)
        notes += _mistraced(model, arch, class_name, examples)
    for node_id, pos in layered_positions(arch.graph).items():
        arch.move(node_id, pos)
    return _Imported(arch, traced.graph, mapper.origins)


def _dtypes(model: Any, fixed: dict[str, Any], given: list[str | None]) -> list[str]:
    """The inputs' dtypes, where not given: int64 for one that goes straight into an
    Embedding (token ids), float32 for the others. A plain fx trace, which computes
    nothing, says which inputs those are."""
    import torch
    import torch.fx

    dtypes = [d or "float32" for d in given]
    if all(given) or not any(isinstance(m, torch.nn.Embedding) for m in model.modules()):
        return dtypes
    try:
        graph = torch.fx.Tracer().trace(model, concrete_args=fixed or None)
    except Exception:  # noqa: BLE001 (the real trace says what goes wrong)
        return dtypes
    placeholders = [n for n in graph.nodes if n.op == "placeholder"][: len(given)]
    for index, placeholder in enumerate(placeholders):
        if given[index] is not None:
            continue
        for user in placeholder.users:
            embeds = user.op == "call_module" and isinstance(
                model.get_submodule(user.target), torch.nn.Embedding
            )
            if embeds or user.target is torch.nn.functional.embedding:
                dtypes[index] = "int64"
    return dtypes


def _check_input_count(model: Any, class_name: str, given: int, fixed: dict[str, Any]) -> None:
    """forward must take as many inputs as were given shapes."""
    import inspect

    parameters = [
        p
        for p in inspect.signature(model.forward).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    taken = len(parameters) - len(fixed)
    if taken != given:
        raise ImportFailure(
            f"{class_name}.forward takes {taken} input(s), but {given} --input shape(s) were given"
        )


def _fixed_arguments(model: Any, class_name: str, inputs: int) -> dict[str, Any]:
    """`forward`'s arguments beyond the inputs, at their defaults (`scale=None` in every
    torchsr model): traced as constants, so that fx can follow an `if` on them."""
    import inspect

    parameters = list(inspect.signature(model.forward).parameters.values())
    fixed = {}
    for parameter in parameters[inputs:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is parameter.empty:
            raise ImportFailure(
                f"{class_name}.forward takes {len(parameters)} arguments, but "
                f"{inputs} --input shape(s) were given and {parameter.name!r} has no default"
            )
        fixed[parameter.name] = parameter.default
    return fixed


def _unused_parameters(model: Any, graph: Any) -> list[str]:
    """A note on parameters of modules `forward` never calls, which the design leaves out
    (users compare with `sum(p.numel() for p in model.parameters())`)."""
    used = [n.target for n in graph.nodes if n.op in ("call_module", "get_attr")]
    unused: dict[str, int] = {}
    for name, parameter in model.named_parameters():
        if not any(name == u or name.startswith(f"{u}.") for u in used):
            owner = name.rpartition(".")[0] or name
            top = owner.split(".")[0]
            unused[top] = unused.get(top, 0) + parameter.numel()
    if not unused:
        return []
    where = ", ".join(f"{name} ({count:,})" for name, count in unused.items())
    total = sum(unused.values())
    return [f"{total:,} parameters are in modules forward never calls, not in the design: {where}"]


def _mistraced(
    model: Any, arch: Architecture, class_name: str, examples: list[fx_trace.Example]
) -> list[str]:
    """A note where torch.fx's trace does not compute what the model's forward does
    (MONAI's BasicUNet: `torch.jit.isinstance` drops a concatenation): the outputs of a
    real forward pass (on the meta device, as the trace ran) against the design's."""
    import torch

    meta = torch.device("meta")
    zeros = [torch.zeros(1, *e.shape, dtype=getattr(torch, e.dtype), device=meta) for e in examples]
    try:
        with torch.no_grad():
            returned = model(*zeros)
    except Exception:  # noqa: BLE001 (the user's code may raise anything)
        return []
    real = [tuple(t.shape[1:]) for t in _tensors(returned)]
    results = analyse(arch).results
    designed = [t.shape for n in arch.outputs() for t in results[n].outputs]
    if real == designed:
        return []
    note = (
        f"torch.fx's trace of {class_name} does not compute what its forward does: forward "
        f"returns {_shapes_text(real)}, the trace {_shapes_text(designed)}. The design "
        "follows the trace; code that fx cannot follow (torch.jit.isinstance, branches on "
        "values) is the likely cause, not your model"
    )
    return [note]


def _shapes_text(shapes: list[Shape]) -> str:
    return ", ".join(dims(s) for s in shapes) or "nothing"


def _tensors(value: Any) -> list[Any]:
    """The tensors in a forward's result, in order (a tensor, a tuple or list, a dict)."""
    if hasattr(value, "shape"):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    return []


def _drop_agreeing_inferred(arch: Architecture) -> None:
    """Keep in_channels and friends (and what defaults to the input's, as LayerNorm's
    normalized_shape) only where they disagree with the input."""
    results = analyse(arch).results
    for node in arch.nodes():
        spec = arch.spec(node.id)
        inferred = [
            p
            for p in spec.params
            if p.name in node.params
            and (p.inferred or (p.from_input is not None and p.default is None))
        ]
        input_shapes = results[node.id].input_shapes
        if not inferred or not input_shapes:
            continue
        params = dict(node.params)
        for param in inferred:
            if params[param.name] == param.check(param.from_input(input_shapes[0])):
                del params[param.name]
        arch.set_params(node.id, params)


def parse_shape(text: str) -> Shape:
    """'3x224x224' → (3, 224, 224)."""
    try:
        shape = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ImportFailure(f"--input {text!r}: write a shape like 3x224x224") from None
    if not shape or min(shape) < 1:
        raise ImportFailure(f"--input {text!r}: every dimension must be at least 1")
    return shape


def parse_input(text: str) -> tuple[Shape, str | None]:
    """'3x224x224' → ((3, 224, 224), None): the dtype follows from the model;
    '100:int64' → ((100,), 'int64') (contract section 2: token ids for an Embedding)."""
    shape_text, colon, dtype = text.partition(":")
    if not colon:
        return parse_shape(shape_text), None
    dtype = dtype.strip().lower()
    if dtype not in DTYPE_BYTES:
        raise ImportFailure(
            f"--input {text!r}: {dtype!r} is not a dtype; write one of {', '.join(DTYPE_BYTES)}"
        )
    return parse_shape(shape_text), dtype
