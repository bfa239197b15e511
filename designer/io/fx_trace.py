"""Trace a model with torch.fx, knowing the value of every node as the trace goes.

Plain torch.fx proxies know nothing of shapes: `x.size(1)` becomes a node, and `len(x)`,
a loop over `x.shape` or einops' `rearrange` stop the trace. Here each proxy carries the
value its node takes for example inputs, computed on PyTorch's meta device (shapes and
dtypes, no data), so shape arithmetic is Python on ints and reaches the graph as the
constants a person reads in `x.view(B, N, 3, C // 3)`. The batch size is one of those
constants: the model is traced at two batch sizes, and what differs between the two
traces is the batch (`Traced.batch_axis`, `Traced.batch_positions`).

Each node also keeps where the user's code made it (the frames outside torch), which
messages quote.
"""

from __future__ import annotations

import linecache
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from designer.core.spec import Shape
from designer.io.import_errors import ImportFailure, Unsupported

BATCHES = (2, 3)  # the traces' batch sizes: a size that is 2 in one and 3 in the other is it
_DESIGNER = Path(__file__).resolve().parents[1]


class Frame(NamedTuple):
    """A line of Python that was running when the trace recorded a call."""

    file: str
    line: int


class Example(NamedTuple):
    """One input of forward: its shape per sample and dtype."""

    shape: Shape
    dtype: str


class Failed(NamedTuple):
    """The value of a step torch refused on the example values (a layer given the wrong
    number of channels): the trace goes on, and the design shows the engine's error."""

    message: str
    frames: tuple[Frame, ...]


@dataclass
class Traced:
    """The fx graph of the first trace and, per node name, its values at both batch
    sizes and the frames of the user's code that made it (outermost first)."""

    graph: Any
    values: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    frames: dict[str, tuple[Frame, ...]] = field(default_factory=dict)
    second_calls: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # (args, kwargs)

    def value(self, node: Any) -> Any:
        return self.values[node.name][0]

    def batch_axis(self, node: Any) -> int | None:
        """Where the node's tensor holds the batch: the one dim whose size follows the
        batch size; None for a tensor without a batch (a parameter, a constant). An
        Unsupported where the batch is merged with another dimension."""
        first, second = self.values[node.name]
        if isinstance(first, Failed):
            return 0  # unknown: where a layer would hold it
        return axis_of_batch(first.shape, second.shape, node.name)

    def batch_positions(self, node: Any) -> dict[tuple, str]:
        """The constants of the call that follow the batch size, by their place in
        (args, kwargs): 'batch' for the batch size itself, 'derived' for a value computed
        from it (B * N, a slice to B)."""
        return _differences(node.args, node.kwargs, self.second_calls[node.name])


def axis_of_batch(first: Shape, second: Shape, name: str) -> int | None:
    """The dim of a tensor traced as `first` and `second` (at the two batch sizes) that
    holds the batch; None where none does."""
    if len(first) != len(second):
        raise ImportFailure(f"{name} has a different rank at batch sizes {BATCHES}")
    differing = [axis for axis, (a, b) in enumerate(zip(first, second)) if a != b]
    if not differing:
        return None
    axis = differing[0]
    if len(differing) > 1 or (first[axis], second[axis]) != BATCHES:
        raise Unsupported(
            f"{name} merges the batch with other dimensions (a tensor of {tuple(first)} at "
            f"batch {BATCHES[0]}); the design keeps every sample apart"
        )
    return axis


def _differences(args: Any, kwargs: Any, other: tuple[Any, Any]) -> dict[tuple, str]:
    found: dict[tuple, str] = {}

    def walk(a: Any, b: Any, place: tuple) -> None:
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
            for index, (x, y) in enumerate(zip(a, b)):
                walk(x, y, (*place, index))
        elif isinstance(a, dict) and isinstance(b, dict):
            for key in a:
                walk(a[key], b.get(key), (*place, key))
        elif isinstance(a, slice) and isinstance(b, slice) and a != b:
            found[place] = "derived"
        elif isinstance(a, int) and isinstance(b, int) and a != b:
            found[place] = "batch" if (a, b) == BATCHES else "derived"

    walk((args, kwargs), other, ())
    return found


