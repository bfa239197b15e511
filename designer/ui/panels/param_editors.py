"""Editors for layer parameters, one small class per value form, generated from `Param`s.

Every editor shares one interface: `set_value(value)` shows a value from the document and
never emits; `changed(value)` fires when the user makes the value differ from the one last
shown. A value the editor cannot parse (letters in a number field) is emitted as the raw
text, so the layer's own check refuses it with its usual message.
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLineEdit,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from designer.core.expr import is_expr
from designer.core.params import PADDING_WORDS, Kind, Param, show_value
from designer.core.spec import spatial_axes

INT_LIMIT = 2**31 - 1  # QSpinBox holds a C int
SPIN_MINIMUM_WIDTH = 64  # pixels: room for a few digits and the arrows


def tooltip(param: Param) -> str:
    """The param's help, the values it accepts and PyTorch's default, one per line."""
    lines = [param.help] if param.help else []
    lines.append(f"accepts {param.describe()}" + (", or null" if param.nullable else ""))
    if param.required:
        lines.append("required: PyTorch has no default")
    else:
        lines.append(f"PyTorch default: {show_value(param.torch_default)}")
    return "\n".join(lines)


class ParamEditor(QWidget):
    """The common interface: `changed` with the new value, `set_value`, `value`."""

    changed = Signal(object)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.param = param
        self._shown: Any = None
        self._read_back: Any = None  # what the editor read from the value it was shown
        self._loading = False
        self.setObjectName(f"param_{param.name}")
        self.setToolTip(tooltip(param))

    def set_value(self, value: Any) -> None:
        """Show a value from the document without emitting `changed`."""
        self._shown = value
        self._loading = True
        try:
            self._show(value)
            self._read_back = self.value()
        finally:
            self._loading = False

    def value(self) -> Any:
        """The value the editor holds now, in canonical form where it parses."""
        raise NotImplementedError

    def _show(self, value: Any) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        """Emit the editor's value if the user made it differ from the one shown (a field
        left as it was shown is no edit, even where its text reads back as another type:
        an instance's 5 in a text field, a list as a tuple)."""
        if self._loading:
            return
        value = self.value()
        if value != self._shown and value != self._read_back:
            self.changed.emit(value)


def _row(parent: QWidget, *widgets: QWidget) -> QHBoxLayout:
    layout = QHBoxLayout(parent)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return layout


class SpinBox(QSpinBox):
    """A spin box for a layer parameter. It takes the wheel only while it has the focus
    (the wheel over the inspector scrolls it, and changes nothing). Its arrows stay in
    the declared range, but a number typed beyond it is kept, so the layer refuses it
    and the reason shows beside the field, rather than the box silently putting its
    old value back."""

    def __init__(self, low: int, high: int) -> None:
        super().__init__()
        self.declared = (low, high)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if not self.hasFocus():
            event.ignore()  # to the scroll area
            return
        super().wheelEvent(event)

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:
        flags = super().stepEnabled()
        low, high = self.declared
        if self.value() <= low:
            flags &= ~QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        if self.value() >= high:
            flags &= ~QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
        return flags

    def stepBy(self, steps: int) -> None:
        low, high = self.declared
        value = self.value()
        target = min(max(value + steps, low), high) if low <= value <= high else value + steps
        super().stepBy(target - value)


class ComboBox(QComboBox):
    """A combo box that takes the wheel only while it has the focus."""

    def __init__(self) -> None:
        super().__init__()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if not self.hasFocus():
            event.ignore()
            return
        super().wheelEvent(event)


def _spin_box(param: Param) -> QSpinBox:
    low = -INT_LIMIT if param.minimum is None else int(param.minimum)
    high = INT_LIMIT if param.maximum is None else int(param.maximum)
    box = SpinBox(low, high)
    box.setRange(-INT_LIMIT, INT_LIMIT)  # typed values beyond the declared range reach the layer
    box.setKeyboardTracking(False)  # commit on Enter, focus out or a step, not per digit
    # narrower than its range's widest number, so three axes fit the inspector's width
    box.setMinimumWidth(SPIN_MINIMUM_WIDTH)
    box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
    return box


def _wide_line() -> QLineEdit:
    """The field that stands in for spin boxes while a value is beyond what they hold
    (a QSpinBox is a C int: out_channels of 3,000,000,000 would not fit)."""
    line = QLineEdit()
    line.setObjectName("wide")
    line.setToolTip("beyond what a spin box holds: type a whole number")
    line.hide()
    return line


def _fits(spin: QSpinBox, value: Any) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and spin.minimum() <= value <= spin.maximum()
    )


