"""What a node writes: its four lines elided to fit, the card with what they cut off in
full, its tooltip, and the fonts they are measured and painted in (see NodeItem)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, NamedTuple

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QFont, QFontMetricsF, QPainter, QPen

from designer.core.analysis import NodeResult
from designer.core.block_editing import REPEAT
from designer.core.receptive import fmt
from designer.core.spec import dims
from designer.ui import style
from designer.ui.style import elide
from designer.ui.wording import human_bytes

if TYPE_CHECKING:
    from designer.ui.canvas.node_item import NodeItem


class _Fonts(NamedTuple):
    title: QFont
    title_metrics: QFontMetricsF
    body: QFont
    body_metrics: QFontMetricsF


@cache
def node_fonts() -> _Fonts:
    """A node's fonts, made on first paint (a QFont needs the application)."""
    title = QFont()
    title.setBold(True)
    body = QFont()
    return _Fonts(title, QFontMetricsF(title), body, QFontMetricsF(body))


_NAME_TOP, _NAME_HEIGHT = 4.0, 18.0  # the name's box, at the top right
_TITLE_ROOM = style.NODE_WIDTH - 28  # the type (from x 14) and the name share the top line
_TIP_LINE = 240  # characters of one tooltip line


def fitted_lines(
    result: NodeResult | None,
    type_name: str,
    label: str,
    overlay: tuple[str, float] | None,
    shares: str | None,
) -> tuple[QRectF, tuple[str, str, str, str]]:
    """Where the name goes, and what the node shows: type, name, output shape (or error),
    and its params and MACs (or the overlay's statistic), elided to fit. The arguments are
    NodeItem.lines' key, in its order."""
    fonts = node_fonts()
    width = style.NODE_WIDTH - 20
    detail = _detail_line(result, shares) if overlay is None else overlay[0]
    if overlay is None and fonts.body_metrics.horizontalAdvance(detail) > width:
        detail = _detail_line(result, shares, short=True)  # 2.4M params rather than cut off
    # the type takes what it needs (the name is the node's own: it gives way first)
    title_width = fonts.title_metrics.horizontalAdvance(type_name) + 1
    name_width = fonts.body_metrics.horizontalAdvance(label) + 1
    room = _TITLE_ROOM
    if title_width + name_width > room:
        title_width = min(title_width, max(room - name_width, room * 0.6))
    name_width = max(room - title_width, 0)
    name_box = QRectF(style.NODE_WIDTH - 6 - name_width, _NAME_TOP, name_width, _NAME_HEIGHT)
    texts = (
        _title(type_name, fonts.title_metrics, title_width),
        fonts.body_metrics.elidedText(label, Qt.TextElideMode.ElideMiddle, name_width),
        fonts.body_metrics.elidedText(
            elide(_shape_line(result)), Qt.TextElideMode.ElideRight, width
        ),
        fonts.body_metrics.elidedText(elide(detail), Qt.TextElideMode.ElideRight, width),
    )
    return name_box, texts


def _title(type_name: str, metrics: QFontMetricsF, width: float) -> str:
    """The type elided to `width`, a repeated node's count kept whole (ConvNeXtBl… ×2)."""
    whole = metrics.elidedText(type_name, Qt.TextElideMode.ElideRight, width)
    stem, mark, count = type_name.rpartition(REPEAT_MARK)
    if whole == type_name or not mark or len(count) > _COUNT_KEPT:
        return whole
    room = width - metrics.horizontalAdvance(mark + count)
    kept = metrics.elidedText(stem, Qt.TextElideMode.ElideRight, room)
    if len(kept.rstrip("…")) < _TYPE_KEPT:  # the count would leave too little of the type
        return whole
    return kept + mark + count


REPEAT_MARK = " ×"  # between a repeated node's type and its count
_COUNT_KEPT = 12  # characters of a count (or its expression) kept whole when the type is cut
_TYPE_KEPT = 4  # characters of the type shown at least beside a count kept whole


def card_text(node: NodeItem) -> str:
    """What the node's card shows: every line of the node that is cut off, in full (empty
    when everything fits)."""
    title, name, shape, detail = node.lines()
    result, overlay, shares = node.result, node.overlay, node.shares
    full = (
        f"{node.type_name}  {node.label}",
        elide(_shape_line(result), 1000),
        _detail_line(result, shares, full=True) if overlay is None else overlay[0],
    )
    cut = (
        title != node.type_name or name != node.label,
        shape != full[1],
        detail != (_detail_line(result, shares) if overlay is None else overlay[0]),
    )
    lines = [text for text, elided in zip(full, cut) if elided and text]
    if lines and shares is not None and not any("shares" in s for s in lines):
        lines.append(f"shares {elide(shares)}")
    return "\n".join(lines)


