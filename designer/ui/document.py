"""The open design as the window sees it: the Architecture, its live analysis, the undo
stack, the file it belongs to, and which nodes are selected.

Widgets never change the Architecture themselves: they `push` a core Edit, which becomes
one QUndoCommand, and they redraw from the signals. The Document holds no widget.

A design with blocks (designer.core.block_editing) is edited one scope at a time: `arch`
is the scope on the canvas (the top level, or a block opened from an instance, `trail`
saying how), and edits are pushed as InScope steps, so undo returns to the scope they
changed. After each edit the design is flattened and analysed afresh (about 10 ms for a
ResNet-152), and `results` holds what the shown scope's nodes see. A plain design is
analysed in place, edit by edit, as it always was.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from designer.core.analysis import NodeResult, Settings, Totals
from designer.core.block_editing import ScopedDesign, copy_path, members, scope_results
from designer.core.block_edits import (
    AddBlocks,
    DesignEdit,
    InScope,
    SetBlockDefaults,
    Steps,
    group_into_block,
    needed_blocks,
    new_block_id,
    ungroup,
)
from designer.core.block_flatten import Flat
from designer.core.blocks import Library, join
from designer.core.edits import Compound, Edit, Move, Place
from designer.core.graph import Architecture, GraphError
from designer.core.layout import layered_positions
from designer.core.propagate import Engine
from designer.io.project import Project, dumps, load, save
from designer.io.project_format import BlockDesign
from designer.ui.examples import shipped_blocks
from designer.ui.style import elide


class EditCommand(QUndoCommand):
    """A core Edit on the undo stack. It is applied before it is pushed (so a refused edit
    never reaches the stack), hence the first redo, which Qt calls on push, is skipped.

    It holds its document weakly: the stack that owns it is the document's, and a command
    in a reference cycle with its document could be freed by Python's collector before the
    stack, which then deletes it a second time (a crash when a replaced document goes)."""

    def __init__(self, document: Document, edit: Edit | DesignEdit) -> None:
        super().__init__(elide(edit.text))  # History lists it: an id can be a megabyte
        self._document = weakref.ref(document)
        self._edit = edit
        self._applied = True

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self._replay(forward=True)

    def undo(self) -> None:
        self._replay(forward=False)

    def _replay(self, forward: bool) -> None:
        document = self._document()
        if document is not None:
            document.replay(self._edit, forward)


@dataclass(frozen=True)
class Opened:
    """A block opened on the canvas: from its instance `label` in the scope before it, or
    (`label` None) on its own, from an undo step, and then seen from its first use."""

    block: str
    label: str | None = None


class Document(QObject):
    graph_changed = Signal(
        object
    )  # a core Change: nodes or edges added/removed, params, names, positions
    analysis_changed = Signal(object)  # set of node ids whose results changed or went away
    selection_changed = Signal(list)  # the selected node ids
    path_changed = Signal(object)  # Path or None
    problem = Signal(str)  # something went wrong that the user should hear of (one line)
    scope_changed = Signal()  # another scope is shown, or the design took blocks: redraw all
    blocks_changed = Signal()  # a block came or went: the palette lists them

    def __init__(self, project: Project | None = None, path: Path | None = None) -> None:
        super().__init__()
        project = project or Project(Architecture("Untitled"))
        self.extras = project.extras
        self.path = path
        self.design: ScopedDesign | None = None
        self.trail: list[Opened] = []  # the blocks opened, from the top level in
        self._shown: dict[str, NodeResult] = {}  # with blocks: what the shown nodes see
        self._library: Library | None = None  # with blocks: the blocks, and the design
        self._flat: Flat | None = None  # flattened, as last analysed
        self.engine = Engine(project.arch)  # with blocks, it analyses the flat design
        blocks = project.blocks
        if blocks is None:
            self.arch = project.arch
        else:
            design = ScopedDesign.from_members(
                project.arch.name, blocks.nodes, blocks.edges, blocks.library
            )
            self.design, self.arch, self._flat = design, design.top, blocks.flat
        for scope in [self.arch] if self.design is None else self.design.scopes():
            _place_unplaced(scope)
        self.engine.refresh()
        if self.design is not None:
            self._library = self.design.library()  # with the places just given
            self._shown.update(self._scope_results())
        self.undo_stack = QUndoStack(self)
        self._selection: list[str] = []
        self._bringing: tuple[AddBlocks, str] | None = None  # see `bringing_blocks`
        self.arch.subscribe(self.graph_changed.emit)

    @classmethod
    def open(cls, path: Path) -> Document:
        """Load a file (ProjectError if it cannot be read; nothing else changes)."""
        return cls(load(path), path)

    # editing ------------------------------------------------------------------------------

    def push(self, edit: Edit | DesignEdit) -> bool:
        """Apply an edit as one undo step. GraphError or ParamError if refused, and then
        nothing has changed. An edit whose analysis fails is reverted, `problem` says so
        and False is returned: the design and the undo stack never disagree. A DesignEdit
        (a new block) gives a plain design blocks."""
        taken = isinstance(edit, DesignEdit) and self.design is None
        if taken:
            self._take_blocks()
        step = self._step(edit)
        if self._bringing is not None:  # blocks being brought in come with it, one step
            bring, label = self._bringing
            self._bringing = None
            bring.revert(self.design)
            step = Steps([bring, step], label)
        target = self._target()
        try:
            step.apply(target)
        except Exception:
            if taken:  # refused: the design is as plain as it was
                self._drop_blocks()
            raise
        try:
            self.refresh(step)
        except Exception as error:  # noqa: BLE001 (any failure of the analysis reverts the edit)
            try:
                step.revert(target)
            finally:
                self._reanalyse()
            self.problem.emit(
                f"{elide(edit.text)} was undone: the analysis failed ({describe(error)})"
            )
            if taken:
                self._drop_blocks()
            return False
        self.undo_stack.push(EditCommand(self, step))
        if isinstance(step, (Steps, AddBlocks)):
            self.blocks_changed.emit()
        return True

    def replay(self, step: Edit | DesignEdit, forward: bool) -> None:
        """Redo (`forward`) or undo a step of the stack, showing the scope it changes."""
        scope = _scope_of(step)
        if self.design is not None and scope is not None and scope != self.scope:
            self._show_scope(scope)
        target = self._target()
        if isinstance(step, Edit) and self.design is not None:
            step = InScope("", step)  # pushed before the design took blocks
        (step.apply if forward else step.revert)(target)
        if self.design is not None and any(o.block not in self.design.blocks for o in self.trail):
            self._show([])  # the block shown is gone: back to the top level
        self.refresh_or_recover(step)
        if isinstance(step, (Steps, AddBlocks)):
            self.blocks_changed.emit()

    def _step(self, edit: Edit | DesignEdit) -> Edit | DesignEdit:
        """What the stack holds for `edit`: with blocks, an edit of the shown scope."""
        if self.design is None or isinstance(edit, DesignEdit):
            return edit
        return InScope(self.scope, edit)

    def _target(self) -> Architecture | ScopedDesign:
        return self.arch if self.design is None else self.design

    def _take_blocks(self) -> None:
        """The plain design becomes one with blocks (its first block is coming): analysed
        flattened from now on; the views, which read the plain engine's results, redraw."""
        self.design = ScopedDesign.of(self.arch)
        self._analyse()
        self.scope_changed.emit()

    def _drop_blocks(self) -> None:
        """Back to a plain design, analysed in place again: its first block was refused."""
        assert self.design is not None and not self.design.blocks
        self.arch.catalog = self.design.catalog.layers
        self.design, self._library, self._flat = None, None, None
        self._shown.clear()
        self.engine.close()
        self.engine = Engine(self.arch, self.engine.settings)
        self.engine.refresh()
        self.scope_changed.emit()

    def refresh_or_recover(self, step: Edit | DesignEdit | None = None) -> None:
        """`refresh` after an undo or a redo; if it fails, analyse everything again and
        say so (the step itself is done: the design is what the stack says)."""
        try:
            self.refresh(step)
        except Exception as error:  # noqa: BLE001 (any failure: analysed again from scratch)
            self._reanalyse()
            self.problem.emit(f"The analysis failed and was redone ({describe(error)})")

    def _reanalyse(self) -> None:
        """Every node analysed again after a failed refresh, which may have stopped half
        way; every view hears that every result may have changed."""
        if self.design is not None:
            try:
                self._analyse()
            except Exception as error:  # noqa: BLE001 (the design as it stands: no numbers)
                self._shown.clear()
                self.problem.emit(f"The design cannot be analysed ({describe(error)})")
            finally:
                self.analysis_changed.emit(set(self.arch.graph))
                self._keep_present_selection()
            return
        engine = self.engine
        gone = {n for n in engine.results if n not in self.arch}
        for node_id in gone:
            del engine.results[node_id]
        engine.set_settings(engine.settings)  # marks every node for evaluation
        try:
            engine.refresh()
        finally:
            self.analysis_changed.emit(set(self.arch.graph) | gone)
            self._keep_present_selection()

    def refresh(self, step: Edit | DesignEdit | None = None) -> None:
        """The analysis brought up to date after `step` (None: after anything). With blocks
        the design is flattened and analysed afresh, except after a step that only moves
        nodes: the blocks are read back for their places, and nothing else changed."""
        if self.design is not None and step is not None and _moves_only(step):
            self._library = self.design.library()
            return
        changed = self.engine.refresh() if self.design is None else self._analyse()
        if changed:
            self.analysis_changed.emit(changed)
        self._keep_present_selection()

    def _keep_present_selection(self) -> None:
        """Removed nodes leave the selection, and views hear of it."""
        kept = [n for n in self._selection if n in self.arch]
        if kept != self._selection:
            self._selection = kept
            self.selection_changed.emit(list(kept))

    def _analyse(self) -> set[str]:
        """With blocks: the design flattened and analysed afresh (BlockError if refused,
        and then nothing changes); the shown nodes whose results changed."""
        assert self.design is not None
        library, flat = self.design.flatten()
        engine = Engine(flat.architecture(self.design.top.name), self.engine.settings)
        engine.refresh()
        self.engine.close()
        self.engine, self._library, self._flat = engine, library, flat
        found = self._scope_results()
        changed = {
            n for n in self._shown.keys() | found.keys() if self._shown.get(n) != found.get(n)
        }
        self._shown.clear()
        self._shown.update(found)
        return changed

    def _scope_results(self) -> dict[str, NodeResult]:
        return scope_results(self.arch, self.shown_path, self._flat, self.engine.results)

    # blocks -------------------------------------------------------------------------------

    @property
    def scope(self) -> str:
        """The block on the canvas ('' for the top level)."""
        return self.trail[-1].block if self.trail else ""

    def group(self, node_ids: list[str]) -> bool:
        """The nodes moved into a new block, an instance in their place (selected): one
        undo step. GraphError if they cannot be grouped."""
        taken = self.design is None
        if taken:
            self._take_blocks()
        assert self.design is not None
        block_id = new_block_id(self.design)
        try:
            edit = group_into_block(self.design, self.scope, node_ids, block_id)
        except GraphError:
            if taken:
                self._drop_blocks()
            raise
        if not self.push(edit):
            return False
        self.select([n for n in self.arch.graph if self.arch.type_of(n) == block_id])
        return True

    def ungroup(self, node_id: str) -> bool:
        """An instance replaced by its block's layers (selected): one undo step."""
        if self.design is None or self.arch.type_of(node_id) not in self.design.blocks:
            raise GraphError(f"{node_id} is not an instance of a block")
        before = set(self.arch.graph)
        if not self.push(ungroup(self.design, self.scope, node_id)):
            return False
        self.select(sorted(set(self.arch.graph) - before))
        return True

    @contextmanager
    def bringing_block(self, type_name: str) -> Iterator[None]:
        """A block of the shipped library (designer.ui.examples.shipped_blocks) that the
        design lacks, brought in with the blocks it holds, and what the caller adds then
        (its instance), as one undo step; any other type passes through."""
        library = shipped_blocks().get(type_name)
        if library is None or type_name in self.arch.catalog:
            yield
            return
        with self.bringing_blocks(library, [type_name], f"Add {type_name}"):
            yield

    @contextmanager
    def bringing_blocks(self, library: Library, block_ids: list[str], label: str) -> Iterator[None]:
        """The blocks of `library` that instances of `block_ids` need and the design
        lacks, known while the caller builds its edit and pushes it; that push then adds
        them and the edit as one undo step named `label`, all or nothing: where it fails,
        or the caller pushes nothing, the design is as it was. The design takes blocks
        (and repeats) for it. GraphError (nothing changed) where the design has a block
        of one of those names that differs."""
        taken = self.design is None
        if taken:
            self._take_blocks()
        assert self.design is not None
        start = self.undo_stack.index()
        try:
            needed = needed_blocks(self.design, library, block_ids)
            bring = AddBlocks(needed) if needed else None
            if bring is not None:
                bring.apply(self.design)  # for the caller's edit to read their types
                self._bringing = (bring, label)
            yield
        finally:
            if self._bringing is not None:  # the caller pushed nothing: they go again
                self._bringing[0].revert(self.design)
                self._bringing = None
            if taken and self.undo_stack.index() == start:
                self._drop_blocks()

    def block_defaults(self) -> dict[str, Any]:
        """The open block's params and their defaults (none at the top level)."""
        if self.design is None or not self.trail:
            return {}
        return dict(self.design.blocks[self.scope].defaults)

    def is_instance(self, node_id: str) -> bool:
        return self.design is not None and self.arch.type_of(node_id) in self.design.blocks

    @property
    def shown_path(self) -> str | None:
        """Where the shown scope's numbers are read in the flat design: the path of the
        instance it was opened from ('' at the top level, a repeated one's first copy;
        None where no instance uses the block). Worked out again from the trail after
        each edit, so a changed repeat count never leaves it stale."""
        path: str | None = ""
        for opened in self.trail:
            if opened.label is None:
                uses = (i.path for i in self._flat.instances.values() if i.type == opened.block)
                path = next(uses, None)
            elif path is not None:
                path = join(path, opened.label)
            if path is not None:
                path = copy_path(self._flat, path)
        return path

    def open_instance(self, node_id: str) -> None:
        """Show the inside of the instance `node_id` of the shown scope, with its numbers."""
        assert self.design is not None
        self._show([*self.trail, Opened(self.arch.type_of(node_id), node_id)])

    def open_block(self, block_id: str) -> None:
        """Show a block's inside, from the top level, with the numbers of its first use."""
        self._show([Opened(block_id)])

    def go_up(self, depth: int = -1) -> None:
        """Show the scope `depth` steps into the trail (0: the top level; -1: one up)."""
        self._show(self.trail[:depth])

    def _show_scope(self, scope: str) -> None:
        """Show `scope` for an undo step: up the trail where it is there, else opened."""
        blocks = [opened.block for opened in self.trail]
        if scope == "":
            self._show([])
        elif scope in blocks:
            self._show(self.trail[: blocks.index(scope) + 1])
        else:
            self.open_block(scope)

    def _show(self, trail: list[Opened]) -> None:
        assert self.design is not None
        self.arch.unsubscribe(self.graph_changed.emit)
        self.trail = trail
        self.arch = self.design.scope(self.scope)
        self.arch.subscribe(self.graph_changed.emit)
        self._selection = []
        self._shown.clear()
        self._shown.update(self._scope_results())
        self.scope_changed.emit()
        self.selection_changed.emit([])

    def blocks(self) -> BlockDesign | None:
        """The design as a file with blocks holds it (None for a plain design)."""
        if self.design is None:
            return None
        top = self.design.top
        return BlockDesign(self._library, tuple(members(top)), tuple(top.edges()), self._flat)

    def library(self) -> Library | None:
        """The design's blocks as last analysed (None for a plain design)."""
        return self._library

    def block_ids(self) -> list[str]:
        return [] if self.design is None else list(self.design.blocks)

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

    @property
    def results(self) -> dict[str, NodeResult]:
        """The results of the shown nodes, by id: one dict for the document's life (views
        keep it), until `scope_changed`."""
        return self.engine.results if self.design is None else self._shown

    def result(self, node_id: str) -> NodeResult:
        return self.results[node_id]

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
        save(target, self.top, self.extras, self.blocks())
        self.undo_stack.setClean()
        if target != self.path:
            self.path = target
            self.path_changed.emit(target)

    def snapshot(self, note: dict | None = None) -> str:
        """The design as file text, for autosave (`note` joins the extras)."""
        return dumps(self.top, {**self.extras, **(note or {})}, self.blocks())

    @property
    def top(self) -> Architecture:
        """The design's top level (`arch` while no block is open): what names the design."""
        return self.arch if self.design is None else self.design.top


