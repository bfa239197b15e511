"""A design as the PyTorch module a person would have written.

Layers become named submodules; straight runs of single-input layers become one
nn.Sequential; `forward` follows the graph in the report's order. Only arguments that
differ from PyTorch's defaults are written, plus the inferred channel and feature counts
PyTorch needs. torch is not imported here: the source is text, and `verify`, which needs
torch, lives in its own module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from designer.core.graph import Architecture
from designer.core.layers import custom, tensor
from designer.core.problems import ProblemsError
from designer.core.propagate import Engine
from designer.core.spec import (
    FLOATING,
    Function,
    Module,
    Operator,
    Returns,
    Shape,
    Tensor,
    torch_dim,
)
from designer.export import naming
from designer.export.pysource import (
    LINE_LENGTH,
    Bracketed,
    Chain,
    Code,
    Expr,
    Keyword,
    call,
    list_of,
    literal,
    statement,
)
from designer.export.report import report_order

Output = tuple[str, int]  # (node id, output slot)
_UNPACKED_AT_MOST = 3  # output slots assigned to names of their own


class ExportError(ProblemsError):
    """The design cannot be exported; `problems` names each node that is wrong."""


@dataclass
class ExportedModule:
    """Generated source and how it maps back to the design."""

    source: str
    class_name: str
    input_shapes: list[Shape]
    input_dtypes: list[str]
    module_paths: dict[str, str] = field(default_factory=dict)  # node id → "features.0"
    outputs: list[Output] = field(default_factory=list)  # what `forward` returns, in order
    calls: dict[str, int] = field(default_factory=dict)  # node → its call of a shared module
    # whether runs of layers share one nn.Sequential, whose input only its first layer reads;
    # False where each module stands for one node (a design with blocks)
    runs: bool = True


def export(arch: Architecture, engine: Engine, class_name: str | None = None) -> ExportedModule:
    """The design as Python source; ExportError if any node has an error."""
    engine.refresh()
    problems = [f"{node_id}: {r.error}" for node_id, r in engine.results.items() if r.error]
    if problems:
        raise ExportError(problems)
    inputs = [n for n in arch.input_ids() if not _is_learned(arch, n)]
    if not inputs:
        raise ExportError(["the design has no Input node"])
    if len(inputs) == len(arch):
        raise ExportError(["the design has no layers after its input"])
    writer = _Writer(arch, engine, naming.class_name(class_name or arch.name or "Net"))
    return writer.write(inputs)


@dataclass
class _Unit:
    """One submodule of the generated class: a single layer, or a run in nn.Sequential."""

    name: str
    nodes: list[str]


class _Writer:
    def __init__(self, arch: Architecture, engine: Engine, class_name: str) -> None:
        self.arch = arch
        self.engine = engine
        self.class_name = class_name
        self.names = naming.Namespace()
        self.variables: dict[Output, str] = {}  # the variable holding each output used
        # nodes that call another's module (shared weights), and the modules called twice,
        # which stand alone: a module inside an nn.Sequential cannot be called on its own
        self.owners = {n: o for n in arch.file_order() if (o := arch.owner_of(n)) is not None}
        self.shared = set(self.owners.values())
        self.learned: dict[str, str] = {}  # Parameter node → its attribute, self.<name>
        self.customs: dict[str, str] = {}  # Custom node calling a module → its attribute
        self.batch = "x"  # what forward reads the batch size from: `x.shape[0]`

    def write(self, inputs: list[str]) -> ExportedModule:
        order = report_order(self.engine)
        if len(inputs) == 1:
            self.variables[(inputs[0], 0)] = "x"
        else:
            for node_id in inputs:
                self.variables[(node_id, 0)] = self._claim(node_id)
        units = self._units(order)
        self.batch = self.variables[(inputs[0], 0)]
        for node_id in order:
            if _is_learned(self.arch, node_id):
                self.learned[node_id] = self._claim(node_id)
            elif self.arch.type_of(node_id) == "Custom" and self._custom_module(node_id):
                self.customs[node_id] = self._claim(node_id)
        outputs = [
            (node_id, slot)
            for node_id in self.arch.outputs()
            for slot in range(len(self.engine.results[node_id].outputs))
        ]
        shapes = [self.engine.results[n].shape for n in inputs]
        dtypes = [self.engine.results[n].output.dtype for n in inputs]
        paths = {}
        for unit in units.values():
            for index, node_id in enumerate(unit.nodes):
                paths[node_id] = f"{unit.name}.{index}" if len(unit.nodes) > 1 else unit.name
        paths.update(self.customs)
        calls: dict[str, int] = {}  # a node's call of a module called more than once
        for owner in self.shared:
            group = [n for n in order if n == owner or self.owners.get(n) == owner]
            for index, node_id in enumerate(group):
                paths[node_id] = paths[owner]
                calls[node_id] = index
        lines = [
            *self._header(inputs, shapes),
            f"class {self.class_name}(nn.Module):",
            *self._init(units),
            "",
            *self._forward(order, units, inputs, outputs),
            "",
            "",
            *self._main(shapes, dtypes, len(outputs)),
        ]
        source = "\n".join(lines) + "\n"
        return ExportedModule(source, self.class_name, shapes, dtypes, paths, outputs, calls)

    def _claim(self, node_id: str, slot_name: str = "") -> str:
        label = self.arch.label(node_id)
        return self.names.claim(f"{label} {slot_name}", self.arch.type_of(node_id).lower())

    def _slots(self, node_id: str) -> int:
        return len(self.engine.results[node_id].outputs)

    def _units(self, order: list[str]) -> dict[str, _Unit]:
        """Group straight runs: a module joins the run before it when it is that run's
        only consumer, takes no other input and reads the run's one output."""
        arch = self.arch
        units: dict[str, _Unit] = {}  # keyed by the unit's last node
        for node_id in order:
            spec = arch.spec(node_id)
            if spec.inputs[1] == 0 or not isinstance(spec.written_as, Module):
                continue
            if node_id in self.owners:  # it calls another node's module
                continue
            # nn.Sequential passes one tensor along: a module of several inputs stands alone
            edges = arch.in_edges(node_id)
            source = edges[0].source
            run = units.get(source) if len(edges) == 1 else None
            if (
                run is not None
                and len(arch.in_edges(run.nodes[0])) == 1
                and len(arch.consumers(source)) == 1
                and self._slots(source) == 1
                and node_id not in self.shared
                and source not in self.shared
            ):
                del units[source]
                run.nodes.append(node_id)
                units[node_id] = run
            else:
                units[node_id] = _Unit("", [node_id])
        for unit in units.values():
            unit.name = self._unit_name(unit.nodes)
        return units

    def _unit_name(self, nodes: list[str]) -> str:
        """A run is named for what its ids share (layer1.0.conv1, layer1.0.bn1 → layer1_0),
        else for its ends."""
        if len(nodes) == 1:
            return self._claim(nodes[0])
        labels = [self.arch.label(n) for n in nodes]
        prefix = _common_dotted_prefix(nodes) or _common_dotted_prefix(labels)
        return self.names.claim(prefix or f"{labels[0]} to {labels[-1]}", "block")

    def _header(self, inputs: list[str], shapes: list[Shape]) -> list[str]:
        totals = self.engine.totals()
        title = naming.comment_text(self.arch.name or "design")
        lines = [f"# {self.class_name}: generated by designer from {title}."]
        for node_id, shape in zip(inputs, shapes):
            dims = ", ".join(str(d) for d in shape)
            variable = self.variables[(node_id, 0)]
            lines.append(f"# Input {variable}: a tensor of shape (N, {dims}).")
        lines += [
            f"# Parameters: {totals.params:,}. MACs per sample: {totals.macs:,}.",
            "import torch",
            "from torch import nn",
            "",
            "",
        ]
        return lines

    def _init(self, units: dict[str, _Unit]) -> list[str]:
        lines = ["    def __init__(self) -> None:", "        super().__init__()"]
        for unit in units.values():
            if len(unit.nodes) == 1:
                lines += statement(2, f"self.{unit.name} = ", self._module(unit.nodes[0]))
                continue
            lines.append(f"        self.{unit.name} = nn.Sequential(")
            for node_id in unit.nodes:
                lines.append(f"            # {naming.comment_text(node_id)}")
                lines += statement(3, "", self._module(node_id), ",")
            lines.append("        )")
        for node_id, name in self.learned.items():
            lines += statement(2, f"self.{name} = ", self._parameter(node_id))
        for node_id, name in self.customs.items():  # as the imported model built it
            lines += statement(2, f"self.{name} = ", Code(self._custom_module(node_id)))
        return lines

    def _parameter(self, node_id: str) -> Bracketed:
        """A learned tensor as a batch of one, which forward expands to the batch."""
        shape = self.arch.resolved_params(node_id)["shape"]
        zeros = call("torch.zeros", *(Code(str(d)) for d in (1, *shape)))
        return call("nn.Parameter", zeros)

    def _custom_module(self, node_id: str) -> str:
        return self.arch.resolved_params(node_id)["module"]

    def _custom(self, node_id: str, feeds: list[Code]) -> Code:
        """A Custom node's code as written, its inputs (x, or x0, x1, …) and its module
        (m) named as this module names them."""
        names = dict(zip(custom.input_names(len(feeds)), (feed.text for feed in feeds)))
        if node_id in self.customs:
            names[custom.MODULE_NAME] = f"self.{self.customs[node_id]}"
        return Code(custom.renamed(self.arch.resolved_params(node_id)["code"], names))

    def _module(self, node_id: str, written: Mapping[str, str] | None = None) -> Bracketed:
        """`nn.Type(args)` with what follows from the input and the non-default arguments.
        `written` holds arguments as code rather than values (`width * 4` in a block's
        class): those are always written."""
        written = written or {}
        spec = self.arch.spec(node_id)
        params = spec.resolve(self.arch.params_of(node_id))
        params.update(spec.filled_from_input(params, self.engine.results[node_id].input_shapes[0]))
        positional = spec.written_as.positional

        def code(name: str) -> Code:
            return Code(written[name] if name in written else literal(params[name]))

        items: list[Code | Keyword] = [code(name) for name in positional]
        for param in spec.params:
            if param.name in positional or param.name not in params:
                continue
            value = params[param.name]
            if value != param.torch_default or param.required or param.name in written:
                items.append(Keyword(param.name, code(param.name)))
        return call(f"nn.{spec.torch_name}", *items)

    def _forward(
        self,
        order: list[str],
        units: dict[str, _Unit],
        inputs: list[str],
        outputs: list[Output],
    ) -> list[str]:
        arguments = ["self", *(f"{self.variables[(n, 0)]}: torch.Tensor" for n in inputs)]
        lines = _signature(arguments, len(outputs))
        used = {(e.source, e.output) for n in order for e in self.arch.in_edges(n)}
        used.update(outputs)
        for node_id in order:
            writing = self.arch.spec(node_id).written_as
            owner = self.owners.get(node_id)
            if node_id in inputs or (
                isinstance(writing, Module) and node_id not in units and owner is None
            ):
                continue
            if owner is not None:  # the same module again, on another input
                expr = call(f"self.{units[owner].name}", *self._feeds(node_id))
                label = ""
            elif isinstance(writing, Module):
                unit = units[node_id]
                expr = call(f"self.{unit.name}", *self._feeds(unit.nodes[0]))
                label = unit.name
            else:
                expr = self._expression(node_id, writing, self._feeds(node_id))
                label = self.learned.get(node_id, "")
            targets = self._targets(node_id, label, used)
            lines += statement(2, f"{targets} = ", expr)
        results = [Code(self.variables[output]) for output in outputs]
        if len(results) == 1:
            lines += statement(2, "return ", results[0])
        else:
            lines += statement(2, "return ", Bracketed("(", tuple(results), ")"))
        return lines

    def _targets(self, node_id: str, unit_name: str, used: set[Output]) -> str:
        """What a statement assigns to: one variable, or one per output slot (`_` for the
        ones nothing reads), as `values, indices = self.pool(x)`. Where that many names
        would not fit on a line (a Split into many pieces), one variable holds the tuple
        and readers index it: `pieces[3]`."""
        count = self._slots(node_id)
        if count == 1 or count > _UNPACKED_AT_MOST:
            variable = unit_name or self._claim(node_id)
            for slot in range(count):
                self.variables[(node_id, slot)] = f"{variable}[{slot}]" if count > 1 else variable
            return variable
        names = self.arch.spec(node_id).output_names(self.arch.params_of(node_id))
        # a Split's pieces follow from its input, which slot names do not see
        names = (*names, *(f"output {i}" for i in range(len(names), count)))[:count]
        targets = []
        for slot, slot_name in enumerate(names):
            if (node_id, slot) in used:
                self.variables[(node_id, slot)] = self._claim(node_id, slot_name)
                targets.append(self.variables[(node_id, slot)])
            else:
                targets.append("_")
        writing = self.arch.spec(node_id).written_as
        returns = writing.returns if isinstance(writing, Module) else None
        if returns is None:
            return ", ".join(targets)
        return ", ".join(_nested(part, targets) for part in returns)

    def _feeds(self, node_id: str) -> list[Code]:
        return [Code(self.variables[(e.source, e.output)]) for e in self.arch.in_edges(node_id)]

    def _expression(self, node_id: str, writing: Operator | Function, feeds: list[Code]) -> Expr:
        """An operation with no module, as torch's own code writes it: `a + b`, `x * 0.2`,
        `torch.cat([a, b], dim=1)`, `torch.permute(x, (0, 2, 1))`, `x[:, 0]`. Required
        arguments go by position, the others by name where they differ from torch's
        default. The design's shapes are per sample, so an operand with fewer dimensions
        gets `[:, None]` to broadcast within the sample, not into the batch, and a `dim` of
        null (every dimension of the sample) is written out."""
        spec = self.arch.spec(node_id)
        params = self.arch.resolved_params(node_id)
        shapes = self.engine.results[node_id].input_shapes
        if isinstance(writing, Operator):
            return _operator(writing.symbol, feeds, shapes, params.get("other"))
        special = self._special(node_id, writing.name, feeds, shapes, params)
        if special is not None:
            return special
        if spec.inputs[1] is None:  # any number of inputs, as one list: torch.cat, torch.stack
            keywords = [Keyword(name, Code(literal(value))) for name, value in params.items()]
            return call(writing.name, list_of(*feeds), *keywords)
        items: list[Expr | Keyword] = list(feeds)
        for param in spec.params:
            value = params[param.name]
            if param.required:
                items.append(Code(literal(value)))
            elif value != param.torch_default:
                items.append(Keyword(param.name, Code(literal(value))))
        if writing.name in _PIECES and self._slots(node_id) == 1:  # a list of one
            return Bracketed(f"{writing.name}(", tuple(items), ")[0]")
        return call(writing.name, *items)

    def _special(
        self,
        node_id: str,
        name: str,
        feeds: list[Code],
        shapes: tuple[Shape, ...],
        params: dict[str, Any],
    ) -> Expr | None:
        """The functions whose call differs from the plain one, by the torch function
        each layer type names (None for the others)."""
        if name == "custom":
            return self._custom(node_id, feeds)
        if name == "nn.Parameter":  # the module's own tensor, as many times as the batch
            sizes = [Code(f"{self.batch}.shape[0]"), *[Code("-1")] * len(params["shape"])]
            return call(f"self.{self.learned[node_id]}.expand", *sizes)
        if name not in _ONE_INPUT_FORMS:
            return None
        (x,) = feeds
        (shape,) = shapes
        batch = self._input(node_id).batch_axis
        if name == "torch.reshape":  # the shape per sample, after the batch's size
            sizes = params["shape"] if isinstance(params["shape"], tuple) else (params["shape"],)
            return call(f"{x.text}.reshape", Code(f"{x.text}.shape[0]"), *map(_code, sizes))
        if name == "torch.squeeze":  # the dimensions it squeezes, never the batch's
            axes = tensor.squeezed_axes(self._input(node_id), params["dim"])
            return call(name, x, _code(_dims(axes, batch))) if axes else x
        if name in ("torch.mean", "torch.sum", "torch.amax"):
            dim = params["dim"]
            if dim is None:
                dim = _dims(range(len(shape)), batch)
            keep = [Keyword("keepdim", Code("True"))] if params["keepdim"] else []
            return call(name, x, Keyword("dim", _code(dim)), *keep)
        # torch.select and a slice, as indexing: x[:, 0], x[:, :, 1:5:2]
        position = params["dim"] % (len(shape) + 1)  # torch's dim, counting the batch
        if name == "slice":
            bounds = ["" if v is None else str(v) for v in (params["start"], params["end"])]
            step = [] if params["step"] == 1 else [str(params["step"])]
            where = ":".join([*bounds, *step])
        else:
            where = str(params["index"])
        return Code(f"{x.text}[{':, ' * position}{where}]")

    def _input(self, node_id: str) -> Tensor:
        """The tensor a one-input node reads (its batch may be beyond dim 0)."""
        (edge,) = self.arch.in_edges(node_id)
        return self.engine.results[edge.source].slot(edge.output)

    def _main(self, shapes: list[Shape], dtypes: list[str], outputs: int) -> list[str]:
        zeros = [
            call(
                "torch.zeros",
                *(Code(str(d)) for d in (1, *shape)),
                *([Keyword("dtype", Code(f"torch.{dtype}"))] if dtype != "float32" else []),
            )
            for shape, dtype in zip(shapes, dtypes)
        ]
        model = f"{self.class_name}()"
        floating = run_dtype(dtypes)
        if floating != "float32":  # the weights in the inputs' number format
            model += f".to(torch.{floating})"
        # eval(): the design describes inference (a BatchNorm after global pooling sees
        # one value per channel, which training mode refuses at batch 1)
        lines = ['if __name__ == "__main__":', f"    model = {model}.eval()"]
        lines += statement(1, "outputs = ", call("model", *zeros))
        lines.append(
            "    print(outputs.shape)" if outputs == 1 else "    print([o.shape for o in outputs])"
        )
        return lines


