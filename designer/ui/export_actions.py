"""File ▸ Import from PyTorch, File ▸ Export (PyTorch code, reports, pictures) and File ▸
Verify with PyTorch: the design in and out of the app, apart from the window's own wiring.

An export that cannot be written is a warning, as Save's is, never a raise out of a slot.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QBuffer, QIODevice, QObject, QRectF, QSize, Qt
from PySide6.QtGui import QAction, QImage, QImageWriter, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMessageBox

from designer.export import pytorch, report
from designer.export.block_export import export_blocks
from designer.ui import window_parts
from designer.ui.canvas.scene import DesignScene
from designer.ui.dialogs import ImportDialog
from designer.ui.document import Document
from designer.ui.examples import is_example
from designer.ui.style import elide

if TYPE_CHECKING:
    from designer.ui.main_window import MainWindow


class ExportActions(QObject):
    """The File menu's import, export and verify entries, and what they do."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        has_torch = importlib.util.find_spec("torch") is not None
        self.export_code_action = self._action(
            "PyTorch &Code…", self.export_code, "export_code", "Ctrl+E"
        )
        self.verify_action = self._action("&Verify with PyTorch", self.verify, "verify")
        self.verify_action.setEnabled(has_torch)
        self.import_action = self._action("&Import from PyTorch…", self.import_model, "import")
        self.import_action.setEnabled(has_torch)
        self.report_actions = {
            fmt: self._action(
                f"Report ({fmt.upper() if fmt != 'markdown' else 'Markdown'})…",
                lambda checked=False, fmt=fmt: self.export_report(fmt),
                f"export_{fmt}",
            )
            for fmt in report.FORMATS
        }
        self.picture_actions = {
            kind: self._action(
                f"Picture ({kind.upper()})…",
                lambda checked=False, kind=kind: self.export_picture(kind),
                f"export_{kind}",
            )
            for kind in ("png", "svg")
        }

    def _action(
        self, text: str, slot: Callable[[], object], name: str, shortcut: str | None = None
    ) -> QAction:
        return window_parts.window_action(self.window, text, slot, name, shortcut)

    @property
    def document(self) -> Document:
        return self.window.document

    def export_code(self) -> None:
        document = self.document
        name = window_parts.class_name_for(document.top, document.path)
        try:
            exported = _exported(document, name)
        except pytorch.ExportError as error:
            QMessageBox.warning(
                self.window,
                "Cannot export",
                "The design has errors:\n\n" + "\n".join(error.problems),
            )
            return
        path, _ = QFileDialog.getSaveFileName(
            self.window,
            f"Export PyTorch code (class {exported.class_name}; File ▸ Properties names it)",
            str(self._export_path("py")),
            "Python (*.py)",
        )
        if path:
            self._write_export(Path(path), lambda p: p.write_text(exported.source, "utf-8"))

    def verify(self) -> None:
        from designer.export.verify import TorchMissing, verify

        try:
            engine = self.document.engine
            exported = _exported(self.document)
            differences = verify(exported, engine.arch, engine)
        except pytorch.ExportError as error:
            QMessageBox.warning(
                self.window,
                "Cannot verify",
                "The design has errors:\n\n" + "\n".join(error.problems),
            )
            return
        except TorchMissing as error:
            QMessageBox.information(self.window, "PyTorch needed", str(error))
            return
        if differences:
            QMessageBox.warning(self.window, "PyTorch disagrees", "\n".join(differences))
        else:
            QMessageBox.information(
                self.window, "Verified", "PyTorch agrees on every node's shape and parameters."
            )

    def export_report(self, fmt: str) -> None:
        suffix = {"csv": "csv", "markdown": "md", "json": "json"}[fmt]
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Export report", str(self._export_path(suffix, "report"))
        )
        if path:
            text = report.render(self.document.engine, fmt, self.document.blocks())
            self._write_export(Path(path), lambda p: p.write_text(text, encoding="utf-8"))

    def export_picture(self, kind: str) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Export picture", str(self._export_path(kind))
        )
        if path:
            self._write_export(Path(path), lambda p: save_picture(self.window.scene, p))

    def _export_path(self, suffix: str, what: str = "") -> Path:
        """What an export is called at first: the design's name, beside its file."""
        document = self.document
        stem = window_parts.export_stem(document.top, document.path)
        beside = document.path if document.path and not is_example(document.path) else None
        folder = window_parts.export_folder(beside)
        return folder / f"{stem}{'-' + what if what else ''}.{suffix}"

    def _write_export(self, path: Path, write: Callable[[Path], object]) -> None:
        """Write one exported file; a failure is a warning, as Save's is, never a raise."""
        try:
            write(path)
        except OSError as error:
            QMessageBox.warning(
                self.window, "Cannot export", f"{path}\n\n{error.strerror or error}"
            )
            return
        self.window.statusBar().showMessage(f"Wrote {path}", 4000)

    def import_model(self) -> None:
        from designer.io import pytorch_import

        window = self.window
        dialog = ImportDialog(window)
        if dialog.exec() != QDialog.DialogCode.Accepted or not window.maybe_save():
            return
        try:
            file, class_name, shapes, arguments = dialog.request()
            sizes = [pytorch_import.parse_shape(s) for s in shapes]
            # torch runs in this thread: a busy cursor and a word, painted before it starts
            window.statusBar().showMessage(
                f"Importing {elide(class_name, 80)} from {elide(file.name, 80)}: "
                "running and tracing it with torch…"
            )
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            QApplication.processEvents()
            try:
                project = pytorch_import.import_project(file, class_name, sizes, arguments)
            finally:
                QApplication.restoreOverrideCursor()
                window.statusBar().clearMessage()
        except (ValueError, pytorch_import.ImportFailure) as error:
            QMessageBox.warning(window, "Cannot import", str(error))
            return
        window._replace(Document(project))  # the model's own classes as blocks


