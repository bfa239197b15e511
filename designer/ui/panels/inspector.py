"""The inspector: the selected node's id, type and name, an editor per parameter, and the
node's analysis results.

Editors push core edits through the Document; a value the layer refuses is not applied,
its message shows under the field and the editor goes back to the node's value. Changes
from the document (undo, other panels) update the editors in place; the form is rebuilt
only when the selected node's layer type changes, so typing keeps its focus.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from designer.core.analysis import NodeResult
from designer.core.edits import Compound, Rename, SetParams
from designer.core.graph import Change, ChangeKind, GraphError
from designer.core.params import Param, ParamError
from designer.core.receptive import fmt
from designer.core.spec import LayerSpec, dims
from designer.ui.document import Document, describe
from designer.ui.panels.param_editors import ParamEditor, make_editor, tooltip
from designer.ui.style import elide

ERROR_COLOUR = "#c62828"
WARNING_COLOUR = "#b45309"
QUIET_COLOUR = "gray"
NONE = "—"


def _paint(label: QLabel, colour: str | None) -> None:
    """Colour a label's text; a style sheet is set only when it changes (setting one
    restyles the widget, even to the same sheet)."""
    sheet = f"color: {colour};" if colour else ""
    if label.styleSheet() != sheet:
        label.setStyleSheet(sheet)


def _text_label(name: str) -> QLabel:
    """A wrapping, selectable label for values."""
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _title(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


_COUNT_UNITS = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k"))


def count(number: int) -> str:
    """410,112; with a short form from ten thousand up: 3,339,714,560 (3.34 G)."""
    text = f"{number:,}"
    if number < 10_000:
        return text
    size, unit = next((s, u) for s, u in _COUNT_UNITS if number >= s)
    return f"{text} ({number / size:.3g} {unit})"


def human_bytes(number: int) -> str:
    """Bytes in binary units: 512 B, 1.5 KiB, 32 MiB."""
    if number < 1024:
        return f"{number} B"
    value = number / 1024
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{value:.3g} {unit}" if value < 1000 else f"{value:,.0f} {unit}"


def output_text(result: NodeResult, slots: tuple[str, ...]) -> str:
    """A result's outputs for the inspector: `512x63x63` (with `, int64` where the dtype
    is not float32), or with several slots one `name: shape, dtype` line per slot."""
    outputs = result.outputs
    if len(outputs) == 1:
        (tensor,) = outputs
        return dims(tensor.shape) + ("" if tensor.dtype == "float32" else f", {tensor.dtype}")
    names = list(slots[: len(outputs)]) + [f"output {i}" for i in range(len(slots), len(outputs))]
    return "\n".join(f"{name}: {dims(t.shape)}, {t.dtype}" for name, t in zip(names, outputs))


def _clip_lines(text: str, lines: int = 12) -> str:
    """A label's text with each line elided and at most `lines` lines: a reason or a
    warning can quote a node id of any length."""
    if len(text) <= 200 and text.count("\n") < lines:
        return text
    kept = [elide(line) for line in text.split("\n")[:lines]]
    return "\n".join(kept) + ("\n…" if text.count("\n") >= lines else "")


class ResultRows:
    """The node's results as rows of a form: shapes, counts, receptive field, memory and
    warnings."""

    ROWS = (
        ("inputs", "input"),
        ("output", "output"),
        ("params", "params"),
        ("buffers", "non-trainable"),
        ("macs", "MACs"),
        ("flops", "FLOPs"),
        ("rf", "receptive field"),
        ("memory", "memory"),
        ("warnings", "warnings"),
    )

    def __init__(self, form: QFormLayout) -> None:
        self.labels: dict[str, QLabel] = {}
        for key, caption in self.ROWS:
            self.labels[key] = _text_label(f"result_{key}")
            form.addRow(caption, self.labels[key])
        self.labels["buffers"].setToolTip("buffers such as BatchNorm's running statistics")

    def show_result(
        self, result: NodeResult | None, document: Document, slots: tuple[str, ...] = ("output",)
    ) -> None:
        """Fill the rows from a result; None (not analysed yet) blanks them. `slots` names
        the output slots: with several, the output row lists each, `name: shape, dtype`,
        one a line; one output shows its shape, and its dtype where it is not float32.
        Only labels whose text or colour changes are touched: each change relays out
        the form."""
        texts = dict.fromkeys(self.labels, NONE)
        colours: dict[str, str | None] = dict.fromkeys(self.labels)
        memory_tip = ""
        if result is not None:
            if result.input_shapes:
                texts["inputs"] = "\n".join(dims(s) for s in result.input_shapes)
            if result.shape is None:
                texts["output"] = result.reason
                colours["output"] = ERROR_COLOUR if result.error else QUIET_COLOUR
            else:
                texts["output"] = output_text(result, slots)
                for key in ("params", "buffers", "macs", "flops"):
                    texts[key] = count(getattr(result, key))
                if result.fields:
                    sizes = " × ".join(fmt(f.size) for f in result.fields)
                    strides = " × ".join(fmt(f.jump) for f in result.fields)
                    texts["rf"] = f"{sizes}, stride {strides}"
                settings = document.settings
                texts["memory"] = human_bytes(result.memory)
                number_format = settings.dtype or "each tensor's own dtype"
                memory_tip = (
                    f"{result.memory:,} bytes: the output for a batch of {settings.batch_size} "
                    f"in {number_format}"
                )
                if result.warnings:
                    texts["warnings"] = "\n".join(result.warnings)
                    colours["warnings"] = WARNING_COLOUR
        for key, label in self.labels.items():
            text = _clip_lines(texts[key])
            if label.text() != text:
                label.setText(text)
            _paint(label, colours[key])
        if self.labels["memory"].toolTip() != memory_tip:
            self.labels["memory"].setToolTip(memory_tip)


class SelectionTotals:
    """Several selected nodes: how many, of which types, and their figures added up."""

    ROWS = (
        ("count", "selected"),
        ("params", "params"),
        ("buffers", "non-trainable"),
        ("macs", "MACs"),
        ("flops", "FLOPs"),
        ("memory", "memory"),
        ("problems", "problems"),
    )

    def __init__(self) -> None:
        self.widget = QWidget()
        self.widget.setObjectName("selection_totals")
        form = QFormLayout(self.widget)
        form.setContentsMargins(0, 0, 0, 0)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow(_title("Selection"))
        self.labels: dict[str, QLabel] = {}
        for key, caption in self.ROWS:
            self.labels[key] = _text_label(f"selection_{key}")
            form.addRow(caption, self.labels[key])
        self.labels["memory"].setToolTip(
            "the selected nodes' outputs, in bytes, at the batch size and dtype of the status bar"
        )

    def show_totals(self, document: Document, node_ids: list[str]) -> None:
        arch, results = document.arch, document.results
        types: dict[str, int] = {}
        sums = dict.fromkeys(("params", "buffers", "macs", "flops", "memory"), 0)
        errors = waiting = 0
        data_of = arch.graph.nodes
        for node_id in node_ids:
            type_name = data_of[node_id]["type"]
            types[type_name] = types.get(type_name, 0) + 1
            result = results.get(node_id)
            if result is None:
                continue
            if result.error:
                errors += 1
            elif result.blocked_by:
                waiting += 1
            for key in sums:
                sums[key] += getattr(result, key)
        kinds = ", ".join(
            f"{n} {t}" for t, n in sorted(types.items(), key=lambda item: (-item[1], item[0]))
        )
        texts = {
            "count": f"{len(node_ids)} nodes: {kinds}",
            "params": count(sums["params"]),
            "buffers": count(sums["buffers"]),
            "macs": count(sums["macs"]),
            "flops": count(sums["flops"]),
            "memory": human_bytes(sums["memory"]),
            "problems": f"{errors} errors, {waiting} waiting" if errors or waiting else NONE,
        }
        for key, label in self.labels.items():
            text = _clip_lines(texts[key], 4)
            if label.text() != text:
                label.setText(text)
        _paint(self.labels["problems"], ERROR_COLOUR if errors or waiting else None)


class Inspector(QWidget):
    """Edits the selected node of a Document; a hint when nothing is selected. With
    several nodes selected it shows their figures added up, and where they are all of one
    layer type, one editor per parameter that sets it on all of them (one undo step)."""

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inspector")
        self._document: Document | None = None
        self._node_id: str | None = None  # the node edited (the first, with several of a type)
        self._node_ids: list[str] = []  # every selected node
        self._shown_name = ""  # the name field's text as loaded: unchanged, it renames nothing
        self._form_type: tuple[str, bool, tuple] | None = None
        self._editors: dict[str, ParamEditor] = {}
        self._errors: dict[str, QLabel] = {}
        # several nodes: edits arrive a part at a time (a Compound of 1,000 SetParams
        # is 1,000 changes); the editors and totals are reloaded once, after them
        self._reload = QTimer(self)
        self._reload.setSingleShot(True)
        self._reload.setInterval(0)
        self._reload.timeout.connect(self._reload_several)
        self._build()
        self.set_document(document)

    # building -----------------------------------------------------------------------------

    def _build(self) -> None:
        """One form for the header, the parameters and the results, so their columns align."""
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        content = QWidget()
        layout = QVBoxLayout(content)
        self._hint = QLabel("Select a node to see and edit its parameters.")
        self._hint.setObjectName("hint")
        self._hint.setWordWrap(True)
        _paint(self._hint, QUIET_COLOUR)
        layout.addWidget(self._hint)

        self._node = QWidget()
        self._form = QFormLayout(self._node)
        self._form.setContentsMargins(0, 0, 0, 0)
        self._form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self._id = _text_label("node_id")
        self._type = _text_label("node_type")
        self._name = QLineEdit()
        self._name.setObjectName("name")
        self._name.setPlaceholderText("optional display name")
        self._name.editingFinished.connect(self._on_rename)
        self._form.addRow("id", self._id)
        self._form.addRow("type", self._type)
        self._form.addRow("name", self._name)
        self._weights = _text_label("weights")  # shared weights: one layer, called again
        self._form.addRow("weights", self._weights)
        self._form.addRow(_title("Parameters"))
        self._param_rows: list[tuple[QWidget, ...]] = []  # the widgets of each param row
        self._results_title = _title("Results")
        self._form.addRow(self._results_title)
        self._results = ResultRows(self._form)
        layout.addWidget(self._node)
        self._totals = SelectionTotals()
        self._totals.widget.hide()
        layout.addWidget(self._totals.widget)
        layout.addStretch(1)
        scroll.setWidget(content)

    def _build_form(self, spec: LayerSpec, inside: bool) -> None:
        """One row per parameter the user sets: its editor, and its error line below;
        `inside` a block, each may hold an expression."""
        for editor in self._editors.values():
            editor.blockSignals(True)  # a focused field must not commit to the next node
        first = self._form.getWidgetPosition(self._results_title)[0] - len(self._param_rows)
        for _ in self._param_rows:
            self._form.takeRow(first)  # the widgets are in _param_rows; the taken items go
        for widgets in self._param_rows:
            for widget in widgets:
                widget.setParent(None)
                widget.deleteLater()
        self._editors, self._errors, self._param_rows = {}, {}, []
        for param in spec.params:
            if param.inferred:
                continue
            editor = make_editor(param, expressions=inside)
            editor.changed.connect(lambda value, p=param: self._on_edit(p, value))
            error = _text_label(f"error_{param.name}")
            _paint(error, ERROR_COLOUR)
            error.hide()
            field = QWidget()
            column = QVBoxLayout(field)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(2)
            column.addWidget(editor)
            column.addWidget(error)
            caption = QLabel(param.name)
            caption.setToolTip(tooltip(param))
            caption.setBuddy(editor)
            self._form.insertRow(first + len(self._param_rows), caption, field)
            self._param_rows.append((caption, field))
            self._editors[param.name] = editor
            self._errors[param.name] = error
        if not self._editors:
            none = QLabel("no parameters")
            _paint(none, QUIET_COLOUR)
            self._form.insertRow(first, none)
            self._param_rows.append((none,))
        self._form_type = (spec.name, inside, spec.params)

    # the document -------------------------------------------------------------------------

    def set_document(self, document: Document) -> None:
        """Show another document (the window opened a file)."""
        if self._document is not None:
            self._document.selection_changed.disconnect(self._on_selection)
            self._document.graph_changed.disconnect(self._on_graph)
            self._document.analysis_changed.disconnect(self._on_analysis)
        self._document = document
        document.selection_changed.connect(self._on_selection)
        document.graph_changed.connect(self._on_graph)
        document.analysis_changed.connect(self._on_analysis)
        self._on_selection(document.selected())

    def _on_selection(self, node_ids: list[str]) -> None:
        arch = self._document.arch
        present = [n for n in node_ids if n in arch]
        self._node_ids = present
        several = len(present) > 1
        data_of = arch.graph.nodes
        one_type = not several or all(
            data_of[n]["type"] == data_of[present[0]]["type"] for n in present
        )
        self._node_id = present[0] if present and one_type else None
        self._hint.setVisible(not present)
        self._node.setVisible(self._node_id is not None)
        self._totals.widget.setVisible(several)
        self._results_title.setVisible(not several)
        for key in self._results.labels:
            self._form.setRowVisible(self._results.labels[key], not several)
        if self._node_id is not None:
            self._load()
            if not several:
                self._show_results()
        if several:
            self._totals.show_totals(self._document, present)

    def _reload_several(self) -> None:
        present = [n for n in self._node_ids if n in self._document.arch]
        if present != self._node_ids:
            self._on_selection(present)
            return
        if self._node_id is not None:
            self._load()
        if len(present) > 1:
            self._totals.show_totals(self._document, present)

    def _on_graph(self, change: Change) -> None:
        if len(self._node_ids) > 1:
            if change.kind is not ChangeKind.COSMETIC and not change.nodes.isdisjoint(
                self._node_ids
            ):
                self._reload.start()
            return
        if self._node_id is None or self._node_id not in change.nodes:
            return
        if self._node_id in self._document.arch:
            self._load()
        else:  # removed: the document drops it from the selection without a signal
            self._on_selection([])

    def _on_analysis(self, node_ids: set[str]) -> None:
        if len(self._node_ids) > 1:
            if not node_ids.isdisjoint(self._node_ids):
                self._reload.start()
            return
        if self._node_id in node_ids and self._node_id in self._document.arch:
            self._show_results()

    def _load(self) -> None:
        """Show the node's header and values, rebuilding the form only for a new type."""
        node_id = self._node_id
        arch = self._document.arch
        record = arch.node(node_id)
        spec = arch.spec(node_id)
        self._id.setText(elide(node_id))
        self._type.setText(record.type)
        self._type.setToolTip(spec.summary)
        self._show_sharing(arch, node_id)
        self._shown_name = elide(record.name or "")  # a longer name shows, not edited, elided
        self._name.setReadOnly(self._shown_name != (record.name or ""))
        if self._name.text() != self._shown_name:
            self._name.setText(self._shown_name)
        inside = bool(self._document.scope)
        if (record.type, inside, spec.params) != self._form_type:  # a block's params change
            self._build_form(spec, inside)
        for error in self._errors.values():
            error.hide()
        values = arch.resolved_params(node_id)
        for name, editor in self._editors.items():
            editor.set_value(values[name])
        self._load_several()

    def _load_several(self) -> None:
        """With several nodes of one type: their ids, no name to edit, and each parameter
        whose value differs among them marked "(mixed)" (its editor shows the first's)."""
        several = len(self._node_ids) > 1
        arch = self._document.arch
        mixed: set[str] = set()
        if several:
            ids = self._node_ids
            shown = ", ".join(elide(n, 40) for n in ids[:5]) + (", …" if len(ids) > 5 else "")
            self._id.setText(f"{len(ids)} nodes: {shown}")
            self._name.setReadOnly(True)
            self._name.setText("")
            self._name.setPlaceholderText("several nodes")
            first = arch.resolved_params(ids[0])
            for other in ids[1:]:
                values = arch.resolved_params(other)
                mixed.update(name for name in self._editors if values[name] != first[name])
        else:
            self._name.setPlaceholderText("optional display name")
        for name, (caption, *_) in zip(self._editors, self._param_rows):
            text = f"{name} (mixed)" if name in mixed else name
            if caption.text() != text:
                caption.setText(text)

    def _show_sharing(self, arch, node_id: str) -> None:
        """Whose weights the node uses, or who else uses its weights; the row hides where
        it shares nothing."""
        owner = arch.owner_of(node_id)
        users = arch.sharers(node_id) if owner is None else []
        if owner is not None:
            text = (
                f"shares {elide(owner)}'s: one layer called again; its parameters count "
                f"at {elide(owner)}, and editing either changes both"
            )
        elif users:
            shown = ", ".join(elide(n, 60) for n in users[:5]) + (", …" if len(users) > 5 else "")
            text = f"also used by {shown}: its parameters count here, once"
        else:
            text = ""
        if self._weights.text() != text:
            self._weights.setText(text)
        # the row's widgets, not setRowVisible: a hidden row confuses the rows that the
        # form inserts after it for a new layer type
        self._weights.setVisible(bool(text))
        self._form.labelForField(self._weights).setVisible(bool(text))

    def _show_results(self) -> None:
        try:
            result = self._document.result(self._node_id)
        except KeyError:  # added but not analysed yet: analysis_changed follows
            result = None
        arch = self._document.arch
        slots = arch.spec(self._node_id).output_names(arch.params_of(self._node_id))
        self._results.show_result(result, self._document, slots)

    # user edits ---------------------------------------------------------------------------

    def _showing(self) -> bool:
        """Whether the form shows a node of the design now. An editor can finish editing
        after its node went away (deleted, its creation undone, another document):
        its value then goes nowhere."""
        return self._node_id is not None and self._node_id in self._document.arch

    def _on_edit(self, param: Param, value: Any) -> None:
        """Push the new value; if the layer refuses it, say why and show the old one."""
        if not self._showing() or param.name not in self._errors:
            return
        try:
            ids = self._node_ids if len(self._node_ids) > 1 else [self._node_id]
            if len(ids) > 1:
                parts = [self._set_params(param, value, node_id) for node_id in ids]
                edit = Compound(parts, f"Change {param.name} of {len(ids)} nodes")
            else:
                edit = self._set_params(param, value)
            self._document.push(edit)
        except (ParamError, GraphError, ValueError, TypeError) as error:
            label = self._errors[param.name]
            if isinstance(error, ParamError):
                text = error.message if error.param == param.name else str(error)
            else:
                text = describe(error)
            label.setText(_clip_lines(text))
            label.show()
            current = self._document.arch.resolved_params(self._node_id)[param.name]
            self._editors[param.name].set_value(current)

    def _set_params(self, param: Param, value: Any, node_id: str | None = None) -> SetParams:
        arch, node_id = self._document.arch, node_id or self._node_id
        if value is None and param.default is not None:
            # with_param reads None as "back to the default"; here None itself is meant
            params = arch.node(node_id).params
            params[param.name] = None
            return SetParams(node_id, params)
        return SetParams.with_param(arch, node_id, param.name, value)

    def _on_rename(self) -> None:
        if not self._showing() or len(self._node_ids) > 1:
            return
        text = self._name.text()
        if text == self._shown_name or text == (self._document.arch.node(self._node_id).name or ""):
            return
        try:
            self._document.push(Rename(self._node_id, text or None))
        except (GraphError, ValueError) as error:
            self._document.problem.emit(f"Not renamed: {describe(error)}")
            self._name.setText(self._shown_name)