def _integers(text: str, holes: bool = False) -> tuple[int | None, ...] | str:
    """ "5, 3000000000" as numbers ("keep" for None where the param has holes); the text
    itself where it does not parse, so the layer's check refuses it with its message."""
    tokens = [t for t in re.split(r"[\s,]+", text.strip().strip("[]()")) if t]
    numbers: list[int | None] = []
    for token in tokens:
        if holes and token.lower() in ("keep", "none", "null"):
            numbers.append(None)
            continue
        try:
            numbers.append(int(token))
        except ValueError:
            return text
    return tuple(numbers) if numbers else text


class IntEditor(ParamEditor):
    """Kind.INT: a spin box with the declared range; a line edit instead while the value
    is one the spin box cannot hold."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.spin = _spin_box(param)
        self.wide = _wide_line()
        _row(self, self.spin, self.wide)
        self.spin.valueChanged.connect(self._commit)
        self.wide.editingFinished.connect(self._commit)

    def value(self) -> int | str:
        if self.wide.isHidden():
            return self.spin.value()
        numbers = _integers(self.wide.text())
        return numbers[0] if isinstance(numbers, tuple) and len(numbers) == 1 else numbers

    def _show(self, value: int) -> None:
        fits = _fits(self.spin, value)
        self.spin.setVisible(fits)
        self.wide.setVisible(not fits)
        if fits:
            self.spin.setValue(value)
        elif self.wide.text() != str(value):
            self.wide.setText(str(value))


class BoolEditor(ParamEditor):
    """Kind.BOOL: a check box."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.check = QCheckBox()
        _row(self, self.check)
        self.check.toggled.connect(self._commit)

    def value(self) -> bool:
        return self.check.isChecked()

    def _show(self, value: bool) -> None:
        self.check.setChecked(bool(value))


class ChoiceEditor(ParamEditor):
    """Kind.CHOICE: a combo box of the declared choices (and of the value shown where it is
    none of them, which an instance of a block may hold)."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.combo = ComboBox()
        self._declared = list(param.choices)
        self._choices: list[Any] = []
        _row(self, self.combo)
        self._offer(self._declared)
        self.combo.activated.connect(self._commit)

    def _offer(self, choices: list[Any]) -> None:
        if choices != self._choices:
            self._choices = choices
            self.combo.clear()
            self.combo.addItems([_choice_text(choice) for choice in choices])

    def value(self) -> Any:
        return self._choices[self.combo.currentIndex()]

    def _show(self, value: Any) -> None:
        self._offer(self._declared + ([] if value in self._declared else [value]))
        self.combo.setCurrentIndex(self._choices.index(value))


def _choice_text(choice: Any) -> str:
    return choice if isinstance(choice, str) else show_value(choice)


class StringEditor(ParamEditor):
    """Kind.TEXT: a line edit whose text is the value, committed on Enter or focus out."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.line = QLineEdit()
        _row(self, self.line)
        self.line.editingFinished.connect(self._commit)

    def value(self) -> str:
        return self.line.text()

    def _show(self, value: Any) -> None:
        text = value if isinstance(value, str) else show_value(value)
        if self.line.text() != text:
            self.line.setText(text)


