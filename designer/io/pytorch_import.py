"""Import a PyTorch model: trace it with torch.fx and map what it does onto the catalog.

This runs the user's own Python file (their code, on their machine); opening a project
file never does. torch is imported inside the functions, so the designer runs without it.

Channel and feature counts written in the model's code (in_channels=1) are kept where
they disagree with what the input implies, so the engine shows the mistake on that node
naming both numbers; where they agree they are dropped, as the file format prefers.
"""

from __future__ import annotations

import importlib.util
import operator
import re
import sys
import typing
from pathlib import Path
from typing import Any

from designer.core import registry
from designer.core.graph import Architecture, Catalog, EdgeRecord, NodeRecord
from designer.core.layout import layered_positions
from designer.core.params import ParamError
from designer.core.propagate import analyse
from designer.core.spec import Function, LayerSpec, Shape, dims

# Call arguments that change nothing the design describes.
_IGNORED_ARGUMENTS = ("training", "antialias")


class _Catalog:
    """The catalog indexed the ways a traced model names a layer: by torch.nn class, by
    torch function and by Tensor method (each LayerSpec says its own names)."""

    def __init__(self, catalog: Catalog) -> None:
        self.by_class = {s.torch_name: s for s in catalog.values() if s.torch_name}
        self.by_function = {f: s for s in catalog.values() for f in s.functions}
        self.by_method = {m: s for s in catalog.values() for m in s.methods}


class ImportFailure(Exception):
    """The model cannot be brought in; the message says what and where."""


class TorchMissing(ImportFailure):
    pass


class Unsupported(ImportFailure):
    """The model does something the catalog cannot express."""


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
) -> Architecture:
    """Build the class with `arguments`, trace it, and return it as an Architecture.

    The model is traced in eval() mode, since a design describes inference (training-only
    branches such as drop-connect's random masks vanish), with `forward`'s arguments
    beyond the inputs fixed at their defaults. What the user should know about the import
    (parameters of modules forward never calls; a trace that does not compute what the
    model does) is appended to `notes`."""
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
    model.eval()
    fixed = _fixed_arguments(model, class_name, len(input_shapes))
    graph = _trace(model, class_name, fixed, stack_traces=False)
    try:
        arch = _Mapper(model, path, input_shapes, fixed).build(graph, class_name)
    except Unsupported:
        # Where the user's code is, from a second trace that records it: recording costs
        # more than tracing and mapping together, so only a refusal pays for it.
        graph = _trace(model, class_name, fixed, stack_traces=True)
        _Mapper(model, path, input_shapes, fixed).build(graph, class_name)
        raise
    _drop_agreeing_inferred(arch)
    if notes is not None:
        notes += _unused_parameters(model, graph)
        notes += _mistraced(model, arch, class_name, input_shapes)
    for node_id, pos in layered_positions(arch.graph).items():
        arch.move(node_id, pos)
    return arch


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


def _trace(model: Any, class_name: str, fixed: dict[str, Any], stack_traces: bool) -> Any:
    import torch.fx

    tracer = torch.fx.Tracer()
    tracer.record_stack_traces = stack_traces
    try:
        return tracer.trace(model, concrete_args=fixed or None)
    except Exception as error:  # noqa: BLE001 (the user's code may raise anything)
        raise ImportFailure(
            f"torch.fx cannot trace {class_name}: {type(error).__name__}: {error}"
        ) from None


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


def _mistraced(model: Any, arch: Architecture, class_name: str, shapes: list[Shape]) -> list[str]:
    """A note where torch.fx's trace does not compute what the model's forward does
    (MONAI's BasicUNet: `torch.jit.isinstance` drops a concatenation): the outputs of a
    real forward pass against the design's. The pass runs on PyTorch's meta device, which
    computes shapes and no values (a real ResNet-18 pass would cost more than the whole
    import), so it comes last: the model is no use afterwards."""
    import torch

    dtypes = [arch.spec(n).resolve(arch.params_of(n))["dtype"] for n in arch.input_ids()]
    meta = torch.device("meta")
    zeros = [
        torch.zeros(1, *s, dtype=getattr(torch, d), device=meta) for s, d in zip(shapes, dtypes)
    ]
    try:
        with torch.no_grad():
            returned = model.to(meta)(*zeros)
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


