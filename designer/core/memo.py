"""Layer evaluations remembered, so the repeated blocks of a network are computed once.

A layer's arithmetic depends only on its type, its parameters and its input shape; and
its effect on receptive fields is affine in its input's fields (Distill's algebra: size
grows by a·jump, jump is multiplied by b, the centre moves by c·jump). So a layer is
evaluated once per (signature, input shape) on unit fields (size 1, jump 1, centre 0),
whose output fields are exactly a + 1, b and c, and that result is replayed on the real
fields of every later input with the same shape. Merges are remembered by their input
shapes alone: the engine merges their inputs' real fields itself.

Axes whose fields are equal share one Field object (see `shared`), so replaying a square
layer on a square input computes one Field, not one per axis.

Evaluations are pure, so the process keeps one memo per batch size and number format,
and every engine shares it (`memo_for`): reopening a design, or a second window on the same blocks, starts
warm, as PyTorch's own primitive caches do after a first forward pass.
"""

from __future__ import annotations

from functools import cache
from math import prod
from typing import TYPE_CHECKING, Any, NamedTuple

from designer.core.analysis import looks_at_neighbours
from designer.core.receptive import JUMP_LIMIT, Field, Fields, shared
from designer.core.spec import LayerError, LayerOutput, LayerSpec, Shape, Tensor

if TYPE_CHECKING:
    from designer.core.analysis import Settings

_LIMIT = 50_000  # entries per memo; a design tool seldom comes near it, an endless session might
new_tuple = tuple.__new__  # NamedTuple(...) runs a generated Python __new__; on hot paths
# new_tuple(NamedTupleType, (every, field)) builds the same value without that call


@cache
def unit_fields(axes: int) -> Fields:
    """Fields of size 1, jump 1 and centre 0 over `axes` spatial axes: one object per
    count, so that `replay` recognises a pointwise layer by identity."""
    return (Field(1, 1, 0, 0),) * axes


class Known(NamedTuple):
    """One remembered evaluation: the layer's output on unit fields, or why it refused."""

    output: LayerOutput | None  # None where the layer refused the input
    tail: tuple  # NodeResult's fields after `output`, in order, for a node with no more warnings
    resolved: dict[str, Any]  # the params the layer was built with, defaults filled in
    keeps_fields: bool  # the layer passes its input's receptive fields on unchanged
    neighbourly: bool  # neighbour_warnings may have something to say on this layer
    passes_input: bool  # it keeps its one input's fields, shape, dtype and batch axis: a
    # node's output is then its input's Tensor itself


class LayerMemo:
    """Known evaluations by signature, input shapes and dtypes (and, for one input,
    whether it has fields); the engine looks keys up in `known` itself and calls `learn`
    on a miss. Memory figures are in the tails, so a memo serves one `Settings`."""

    def __init__(self, settings: Settings) -> None:
        self.known: dict[tuple, Known] = {}
        self.settings = settings

    def learn(
        self,
        spec: LayerSpec,
        written: dict[str, Any],
        shapes: tuple[Shape, ...],
        dtypes: tuple[str, ...],
        axes: int,
        key: tuple,
        batch_axes: tuple[int, ...] | None = None,
    ) -> Known:
        """Evaluate the layer on inputs of `shapes` and `dtypes`, and remember the result
        under `key`.

        A one-input layer is given unit fields over `axes` spatial axes (none where 0);
        a merge is given no fields, since the engine merges its inputs' real ones.
        `batch_axes` are where each input holds its batch (None: dim 0 for all)."""
        unit = unit_fields(axes) if axes else None
        resolved = {**spec.defaults, **written}
        batch_axes = batch_axes or (0,) * len(shapes)
        inputs = [
            new_tuple(Tensor, (shape, unit, dtype, axis))
            for shape, dtype, axis in zip(shapes, dtypes, batch_axes)
        ]
        try:
            out = spec.apply(inputs, resolved)
        except LayerError as error:
            tail = (shapes, 0, 0, 0, 0, 0, (), str(error), None, ())
            known = new_tuple(Known, (None, tail, resolved, False, False, False))
        else:
            keeps_fields = unit is not None and out.fields is unit
            if out.fields is not None and not keeps_fields:
                out = out._replace(fields=shared(out.fields))
            settings = self.settings
            memory = settings.batch_size * sum(
                prod(t.shape) * settings.bytes_of(t.dtype) for t in slots(out)
            )
            tail = (
                shapes,
                out.params,
                out.buffers,
                out.macs,
                out.flops,
                memory,
                out.warnings,
                None,
                None,
                out.more,
            )
            neighbourly = looks_at_neighbours(spec, resolved)
            passes_input = keeps_fields and (out.shape, out.dtype, out.batch_axis) == (
                shapes[0],
                dtypes[0],
                batch_axes[0],
            )
            known = new_tuple(Known, (out, tail, resolved, keeps_fields, neighbourly, passes_input))
        if len(self.known) >= _LIMIT:
            self.known.clear()
        self.known[key] = known
        return known


def slots(out: LayerOutput) -> tuple[Tensor, ...]:
    """Every output of a layer as Tensors, slot 0 first."""
    return (new_tuple(Tensor, (out.shape, out.fields, out.dtype, out.batch_axis)), *out.more)


_SHARED: dict[Settings, LayerMemo] = {}


def memo_for(settings: Settings) -> LayerMemo:
    """The process's memo for one batch size and number format."""
    memo = _SHARED.get(settings)
    if memo is None:
        memo = _SHARED[settings] = LayerMemo(settings)
    return memo


def forget() -> None:
    """Empty every shared memo (for measuring a first analysis)."""
    _SHARED.clear()


_SQUARE_UNIT = unit_fields(2)  # (unit_fields keeps one object per count)


def replay(unit_out: Fields | None, real: Fields | None) -> Fields | None:
    """The real output fields of a layer whose output on unit fields was `unit_out`."""
    if unit_out is None or real is None:
        return None
    f, u = real[0], unit_out[0]
    if len(real) == 2 and real[1] is f and unit_out[1] is u:  # square layer, square input
        if unit_out is _SQUARE_UNIT:  # pointwise: the input's fields, unchanged
            return real
        first = _shifted(f, u)
        return (first, first)  # one Field serves both axes
    if unit_out is unit_fields(len(unit_out)):
        return real  # a pointwise layer: the input's fields, unchanged
    first = _shifted(f, u)
    if len(real) == 1:
        return (first,)
    return shared((first, *[_shifted(f, u) for f, u in zip(real[1:], unit_out[1:])]))


def _shifted(f: Field, u: Field) -> Field:
    """Field `f` carried through a layer that turns a unit field into `u`."""
    jump = f.jump * u.jump
    if jump > JUMP_LIMIT:
        return _saturated(f, u, jump)
    return new_tuple(
        Field,
        (f.size + (u.size - 1) * f.jump, jump, f.centre + u.centre * f.jump, f.extent),
    )


def _saturated(f: Field, u: Field, jump: float) -> Field:
    """`_shifted` where the jump outgrows JUMP_LIMIT (strides multiplied over many layers,
    far beyond any input): carried as a float, which saturates to inf, and a term that does
    not move (a factor of 0) is left out rather than made nan by 0 · inf."""
    size = f.size if u.size == 1 else f.size + (u.size - 1) * float(f.jump)
    centre = f.centre if u.centre == 0 else f.centre + u.centre * float(f.jump)
    return Field(size, float(jump), centre, f.extent)
