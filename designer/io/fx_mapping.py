"""Map a traced model onto the catalog: each fx node becomes the designer nodes that do
what it does.

Modules map through their torch.nn class, functions and tensor methods through the names
each LayerSpec lists (its `functions` and `methods`, the function its exported code
calls, and the torch.nn.functional name of its class: layer_norm for LayerNorm). What
reshapes and indexes (view, x[:, 0], unbind) maps onto the tensor operations with the
traced shapes telling the batch from the sample. A model parameter used as a tensor (a
class token, a position table) becomes a Parameter node. A call that nothing in the
catalog expresses becomes a Custom node holding its code, and so does one whose design
node would give another shape than torch traced: the design follows torch.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any

from designer.core import registry
from designer.core.graph import Architecture, EdgeRecord, NodeRecord
from designer.core.layers import custom
from designer.core.params import ParamError
from designer.core.propagate import analyse
from designer.core.spec import Function, LayerSpec, Shape, dims
from designer.io import fx_custom, torch_modules
from designer.io.fx_calls import (
    Constant,
    Learned,
    NotThisSpec,
    Ref,
    SpecIndex,
    arguments_of,
    batch_axis_of,
    callable_name,
    checks_a_constant,
    dtype_name,
    flattened,
    is_node,
    leaves,
    plain,
    sizes_of,
    structure,
    tidy,
)
from designer.io.fx_tensor_ops import TensorOps
from designer.io.fx_trace import (
    BATCHES,
    Failed,
    Step,
    Traced,
    evaluate,
    place,
)
from designer.io.import_errors import Unsupported

# Call arguments that change nothing the design describes.
_IGNORED_ARGUMENTS = ("training", "antialias", "recompute_scale_factor")
# Methods that give their input back (or a copy of it) where shape and dtype stay.
_ALIASES = frozenset(
    ["contiguous", "clone", "detach", "float", "double", "half", "bfloat16", "to", "type"]
    + ["type_as", "requires_grad_", "cpu", "view_as", "reshape_as"]
)
_EXPANDS = frozenset(["expand", "expand_as", "broadcast_to"])
# Module call arguments that change values, never shapes or counts.
_VALUE_ONLY = frozenset(["need_weights", "average_attn_weights", "is_causal"])


class Mapper(TensorOps):
    """Walks a traced graph, turning each node into designer nodes."""

    def __init__(self, model: Any, path: Path, traced: Traced, inputs: list[Any]) -> None:
        self.model = model
        self.path = path
        self.traced = traced
        self.inputs = inputs  # fx_trace.Example per forward input
        self.catalog = SpecIndex(registry.LAYERS)
        self.nodes: dict[str, NodeRecord] = {}
        self.edges: list[EdgeRecord] = []
        self.values: dict[str, Any] = {}  # fx node name → Ref, structure of them, Learned…
        self.origins: dict[str, Any] = {}  # design node → the fx node it does alone
        self.parameters: dict[str, str] = {}  # Learned fx name → its Parameter node
        self.holders: dict[str, str] = {}  # module path → the node of its first call
        self.notes: list[str] = []
        self.returned: list[Ref] = []  # what forward returns
        self.current: Any = None  # the fx node being mapped, for messages

    # --- the walk -------------------------------------------------------------------------

    def build(self, class_name: str) -> Architecture:
        examples = iter(self.inputs)
        for node in self.traced.graph.nodes:
            self.current = node
            if node.op == "placeholder":
                self._placeholder(node, next(examples, None))
            elif node.op == "get_attr":
                self._attribute(node)
            elif node.op == "call_module":
                self._module(node)
            elif node.op in ("call_function", "call_method") and not checks_a_constant(node):
                self._call(node)
            elif node.op == "output":
                self.returned = self._outputs(node)
        self._drop_unused()
        arch = Architecture.build(class_name, self.nodes.values(), self.edges)
        return self._settled(arch, class_name)

    def _placeholder(self, node: Any, example: Any) -> None:
        if example is None:  # an argument traced as a constant
            return
        params = {"shape": list(example.shape), "dtype": example.dtype}
        self._add(node.name, "Input", params, node.target, [])

    def _attribute(self, node: Any) -> None:
        import torch

        value = self.traced.value(node)
        if isinstance(value, torch.nn.Parameter):
            self.values[node.name] = Learned(node.name, node.target)
        else:
            kind = "a tensor made in forward" if node.target.startswith("_") else "a buffer"
            self.values[node.name] = Constant(f"{node.target}, {kind}")

    def _outputs(self, node: Any) -> list[Ref]:
        """A design's results are the nodes that feed nothing: a value `forward` returns
        that also feeds other layers (or is one output of a layer with several) gets an
        Identity, so that it is a result of the design, and the layer's other outputs
        are not."""
        values = [v for v in flattened(node.args, self.values) if v is not None]
        returned = [v if isinstance(v, Ref) else self._ref(v) for v in values]
        feeding = {e.source for e in self.edges}
        results = []
        for ref in returned:
            record = self.nodes[ref.node]
            several = len(registry.LAYERS[record.type].output_names(record.params)) > 1
            if ref.node in feeding or several:
                name = f"{ref.node}_out" if ref.slot == 0 else f"{ref.node}_out{ref.slot}"
                self._add(name, "Identity", {}, f"output {ref.node}", [ref])
                ref = Ref(name, 0)
            results.append(ref)
        return results

    # --- modules --------------------------------------------------------------------------

    def _module(self, node: Any) -> None:
        module = self.model.get_submodule(node.target)
        kind = type(module).__name__
        spec = self.catalog.by_class.get(kind)
        if spec is None or type(module).__module__.split(".")[:2] != ["torch", "nn"]:
            self._custom(node)
            return
        feeds = [a for a in node.args if is_node(a)]
        if len(feeds) != len([a for a in flattened(node.args) if is_node(a)]):
            self._custom(node)  # tensors inside a tuple: initial states the spec cannot take
            return
        if not self._module_keywords(node, module):
            self._custom(node)
            return
        params = {}
        found = torch_modules.arguments(module, [p.name for p in spec.params])
        for name, value in found.items():
            if name == "bias" and not isinstance(value, bool):
                if value is None and getattr(module, "weight", True) is None:
                    continue  # no affine weights at all: says nothing of the bias argument
                value = value is not None
            params[name] = plain(value)
        shares = None
        if any(True for _ in module.parameters()):  # a module with weights called again
            shares = self.holders.setdefault(node.target, node.name)
            shares = None if shares == node.name else shares
        try:
            self._add(
                node.name, spec.name, tidy(spec, params), node.target, feeds, shares, origin=node
            )
        except ParamError:
            self._custom(node)

    def _module_keywords(self, node: Any, module: Any) -> bool:
        """Whether a module call's keyword arguments leave it the layer its spec describes:
        those at forward's defaults do, and so do those that change only values (a mask,
        need_weights); a mask is said in a note."""
        import inspect

        defaults = {
            name: p.default
            for name, p in inspect.signature(module.forward).parameters.items()
            if p.default is not p.empty
        }
        for name, value in node.kwargs.items():
            if is_node(value) and name.endswith("mask"):
                self.notes.append(
                    f"{self._where(node)}: the {name} given to {node.target} is left out of "
                    "the design: it changes values, not shapes or counts"
                )
            elif not (name in _VALUE_ONLY or (name in defaults and value == defaults[name])):
                return False
        return True

    # --- functions and methods ----------------------------------------------------------

    def _call(self, node: Any) -> None:
        tensors = [a for a in flattened((node.args, node.kwargs)) if is_node(a)]
        sources = [self.values.get(t.name) for t in tensors]
        if sources and all(isinstance(s, Constant) for s in sources):
            self.values[node.name] = sources[0]  # computed from constants only
            return
        name = callable_name(node.target)
        if name == "getitem":
            self._getitem(node)
        elif name == "getattr" and isinstance(self.values.get(node.args[0].name), tuple):
            self._field(node)
        elif node.op == "call_method" and name in _ALIASES:
            self._alias(node, same=self._same_values)
        elif name in _EXPANDS:
            self._alias(node, same=self._same_sample)
        elif name in ("view", "reshape"):
            self._reshape(node)
        elif name == "unbind":
            self._unbind(node)
        elif name == "pad" and node.op == "call_function":
            self._pad(node)
        else:
            self._mapped(node, name)

    def _mapped(self, node: Any, name: str) -> None:
        """A call some spec names, or else a Custom node."""
        rank = self._rank(node.args[0]) if node.args and is_node(node.args[0]) else None
        if node.op == "call_method":
            spec = self.catalog.method(name, rank)
        else:
            spec = self.catalog.function(name, rank)
        if spec is None or self.traced.batch_positions(node):
            self._custom(node)
            return
        try:
            if spec.takes_one_input:
                self._one_input(node, spec)
            else:
                self._merge(node, spec)
        except (ParamError, NotThisSpec):
            self._custom(node)

    def _one_input(self, node: Any, spec: LayerSpec) -> None:
        arguments = arguments_of(node)
        for ignored in _IGNORED_ARGUMENTS:
            arguments.pop(ignored, None)
        source = arguments.pop("input", arguments.pop("self", arguments.pop("tensor", None)))
        if not is_node(source):
            raise NotThisSpec
        if spec.name == "Permute" and "dims" not in arguments:
            arguments["dims"] = sizes_of(node.args[1:])
        name = None
        if "weight" in arguments:
            name = self._own_weights(spec, arguments)
        if any(is_node(v) for v in arguments.values()):
            raise NotThisSpec  # a tensor argument the layer has no input for (a mask)
        params = {k: plain(v) for k, v in arguments.items() if k in spec.by_name}
        self._add(node.name, spec.name, tidy(spec, params), name, [source], origin=node)

    def _own_weights(self, spec: LayerSpec, arguments: dict[str, Any]) -> str | None:
        """`F.conv2d(x, self.weight, self.bias, …)` in a Conv2d subclass (a static-same-
        padding conv, a fixed mean shift), `F.layer_norm(x, shape, self.weight, …)` in a
        LayerNorm subclass: the layer whose weights it reads. Counts and kernels come from
        the weight's shape, the bias from whether one is given; the node is named after
        the module that owns the weight."""
        weight, bias = arguments.pop("weight"), arguments.pop("bias", None)
        for statistic in ("running_mean", "running_var"):
            if statistic in arguments:  # F.batch_norm: buffers, tracked where given
                arguments["track_running_stats"] = arguments.pop(statistic) is not None
        if weight is None:
            arguments.update({k: False for k in ("affine", "elementwise_affine")})
            return None
        learned = self.values.get(weight.name) if is_node(weight) else None
        biased = self.values.get(bias.name) if is_node(bias) else bias
        if not isinstance(learned, Learned) or not (biased is None or isinstance(biased, Learned)):
            raise NotThisSpec  # a computed weight: no layer holds it
        shape = tuple(self.traced.value(weight).shape)
        names = spec.by_name
        if "out_channels" in names:
            arguments.update(out_channels=shape[0], kernel_size=shape[2:])
        elif "out_features" in names:
            arguments["out_features"] = shape[0]
        elif "embedding_dim" in names:
            arguments.update(num_embeddings=shape[0], embedding_dim=shape[1])
        elif "num_parameters" in names:
            arguments["num_parameters"] = shape[0] if shape else 1
        for flag in ("affine", "elementwise_affine"):
            if flag in names:
                arguments[flag] = True
        if "bias" in names:
            arguments["bias"] = bias is not None
        return learned.path.rpartition(".")[0] or learned.path

    def _merge(self, node: Any, spec: LayerSpec) -> None:
        """Layers of several inputs: a list (torch.cat, torch.stack), an operator (a + b,
        or x * 0.2 with a number as `other`) or a function's tensor arguments in order
        (scaled_dot_product_attention)."""
        arguments = arguments_of(node)
        params = {k: plain(v) for k, v in arguments.items() if k in spec.by_name and not is_node(v)}
        if spec.inputs[1] is None and isinstance(spec.written_as, Function):
            tensors = list(arguments.get("tensors", node.args[0]))
        elif isinstance(spec.written_as, Function):
            tensors = [v for v in arguments.values() if is_node(v)]
        else:
            operands = list(node.args[:2])
            if arguments.get("alpha", 1) != 1 or len(node.args) > 2:
                raise NotThisSpec
            tensors = [a for a in operands if is_node(a)]
            numbers = [a for a in operands if isinstance(a, (int, float)) and not is_node(a)]
            commutes = spec.written_as.symbol in ("+", "*")
            if len(tensors) == 1 and len(numbers) == 1:
                if not (commutes or is_node(operands[0])):
                    raise NotThisSpec  # 1 - x
                params["other"] = float(numbers[0])
        if not tensors or not all(is_node(t) for t in tensors):
            raise NotThisSpec
        if not spec.inputs[0] <= len(tensors) <= (spec.inputs[1] or len(tensors)):
            raise NotThisSpec
        feeds = [self._ref(t, broadcasting=True) for t in tensors]
        self._add(node.name, spec.name, params, None, feeds, origin=node)

    # --- custom nodes ---------------------------------------------------------------------

    def _custom(self, node: Any, replacing: str | None = None) -> None:
        """The call as a Custom node: its code, the traced shapes, and what torch counts."""
        arguments = flattened((node.args, node.kwargs))
        tensors = list(dict.fromkeys(a for a in arguments if is_node(a)))
        names = dict(zip((t.name for t in tensors), custom.input_names(len(tensors))))
        try:
            code = fx_custom.Code(names, self.traced.batch_positions(node)).call(node)
        except Unsupported as error:
            raise Unsupported(f"{self._where(node)}: {error}") from None
        axes = [self._axis(t) for t in tensors]
        if any(axis not in (0, None) for axis in axes):
            raise Unsupported(
                f"{self._where(node)}: {code} takes a tensor with the batch beyond dim 0 "
                "(sequence-first), which a Custom node cannot take"
            )
        batched = any(axis is not None for axis in axes)
        outputs = []
        for value, axis in self._output_tensors(node):
            shape = fx_custom.per_sample(tuple(value.shape), axis)
            if not shape or (batched and axis is None) or axis not in (0, None):
                if not shape:
                    held = "only the batch"
                elif axis is None:
                    held = "no batch"
                else:
                    held = f"the batch at dim {axis}"
                raise Unsupported(
                    f"{self._where(node)}: {code} gives a tensor with {held}, which the design "
                    "cannot hold (a shape per sample, the batch first)"
                )
            outputs.append((shape, dtype_name(value)))
        module = ""
        parameters = 0
        if node.op == "call_module":
            owner = self.model.get_submodule(node.target)
            try:
                module = fx_custom.module_code(owner)
            except Unsupported as error:
                raise Unsupported(f"{self._where(node)}: {error}") from None
            parameters = sum(p.numel() for p in owner.parameters())
        feeds = [self._ref(t) for t in tensors]
        params = {
            "code": code,
            "inputs": custom.values_text(
                [(self._sample_shape(t), dtype_name(self.traced.value(t))) for t in tensors]
            ),
            "outputs": custom.values_text(outputs),
            "parameters": parameters,
            "macs": self._macs(node),
            "module": module,
        }
        node_id = replacing or node.name
        name = node.target if module else None
        try:
            self._add(node_id, "Custom", params, name, feeds, origin=node)
        except ParamError as error:  # code beyond what a Custom node may hold
            raise Unsupported(f"{self._where(node)}: {code} cannot be kept: {error}") from None
        what = f"{module} (module {node.target})" if module else code
        shapes = custom.values_text(outputs)
        self.notes.append(
            f"{self._where(node)}: {what} is not something the catalog expresses; it is the "
            f"Custom node {node_id}, whose output ({shapes}) is fixed at import"
        )

    def _output_tensors(self, node: Any) -> list[tuple[Any, int | None]]:
        """The tensors a node gives, with where each holds the batch."""
        import torch

        first, second = self._known(node), self.traced.values[node.name][1]
        found = []
        for a, b in zip(leaves(first), leaves(second)):
            if not isinstance(a, torch.Tensor):
                raise Unsupported(f"{self._where(node)}: gives {type(a).__name__}, not tensors")
            found.append((a, batch_axis_of(a, b, node.name)))
        return found

    def _macs(self, node: Any) -> int:
        import torch.fx

        args, kwargs = torch.fx.node.map_aggregate(
            (node.args, node.kwargs), lambda a: self.traced.value(a) if is_node(a) else a
        )
        step = Step(node.op, node.target, args, kwargs)
        return fx_custom.macs_per_sample(lambda: evaluate(self.model, step), BATCHES[0])

    # --- design nodes -----------------------------------------------------------------------

    def _add(
        self,
        node_id: str,
        kind: str,
        params: dict[str, Any],
        name: str | None,
        feeds: list[Any],
        shares: str | None = None,
        origin: Any = None,
    ) -> None:
        """A design node fed by `feeds` (fx nodes or Refs); a ParamError where its spec
        refuses the params."""
        spec = registry.LAYERS[kind]
        params = spec.validate(params)
        refs = [f if isinstance(f, Ref) else self._ref(f) for f in feeds]
        name = name if name != node_id else None
        self.nodes[node_id] = NodeRecord(node_id, kind, params, name, shares=shares)
        for port, ref in enumerate(refs):
            self.edges.append(EdgeRecord(ref.node, node_id, port, ref.slot))
        if origin is not None:
            self.origins[node_id] = origin
        fx_name = origin.name if origin is not None else node_id
        if len(spec.output_names(params)) > 1 and fx_name in self.traced.values:
            self.values[fx_name] = structure(self.traced.value(origin), node_id)
        else:
            self.values[fx_name] = Ref(node_id, 0)

    def _ref(self, arg: Any, broadcasting: bool = False) -> Ref:
        """The design tensor an fx value is: a Parameter node made for a learned tensor
        the first time it is used; Unsupported for what the design cannot hold.
        `broadcasting`: the use only broadcasts the tensor against others (a + pos)."""
        value = self.values.get(arg.name) if is_node(arg) else arg
        if isinstance(value, Ref):
            return value
        if isinstance(value, Learned):
            return self._parameter(value, broadcasting)
        where = self._where(self.current)
        if isinstance(value, Constant):
            raise Unsupported(
                f"{where}: uses {value.what} (a constant tensor, not a parameter), which the "
                "design cannot hold"
            )
        if isinstance(value, (tuple, list)):
            raise Unsupported(f"{where}: uses all outputs of {arg.name} at once")
        raise Unsupported(f"{where}: uses {arg!r}, which is not a tensor")

    def _parameter(self, learned: Learned, broadcasting: bool) -> Ref:
        node_id = self.parameters.get(learned.fx_name)
        if node_id is None:
            shape = tuple(self.traced.values[learned.fx_name][0].shape)
            if not broadcasting and (len(shape) < 2 or shape[0] != 1):
                raise Unsupported(
                    f"{self._where(self.current)}: uses the parameter {learned.path} of shape "
                    f"{dims(shape)}, which has no leading dimension of 1 to stand for the batch"
                )
            sample = fx_custom.per_sample(shape, None)
            node_id = learned.fx_name
            name = learned.path if learned.path != node_id else None
            self.nodes[node_id] = NodeRecord(node_id, "Parameter", {"shape": list(sample)}, name)
            self.parameters[learned.fx_name] = node_id
        return Ref(node_id, 0)

    def _fresh(self, base: str) -> str:
        taken = set(self.nodes) | set(self.traced.values)
        for number in itertools.count(1):
            candidate = base if number == 1 else f"{base}_{number}"
            if candidate not in taken:
                return candidate
        raise AssertionError  # itertools.count never ends

    # --- traced shapes --------------------------------------------------------------------

    def _axis(self, node: Any) -> int | None:
        try:
            return self.traced.batch_axis(node)
        except Unsupported as error:
            raise Unsupported(f"{self._where(node)}: {error}") from None

    def _sample_shape(self, node: Any) -> Shape:
        return fx_custom.per_sample(tuple(self._known(node).shape), self._axis(node))

    def _known(self, node: Any) -> Any:
        """The node's traced value; Unsupported where torch could not compute it and the
        mapping needs it."""
        value = self.traced.value(node)
        if isinstance(value, Failed):
            raise Unsupported(f"{self._where(node)}: {value.message}")
        return value

    def _rank(self, node: Any) -> int | None:
        """The number of dimensions of a node's tensor per sample; None for what is not
        a tensor."""
        value = self.traced.value(node)
        return len(self._sample_shape(node)) if hasattr(value, "shape") else None

    # --- afterwards -----------------------------------------------------------------------

    def _drop_unused(self) -> None:
        """Leave out what feeds no result of forward (a mask computed for an argument the
        design leaves out): it would otherwise be a result of the design."""
        feeders: dict[str, list[str]] = {}
        for edge in self.edges:
            feeders.setdefault(edge.target, []).append(edge.source)
        kept = {n for n, r in self.nodes.items() if r.type == "Input"}
        todo = [ref.node for ref in self.returned]
        while todo:
            node_id = todo.pop()
            if node_id not in kept:
                kept.add(node_id)
                todo += feeders.get(node_id, [])
        owners: dict[str, str] = {}
        for node_id, record in list(self.nodes.items()):
            if node_id not in kept:
                del self.nodes[node_id]
            elif record.shares is not None and record.shares not in kept:
                owner = owners.setdefault(record.shares, node_id)  # the first call left owns
                shares = None if owner == node_id else owner
                self.nodes[node_id] = dataclasses.replace(record, shares=shares)
        self.edges = [e for e in self.edges if e.source in kept and e.target in kept]

    def _settled(self, arch: Architecture, class_name: str) -> Architecture:
        """The design where every node gives what torch traced: a node whose layer
        computes another shape (or refuses an input torch takes) becomes a Custom node."""
        for _ in range(len(self.nodes)):
            results = analyse(arch).results
            wrong = [
                node_id
                for node_id in arch.report_order()
                if node_id in self.origins
                and self.nodes[node_id].type != "Custom"
                and all(not results[e.source].error for e in arch.in_edges(node_id))
                and not self._agrees(node_id, results[node_id])
            ]
            if not wrong:
                return arch
            for node_id in wrong:
                origin = self.origins[node_id]
                engine = results[node_id]
                said = engine.error or ", ".join(dims(t.shape) for t in engine.outputs)
                self.current = origin
                self.edges = [e for e in self.edges if e.target != node_id]
                self._custom(origin, replacing=node_id)
                self.notes[-1] += f" (the designer's {arch.type_of(node_id)} gives {said})"
            self._drop_unused()  # what fed only the replaced node (a chain of indexing)
            arch = Architecture.build(class_name, self.nodes.values(), self.edges)
        return arch

    def _agrees(self, node_id: str, result: Any) -> bool:
        """Whether the engine gives the node's traced outputs: shapes per sample, and the
        batch where torch holds it."""
        import torch

        origin = self.origins[node_id]
        traced = [t for t in leaves(self.traced.value(origin)) if isinstance(t, torch.Tensor)]
        if not traced:
            return True
        if result.error:
            return False
        second = self.traced.values[origin.name][1]
        seconds = [t for t in leaves(second) if isinstance(t, torch.Tensor)]
        for tensor, other, out in zip(traced, seconds, result.outputs):
            try:
                axis = batch_axis_of(tensor, other, origin.name)
            except Unsupported as error:
                raise Unsupported(f"{self._where(origin)}: {error}") from None
            shape = fx_custom.per_sample(tuple(tensor.shape), axis)
            if shape != out.shape or (axis or 0) != out.batch_axis:
                return False
        return True

    def _where(self, node: Any) -> str:
        """Where the user's code makes this call (see fx_trace.place)."""
        frames = self.traced.frames.get(getattr(node, "name", ""), ())
        return place(frames, self.path) or f"{self.path.name} ({getattr(node, 'name', node)})"