# Functions of one input written otherwise than `name(x, args)`, in `_special`.
_ONE_INPUT_FORMS = frozenset(
    ["torch.reshape", "torch.squeeze", "torch.mean", "torch.sum", "torch.amax"]
    + ["torch.select", "slice"]
)

# Functions that return a list of tensors, however many.
_PIECES = frozenset(["torch.split", "torch.chunk"])


def _is_learned(arch: Architecture, node_id: str) -> bool:
    """A node with no input written as an expression: a learned tensor (Parameter), an
    attribute of the module, not an argument of forward."""
    spec = arch.spec(node_id)
    return spec.inputs[1] == 0 and isinstance(spec.written_as, Function)


def _code(value: object) -> Code:
    return Code(literal(value))


def _dims(axes: Iterable[int], batch_axis: int) -> int | tuple[int, ...]:
    """Indices into a per-sample shape as torch's dims, counting the batch where it is:
    one int, or a tuple of several."""
    dims = tuple(torch_dim(axis, batch_axis) for axis in axes)
    return dims[0] if len(dims) == 1 else dims


def _nested(part: int | Returns, targets: list[str]) -> str:
    """One item of an assignment's targets that follows the nesting of what a module
    returns: `h_n`, or `(h_n, c_n)`, or `_` for a group nothing reads."""
    if isinstance(part, int):
        return targets[part]
    inner = [_nested(item, targets) for item in part]
    return "_" if set(inner) == {"_"} else f"({', '.join(inner)})"


