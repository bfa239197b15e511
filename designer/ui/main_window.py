"""The main window: wiring of canvas, docks, menus and files. It holds no design logic;
what it does is call the Document, the dialogs and its helpers (blocks, exports, menus)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QByteArray, QPointF, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSpinBox,
    QUndoView,
    QVBoxLayout,
)

from designer.core.analysis import RUN_DTYPES, Settings
from designer.core.edits import AddNode, Compound, Place
from designer.core.graph import GraphError, NodeRecord
from designer.core.layout import layered_positions
from designer.core.params import ParamError
from designer.io.project import ProjectError
from designer.ui import autosave, clipboard, editing, menu_bar, style, window_parts
from designer.ui import document as document_module
from designer.ui import help as help_pages
from designer.ui.block_actions import BlockActions
from designer.ui.canvas.edge_item import EdgeItem
from designer.ui.canvas.minimap import Minimap
from designer.ui.canvas.scene import OVERLAYS, DesignScene
from designer.ui.canvas.view import CanvasView
from designer.ui.context_menus import CanvasMenus
from designer.ui.dialogs import DesignProperties, QuickInsert
from designer.ui.document import Document, describe
from designer.ui.examples import is_example, shipped_blocks
from designer.ui.export_actions import ExportActions
from designer.ui.find import FindBar
from designer.ui.panels.inspector import Inspector
from designer.ui.panels.palette import Palette
from designer.ui.panels.summary import SummaryView
from designer.ui.style import elide
from designer.ui.wording import totals_text

OVERLAY_TEXT = {None: "None", "params": "Params", "macs": "MACs", "memory": "Memory"}
AS_DESIGNED = "as designed"  # the dtype choice that keeps each tensor's own dtype
AUTOSAVE_MS = 60_000


class MainWindow(QMainWindow):
    def __init__(
        self, document: Document | None = None, autosaver: autosave.Autosaver | None = None
    ) -> None:
        super().__init__()
        self.setObjectName("MainWindow")
        self.document = document or Document()
        self._followed: Document | None = None
        self.autosaver = autosaver or autosave.Autosaver()
        self._autosave_failing = False  # said once until an autosave works again
        self.scene = DesignScene(self.document)
        self.canvas = CanvasView(self.scene)
        self.setCentralWidget(self.canvas)
        self.palette = Palette(self)
        self.inspector = Inspector(self.document, self)
        self.inspector.setMinimumWidth(340)  # room for error messages and tuple editors
        self.summary = SummaryView(self.document, self)
        self.minimap = Minimap(self.canvas)
        self.docks = [
            self._dock(self.palette, "Layers", Qt.DockWidgetArea.LeftDockWidgetArea),
            self._dock(self.inspector, "Inspector", Qt.DockWidgetArea.RightDockWidgetArea),
            self._dock(self.summary, "Summary", Qt.DockWidgetArea.BottomDockWidgetArea),
            self._dock(self.minimap, "Minimap", Qt.DockWidgetArea.LeftDockWidgetArea),
        ]
        self.docks[-1].hide()  # shown from View ▸ Minimap, for large designs
        self.find_bar = FindBar(self.canvas)
        self.block_actions = BlockActions(self)
        self.context_menus = CanvasMenus(self)
        self.shortcuts_dialog: help_pages.ShortcutsDialog | None = None  # made when first asked
        self.numbers_dialog: help_pages.NumbersDialog | None = None
        self.totals_label = QLabel(self)
        self.totals_label.setObjectName("totals")
        self.totals_label.setToolTip(help_pages.TOTALS_TIP)
        # a normal status bar widget: a message (Saved …, a refused edit) covers the totals
        # for its few seconds and shows in full, however long the totals are
        self.totals_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.statusBar().addWidget(self.totals_label, 1)
        self._settings_widgets()
        self._actions()
        menu_bar.fill_menu_bar(self)
        self._connect()
        self._follow(self.document)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.autosave_now)
        self.timer.start(AUTOSAVE_MS)
        self.resize(1400, 860)
        self._restore_layout()

    # construction ---------------------------------------------------------------------------

    def _dock(self, widget, title: str, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title.lower()}_dock")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _settings_widgets(self) -> None:
        self.batch = QSpinBox(self)
        self.batch.setObjectName("batch_size")
        self.batch.setRange(1, 65_536)
        self.batch.setPrefix("batch ")
        self.dtype = QComboBox(self)
        self.dtype.setObjectName("dtype")
        self.dtype.addItem(AS_DESIGNED, None)  # each tensor in its own dtype
        for dtype in RUN_DTYPES:
            self.dtype.addItem(dtype, dtype)
        self.dtype.setToolTip("the number format memory figures assume")
        self.statusBar().addPermanentWidget(self.batch)
        self.statusBar().addPermanentWidget(self.dtype)
        self.batch.valueChanged.connect(self._settings_changed)
        self.dtype.currentTextChanged.connect(self._settings_changed)

    def _action(self, text: str, slot, shortcut, name: str) -> QAction:
        return window_parts.window_action(self, text, slot, name, shortcut)

    def _actions(self) -> None:
        keys = QKeySequence.StandardKey
        self.new_action = self._action("&New", self.new, keys.New, "new")
        self.open_action = self._action("&Open…", self.open_dialog, keys.Open, "open")
        self.save_action = self._action("&Save", self.save, keys.Save, "save")
        self.save_as_action = self._action("Save &As…", self.save_as, keys.SaveAs, "save_as")
        self.quit_action = self._action("&Quit", self.close, keys.Quit, "quit")
        self.undo_action = self._action("&Undo", self.undo, keys.Undo, "undo")
        self.redo_action = self._action("&Redo", self.redo, keys.Redo, "redo")
        for action, key in ((self.undo_action, keys.Undo), (self.redo_action, keys.Redo)):
            action.setShortcuts(QKeySequence.keyBindings(key))  # Ctrl+Y and Ctrl+Shift+Z
            action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)  # from any field
        self.undo_keys = window_parts.DesignUndoKeys(self)
        self.properties_action = self._action(
            "P&roperties…", self.edit_properties, None, "properties"
        )
        self.direction_group = QActionGroup(self)
        self.direction_actions = {}
        for horizontal, text, name in (
            (False, "&Top to Bottom", "layout_top_to_bottom"),
            (True, "&Left to Right", "layout_left_to_right"),
        ):
            action = QAction(text, self, checkable=True)
            action.setObjectName(name)
            action.triggered.connect(
                lambda checked=False, horizontal=horizontal: self.set_direction(horizontal)
            )
            self.direction_group.addAction(action)
            self.direction_actions[horizontal] = action
        self.direction_actions[False].setChecked(True)
        self.cut_action = self._action("Cu&t", self.cut, keys.Cut, "cut")
        self.copy_action = self._action("&Copy", self.copy, keys.Copy, "copy")
        self.paste_action = self._action("&Paste", self.paste, keys.Paste, "paste")
        self.delete_action = self._action("&Delete", self.delete_selection, keys.Delete, "delete")
        self.delete_action.setShortcuts(
            [*QKeySequence.keyBindings(keys.Delete), QKeySequence("Backspace")]
        )
        self.select_all_action = self._action(
            "Select &All", self.select_all, keys.SelectAll, "select_all"
        )
        self.history_action = self._action("&History", self.show_history, None, "history")
        self.zoom_in_action = self._action(
            "Zoom &In", lambda: self.canvas.zoom(1.25), keys.ZoomIn, "zoom_in"
        )
        self.zoom_out_action = self._action(
            "Zoom &Out", lambda: self.canvas.zoom(0.8), keys.ZoomOut, "zoom_out"
        )
        self.fit_action = self._action(
            "&Fit to View", lambda: self.canvas.fit(whole=True), "Ctrl+0", "fit"
        )
        self.arrange_action = self._action("&Arrange", self.arrange, "Ctrl+L", "arrange")
        self.insert_action = self._action("&Insert Layer…", self.quick_insert, None, "insert")
        self.exports = ExportActions(self)  # File ▸ Import, Export and Verify
        self.overlay_group = QActionGroup(self)
        self.overlay_actions = {}
        for kind in (None, *OVERLAYS):
            action = QAction(OVERLAY_TEXT.get(kind, str(kind).capitalize()), self, checkable=True)
            action.setObjectName(f"overlay_{(kind or 'none').replace(' ', '_')}")
            action.triggered.connect(lambda checked=False, kind=kind: self.scene.set_overlay(kind))
            self.overlay_group.addAction(action)
            self.overlay_actions[kind] = action
        self.overlay_actions[None].setChecked(True)
        self.find_action = self._action("&Find…", self.find_bar.open_bar, keys.Find, "find")
        self.find_next_action = self._action("Find &Next", self.find_bar.next, "F3", "find_next")
        self.find_previous_action = self._action(
            "Find Pre&vious", self.find_bar.previous, "Shift+F3", "find_previous"
        )
        self.shortcuts_action = self._action(
            "&Keyboard Shortcuts", self.show_shortcuts, None, "shortcuts"
        )
        self.numbers_action = self._action(
            "What the &Numbers Mean", self.show_numbers, None, "numbers"
        )
        self.about_action = self._action("&About designer", self.show_about, None, "about")

    def _connect(self) -> None:
        self.palette.activated_type.connect(self.insert_after_selection)
        self.summary.node_activated.connect(self.canvas.centre_on)
        self.canvas.message.connect(self.say)
        self.canvas.quick_insert_requested.connect(self.quick_insert)

    def _follow(self, document: Document) -> None:
        """Point every view at `document`."""
        self.document = document
        horizontal = editing.runs_sideways(document.arch)
        self.scene.horizontal = horizontal  # read as the items are made
        self.direction_actions[horizontal].setChecked(True)
        self.scene.set_document(document)
        self.inspector.set_document(document)
        self.summary.set_document(document)
        self.minimap.set_document(document)
        if self._followed is not None:
            self._followed.analysis_changed.disconnect(self._update_totals)
            self._followed.undo_stack.cleanChanged.disconnect(self._update_modified)
            self._followed.path_changed.disconnect(self._update_title)
            self._followed.undo_stack.indexChanged.disconnect(self._update_title)
            self._followed.problem.disconnect(self.say)
            self._followed.scope_changed.disconnect(self._show_scope)
            self._followed.blocks_changed.disconnect(self._list_blocks)
        self._followed = document
        document.analysis_changed.connect(self._update_totals)
        document.undo_stack.cleanChanged.connect(self._update_modified)
        document.path_changed.connect(self._update_title)
        document.undo_stack.indexChanged.connect(self._update_title)  # the design's name
        document.problem.connect(self.say)
        document.scope_changed.connect(self._show_scope)
        document.blocks_changed.connect(self._list_blocks)
        self.block_actions.update()
        self._list_blocks()
        self.batch.blockSignals(True)
        self.batch.setValue(document.settings.batch_size)
        self.batch.blockSignals(False)
        self.dtype.blockSignals(True)
        self.dtype.setCurrentIndex(self.dtype.findData(document.settings.dtype))
        self.dtype.blockSignals(False)
        self._update_totals()
        self._update_title()
        self.canvas.fit()

    def _show_scope(self) -> None:
        """Another scope on the canvas (a block opened, or the way back): every view
        follows it."""
        document = self.document
        self.scene.set_document(document)
        self.inspector.set_document(document)
        self.summary.set_document(document)
        self.minimap.set_document(document)
        self.block_actions.update()
        self._list_blocks()
        self._update_totals()
        self.canvas.fit()

    def _list_blocks(self) -> None:
        ours = self.document.block_ids()
        shipped = [b for b in sorted(shipped_blocks()) if b not in ours]
        self.palette.set_blocks(ours, bool(self.document.trail), shipped)

    # status -------------------------------------------------------------------------------------

    def say(self, text: str, timeout: int = 6000) -> None:
        """A one-line message in the status bar (clipped: a message can quote a name)."""
        self.statusBar().showMessage(elide(" ".join(text.split()), 300), timeout)

    def _update_totals(self, *_: object) -> None:
        self.totals_label.setText(totals_text(self.document.totals()))

    def _update_title(self, *_: object) -> None:
        document = self.document
        if document.path is not None:
            copy = is_example(document.path)  # Save asks where
            name = f"{document.path.name} (example copy)" if copy else document.path.name
        else:
            name = window_parts.named(document.top) or window_parts.UNTITLED
        self.setWindowTitle(f"{name}[*] — designer")
        self.setWindowModified(self.document.modified)

    def _update_modified(self, clean: bool) -> None:
        """From the undo stack's own signal, which can come while it is being destroyed."""
        self.setWindowModified(not clean)

    def _settings_changed(self, *_: object) -> None:
        self.document.set_settings(Settings(self.batch.value(), self.dtype.currentData()))
        self._update_totals()

    # files --------------------------------------------------------------------------------------

    def new(self) -> None:
        if self.maybe_save():
            self._replace(Document())

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open design", str(self.recent_menu.folder()), "Designs (*.nnd);;All files (*)"
        )
        if path:
            self.open_path(Path(path))

    def open_path(self, path: Path) -> bool:
        """Open a file; a file that cannot be read shows why and changes nothing."""
        if not self.maybe_save():
            return False
        try:
            with _collector_paused():
                project = document_module.load(path)  # as Document.open reads it
                opened = Document(project, path)
        except ProjectError as error:
            problems = [elide(p, 300) for p in error.problems[:20]]
            more = len(error.problems) - len(problems)
            problems += [f"… and {more} more"] if more > 0 else []
            QMessageBox.warning(self, "Cannot open", f"{path}\n\n" + "\n".join(problems))
            return False
        except Exception as error:  # noqa: BLE001 (reading or analysing it raised anything else)
            QMessageBox.warning(self, "Cannot open", f"{path}\n\n{describe(error)}")
            return False
        with _collector_paused():
            self._replace(opened)
        self.recent_menu.remember(path)
        return True

    def _replace(self, document: Document) -> None:
        self.autosaver.discard()
        replaced = self.document
        self._follow(document)
        self._fall_silent(replaced)

    def save(self) -> bool:
        """Save to the design's file; a new design, or a shipped example (opened as a
        copy), asks where."""
        if self.document.path is None or is_example(self.document.path):
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        """Ask where: the file's own folder and name, or for a new design (or a shipped
        example) the folder last used and the design's name."""
        current = self.document.path
        if current is not None and not is_example(current):
            start = str(current)
        else:
            stem = current.stem if current is not None else "untitled"
            if window_parts.named(self.document.top):
                stem = window_parts.export_stem(self.document.top, current)
            start = str(self.recent_menu.folder() / f"{stem}.nnd")
        path, _ = QFileDialog.getSaveFileName(self, "Save design", start, "Designs (*.nnd)")
        if not path:
            return False
        path = Path(path) if path.endswith(".nnd") else Path(path + ".nnd")
        return self._save_to(path)

    def _save_to(self, path: Path) -> bool:
        try:
            self.document.save(path)
        except OSError as error:
            QMessageBox.warning(self, "Cannot save", f"{path}\n\n{error.strerror or error}")
            return False
        self.autosaver.discard()
        self.recent_menu.remember(path)
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def maybe_save(self) -> bool:
        """Ask before unsaved work is dropped: True to go on."""
        if not self.document.modified:
            return True
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            "The design has unsaved changes. Save them?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def autosave_now(self) -> bool:
        """Write (or, with nothing unsaved, drop) this session's autosave. A folder that
        cannot be written is said once in the status bar and tried again next time."""
        if not self.document.modified:
            self.autosaver.discard()
            return True
        document = self.document
        try:
            self.autosaver.write(document.snapshot, document.path)
        except OSError as error:
            if not self._autosave_failing:
                self._autosave_failing = True
                self.say(
                    f"Autosave failed ({describe(error)}: {self.autosaver.folder}); "
                    "trying again every minute",
                    30_000,
                )
            return False
        if self._autosave_failing:
            self._autosave_failing = False
            self.say("Autosave works again", 4000)
        return True

    def offer_recovery(self) -> None:
        """After a crash, offer the unsaved work it left behind, one design at a time:
        restored, kept for the next start, or discarded."""
        buttons = QMessageBox.StandardButton
        for recovery in autosave.leftovers(self.autosaver.folder, self.autosaver.session):
            where = recovery.original or "an unsaved design"
            answer = QMessageBox.question(
                self,
                "Recover unsaved work",
                f"designer closed without saving changes to {where}. Restore them?\n\n"
                "No keeps them for the next start; Discard deletes them.",
                buttons.Yes | buttons.No | buttons.Discard,
                buttons.Yes,
            )
            if answer == buttons.Discard:
                autosave.forget(recovery)
                continue
            if answer != buttons.Yes or not self.maybe_save():
                continue
            try:
                document = Document(recovery.load(), recovery.original)
            except Exception as error:  # noqa: BLE001 (an unreadable autosave is said and kept)
                problems = getattr(error, "problems", None) or [describe(error)]
                QMessageBox.warning(
                    self,
                    "Cannot recover",
                    f"{recovery.snapshot}\n\n{elide(problems[0], 300)}\n\n"
                    "The autosave is left where it is.",
                )
                continue
            self._replace(document)
            document.undo_stack.resetClean()
            self._update_title()
            if self.autosave_now():  # this session holds the work now: the old copy goes
                self.autosaver.adopt(recovery)
            return  # the others wait for the next start: one design per window

    def _restore_layout(self) -> None:
        settings = QSettings()
        geometry, state = settings.value("geometry"), settings.value("state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        settings = QSettings()
        settings.setValue("geometry", self.saveGeometry())
        settings.setValue("state", self.saveState())
        self.autosaver.discard()
        self._fall_silent(self.document)
        self.scene.blockSignals(True)
        event.accept()

    @staticmethod
    def _fall_silent(document: Document) -> None:
        """A document the window lets go of (and, as the window closes, its canvas) says
        nothing more and drops its undo steps now, while Qt is whole. Freed later by
        Python's collector, in any order, the stack deleted steps already freed, and items
        told a half-freed scene that the selection changed: crashes at exit."""
        document.undo_stack.blockSignals(True)
        document.blockSignals(True)
        document.undo_stack.clear()

    # editing ------------------------------------------------------------------------------------

    def _push(self, edit) -> bool:
        try:
            return self.document.push(edit)
        except (GraphError, ParamError) as error:
            self.say(str(error))
        except Exception as error:  # noqa: BLE001 (a bug somewhere: said, not raised out of a slot)
            self.say(f"{edit.text} failed: {describe(error)}")
        return False

    def insert_after_selection(self, type_name: str) -> None:
        """Add a layer (or an instance of a block, from the block library too) below the
        selected node and feed it from there."""
        try:
            with self.document.bringing_block(type_name):
                self._insert_after_selection(type_name)
        except GraphError as error:  # the library's block clashes with one of the design's
            self.say(f"Not added: {describe(error)}")

    def _insert_after_selection(self, type_name: str) -> None:
        document = self.document
        arch = document.arch
        selected = document.selected()
        after = selected[0] if selected else None
        horizontal = self.scene.horizontal
        node_id = document.new_node_id(type_name)
        try:
            spec = arch.spec_of(type_name)
            record = NodeRecord(node_id, type_name, spec.starting_params())
            if after is not None:  # spliced in: after → new → what after fed
                edit = editing.insert_after(arch, after, record, horizontal)
            else:  # in the middle of the view, clear of the nodes there
                centre = self.canvas.mapToScene(self.canvas.viewport().rect().center())
                x, y = centre.x() - style.NODE_WIDTH / 2, centre.y() - style.NODE_HEIGHT / 2
                pos = editing.clear_spot(x, y, editing.boxes(arch), horizontal)
                edit = Compound([AddNode(replace(record, pos=pos))], f"Add {type_name}")
        except (GraphError, ParamError, KeyError) as error:
            self.say(str(error))
            return
        if not self._push(edit):
            return
        document.select([node_id])
        self.canvas.centre_on(node_id)

    def quick_insert(self) -> None:
        dialog = QuickInsert(self, self.document.arch.catalog)
        chosen = dialog.chosen() if dialog.exec() == QDialog.DialogCode.Accepted else None
        if chosen:
            self.insert_after_selection(chosen)

    def delete_selection(self) -> None:
        """Selected nodes (with their edges) and selected edges, as one undo step. A
        removed layer that took one input leaves its chain joined: what it fed is fed by
        what fed it (`editing.delete`), and the status bar says so."""
        chosen = {item for item in self.scene.selectedItems() if isinstance(item, EdgeItem)}
        edges = [edge for edge, item in self.scene.edges.items() if item in chosen]
        edit, joins = editing.delete(self.document.arch, self.document.selected(), edges)
        if edit.parts and self._push(edit) and joins:
            shown = ", ".join(f"{elide(j.source, 40)} → {elide(j.target, 40)}" for j in joins[:3])
            more = f" and {len(joins) - 3} more" if len(joins) > 3 else ""
            self.say(f"Deleted; reconnected {shown}{more} (Undo puts it back)", 6000)

    def select_all(self) -> None:
        self.document.select(self.document.arch.file_order())

    def copy(self) -> bool:
        """The selection onto the clipboard; False where nothing was copied."""
        selected = self.document.selected()
        if not selected:
            return False
        try:
            text = clipboard.fragment(self.document.arch, selected, self.document.library())
        except ValueError as error:
            self.say(f"Not copied: {describe(error)}", 6000)
            return False
        clipboard.put_on_clipboard(text)
        return True

    def cut(self) -> None:
        if self.copy():
            self.delete_selection()

    def paste(self, at: QPointF | None = None) -> list[str]:
        """The clipboard's nodes (with the blocks their instances need), as one step: with
        their top left at `at`, or else just below and right of where they were, clear of
        the nodes there. The ids pasted, which are selected."""
        document = self.document
        try:
            pasted = clipboard.paste_edit(
                clipboard.clipboard_text(),
                document.new_node_id,
                editing.boxes(document.arch),
                self.scene.horizontal,
                None if at is None else (at.x(), at.y()),
            )
        except Exception as error:  # noqa: BLE001 (the loader's, a decoding error, anything: said)
            self.say(f"Cannot paste: {describe(error)}")
            return []
        if pasted is None:
            self.say("The clipboard holds no layers", 4000)
            return []
        try:
            if pasted.library is None:
                pushed = self._push(pasted.edit)
            else:  # with the blocks it needs and the design lacks: one step
                with document.bringing_blocks(pasted.library, pasted.block_ids, "Paste"):
                    pushed = self._push(pasted.edit)
        except GraphError as error:  # a block of the fragment clashes with one of the design's
            self.say(f"Not pasted: {describe(error)}")
            return []
        if not pushed:
            return []
        document.select(pasted.node_ids)
        return pasted.node_ids

    def arrange(self) -> None:
        positions = layered_positions(self.document.arch.graph)
        if self.scene.horizontal:
            positions = editing.sideways(positions)
        self._push(Place(positions, "Arrange"))
        self.scene.settle()  # every edge routed round the nodes in their new places
        self.canvas.fit()

    def set_direction(self, horizontal: bool) -> None:
        """Lay the graph out top to bottom or left to right (View ▸ Layout Direction): the
        ports move to the nodes' sides and the graph is arranged that way (one step)."""
        self.direction_actions[horizontal].setChecked(True)
        if horizontal != self.scene.horizontal:
            self.scene.set_horizontal(horizontal)
            self.arrange()

    def undo(self) -> None:
        window_parts.commit_focused_field()  # a half-typed field is an edit first
        self.document.undo_stack.undo()

    def redo(self) -> None:
        window_parts.commit_focused_field()
        self.document.undo_stack.redo()

    def edit_properties(self) -> None:
        """File ▸ Properties: the design's name (one undo step), which exports use."""
        document = self.document
        name = window_parts.named(document.top) or ""
        dialog = DesignProperties(name, document.path, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        text = " ".join(dialog.name.text().split())
        if text and text != document.top.name:
            if document.trail:  # the name is the top level's
                document.go_up(0)
            self._push(window_parts.RenameDesign(text))
            self._update_title()

    def show_history(self) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle("History")
        layout = QVBoxLayout(dialog)
        view = QUndoView(self.document.undo_stack, dialog)
        view.setObjectName("history")
        layout.addWidget(view)
        dialog.resize(320, 420)
        dialog.show()

    # help ---------------------------------------------------------------------------------------

    def show_shortcuts(self) -> None:
        if self.shortcuts_dialog is None:
            self.shortcuts_dialog = help_pages.ShortcutsDialog(self.menuBar(), self)
        self.shortcuts_dialog.show()
        self.shortcuts_dialog.raise_()

    def show_numbers(self) -> None:
        if self.numbers_dialog is None:
            self.numbers_dialog = help_pages.NumbersDialog(self)
        self.numbers_dialog.show()
        self.numbers_dialog.raise_()

    def show_about(self) -> None:
        box = QMessageBox(self)
        box.setObjectName("about")
        box.setWindowTitle("About designer")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(help_pages.about_text())
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.about_box = box
        box.open()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a design is read and its items made:
    they are hundreds of thousands of new objects and no cycles, and each full collection
    walks every object there is (a quarter of a 50,000-node open went to it)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