class _Mapper:
    """Walks an fx graph, turning each tensor-producing node into a designer node."""

    def __init__(
        self, model: Any, path: Path, input_shapes: list[Shape], fixed: dict[str, Any]
    ) -> None:
        self.model = model
        self.path = path
        self.input_shapes = list(input_shapes)
        self.fixed = len(fixed)  # placeholders of arguments traced as constants
        self.nodes: list[NodeRecord] = []
        self.edges: list[EdgeRecord] = []
        self.catalog = _Catalog(registry.LAYERS)
        # fx node name → the designer node and output slot holding its value; a layer
        # with several outputs maps to its node with slot None until indexed by getitem
        self.produced: dict[str, tuple[str, int | None]] = {}
        self._current: Any = None  # the fx node being mapped, for messages
        self.attributes: dict[str, str] = {}  # fx get_attr node name → attribute path
        self.holders: dict[str, str] = {}  # module path → the node of its first call

    def build(self, graph: Any, class_name: str) -> Architecture:
        placeholders = [n for n in graph.nodes if n.op == "placeholder"]
        inputs = placeholders[: len(placeholders) - self.fixed]
        if len(inputs) != len(self.input_shapes):
            raise ImportFailure(
                f"{class_name}.forward takes {len(inputs)} input(s), "
                f"but {len(self.input_shapes)} --input shape(s) were given"
            )
        shapes = iter(self.input_shapes)
        for node in graph.nodes:
            self._current = node
            if node.op == "placeholder":
                if node in inputs:
                    self._add(node.name, "Input", {"shape": list(next(shapes))}, node.target, [])
            elif node.op == "call_module":
                self._module(node)
            elif node.op in ("call_function", "call_method") and not _checks_a_constant(node):
                self._function(node)
            elif node.op == "get_attr":
                self.attributes[node.name] = node.target  # a weight a function call may use
            elif node.op == "output":
                self._outputs(node)
        return Architecture.build(class_name, self.nodes, self.edges)

    def _outputs(self, node: Any) -> None:
        """A design's results are the nodes that feed nothing: a value `forward` returns
        that also feeds other layers (or is one output of several) gets an Identity, so
        that it is a result of the design too."""
        import torch.fx

        returned: list[Any] = []
        torch.fx.node.map_arg(node.args, returned.append)
        feeding = {e.source for e in self.edges}
        for value in returned:
            source, slot = self.produced[value.name]
            if source in feeding or slot not in (0, None):
                self._add(f"{value.name}_out", "Identity", {}, f"output {value.name}", [value])

    def _add(
        self,
        fx_name: str,
        kind: str,
        params: dict[str, Any],
        name: str | None,
        feeds: list[Any],
        shares: str | None = None,
    ) -> None:
        try:
            params = registry.LAYERS[kind].validate(params)
        except ParamError as error:
            raise Unsupported(f"{self._where(self._current)}: {kind} with {error}") from None
        name = name if name != fx_name else None
        self.nodes.append(NodeRecord(fx_name, kind, params, name, shares=shares))
        for port, feed in enumerate(feeds):
            source, slot = self.produced[feed.name]
            if slot is None:
                raise self._unsupported(self._current, f"using all outputs of {feed.name} at once")
            self.edges.append(EdgeRecord(source, fx_name, port, slot))
        several = len(registry.LAYERS[kind].output_names(params)) > 1
        self.produced[fx_name] = (fx_name, None if several else 0)

    def _module(self, node: Any) -> None:
        module = self.model.get_submodule(node.target)
        kind = type(module).__name__
        spec = self.catalog.by_class.get(kind)
        if spec is None or type(module).__module__.split(".")[:2] != ["torch", "nn"]:
            raise self._unsupported(
                node, f"{type(module).__module__}.{kind} (module {node.target})"
            )
        params = {}
        for param in spec.params:
            if not hasattr(module, param.name):
                continue
            value = getattr(module, param.name)
            if param.name == "bias" and not isinstance(value, bool):
                if value is None and getattr(module, "weight", True) is None:
                    continue  # no affine weights at all: says nothing of the bias argument
                value = value is not None
            params[param.name] = _plain(value)
        feeds = self._tensor_args(node)
        shares = None
        if any(True for _ in module.parameters()):  # a module with weights called again
            shares = self.holders.setdefault(node.target, node.name)
            shares = None if shares == node.name else shares
        self._add(node.name, spec.name, _tidy(spec, params), node.target, feeds, shares)

    def _function(self, node: Any) -> None:
        name = _callable_name(node.target)
        if node.op == "call_method" and name in ("size", "dim"):
            return  # shape arithmetic, read by view/reshape below
        if node.op == "call_method" and name in ("view", "reshape") and _is_flatten_view(node):
            self._add(node.name, "Flatten", {}, None, [node.args[0]])
            return
        if name == "getitem" and self._output_of(node):
            return
        if node.op == "call_method":
            spec = self.catalog.by_method.get(name)
            if spec is None:
                raise self._unsupported(node, f"the tensor method .{name}()")
        else:
            spec = self.catalog.by_function.get(name)
            if spec is None:
                raise self._unsupported(node, f"{_qualified(node.target)}()")
        if not spec.takes_one_input:
            self._merge(node, spec)
            return
        arguments = _arguments(node)
        for ignored in _IGNORED_ARGUMENTS:
            arguments.pop(ignored, None)
        source = arguments.pop("input", arguments.pop("self", None))
        name = None
        if spec.weighted:
            name = self._own_weights(node, arguments)
        params = {k: _plain(v) for k, v in arguments.items() if k in spec.by_name}
        self._add(node.name, spec.name, _tidy(spec, params), name, [source])

    def _own_weights(self, node: Any, arguments: dict[str, Any]) -> str:
        """`F.conv2d(x, self.weight, self.bias, …)` in a Conv2d subclass (a static-same-
        padding conv, a fixed mean shift) is the layer whose weight it reads: the counts
        and kernel come from the weight's shape, the bias from whether one is given. The
        node is named after the module that owns the weight."""
        weight, bias = arguments.pop("weight", None), arguments.pop("bias", None)
        if getattr(weight, "name", None) not in self.attributes:
            raise self._unsupported(node, f"{_qualified(node.target)}() on a computed weight")
        path = self.attributes[weight.name]
        shape = tuple(self.model.get_parameter(path).shape)
        arguments["out_channels" if len(shape) > 2 else "out_features"] = shape[0]
        if len(shape) > 2:
            arguments["kernel_size"] = shape[2:]
        arguments["bias"] = bias is not None
        return path.rpartition(".")[0] or path

    def _output_of(self, node: Any) -> bool:
        """`values, indices = pool(x)` is traced as getitem(pool, 0) and getitem(pool, 1):
        each names one output slot of a layer with several. Whether it did."""
        whole, index = node.args
        producer = self.produced.get(getattr(whole, "name", None))
        if producer is None or producer[1] is not None or not isinstance(index, int):
            return False
        self.produced[node.name] = (producer[0], index)
        return True

    def _merge(self, node: Any, spec: LayerSpec) -> None:
        arguments = _arguments(node)
        params = {
            k: _plain(v) for k, v in arguments.items() if k in spec.by_name and not _is_node(v)
        }
        if isinstance(spec.written_as, Function):  # torch.cat(tensors, dim)
            tensors = list(arguments.get("tensors", node.args[0]))
        else:  # an operator: a + b, or x * 0.2 with a number as `other`
            operands = list(node.args[:2])
            if arguments.get("alpha", 1) != 1:
                raise self._unsupported(node, "torch.add with alpha")
            tensors = [a for a in operands if _is_node(a)]
            numbers = [a for a in operands if isinstance(a, (int, float)) and not _is_node(a)]
            commutes = spec.written_as.symbol in ("+", "*")
            if len(tensors) == 1 and len(numbers) == 1 and (commutes or _is_node(operands[0])):
                params["other"] = float(numbers[0])
        if not tensors or not all(_is_node(t) and t.name in self.produced for t in tensors):
            raise self._unsupported(node, f"{_qualified(node.target)} with a constant operand")
        self._add(node.name, spec.name, params, None, tensors)

    def _tensor_args(self, node: Any) -> list[Any]:
        feeds = [a for a in node.args if hasattr(a, "op")]
        if len(feeds) != 1 or node.kwargs:
            raise self._unsupported(
                node, f"calling {node.target} with {len(feeds)} tensor arguments"
            )
        return feeds

    def _unsupported(self, node: Any, what: str) -> Unsupported:
        return Unsupported(f"{self._where(node)}: {what} is not something the designer can express")

    def _where(self, node: Any) -> str:
        """Where the model's own code makes this call: the innermost frame of the trace's
        record outside torch (a model library's activ.py, not the wrapper calling it), as
        'activ.py line 47 (return x * F.relu6(x + 3.0) / 6.0)'."""
        import torch

        torch_dir = Path(torch.__file__).resolve().parent
        frames = re.findall(r'File "([^"]+)", line (\d+)[^\n]*\n +(.*)', node.stack_trace or "")
        outside = [f for f in frames if torch_dir not in Path(f[0]).resolve().parents]
        if not outside:
            return f"{self.path.name} ({node.name})"
        file, line, code = outside[-1]
        return f"{_shown_path(Path(file), self.path)} line {line} ({code.strip()})"


