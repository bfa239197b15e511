"""Small dialogs: quick insert of a layer type, and import from PyTorch."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from designer.core import registry
from designer.core.spec import LayerSpec


class QuickInsert(QDialog):
    """Type a few letters of a layer type, Enter inserts it (Tab on the canvas). It offers
    the types of `catalog` (the design's; the standard one by default)."""

    def __init__(
        self, parent: QWidget | None = None, catalog: Mapping[str, LayerSpec] | None = None
    ) -> None:
        super().__init__(parent)
        self.catalog = registry.LAYERS if catalog is None else catalog
        self.setWindowTitle("Insert layer")
        self.field = QLineEdit(self)
        self.field.setObjectName("quick_insert")
        self.field.setPlaceholderText("Layer type, e.g. conv2d")
        completer = QCompleter(sorted(self.catalog), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.field.setCompleter(completer)
        self.field.returnPressed.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.field)

    def chosen(self) -> str | None:
        """The layer type typed, matched without regard to case."""
        text = self.field.text().strip().lower()
        return next((name for name in self.catalog if name.lower() == text), None)


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
        self.class_name = QLineEdit(self)
        self.inputs = QLineEdit("3x224x224", self)
        self.inputs.setToolTip("one shape per forward() argument, separated by spaces")
        self.arguments = QLineEdit("{}", self)
        self.arguments.setToolTip("keyword arguments for the class, as JSON")
        form = QFormLayout(self)
        form.addRow("Python file", file_row)
        form.addRow("Class", self.class_name)
        form.addRow("Input shape(s)", self.inputs)
        form.addRow("Arguments", self.arguments)
        form.addRow(
            "",
            QLineEdit(
                "Importing runs this file's code on your machine.", self, readOnly=True, frame=False
            ),
        )
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

    def request(self) -> tuple[Path, str, list[str], dict[str, Any]]:
        """(file, class, shape texts, arguments); ValueError for arguments that are not JSON."""
        arguments = json.loads(self.arguments.text() or "{}")
        if not isinstance(arguments, dict):
            raise ValueError("arguments must be a JSON object")  # noqa: TRY004 (caught as bad input)
        return (
            Path(self.file.text()),
            self.class_name.text().strip(),
            self.inputs.text().split(),
            arguments,
        )
