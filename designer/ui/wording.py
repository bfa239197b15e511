"""How the window words numbers: plurals, byte sizes, and the status bar's totals."""

from __future__ import annotations

from designer.core.analysis import Totals

BYTE_UNITS = ("KiB", "MiB", "GiB", "TiB")


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 error', '2 errors', '1,088 nodes'."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def human_bytes(number: int) -> str:
    """Bytes in binary units, up to TiB: 512 B, 1.5 KiB, 32.0 MiB, 13.8 TiB."""
    if number < 1024:
        return f"{number} B"
    value = float(number)
    for unit in BYTE_UNITS:
        value /= 1024
        if value < 1024 or unit == BYTE_UNITS[-1]:
            return f"{value:,.1f} {unit}"
    raise AssertionError("unreachable")


def totals_text(totals: Totals) -> str:
    """The status bar's totals. Nodes without results (an error, or waiting on one) add
    nothing, so the figures are then at least what they say: '≥', and how many nodes
    are not counted."""
    missing = totals.errors + totals.blocked
    at_least = "≥ " if missing else ""
    parts = [
        f"Params {at_least}{totals.params:,}",
        f"MACs {at_least}{totals.macs:,}",
        f"FLOPs {at_least}{totals.flops:,}",
        f"activations {at_least}{human_bytes(totals.activation_memory)}",
        f"parameters {at_least}{human_bytes(totals.param_memory)}",
    ]
    problems = plural(totals.errors, "error")
    if totals.blocked:
        problems += f" ({totals.blocked:,} waiting)"
    problems += f", {plural(totals.warnings, 'warning')}"
    if missing:
        parts.append(f"{plural(missing, 'node')} without results")
    parts.append(problems)
    return "  ·  ".join(parts)
