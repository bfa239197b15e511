"""The layer palette: every layer type of the catalog, grouped by category, searchable,
dragged onto the canvas (contract section 4) or double-clicked to add after the selection.
A design with blocks lists them first, under Blocks (with the port types while a block is
open), and the blocks of the shipped examples last, under Block library: all dragged in
like layers."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import (
    QByteArray,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QTreeView, QVBoxLayout, QWidget

from designer.core.block_editing import BLOCKS_CATEGORY
from designer.core.blocks import PORT_TYPES
from designer.core.registry import CATEGORIES, LAYERS

LAYER_MIME = "application/x-nn-designer-layer"
LIBRARY_CATEGORY = "Block library"
TYPE_ROLE = Qt.ItemDataRole.UserRole + 1  # the type name on layer items; None on group headers
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 2  # what the search box matches: name and summary


def mime_for(type_name: str) -> QMimeData:
    """What dragging a layer type carries: its name under the contract's MIME type."""
    mime = QMimeData()
    mime.setData(LAYER_MIME, QByteArray(type_name.encode("utf-8")))
    return mime


class CatalogModel(QStandardItemModel):
    """Category headers with their layer types below; drags encode the type name only, so
    the canvas need not decode Qt's item-model format."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.block_groups: list[QStandardItem] = []  # Blocks (first), Block library (last)
        for category in CATEGORIES:
            header = _header(category)
            for spec in LAYERS.values():
                if spec.category == category:
                    header.appendRow(self._item(spec.name, spec.summary))
            self.appendRow(header)

    def set_blocks(self, block_ids: list[str], inside: bool, shipped: list[str]) -> None:
        """The design's blocks as the first group (`inside` a block: the port types too),
        and the shipped library's as the last; no group where it has none."""
        for group in self.block_groups:
            self.removeRow(group.row())
        self.block_groups = []
        ours = [(n, "a block of this design") for n in block_ids]
        ours += [(n, "a port of the open block") for n in (PORT_TYPES if inside else ())]
        library = [(n, "from the block library (File ▸ Examples ▸ Blocks)") for n in shipped]
        for title, names in ((BLOCKS_CATEGORY, ours), (LIBRARY_CATEGORY, library)):
            if names:
                group = _header(title)
                for name, what in names:
                    group.appendRow(self._item(name, f"{name}: {what}"))
                if title == BLOCKS_CATEGORY:  # the design's own first, the library last
                    self.insertRow(0, group)
                else:
                    self.appendRow(group)
                self.block_groups.append(group)

    @staticmethod
    def _item(type_name: str, summary: str) -> QStandardItem:
        item = QStandardItem(type_name)
        item.setToolTip(summary)
        item.setData(type_name, TYPE_ROLE)
        item.setData(f"{type_name}\n{summary}", SEARCH_ROLE)
        item.setFlags(
            Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
        )
        return item

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME]

    def mimeData(self, indexes: Sequence[QModelIndex | QPersistentModelIndex]) -> QMimeData | None:
        names = [index.data(TYPE_ROLE) for index in indexes if index.data(TYPE_ROLE)]
        return mime_for(names[0]) if names else None

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction


def _header(category: str) -> QStandardItem:
    header = QStandardItem(category)
    header.setFlags(Qt.ItemFlag.ItemIsEnabled)
    font = header.font()
    font.setBold(True)
    header.setFont(font)
    return header


class Palette(QWidget):
    """Search box above the catalog tree. `activated_type` asks the window to add a layer of
    that type after the selected node."""

    activated_type = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit(self)
        self.search.setObjectName("palette_search")
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)

        self.catalog = CatalogModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.catalog)
        self.proxy.setFilterRole(SEARCH_ROLE)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        # a group shows while one of its types matches, and hides when none does
        self.proxy.setRecursiveFilteringEnabled(True)

        self.view = QTreeView(self)
        self.view.setObjectName("palette")
        self.view.setModel(self.proxy)
        self.view.setHeaderHidden(True)
        self.view.setUniformRowHeights(True)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setDragEnabled(True)
        self.view.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.view.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.view.expandAll()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.view)

        self.search.textChanged.connect(self._filter)
        self.search.returnPressed.connect(self._activate_first)
        self.view.activated.connect(self._activate)

    def set_blocks(self, block_ids: list[str], inside: bool, shipped: list[str]) -> None:
        self.catalog.set_blocks(block_ids, inside, shipped)
        self.view.expandAll()

    def _filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        self.view.expandAll()  # groups that come back after a filter would come back collapsed

    def _activate(self, index: QModelIndex) -> None:
        type_name = index.data(TYPE_ROLE)
        if type_name:
            self.activated_type.emit(type_name)

    def _activate_first(self) -> None:
        """Enter in the search box adds the first match: type "relu", press Enter."""
        for group in range(self.proxy.rowCount()):
            parent = self.proxy.index(group, 0)
            if self.proxy.rowCount(parent):
                self._activate(self.proxy.index(0, 0, parent))
                return