def save_picture(scene: DesignScene, path: Path) -> None:
    """The whole design as PNG (at twice screen resolution) or SVG; OSError where the
    file cannot be written.

    The picture is drawn into memory and written with Python's own file calls: Qt's
    writers only say false, or nothing at all, when a file cannot be opened.
    """
    with scene.picture():  # no selection, ports, hover cards, grid or unexplained marks
        _draw_picture(scene, path)


def _draw_picture(scene: DesignScene, path: Path) -> None:
    rect = scene.itemsBoundingRect().adjusted(-20, -20, 20, 20)
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    svg = path.suffix.lower() == ".svg"
    if svg:
        generator = QSvgGenerator()
        generator.setOutputDevice(buffer)
        generator.setSize(rect.size().toSize())
        generator.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
        painter = QPainter(generator)
    else:
        image = QImage(
            QSize(int(rect.width() * 2), int(rect.height() * 2)), QImage.Format.Format_ARGB32
        )
        image.fill(Qt.GlobalColor.white)
        painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    scene.render(painter, QRectF(), rect)
    painter.end()
    if not svg:
        written = {bytes(f.data()).decode().lower() for f in QImageWriter.supportedImageFormats()}
        suffix = path.suffix[1:].lower()
        fmt = suffix if suffix in written else "png"
        if not image.save(buffer, fmt):
            raise OSError(f"the picture could not be encoded as {fmt.upper()}")
    buffer.close()
    path.write_bytes(bytes(buffer.data().data()))


def _exported(document: Document, class_name: str | None = None) -> pytorch.ExportedModule:
    """The design as PyTorch source: a class per block where it has blocks (ExportError
    where it has errors)."""
    design = document.blocks()
    if design is None:
        return pytorch.export(document.arch, document.engine, class_name)
    return export_blocks(
        design.nodes, design.edges, design.library, document.engine, design.flat, class_name
    )