def _within_sample(x: Code, rank: int, target: int) -> Code:
    """`x[:, None]`: a per-sample shape of `rank` dimensions given `target`, by new
    dimensions of size 1 after the batch's (torch broadcasts from the right, which would
    pair the batch with a dimension of the sample)."""
    if rank >= target:
        return x
    return Code(f"{x.text}[:, {', '.join(['None'] * (target - rank))}]")


def _operator(symbol: str, feeds: list[Code], shapes: tuple[Shape, ...], other: Any) -> Expr:
    """`a + b`, `x * 0.2`, `a @ b[:, None]`; a matrix product with a vector per sample as
    the einsum that keeps the batch apart."""
    ranks = [len(shape) for shape in shapes]
    if symbol == "@" and 1 in ranks:
        a, b = feeds
        pattern = "nk,n...km->n...m" if ranks[0] == 1 else "n...lk,nk->n...l"
        return call("torch.einsum", _code(pattern), a, b)
    operands = [_within_sample(x, rank, max(ranks)) for x, rank in zip(feeds, ranks)]
    if other is not None:
        operands.append(_code(other))
    return Chain(symbol, tuple(operands))


def run_dtype(dtypes: list[str]) -> str:
    """The number format the module runs in: its first floating-point input's."""
    return next((d for d in dtypes if d in FLOATING), "float32")