def trace(
    model: Any,
    class_name: str,
    fixed: dict[str, Any],
    examples: list[Example],
    layers: frozenset[str],
) -> Traced:
    """Trace `model` (on the meta device) at both batch sizes; the traces must agree on
    every step, as they do unless forward branches on the batch size. The torch.nn
    modules named in `layers` stay whole (calls in the graph), as do those without
    submodules; the others (nn.TransformerEncoder) are traced through, as the user's own
    modules are."""
    first, frames = _trace_once(model, class_name, fixed, examples, BATCHES[0], layers)
    second, _ = _trace_once(model, class_name, fixed, examples, BATCHES[1], layers)
    nodes, others = list(first.nodes), list(second.nodes)
    if list(map(_step_name, nodes)) != list(map(_step_name, others)):
        raise ImportFailure(
            f"{class_name}.forward takes other steps at batch size {BATCHES[1]} than at "
            f"{BATCHES[0]}; the design needs one graph for every batch size"
        )
    traced = Traced(first, frames=frames)
    for node, other in zip(nodes, others):
        traced.values[node.name] = (node.meta.get("value"), other.meta.get("value"))
        traced.second_calls[node.name] = (other.args, other.kwargs)
    return traced


def _step_name(node: Any) -> tuple[str, Any]:
    """What a node does, the same in both traces: a tensor made in forward is numbered
    by the trace that made it (_tensor_constant0, then _tensor_constant1)."""
    if node.op == "get_attr" and node.target.startswith("_tensor_constant"):
        return node.op, "_tensor_constant"
    return node.op, node.target


def _trace_once(
    model: Any,
    class_name: str,
    fixed: dict[str, Any],
    examples: list[Example],
    batch: int,
    layers: frozenset[str],
) -> tuple[Any, dict[str, tuple[Frame, ...]]]:
    import torch

    meta = torch.device("meta")
    values = [
        torch.zeros(batch, *e.shape, dtype=getattr(torch, e.dtype), device=meta) for e in examples
    ]
    tracer = _tracer_class()(values, fixed, layers)
    try:
        with meta, _known_to_einops(type(tracer).proxy_type):
            graph = tracer.trace(model, concrete_args=fixed or None)
    except (ImportFailure, NoValue):
        raise
    except Exception as error:  # noqa: BLE001 (the user's code may raise anything)
        raise ImportFailure(
            f"torch.fx cannot trace {class_name}: {type(error).__name__}: {error}"
        ) from None
    return graph, tracer.frames


class NoValue(Unsupported):
    """torch could not run one step on the example values (code that needs data);
    `frames` are where the user's code takes it."""

    def __init__(self, message: str, frames: tuple[Frame, ...]) -> None:
        super().__init__(message)
        self.frames = frames


@contextmanager
def _known_to_einops(proxy_type: type) -> Iterator[None]:
    """einops picks its backend by the tensor's type, and a proxy's is not torch.Tensor:
    for the trace, einops takes the proxy type for a torch tensor (its torch backend
    calls tensor methods, which the trace records)."""
    backends = sys.modules.get("einops._backends")
    if not hasattr(backends, "_type2backend"):  # einops not imported, or laid out otherwise
        yield
        return
    import torch

    backends._type2backend[proxy_type] = backends.get_backend(torch.zeros(0))
    try:
        yield
    finally:
        backends._type2backend.pop(proxy_type, None)


_TRACER: type | None = None


def _tracer_class() -> type:
    """The tracer, built once torch is imported (the designer runs without torch)."""
    global _TRACER
    if _TRACER is None:
        _TRACER = _build_tracer_class()
    return _TRACER