def _place_unplaced(arch: Architecture) -> None:
    """Files without positions (hand-written, imported) open laid out in layers, blocks
    too; this is how the file is read, not an edit, so it is not an undo step."""
    unplaced = [n for n, pos in arch.graph.nodes(data="pos") if pos is None]
    if unplaced:
        layout = layered_positions(arch.graph)  # the layout reads networkx itself
        arch.place({node_id: layout[node_id] for node_id in unplaced})


def _moves_only(step: Edit | DesignEdit) -> bool:
    """Whether a step only moves nodes: nothing to analyse again."""
    if isinstance(step, InScope):
        step = step.edit
    parts = step.parts if isinstance(step, Compound) else [step]
    return all(isinstance(part, (Move, Place)) for part in parts)


def _scope_of(step: Edit | DesignEdit) -> str | None:
    """The scope a step changes ('' for a plain edit; None for one that adds a block)."""
    if isinstance(step, InScope):
        return step.scope
    if isinstance(step, SetBlockDefaults):
        return step.block_id
    if isinstance(step, Steps):
        return next((p.scope for p in step.parts if isinstance(p, InScope)), None)
    return "" if isinstance(step, Edit) else None


def describe(error: BaseException, limit: int = 300) -> str:
    """An exception in one short line: its message (an OSError's reason), else its type."""
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
