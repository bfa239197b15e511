"""Reshaping, indexing and aliases: calls whose meaning the traced shapes tell (which
size is the batch's, which dims a slice keeps), mapped onto the tensor operations."""

from __future__ import annotations

from typing import Any

from designer.core import registry
from designer.core.params import ParamError
from designer.io.fx_calls import Ref, arguments_of, bound, sizes_of, tidy
from designer.io.fx_trace import BATCHES

_PADDING_MODES = {"reflect": "Reflection", "replicate": "Replication", "circular": "Circular"}


class TensorOps:
    """The Mapper's handling of view, reshape, x[...], unbind, F.pad and the calls that
    give their input back (contiguous, expand to the batch). A mixin: it uses the
    Mapper's design nodes and traced values."""

    def _alias(self, node: Any, same: Any) -> None:
        """x.contiguous(), cls_token.expand(B, -1, -1): the input itself, where the value
        is the same per sample; else a Custom node (a cast, a real expansion)."""
        source = node.args[0]
        if same(source, node):
            self.values[node.name] = self.values[source.name]
        else:
            self._custom(node)

    def _same_values(self, source: Any, node: Any) -> bool:
        before, after = self._known(source), self._known(node)
        return before.shape == after.shape and before.dtype == after.dtype

    def _same_sample(self, source: Any, node: Any) -> bool:
        same = self._sample_shape(source) == self._sample_shape(node)
        return same and self._axis(node) in (0, None)

    def _reshape(self, node: Any) -> None:
        """view and reshape: Flatten where the sample becomes a vector, else Reshape with
        the sizes written for the sample (a -1 kept where the code has one). A learned
        tensor (layer scale's `gamma.view(1, -1, 1, 1)`) reshapes as one sample."""
        source = node.args[0]
        axes = (self._axis(source), self._axis(node))
        if axes not in ((0, 0), (None, None)):
            self._custom(node)
            return
        feed = self._ref(source, broadcasting=axes[0] is None)  # sizes, never dims
        shape = self._sample_shape(node)
        if len(shape) == 1 and len(self._sample_shape(source)) > 1:
            self._add(node.name, "Flatten", {}, None, [feed], origin=node)
            return
        sizes = sizes_of(node.args[1:] or [node.kwargs.get("shape", ())])
        batch = self.traced.batch_positions(node)
        if len(batch) > 1 or "derived" in batch.values():
            self._custom(node)
            return
        written = shape  # the traced sizes, unless the code's -1 can stay
        batch_first = sizes and (sizes[0] == -1 or (batch and sizes[0] == BATCHES[0]))
        if len(sizes) == len(shape) + 1 and batch_first and -1 in sizes[1:]:
            written = sizes[1:]
        self._add(node.name, "Reshape", {"shape": list(written)}, None, [feed], origin=node)

    def _getitem(self, node: Any) -> None:
        whole, index = node.args
        value = self.values.get(whole.name)
        if isinstance(value, (tuple, list)):  # one output of several: out, (h, c) = lstm(x)
            self.values[node.name] = value[index]
            return
        self._index(node, whole, index)

    def _field(self, node: Any) -> None:
        """torch.topk(x, 2).values: one output of several, by its field's name."""
        whole, field = node.args
        fields = getattr(type(self._known(whole)), "__match_args__", ())
        if field not in fields:
            self._custom(node)
            return
        self.values[node.name] = self.values[whole.name][fields.index(field)]

    def _index(self, node: Any, whole: Any, index: Any) -> None:
        """x[:, 0], x[:, 1:], x[..., None]: a Select, Slice or Unsqueeze per indexed
        dimension, in a chain; anything else (a tensor of indices) is a Custom node."""
        items = list(index) if isinstance(index, tuple) else [index]
        if Ellipsis in items:
            at = items.index(Ellipsis)
            named = len([i for i in items if i is not None and i is not Ellipsis])
            fill = [slice(None)] * (self._rank(whole) - named)
            items = items[:at] + fill + items[at + 1 :]
        steps: list[tuple[str, dict[str, Any]]] = []
        dim = 0
        for item in items:
            if isinstance(item, bool) or not isinstance(item, (int, slice, type(None))):
                self._custom(node)
                return
            if item is None:
                steps.append(("Unsqueeze", {"dim": dim}))
            elif isinstance(item, int):
                steps.append(("Select", {"dim": dim, "index": item}))
                continue
            elif item != slice(None):
                bounds = {"start": item.start, "end": item.stop, "step": item.step or 1}
                steps.append(("Slice", {"dim": dim, **bounds}))
            dim += 1
        if not steps:
            self.values[node.name] = self.values[whole.name]
            return
        if self.traced.batch_positions(node) or any(
            not isinstance(v, int) for _, p in steps for v in p.values() if v is not None
        ):
            self._custom(node)
            return
        feed = self._ref(whole)
        for number, (kind, params) in enumerate(steps):
            last = number == len(steps) - 1
            node_id = node.name if last else self._fresh(f"{node.name}_{kind.lower()}")
            origin = node if last else None  # the chain's last node gives the traced value
            try:
                self._add(node_id, kind, params, None, [feed], origin=origin)
            except ParamError:
                self._custom(node)
                return
            feed = Ref(node_id, 0)

    def _unbind(self, node: Any) -> None:
        """q, k, v = qkv.unbind(0): one Select per piece."""
        arguments = arguments_of(node)
        dim = arguments.get("dim", 0)
        source = node.args[0]
        count = len(self._known(node))
        feed = self._ref(source)
        pieces = []
        for index in range(count):
            node_id = self._fresh(f"{node.name}.{index}")
            try:
                self._add(node_id, "Select", {"dim": dim, "index": index}, None, [feed])
            except ParamError:
                self._custom(node)
                return
            pieces.append(Ref(node_id, 0))
        self.values[node.name] = tuple(pieces)

    def _pad(self, node: Any) -> None:
        """F.pad(x, pad, mode, value): the padding layer of that mode and dimensions."""
        arguments = bound(node, ("input", "pad", "mode", "value"))
        pad = tuple(arguments.get("pad", ()))
        mode, value = arguments.get("mode", "constant"), arguments.get("value") or 0.0
        if not pad or len(pad) % 2:
            self._custom(node)
            return
        if mode == "constant":
            kind = "Zero" if value == 0 else "Constant"
        else:
            kind = _PADDING_MODES.get(mode, "")
        spec = registry.LAYERS.get(f"{kind}Pad{len(pad) // 2}d")
        if spec is None:
            self._custom(node)
            return
        params = {"padding": pad, **({"value": float(value)} if kind == "Constant" else {})}
        try:
            self._add(node.name, spec.name, tidy(spec, params), None, [node.args[0]], origin=node)
        except ParamError:
            self._custom(node)