def _build_tracer_class() -> type:
    import torch
    import torch.fx

    def value_of(a: Any) -> Any:
        return a.node.meta.get("value") if isinstance(a, torch.fx.Proxy) else a

    class ShapeProxy(torch.fx.Proxy):
        """A proxy that answers questions about its shape with the traced value's."""

        def _known(self) -> Any:
            value = self.node.meta.get("value")
            if isinstance(value, Failed):  # the code asks a shape torch could not give
                raise NoValue(value.message, value.frames)
            return value

        def size(self, dim: int | None = None) -> Any:
            value = self._known()
            return value.size() if dim is None else value.size(dim)

        def dim(self) -> int:
            return self._known().dim()

        def numel(self) -> int:
            return self._known().numel()

        def is_floating_point(self) -> bool:
            return self._known().is_floating_point()

        @property
        def shape(self) -> Any:
            return self._known().shape

        @property
        def ndim(self) -> int:
            return self._known().ndim

        @property
        def dtype(self) -> Any:
            return self._known().dtype

        @property
        def device(self) -> Any:
            return self._known().device

        @property
        def is_nested(self) -> bool:  # asked by nn.TransformerEncoder before its fast path
            return self._known().is_nested

        @property
        def requires_grad(self) -> bool:
            return self._known().requires_grad

        def __len__(self) -> int:
            return len(self._known())

        def __iter__(self) -> Iterator[Any]:
            return (self[index] for index in range(len(self._known())))

    class ShapeTracer(torch.fx.Tracer):
        proxy_type = ShapeProxy
        proxy_buffer_attributes = True  # a buffer is a node: the mapping says it is used

        def __init__(
            self, examples: list[Any], fixed: dict[str, Any], layers: frozenset[str]
        ) -> None:
            super().__init__()
            self.examples = examples
            self.fixed = fixed
            self.layers = layers
            self.placeholders = 0
            self.computing = False  # running a step on values: no nodes, no proxies
            self.frames: dict[str, tuple[Frame, ...]] = {}

        def proxy(self, node: Any) -> ShapeProxy:
            return ShapeProxy(node, self)

        def create_proxy(self, kind, target, args, kwargs, *more, **options):  # type: ignore[override]
            proxy = super().create_proxy(kind, target, args, kwargs, *more, **options)
            if kind == "output":
                return proxy
            self.frames[proxy.node.name] = _user_frames()
            if kind == "placeholder":
                proxy.node.meta["value"] = self._placeholder(target)
                return proxy
            step = Step(kind, target, args, kwargs)
            proxy.node.meta["value"] = self.run(step, proxy.node.name)
            return proxy

        def _placeholder(self, name: str) -> Any:
            if self.placeholders < len(self.examples):
                self.placeholders += 1
                return self.examples[self.placeholders - 1]
            return self.fixed.get(name, self.fixed.get(name.rpartition("_")[0]))

        def run(self, step: Step, name: str) -> Any:
            """The step's value on the example values (see `evaluate`); Failed where
            torch refuses it, or where it takes a value that failed."""
            args, kwargs = torch.fx.node.map_aggregate((step.args, step.kwargs), value_of)
            failed = [a for a in _flat((args, kwargs)) if isinstance(a, Failed)]
            if failed:
                return failed[0]
            self.computing = True
            try:
                return evaluate(self.root, step._replace(args=args, kwargs=kwargs))
            except Exception as error:  # noqa: BLE001 (torch refusing the step is an answer)
                message = (
                    f"{step.described()} cannot be run on the example input "
                    f"({type(error).__name__}: {_first_line(error)})"
                )
                return Failed(message, self.frames[name])
            finally:
                self.computing = False

        def is_leaf_module(self, m: Any, module_qualified_name: str) -> bool:
            if not super().is_leaf_module(m, module_qualified_name):
                return False
            return type(m).__name__ in self.layers or not any(True for _ in m.children())

        def call_module(self, m, forward, args, kwargs):  # type: ignore[override]
            if self.computing:  # inside a leaf module's own forward
                return forward(*args, **kwargs)
            return super().call_module(m, forward, args, kwargs)

        def getattr(self, attr, attr_val, parameter_proxy_cache):  # type: ignore[override]
            if self.computing:
                return attr_val
            return super().getattr(attr, attr_val, parameter_proxy_cache)

    return ShapeTracer


class Step(NamedTuple):
    """One call of the graph: an fx node's kind, target and arguments."""

    kind: str
    target: Any
    args: Any
    kwargs: Any

    def described(self) -> str:
        if self.kind == "call_method":
            return f"the tensor method .{self.target}()"
        if self.kind == "call_module":
            return f"module {self.target}"
        name = getattr(self.target, "__name__", str(self.target))
        return f"{getattr(self.target, '__module__', None) or ''}.{name}()".lstrip(".")