def _checks_a_constant(node: Any) -> bool:
    """fx's check that an argument traced as a constant keeps its value: no layer."""
    from torch.fx._symbolic_trace import _assert_is_none

    return node.target is _assert_is_none


def _shown_path(file: Path, model_file: Path) -> str:
    """The user's own file by its name; a library's file by its path inside the folder
    it is imported from (pytorchcv/models/common/activ.py)."""
    if file.resolve() == model_file.resolve():
        return model_file.name
    for folder in sorted((Path(p).resolve() for p in sys.path if p), key=lambda p: -len(p.parts)):
        if folder in file.resolve().parents:
            return file.resolve().relative_to(folder).as_posix()
    return file.name


def _arguments(node: Any) -> dict[str, Any]:
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

    target = getattr(torch.Tensor, node.target) if node.op == "call_method" else node.target
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


def _is_node(value: Any) -> bool:
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
}


def _callable_name(target: Any) -> str:
    if isinstance(target, str):
        return target
    if target in _OPERATORS:
        return _OPERATORS[target]
    return getattr(target, "__name__", str(target)).lstrip("_")


def _qualified(target: Any) -> str:
    module = getattr(target, "__module__", None) or ""
    return f"{module}.{_callable_name(target)}".lstrip(".")


def _is_flatten_view(node: Any) -> bool:
    """x.view(x.size(0), -1) or x.reshape(x.size(0), -1)."""
    if len(node.args) != 3 or node.args[2] != -1:
        return False
    size = node.args[1]
    return (
        getattr(size, "op", None) == "call_method"
        and size.target == "size"
        and size.args[1:] == (0,)
        and size.args[0] is node.args[0]
    )


def _plain(value: Any) -> Any:
    """Module attributes as JSON-like values: tuples, ints, floats, strings; an empty list
    (F.avg_pool2d's "stride not given") as None."""
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value) if value else None
    if hasattr(value, "item"):
        return value.item()
    return value


def _tidy(spec: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Drop defaults and collapse (3, 3) to 3, as a person writes them; a pool's stride
    equal to its kernel is PyTorch's default and left out."""
    if "Pool" in spec.name and params.get("stride") == params.get("kernel_size"):
        params = {k: v for k, v in params.items() if k != "stride"}
    tidy = {}
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
        tidy[param.name] = value
    return spec.explicit(tidy)


def _drop_agreeing_inferred(arch: Architecture) -> None:
    """Keep in_channels and friends only where they disagree with the input."""
    results = analyse(arch).results
    for node in arch.nodes():
        spec = arch.spec(node.id)
        inferred = [p for p in spec.params if p.inferred and p.name in node.params]
        input_shapes = results[node.id].input_shapes
        if not inferred or not input_shapes:
            continue
        params = dict(node.params)
        for param in inferred:
            if params[param.name] == param.from_input(input_shapes[0]):
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
