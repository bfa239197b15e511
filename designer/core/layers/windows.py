"""What convolutions and poolings share: per-axis window geometry, and its warnings."""

from __future__ import annotations

from designer.core.params import Kind, Param
from designer.core.receptive import fmt
from designer.core.spec import spatial_axes


def kernel_param(n: int, default: int = 3) -> Param:
    return Param(
        "kernel_size",
        Kind.INT_TUPLE,
        default,
        minimum=1,
        length=n,
        required=True,
        help="window size per spatial axis",
    )


def tuple_param(name: str, n: int, default: int | None, minimum: int, **extra) -> Param:
    return Param(name, Kind.INT_TUPLE, default, minimum=minimum, length=n, **extra)


def floor_warnings(spans: list[tuple[int, int, int, int, int, int]], n: int) -> tuple[str, ...]:
    """Warn where the stride does not divide the span, so floor() drops the last positions.

    Each span is (input size, pad before, pad after, dilated kernel, stride, output size).
    Axes with the same numbers share one message ("along H and W").
    """
    if all(
        (size + before + after - kernel) % stride == 0
        for size, before, after, kernel, stride, _ in spans
    ):
        return ()  # the usual case, decided before any text is built
    texts: dict[str, list[str]] = {}
    for axis, (size, before, after, kernel, stride, out) in zip(spatial_axes(n), spans):
        covered = size + before + after - kernel
        left_over = covered % stride
        if left_over == 0 or out < 1:
            continue
        pads = f" + {before + after}" if before + after else ""
        arithmetic = (
            f"({size}{pads} − {kernel})/{stride} + 1 = {fmt(covered / stride + 1)} floors to {out}"
        )
        unread_input = left_over - after
        if unread_input > 0:
            verb = "is" if unread_input == 1 else "are"
            tail = f"the last {_positions(unread_input, 'input')} {verb} never read"
        else:
            tail = (
                f"the stride skips the last {_positions(left_over, 'padding')} (no input is lost)"
            )
        texts.setdefault(f"{arithmetic}: {tail}", []).append(axis)
    return tuple(f"along {' and '.join(axes)}, {text}" for text, axes in texts.items())


def _positions(number: int, what: str) -> str:
    return f"{what} position" if number == 1 else f"{number} {what} positions"