def _signature(parameters: list[str], outputs: int, name: str = "forward") -> list[str]:
    """`def forward(...)` (or another method: `-> None` where it returns nothing):
    parameters split off first when too long, then the return annotation's items, as ruff
    format does."""
    results = ["torch.Tensor"] * outputs
    returns = results[0] if outputs == 1 else f"tuple[{', '.join(results)}]"
    returns = returns if outputs else "None"
    line = f"    def {name}({', '.join(parameters)}) -> {returns}:"
    if len(line) <= LINE_LENGTH:
        return [line]
    hugged = f"        {', '.join(parameters)}"
    lines = [f"    def {name}("]
    lines += [hugged] if len(hugged) <= LINE_LENGTH else [f"        {p}," for p in parameters]
    closing = f"    ) -> {returns}:"
    if len(closing) <= LINE_LENGTH or outputs <= 1:
        return [*lines, closing]
    return [*lines, "    ) -> tuple[", *(f"        {r}," for r in results), "    ]:"]


def _common_dotted_prefix(labels: list[str]) -> str:
    """'layer1.0' for layer1.0.conv1, layer1.0.bn1, ...; '' when they share nothing."""
    split = [label.split(".") for label in labels]
    common = []
    for parts in zip(*split):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    if len(common) == min(len(s) for s in split):
        common = common[:-1]
    return ".".join(common)