class IntTupleEditor(ParamEditor):
    """Kind.INT_TUPLE of a known length: one spin box per axis, and "same for all axes",
    which writes a single int (PyTorch's short form)."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        assert param.length is not None, "a tuple without a length is edited as text"
        self.spins = [_spin_box(param) for _ in range(param.length)]
        if param.holes:  # the value below the range shows as "keep": null, the input's size
            for spin in self.spins:
                low, high = spin.declared
                spin.declared = (low - 1, high)
                spin.setMinimum(low - 1)
                spin.setSpecialValueText("keep")
        axes = spatial_axes(param.length) if param.length and param.length <= 3 else ()
        for spin, axis in zip(self.spins, axes):
            spin.setToolTip(f"{param.name} along {axis}")
        boxes = QWidget()
        grid = QGridLayout(boxes)
        grid.setContentsMargins(0, 0, 0, 0)
        # more than four (a 3-D pad's six sides): a row per axis, its two sides side by side
        columns = len(self.spins) if len(self.spins) <= 4 else 2
        for index, spin in enumerate(self.spins):
            grid.addWidget(spin, index // columns, index % columns)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(boxes)
        self.same = QCheckBox("same for all axes")
        self.same.setObjectName("same")
        self.same.setVisible(param.length > 1)
        layout.addWidget(self.same)
        self.wide = _wide_line()
        layout.addWidget(self.wide)
        for spin in self.spins:
            spin.valueChanged.connect(self._commit)
        self.same.toggled.connect(self._on_same)
        self.wide.editingFinished.connect(self._commit)

    def value(self) -> Any:
        """One int with "same for all axes", or where every axis holds the same number
        (the canonical form: [5, 5] is 5), so unticking the box alone changes nothing."""
        if self.wide.isHidden():
            values = tuple(self._number(spin) for spin in self.spins)
        else:
            values = _integers(self.wide.text(), self.param.holes)
            if isinstance(values, str):
                return values
            if len(values) != len(self.spins) and len(values) != 1:
                return values
            values = values * len(self.spins) if len(values) == 1 else values
            if len(set(values)) == 1 and values[0] is not None:
                return values[0]
            return values
        if values[0] is not None and (self.same.isChecked() or len(set(values)) == 1):
            return values[0]
        return values

    def _number(self, spin: QSpinBox) -> int | None:
        kept = self.param.holes and spin.value() == spin.minimum()
        return None if kept else spin.value()

    def _show(self, value: int | tuple[int, ...]) -> None:
        single = isinstance(value, int)
        numbers = (value,) * len(self.spins) if single else tuple(value)
        fits = all(
            number is None or _fits(spin, number) for spin, number in zip(self.spins, numbers)
        )
        self.spins[0].parentWidget().setVisible(fits)
        self.same.setVisible(fits and len(self.spins) > 1)
        self.wide.setVisible(not fits)
        if not fits:
            text = (
                str(value)
                if single
                else ", ".join("keep" if n is None else str(n) for n in numbers)
            )
            if self.wide.text() != text:
                self.wide.setText(text)
            return
        self.same.setChecked(single)
        for spin, number in zip(self.spins, numbers):
            spin.setValue(spin.minimum() if number is None else number)
        self._mirror()

    def _on_same(self) -> None:
        self._mirror()
        self._commit()

    def _mirror(self) -> None:
        """With "same for all axes", the other boxes follow the first, greyed out."""
        same = self.same.isChecked()
        for spin in self.spins[1:]:
            spin.setEnabled(not same)
            if same:
                spin.blockSignals(True)
                spin.setValue(self.spins[0].value())
                spin.blockSignals(False)

    def _commit(self) -> None:
        if self.same.isChecked():
            self._mirror()
        super()._commit()


class PaddingEditor(ParamEditor):
    """Kind.PADDING: "number" (the tuple editor), "same" or "valid"."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.mode = ComboBox()
        self.mode.setObjectName("mode")
        self.mode.addItems(["number", *PADDING_WORDS])
        self.numbers = IntTupleEditor(param)
        self.numbers.setObjectName("numbers")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.mode)
        layout.addWidget(self.numbers)
        self.mode.activated.connect(self._commit)
        self.numbers.changed.connect(self._commit)

    def value(self) -> Any:
        word = self.mode.currentText()
        return self.numbers.value() if word == "number" else word

    def _show(self, value: Any) -> None:
        is_word = isinstance(value, str)
        self.mode.setCurrentText(value if is_word else "number")
        self.numbers.setEnabled(not is_word)
        if not is_word:
            self.numbers.set_value(value)


class TextEditor(ParamEditor):
    """Kind.FLOAT, FLOAT_TUPLE, SHAPE and INT_TUPLE of any length: a line edit taking
    "2" or "2, 3" (shapes also "3x224x224"), committed on Enter or focus out."""

    _SEPARATORS = re.compile(r"[\s,]+")

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.line = QLineEdit()
        self.line.setPlaceholderText(self._placeholder())
        _row(self, self.line)
        self.line.editingFinished.connect(self._commit)

    def _placeholder(self) -> str:
        return "e.g. 0.5" if self.param.kind is Kind.FLOAT else "e.g. 2 or 2, 3"

    def _number(self, text: str) -> int | float:
        integral = self.param.kind in (Kind.INT, Kind.INT_TUPLE, Kind.SHAPE)
        return int(text) if integral else float(text)

    def value(self) -> Any:
        text = self.line.text()
        tokens = [t for t in self._SEPARATORS.split(text.strip().strip("[]()")) if t]
        try:
            numbers = tuple(self._number(t) for t in tokens)
        except ValueError:
            return text
        if len(numbers) == 1 and self.param.kind is not Kind.SHAPE:
            return numbers[0]
        return numbers if numbers else text

    def _show(self, value: Any) -> None:
        text = self.format(value)
        if self.line.text() != text:
            self.line.setText(text)
            self.line.setCursorPosition(0)

    def format(self, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, (tuple, list)):
            return ", ".join(self.format(v) for v in value)
        return repr(value) if isinstance(value, float) else str(value)


class ShapeEditor(TextEditor):
    """Kind.SHAPE: "3x224x224" or "3, 224, 224", shown with x as the report writes it."""

    _SEPARATORS = re.compile(r"[\s,x×X*]+")

    def _placeholder(self) -> str:
        return "e.g. 3x224x224"

    def format(self, value: Any) -> str:
        return "" if value is None else "x".join(str(v) for v in value)