def paint_card(painter: QPainter, box: QRectF, text: str, error: bool) -> None:
    """The card in `box` (as high as its `text` needs, at most), in red for an `error`."""
    inner = box.adjusted(8, 6, -8, -6)
    fonts = node_fonts()
    flags = Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
    needed = fonts.body_metrics.boundingRect(inner, int(flags), text)
    box.setHeight(min(box.height(), needed.height() + 12))
    painter.setPen(QPen(style.EDGE, 1))
    painter.setBrush(QBrush(style.NODE_FILL))
    painter.drawRoundedRect(box, 6, 6)
    painter.setFont(fonts.body)
    painter.setPen(style.ERROR if error else style.NODE_TEXT)
    painter.drawText(box.adjusted(8, 6, -8, -6), int(flags), text)


def node_tooltip(node: NodeItem) -> str:
    """The type and id (and name), the output shape and figures in full, the error or
    what it waits on, whose weights it uses, and the warnings; every line elided (an
    id can be a megabyte long)."""
    head = f"{node.type_name} {elide(node.node_id)}"
    if node.label != elide(node.node_id):
        head += f" ({node.label})"
    lines = [head]
    result = node.result
    if result is not None:
        if result.error:
            lines.append(f"Error: {result.error}")
        elif result.blocked_by:
            lines.append(result.reason)
        else:
            lines.append(_shape_line(result))
            figures = _detail_line(result, node.shares, full=True)
            if figures:
                lines.append(figures)
    lines.extend(_sharing_lines(node.shares, node.shared_by))
    if result is not None:
        lines.extend(f"Warning: {warning}" for warning in result.warnings[:20])
    return "\n".join(elide(line, _TIP_LINE) for line in lines)


def _sharing_lines(shares: str | None, shared_by: tuple[str, ...]) -> list[str]:
    lines = []
    if shares is not None:
        lines.append(
            f"Shares the weights of {elide(shares)}: one layer, called again "
            "(its parameters count there)"
        )
    if shared_by:
        users = ", ".join(elide(n, 60) for n in shared_by[:8])
        more = len(shared_by) - 8
        lines.append(
            f"Its weights are also used by {users}" + (f" and {more} more" if more > 0 else "")
        )
    return lines


def _shape_line(result: NodeResult | None) -> str:
    if result is None:
        return ""
    if result.error:
        return f"⚠ {result.error}"
    if result.blocked_by:
        return f"waits on {elide(result.blocked_by)}"
    return "→ " + ", ".join(dims(t.shape) for t in result.outputs)


def _detail_line(
    result: NodeResult | None, shares: str | None, short: bool = False, full: bool = False
) -> str:
    """Params and MACs (`short`: both abbreviated; `full`: both written out), and
    whose weights the node uses."""
    parts = [f"shares {elide(shares)}"] if shares is not None else []
    if result is None or result.output is None:
        return " · ".join(parts)
    if result.params:
        parts.append(f"{_short(result.params) if short else f'{result.params:,}'} params")
    if result.macs:
        parts.append(f"{f'{result.macs:,}' if full else _short(result.macs)} MACs")
    return " · ".join(parts)


def _short(number: int) -> str:
    """1.8G, 25.7M, 4.3k: MACs at a glance."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if number >= limit:
            return f"{number / limit:.1f}{suffix}"
    return str(number)


def overlay_statistic(kind: str, result: NodeResult) -> tuple[float, str]:
    """The figure an overlay bar shows for a node (its length, then its text)."""
    if kind == "params":
        return result.params, f"{result.params:,} params" if result.params else ""
    if kind == "macs":
        return result.macs, f"{result.macs:,} MACs" if result.macs else ""
    if kind == "memory":
        return result.memory, human_bytes(result.memory)
    fields = result.fields
    if not fields:
        return 0, ""
    return max(f.size for f in fields), "RF " + " × ".join(fmt(f.size) for f in fields)


def type_text(type_name: str, params: dict) -> str:
    """A node's type as it is drawn: a repeated node's with its count (Bottleneck ×3)."""
    repeat = params.get(REPEAT, 1)
    if repeat == 1:
        return type_name
    count = repeat["expr"] if isinstance(repeat, dict) else repeat
    return f"{type_name}{REPEAT_MARK}{count}"
