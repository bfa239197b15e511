"""A design as the PyTorch module a person would have written.

Layers become named submodules; straight runs of single-input layers become one
nn.Sequential; `forward` follows the graph in the report's order. Only arguments that
differ from PyTorch's defaults are written, plus the inferred channel and feature counts
PyTorch needs. torch is not imported here: the source is text, and `verify`, which needs
torch, lives in its own module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from designer.core.graph import Architecture
from designer.core.problems import ProblemsError
from designer.core.propagate import Engine
from designer.core.spec import LayerSpec, Shape, inferred_value
from designer.export import naming
from designer.export.pysource import (
    LINE_LENGTH,
    Bracketed,
    Chain,
    Code,
    Keyword,
    call,
    list_of,
    literal,
    statement,
)
from designer.export.report import report_order

MERGES = {"Add", "Multiply", "Concat"}
# Arguments written positionally, as PyTorch's own examples do: nn.Conv2d(3, 64, ...).
POSITIONAL = {
    "Linear": ("in_features", "out_features"),
    "GroupNorm": ("num_groups", "num_channels"),
    "LayerNorm": ("normalized_shape",),
    **{f"Conv{n}d": ("in_channels", "out_channels") for n in (1, 2, 3)},
    **{f"ConvTranspose{n}d": ("in_channels", "out_channels") for n in (1, 2, 3)},
    **{f"BatchNorm{n}d": ("num_features",) for n in (1, 2, 3)},
}


class ExportError(ProblemsError):
    """The design cannot be exported; `problems` names each node that is wrong."""


@dataclass
class ExportedModule:
    """Generated source and how it maps back to the design."""

    source: str
    class_name: str
    input_shapes: list[Shape]
    module_paths: dict[str, str] = field(default_factory=dict)  # node id → "features.0"


def export(arch: Architecture, engine: Engine, class_name: str | None = None) -> ExportedModule:
    """The design as Python source; ExportError if any node has an error."""
    engine.refresh()
    problems = [f"{node_id}: {r.error}" for node_id, r in engine.results.items() if r.error]
    if problems:
        raise ExportError(problems)
    inputs = [n.id for n in arch.nodes() if n.type == "Input"]
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
        self.variables: dict[str, str] = {}  # node id → the variable holding its output

    def write(self, inputs: list[str]) -> ExportedModule:
        order = report_order(self.engine)
        if len(inputs) == 1:
            self.variables[inputs[0]] = "x"
        else:
            for node_id in inputs:
                self.variables[node_id] = self._claim(node_id)
        units = self._units(order)
        outputs = [n for n in order if self.arch.graph.out_degree(n) == 0 and n not in inputs]
        shapes = [self.engine.results[n].shape for n in inputs]
        paths = {}
        for unit in units.values():
            for index, node_id in enumerate(unit.nodes):
                paths[node_id] = f"{unit.name}.{index}" if len(unit.nodes) > 1 else unit.name
        lines = [
            *self._header(inputs, shapes),
            f"class {self.class_name}(nn.Module):",
            *self._init(units),
            "",
            *self._forward(order, units, inputs, outputs),
            "",
            "",
            *self._main(shapes, len(outputs)),
        ]
        source = "\n".join(lines) + "\n"
        return ExportedModule(source, self.class_name, shapes, paths)

    def _claim(self, node_id: str) -> str:
        data = self.arch.graph.nodes[node_id]
        return self.names.claim(data["name"] or node_id, data["type"].lower())

    def _units(self, order: list[str]) -> dict[str, _Unit]:
        """Group straight runs: a layer joins the run before it when it is that run's
        only consumer and takes no other input."""
        graph = self.arch.graph
        units: dict[str, _Unit] = {}  # keyed by the unit's last node
        for node_id in order:
            kind = graph.nodes[node_id]["type"]
            if kind == "Input" or kind in MERGES:
                continue
            (source,) = list(graph.predecessors(node_id))
            run = units.get(source)
            if run is not None and graph.out_degree(source) == 1:
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
        graph = self.arch.graph
        labels = [graph.nodes[n]["name"] or n for n in nodes]
        prefix = _common_dotted_prefix(nodes) or _common_dotted_prefix(labels)
        return self.names.claim(prefix or f"{labels[0]} to {labels[-1]}", "block")

    def _header(self, inputs: list[str], shapes: list[Shape]) -> list[str]:
        totals = self.engine.totals()
        title = naming.comment_text(self.arch.name or "design")
        lines = [f"# {self.class_name}: generated by designer from {title}."]
        for node_id, shape in zip(inputs, shapes):
            dims = ", ".join(str(d) for d in shape)
            lines.append(f"# Input {self.variables[node_id]}: a tensor of shape (N, {dims}).")
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
        return lines

    def _module(self, node_id: str) -> Bracketed:
        """`nn.Type(args)` with the inferred counts and the non-default arguments."""
        kind = self.arch.graph.nodes[node_id]["type"]
        spec = self.arch.spec(node_id)
        params = spec.resolve(self.arch.graph.nodes[node_id]["params"])
        params.update(_inferred(spec, self.engine.results[node_id].input_shapes[0], params))
        positional = POSITIONAL.get(kind, ())
        items: list[Code | Keyword] = [Code(literal(params[name])) for name in positional]
        for param in spec.params:
            if param.name in positional or param.name not in params:
                continue
            value = params[param.name]
            if value != param.torch_default or param.required:
                items.append(Keyword(param.name, Code(literal(value))))
        return call(f"nn.{kind}", *items)

    def _forward(
        self, order: list[str], units: dict[str, _Unit], inputs: list[str], outputs: list[str]
    ) -> list[str]:
        graph = self.arch.graph
        arguments = ["self", *(f"{self.variables[n]}: torch.Tensor" for n in inputs)]
        lines = _signature(arguments, len(outputs))
        for node_id in order:
            kind = graph.nodes[node_id]["type"]
            if kind == "Input" or (kind not in MERGES and node_id not in units):
                continue
            if kind in MERGES:
                variable = self._claim(node_id)
                expr = self._merge(node_id, kind, self._feeds(node_id))
            else:
                unit = units[node_id]
                variable = unit.name
                expr = call(f"self.{unit.name}", *self._feeds(unit.nodes[0]))
            self.variables[node_id] = variable
            lines += statement(2, f"{variable} = ", expr)
        results = [Code(self.variables[n]) for n in outputs]
        if len(results) == 1:
            lines += statement(2, "return ", results[0])
        else:
            lines += statement(2, "return ", Bracketed("(", tuple(results), ")"))
        return lines

    def _feeds(self, node_id: str) -> list[Code]:
        return [Code(self.variables[source]) for _, source in self.arch.inputs(node_id)]

    def _merge(self, node_id: str, kind: str, feeds: list[Code]) -> Chain | Bracketed:
        if kind == "Add":
            return Chain("+", tuple(feeds))
        if kind == "Multiply":
            return Chain("*", tuple(feeds))
        dim = self.arch.resolved_params(node_id)["dim"]
        return call("torch.cat", list_of(*feeds), Keyword("dim", Code(literal(dim))))

    def _main(self, shapes: list[Shape], outputs: int) -> list[str]:
        zeros = [call("torch.zeros", *(Code(str(d)) for d in (1, *shape))) for shape in shapes]
        lines = ['if __name__ == "__main__":', f"    model = {self.class_name}()"]
        lines += statement(1, "outputs = ", call("model", *zeros))
        lines.append(
            "    print(outputs.shape)" if outputs == 1 else "    print([o.shape for o in outputs])"
        )
        return lines


def _inferred(spec: LayerSpec, input_shape: Shape, params: dict[str, Any]) -> dict[str, Any]:
    """The arguments PyTorch needs that the designer infers from the input."""
    values = {p.name: inferred_value(p.name, input_shape) for p in spec.params if p.inferred}
    if spec.name == "LayerNorm" and params["normalized_shape"] is None:
        values["normalized_shape"] = input_shape[-1]
    return values


def _signature(parameters: list[str], outputs: int) -> list[str]:
    """`def forward(...)`: parameters split off first when too long, then the return
    annotation's items, as ruff format does."""
    results = ["torch.Tensor"] * outputs
    returns = results[0] if outputs == 1 else f"tuple[{', '.join(results)}]"
    line = f"    def forward({', '.join(parameters)}) -> {returns}:"
    if len(line) <= LINE_LENGTH:
        return [line]
    hugged = f"        {', '.join(parameters)}"
    lines = ["    def forward("]
    lines += [hugged] if len(hugged) <= LINE_LENGTH else [f"        {p}," for p in parameters]
    closing = f"    ) -> {returns}:"
    if len(closing) <= LINE_LENGTH or outputs == 1:
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