class NullableEditor(ParamEditor):
    """A nullable param: its plain editor and a check box that writes None.

    The box reads "default" where None is PyTorch's default (a pool's stride follows its
    kernel_size) and "none" where it is not (BatchNorm's momentum=None averages all batches).
    """

    def __init__(self, param: Param, inner: ParamEditor, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.inner = inner
        inner.setObjectName("value")
        self.none = QCheckBox("default" if param.default is None else "none")
        self.none.setObjectName("none")
        self.none.setToolTip(tooltip(param))
        layout = _row(self, inner, self.none)
        layout.setStretch(0, 1)
        inner.changed.connect(self._commit)
        self.none.toggled.connect(self._on_none)

    def value(self) -> Any:
        return None if self.none.isChecked() else self.inner.value()

    def _show(self, value: Any) -> None:
        self.none.setChecked(value is None)
        self.inner.setEnabled(value is not None)
        self.inner.set_value(_stand_in(self.param) if value is None else value)

    def _on_none(self, checked: bool) -> None:
        self.inner.setEnabled(not checked)
        self._commit()


def _stand_in(param: Param) -> Any:
    """What a nullable param's editor shows while it is None: the value written when the
    user clears the check box."""
    if param.default is not None:
        return param.default
    low = 1 if param.minimum is None else max(1, int(param.minimum))
    return {
        Kind.INT: low,
        Kind.INT_TUPLE: low,
        Kind.FLOAT: 1.0,
        Kind.FLOAT_TUPLE: 1.0,
        Kind.BOOL: False,
        Kind.SHAPE: (1,),
    }.get(param.kind, low)


class ExpressionEditor(ParamEditor):
    """Inside a block: the param's own editor, or (the ƒ button) a line holding an
    expression over the block's params, `width * 4`, written as `{"expr": ...}`."""

    def __init__(self, param: Param, inner: ParamEditor) -> None:
        super().__init__(param)
        self.inner = inner
        inner.changed.connect(self._inner_changed)
        self.line = QLineEdit()
        self.line.setObjectName(f"expr_{param.name}")
        self.line.setPlaceholderText("e.g. width * 4")
        self.line.hide()
        self.toggle = QToolButton()
        self.toggle.setObjectName(f"use_expr_{param.name}")
        self.toggle.setText("ƒ")
        self.toggle.setCheckable(True)
        self.toggle.setToolTip("An expression over the block's params (+ - * // %, parentheses)")
        _row(self, inner, self.line, self.toggle)
        self.line.editingFinished.connect(self._commit)
        self.toggle.toggled.connect(self._switch)

    def value(self) -> Any:
        if not self.toggle.isChecked():
            return self.inner.value()
        text = self.line.text().strip()
        return {"expr": text} if text else self._shown

    def _show(self, value: Any) -> None:
        expression = is_expr(value)
        self.toggle.blockSignals(True)
        self.toggle.setChecked(expression)
        self.toggle.blockSignals(False)
        self.inner.setVisible(not expression)
        self.line.setVisible(expression)
        if expression:
            self.line.setText(value["expr"])
        else:
            self.inner.set_value(value)

    def _switch(self, expression: bool) -> None:
        self.inner.setVisible(not expression)
        self.line.setVisible(expression)
        if expression:
            self.line.setFocus(Qt.FocusReason.OtherFocusReason)
        elif is_expr(self._shown):  # back to a value: the editor's
            self.changed.emit(self.inner.value())

    def _inner_changed(self, value: Any) -> None:
        if not self._loading:
            self.changed.emit(value)


def make_editor(param: Param, expressions: bool = False) -> ParamEditor:
    """The editor for a declaration, wrapped with a None check box if it is nullable and
    with an expression line where `expressions` (inside a block)."""
    if expressions:
        return ExpressionEditor(param, make_editor(param))
    if param.kind is Kind.INT:
        editor: ParamEditor = IntEditor(param)
    elif param.kind is Kind.BOOL:
        editor = BoolEditor(param)
    elif param.kind is Kind.CHOICE:
        editor = ChoiceEditor(param)
    elif param.kind is Kind.INT_TUPLE and param.length is not None:
        editor = IntTupleEditor(param)
    elif param.kind is Kind.PADDING:
        editor = PaddingEditor(param)
    elif param.kind is Kind.SHAPE:
        editor = ShapeEditor(param)
    elif param.kind is Kind.TEXT:
        editor = StringEditor(param)
    else:
        editor = TextEditor(param)
    return NullableEditor(param, editor) if param.nullable else editor
