"""Small dialogs: quick insert of a layer type, import from PyTorch, and the design's
properties."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from designer.core import registry
from designer.core.spec import LayerSpec

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+[a-z]*")


def _word_starts(name: str) -> list[int]:
    """Where the words of a type name start: BatchNorm2d → Batch, Norm, 2d."""
    return [m.start() for m in _WORDS.finditer(name)]


def match_rank(query: str, name: str) -> int | None:
    """How well a typed text matches a type name, best first: 0 the name itself, 1 its
    start, 2 the start of one of its words (`norm` → BatchNorm2d), 3 anywhere in it,
    4 its letters in order (`bn2` → BatchNorm2d); None for no match."""
    q, n = query.strip().lower(), name.lower()
    if not q:
        return 3
    if n == q:
        return 0
    if n.startswith(q):
        return 1
    if any(n.startswith(q, start) for start in _word_starts(name)):
        return 2
    if q in n:
        return 3
    at = 0
    for char in q:
        at = n.find(char, at) + 1
        if at == 0:
            return None
    return 4


def ranked(query: str, names: Iterable[str]) -> list[str]:
    """The names that match, best match first, then shorter, then alphabetical."""
    scored = [(match_rank(query, name), len(name), name) for name in names]
    return [name for rank, _, name in sorted(s for s in scored if s[0] is not None)]


class QuickInsert(QDialog):
    """Type a few letters of a layer type, Enter inserts it (Tab on the canvas). It offers
    the types of `catalog` (the design's; the standard one by default) below the field,
    best match first: the name's start, then a word's start, then anywhere, then letters
    in order. Up and Down move the highlight; Enter takes the highlighted type (the
    first unless moved)."""

    def __init__(
        self, parent: QWidget | None = None, catalog: Mapping[str, LayerSpec] | None = None
    ) -> None:
        super().__init__(parent)
        self.catalog = registry.LAYERS if catalog is None else catalog
        self.setWindowTitle("Insert layer")
        self.field = QLineEdit(self)
        self.field.setObjectName("quick_insert")
        self.field.setPlaceholderText("Layer type, e.g. conv2d")
        self.matches = QListWidget(self)
        self.matches.setObjectName("quick_insert_matches")
        self.matches.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # typing stays in the field
        self.field.textChanged.connect(self._filter)
        self.field.returnPressed.connect(self.accept)
        self.field.installEventFilter(self)
        self.matches.itemActivated.connect(lambda item: self.accept())
        layout = QVBoxLayout(self)
        layout.addWidget(self.field)
        layout.addWidget(self.matches)
        self._filter("")

    def _filter(self, text: str) -> None:
        self.matches.clear()
        self.matches.addItems(ranked(text, self.catalog))
        if self.matches.count():
            self.matches.setCurrentRow(0)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Up and Down in the field move the highlight in the list."""
        if watched is self.field and event.type() == QEvent.Type.KeyPress:
            step = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1}.get(event.key())
            if step is not None and self.matches.count():
                row = min(max(self.matches.currentRow() + step, 0), self.matches.count() - 1)
                self.matches.setCurrentRow(row)
                return True
        return super().eventFilter(watched, event)

    def chosen(self) -> str | None:
        """The highlighted match: the first (the type named exactly, without regard to
        case, where it was typed in full) unless Up or Down moved it; None where nothing
        matches."""
        item = self.matches.currentItem()
        return item.text() if item is not None else None


class ImportDialog(QDialog):
    """Which model to import: the Python file, its class, input shapes, constructor args."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import from PyTorch")
        self.file = QLineEdit(self)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        file_row = QHBoxLayout()
        file_row.addWidget(self.file)
        file_row.addWidget(browse)
        self.class_name = QComboBox(self)  # the classes the file defines, or one typed
        self.class_name.setObjectName("import_class")
        self.class_name.setEditable(True)
        self.class_name.setMinimumContentsLength(24)
        self.file.textChanged.connect(self._list_classes)
        self.inputs = QLineEdit("3x224x224", self)
        self.inputs.setToolTip("one shape per forward() argument, separated by spaces")
        self.arguments = QLineEdit("{}", self)
        self.arguments.setToolTip("keyword arguments for the class, as JSON")
        form = QFormLayout(self)
        form.addRow("Python file", file_row)
        form.addRow("Class", self.class_name)
        form.addRow("Input shape(s)", self.inputs)
        form.addRow("Arguments", self.arguments)
        self.warning = QLabel(
            "Importing runs this file's code on your machine (it is imported and the "
            "class is built and traced with torch).",
            self,
        )
        self.warning.setObjectName("import_warning")
        self.warning.setWordWrap(True)
        form.addRow(self.warning)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model file", "", "Python (*.py)")
        if path:
            self.file.setText(path)

    def _list_classes(self, text: str) -> None:
        """Offer the classes the file defines, read without running it."""
        typed = self.class_name.currentText()
        names = defined_classes(Path(text)) if text.strip() else []
        self.class_name.clear()
        self.class_name.addItems(names)
        if typed and typed in names:
            self.class_name.setCurrentText(typed)

    def request(self) -> tuple[Path, str, list[str], dict[str, Any]]:
        """(file, class, shape texts, arguments); ValueError for arguments that are not JSON."""
        arguments = json.loads(self.arguments.text() or "{}")
        if not isinstance(arguments, dict):
            raise ValueError("arguments must be a JSON object")  # noqa: TRY004 (caught as bad input)
        return (
            Path(self.file.text()),
            self.class_name.currentText().strip(),
            self.inputs.text().split(),
            arguments,
        )


def defined_classes(path: Path) -> list[str]:
    """The classes a Python file defines at its top level, read with `ast` (the file is
    never run), torch modules first: those whose bases name Module; [] where the file
    cannot be read or parsed."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return []
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]

    def is_module(node: ast.ClassDef) -> bool:
        return any("Module" in ast.unparse(base) for base in node.bases)

    return [c.name for c in classes if is_module(c)] + [c.name for c in classes if not is_module(c)]


class DesignProperties(QDialog):
    """The design's own name: what exports call it (the class, the file)."""

    def __init__(self, name: str, path: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Design properties")
        self.name = QLineEdit(name, self)
        self.name.setObjectName("design_name")
        self.name.setToolTip("exported code names its class after it")
        where = QLabel(str(path) if path is not None else "not saved yet", self)
        where.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Name", self.name)
        form.addRow("File", where)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