def evaluate(root: Any, step: Step) -> Any:
    """A step run on its values (meta tensors); one that torch has no meta kernel for runs
    on the CPU, with zeros of the same shapes, and its result goes back to meta."""
    import torch
    import torch.fx

    with torch.no_grad():
        try:
            return _call(root, step, lambda m: m)
        except NotImplementedError:
            on_cpu = step._replace(
                args=torch.fx.node.map_aggregate(step.args, _on_cpu),
                kwargs=torch.fx.node.map_aggregate(step.kwargs, _on_cpu),
            )
            return torch.fx.node.map_aggregate(_call(root, on_cpu, _module_on_cpu), _on_meta)


def _call(root: Any, step: Step, placed: Callable[[Any], Any]) -> Any:
    if step.kind == "get_attr":
        value = root
        for atom in step.target.split("."):
            value = getattr(value, atom)
        return value
    if step.kind == "call_function":
        return step.target(*step.args, **step.kwargs)
    if step.kind == "call_method":
        return getattr(step.args[0], step.target)(*step.args[1:], **step.kwargs)
    return placed(root.get_submodule(step.target))(*step.args, **step.kwargs)


def _flat(value: Any) -> list[Any]:
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)) and not isinstance(value, Failed):
        return [leaf for item in value for leaf in _flat(item)]
    return [value]


def _on_cpu(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor) and value.device.type == "meta":
        return torch.zeros(value.shape, dtype=value.dtype, device="cpu")
    return value


def _on_meta(value: Any) -> Any:
    import torch

    return value.to("meta") if isinstance(value, torch.Tensor) else value


def _module_on_cpu(module: Any) -> Any:
    import copy

    return copy.deepcopy(module).to_empty(device="cpu")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


_TORCH_DIR: Path | None = None


def _user_frames() -> tuple[Frame, ...]:
    """The frames of the Python stack outside torch and the designer, outermost first:
    where the user's code (or a library of theirs) made the current call."""
    global _TORCH_DIR
    if _TORCH_DIR is None:
        import torch

        _TORCH_DIR = Path(torch.__file__).resolve().parent
    frames = []
    frame = sys._getframe(2)
    while frame is not None:
        file = frame.f_code.co_filename
        if not _inside(file, _TORCH_DIR) and not _inside(file, _DESIGNER):
            frames.append(Frame(file, frame.f_lineno))
        frame = frame.f_back
    frames.reverse()
    return tuple(frames)


_INSIDE: dict[tuple[str, Path], bool] = {}


def _inside(file: str, folder: Path) -> bool:
    key = (file, folder)
    if key not in _INSIDE:
        _INSIDE[key] = file.startswith("<") or folder in Path(file).resolve().parents
    return _INSIDE[key]


def place(frames: tuple[Frame, ...], model_file: Path) -> str | None:
    """Where the user's file makes a call, as 'model.py line 12 (x = torch.roll(x, 1, 2))';
    where its innermost frame is in a library that file calls, that line follows:
    'model.py line 12 (y = shifted(x)), in mylib/activ.py line 10 (return torch.roll(…))'.
    None where no frame is outside torch."""
    if not frames:
        return None
    own = [f for f in frames if _same_file(f.file, model_file)]
    innermost = frames[-1]
    if not own:
        return _frame_text(innermost, model_file)
    text = _frame_text(own[-1], model_file)
    if innermost != own[-1]:
        text += f", in {_frame_text(innermost, model_file)}"
    return text


_SAME: dict[tuple[str, Path], bool] = {}


def _same_file(file: str, model_file: Path) -> bool:
    key = (file, model_file)
    if key not in _SAME:
        _SAME[key] = not file.startswith("<") and Path(file).resolve() == model_file.resolve()
    return _SAME[key]


def _frame_text(frame: Frame, model_file: Path) -> str:
    code = re.sub(r"\s+", " ", linecache.getline(frame.file, frame.line).strip())
    return f"{_shown_path(Path(frame.file), model_file)} line {frame.line} ({code})"


def _shown_path(file: Path, model_file: Path) -> str:
    """The user's own file by its name; a library's file by its path inside the folder
    it is imported from (pytorchcv/models/common/activ.py)."""
    if file.resolve() == model_file.resolve():
        return model_file.name
    for folder in sorted((Path(p).resolve() for p in sys.path if p), key=lambda p: -len(p.parts)):
        if folder in file.resolve().parents:
            return file.resolve().relative_to(folder).as_posix()
    return file.name
