"""Layer evaluations remembered, so the repeated blocks of a network are computed once.

A layer's arithmetic depends only on its type, its parameters and its input shapes; and
its effect on receptive fields is affine in its input's fields (Distill's algebra: size
grows by a·jump, jump is multiplied by b, the centre moves by c·jump). So a layer is
evaluated once per (type, params, input shapes) on unit fields (size 1, jump 1, centre 0),
whose output fields are exactly a + 1, b and c, and that result is replayed on the real
fields of every later input with the same shape. Merges combine several inputs' fields
and the Input node makes fresh ones: those are always evaluated in full.
"""

from __future__ import annotations

from typing import Any

from designer.core.receptive import Field, Fields
from designer.core.spec import LayerError, LayerOutput, LayerSpec, Tensor

_UNIT_FIELDS = {n: tuple(Field(1, 1, 0, 0) for _ in range(n)) for n in range(1, 4)}
_LIMIT = 200_000  # entries; a design tool never comes near it, but an endless session might


class LayerMemo:
    def __init__(self) -> None:
        self._known: dict[tuple, LayerOutput | str] = {}

    def evaluate(
        self, spec: LayerSpec, written: dict[str, Any], tensors: list[Tensor]
    ) -> tuple[LayerOutput, Fields | None]:
        """The layer's output and its real output fields; LayerError as the layer raises it."""
        if len(tensors) != 1 or spec.takes_several_inputs:
            out = spec.evaluate(tensors, {**spec.defaults, **written})
            return out, out.fields
        (x,) = tensors
        key = (spec.name, tuple(written.items()), x.shape, x.fields is None)
        known = self._known.get(key)
        if known is None:
            unit = None if x.fields is None else _UNIT_FIELDS[len(x.fields)]
            try:
                known = spec.evaluate([Tensor(x.shape, unit)], {**spec.defaults, **written})
            except LayerError as error:
                known = str(error)
            if len(self._known) >= _LIMIT:
                self._known.clear()
            self._known[key] = known
        if isinstance(known, str):
            raise LayerError(known)
        return known, _replay(known.fields, x.fields)


def _replay(unit_out: Fields | None, real: Fields | None) -> Fields | None:
    if unit_out is None or real is None:
        return None
    if unit_out is _UNIT_FIELDS[len(unit_out)]:
        return real  # a pointwise layer: the input's fields, unchanged
    return tuple(
        [
            Field(f.size + (u.size - 1) * f.jump, f.jump * u.jump, f.centre + u.centre * f.jump, f.extent)
            for f, u in zip(real, unit_out)
        ]
    )
