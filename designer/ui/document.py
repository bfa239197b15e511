"""The open design as the window sees it: the Architecture, its live analysis, the undo
stack, the file it belongs to, and which nodes are selected.

Widgets never change the Architecture themselves: they `push` a core Edit, which becomes
one QUndoCommand, and they redraw from the signals. The Document holds no widget.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from designer.core.analysis import NodeResult, Settings, Totals
from designer.core.edits import Edit
from designer.core.graph import Architecture
from designer.core.layout import layered_positions
from designer.core.propagate import Engine
from designer.io.project import Project, dumps, load, save
from designer.ui.style import elide


class EditCommand(QUndoCommand):
    """A core Edit on the undo stack. It is applied before it is pushed (so a refused edit
    never reaches the stack), hence the first redo, which Qt calls on push, is skipped."""

    def __init__(self, document: Document, edit: Edit) -> None:
        super().__init__(elide(edit.text))  # History lists it: an id can be a megabyte
        self._document = document
        self._edit = edit
        self._applied = True

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self._edit.apply(self._document.arch)
        self._document.refresh_or_recover()

    def undo(self) -> None:
        self._edit.revert(self._document.arch)
        self._document.refresh_or_recover()


class Document(QObject):
    graph_changed = Signal(
        object
    )  # a core Change: nodes or edges added/removed, params, names, positions
    analysis_changed = Signal(object)  # set of node ids whose results changed or went away
    selection_changed = Signal(list)  # the selected node ids
    path_changed = Signal(object)  # Path or None
    problem = Signal(str)  # something went wrong that the user should hear of (one line)

    def __init__(self, project: Project | None = None, path: Path | None = None) -> None:
        super().__init__()
        project = project or Project(Architecture("Untitled"))
        self.arch = project.arch
        self.extras = project.extras
        self.path = path
        self._place_unplaced()
        self.engine = Engine(self.arch)
        self.engine.refresh()
        self.undo_stack = QUndoStack(self)
        self._selection: list[str] = []
        self.arch.subscribe(self.graph_changed.emit)

    def _place_unplaced(self) -> None:
        """Files without positions (hand-written, imported) open laid out in layers; this
        is how the file is read, not an edit, so it is not an undo step."""
        unplaced = [n for n, pos in self.arch.graph.nodes(data="pos") if pos is None]
        if unplaced:
            layout = layered_positions(self.arch.graph)  # the layout reads networkx itself
            for node_id in unplaced:
                self.arch.move(node_id, layout[node_id])

    @classmethod
    def open(cls, path: Path) -> Document:
        """Load a file (ProjectError if it cannot be read; nothing else changes)."""
        return cls(load(path), path)

    # editing ------------------------------------------------------------------------------

    def push(self, edit: Edit) -> bool:
        """Apply an edit as one undo step. GraphError or ParamError if refused, and then
        nothing has changed. An edit whose analysis fails is reverted, `problem` says so
        and False is returned: the design and the undo stack never disagree."""
        edit.apply(self.arch)
        try:
            self.refresh()
        except Exception as error:  # noqa: BLE001 (any failure of the analysis reverts the edit)
            try:
                edit.revert(self.arch)
            finally:
                self._reanalyse()
            self.problem.emit(
                f"{elide(edit.text)} was undone: the analysis failed ({describe(error)})"
            )
            return False
        self.undo_stack.push(EditCommand(self, edit))
        return True

    def refresh_or_recover(self) -> None:
        """`refresh` after an undo or a redo; if it fails, analyse everything again and
        say so (the step itself is done: the design is what the stack says)."""
        try:
            self.refresh()
        except Exception as error:  # noqa: BLE001 (any failure: analysed again from scratch)
            self._reanalyse()
            self.problem.emit(f"The analysis failed and was redone ({describe(error)})")

    def _reanalyse(self) -> None:
        """Every node analysed again after a failed refresh, which may have stopped half
        way; every view hears that every result may have changed."""
        engine = self.engine
        gone = {n for n in engine.results if n not in self.arch}
        for node_id in gone:
            del engine.results[node_id]
        engine.set_settings(engine.settings)  # marks every node for evaluation
        try:
            engine.refresh()
        finally:
            self.analysis_changed.emit(set(self.arch.graph) | gone)
            kept = [n for n in self._selection if n in self.arch]
            if kept != self._selection:
                self._selection = kept
                self.selection_changed.emit(list(kept))

    def refresh(self) -> None:
        changed = self.engine.refresh()
        if changed:
            self.analysis_changed.emit(changed)
        kept = [n for n in self._selection if n in self.arch]
        if kept != self._selection:  # removed nodes leave the selection, and views hear of it
            self._selection = kept
            self.selection_changed.emit(list(kept))

    def new_node_id(self, type_name: str, taken: set[str] = frozenset()) -> str:
        """conv2d_1, conv2d_2, …: the first id for a layer type that is free in the design
        and not among `taken` (ids handed out for nodes not added yet)."""
        stem = type_name.lower()
        candidates = (f"{stem}_{i}" for i in itertools.count(1))
        return next(c for c in candidates if c not in self.arch and c not in taken)

    def set_settings(self, settings: Settings) -> None:
        self.engine.set_settings(settings)
        self.refresh_or_recover()

    # reading ------------------------------------------------------------------------------

    def result(self, node_id: str) -> NodeResult:
        return self.engine.results[node_id]

    def totals(self) -> Totals:
        return self.engine.totals()

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    # selection ----------------------------------------------------------------------------

    def selected(self) -> list[str]:
        return list(self._selection)

    def select(self, node_ids: list[str]) -> None:
        node_ids = [n for n in node_ids if n in self.arch]
        if node_ids != self._selection:
            self._selection = node_ids
            self.selection_changed.emit(list(node_ids))

    # files --------------------------------------------------------------------------------

    def save(self, path: Path | None = None) -> None:
        """Write the file (OSError if it cannot be written) and mark the stack clean."""
        target = path or self.path
        if target is None:
            raise ValueError("no file to save to: use save(path)")
        save(target, self.arch, self.extras)
        self.undo_stack.setClean()
        if target != self.path:
            self.path = target
            self.path_changed.emit(target)

    def snapshot(self) -> str:
        """The design as file text, for autosave."""
        return dumps(self.arch, self.extras)


def describe(error: BaseException, limit: int = 300) -> str:
    """An exception in one short line: its message (an OSError's reason), else its type."""
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
