"""The window's menu bar: File (with Open Recent and the shipped examples), Edit, View and
Help, laid out from the actions the window and its helpers made."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu, QWidget

from designer.ui.examples import examples, is_example
from designer.ui.style import elide

if TYPE_CHECKING:
    from designer.ui.main_window import MainWindow

RECENT_LIMIT = 8


def fill_menu_bar(window: MainWindow) -> None:
    """The menus, in the order people look for them; a closed panel can be opened again
    from View."""
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addActions([window.new_action, window.open_action])
    window.recent_menu = RecentMenu(window.open_path, file_menu)
    file_menu.addMenu(window.recent_menu)
    window.examples_menu = file_menu.addMenu("&Examples")
    window.examples_menu.setToolTipsVisible(True)
    worked = QMenu("&Worked Cases", window.examples_menu)
    worked.setObjectName("worked_cases")
    worked.setToolTipsVisible(True)
    library = QMenu("&Blocks", window.examples_menu)
    library.setObjectName("block_library")
    library.setToolTipsVisible(True)
    for example in examples():
        menu = worked if example.worked_case else window.examples_menu
        menu = library if example.block_library else menu
        action = menu.addAction(example.title)
        action.setObjectName(f"example_{example.path.stem}")
        action.setToolTip(example.description or example.title)
        action.setStatusTip(example.description)
        path = example.path
        action.triggered.connect(lambda checked=False, path=path: window.open_path(path))
    window.examples_menu.addSeparator()
    window.examples_menu.addMenu(library)  # after the networks
    window.examples_menu.addMenu(worked)
    file_menu.addSeparator()
    file_menu.addActions([window.save_action, window.save_as_action, window.properties_action])
    file_menu.addSeparator()
    exports = window.exports
    file_menu.addAction(exports.import_action)
    export_menu = file_menu.addMenu("E&xport")
    export_menu.addAction(exports.export_code_action)
    export_menu.addActions(list(exports.report_actions.values()))
    export_menu.addActions(list(exports.picture_actions.values()))
    file_menu.addAction(exports.verify_action)
    file_menu.addSeparator()
    file_menu.addAction(window.quit_action)
    edit_menu = bar.addMenu("&Edit")
    edit_menu.addActions([window.undo_action, window.redo_action])
    edit_menu.addSeparator()
    edit_menu.addActions(
        [
            window.cut_action,
            window.copy_action,
            window.paste_action,
            window.delete_action,
            window.select_all_action,
        ]
    )
    edit_menu.addSeparator()
    edit_menu.addActions([window.find_action, window.find_next_action, window.find_previous_action])
    edit_menu.addSeparator()
    edit_menu.addActions([window.insert_action, window.history_action])
    edit_menu.addSeparator()
    blocks = window.block_actions
    edit_menu.addActions(
        [
            blocks.group_action,
            blocks.ungroup_action,
            blocks.open_action,
            blocks.up_action,
            blocks.params_action,
        ]
    )
    view_menu = bar.addMenu("&View")
    view_menu.addActions(
        [window.zoom_in_action, window.zoom_out_action, window.fit_action, window.arrange_action]
    )
    overlay_menu = view_menu.addMenu("&Statistic Overlay")
    overlay_menu.addActions(list(window.overlay_actions.values()))
    direction_menu = view_menu.addMenu("Layout &Direction")
    direction_menu.addActions(list(window.direction_actions.values()))
    view_menu.addSeparator()  # every panel, so that a closed one can be opened again
    view_menu.addActions([dock.toggleViewAction() for dock in window.docks])
    help_menu = bar.addMenu("&Help")
    help_menu.addActions([window.shortcuts_action, window.numbers_action])
    help_menu.addSeparator()
    help_menu.addAction(window.about_action)


class RecentMenu(QMenu):
    """File ▸ Open Recent: the files last opened or saved (kept in QSettings), newest
    first; two of one name are told apart by their folders."""

    def __init__(self, open_path: Callable[[Path], object], parent: QWidget) -> None:
        super().__init__("Open &Recent", parent)
        self._open_path = open_path
        self.setToolTipsVisible(True)
        self.refresh()

    def folder(self) -> Path:
        """Where Open and Save As start: the folder of the newest file opened or saved
        that still exists (a shipped example's aside), else the home folder."""
        for text in recent_files():
            folder = Path(text).parent
            if not is_example(Path(text)) and folder.is_dir():
                return folder
        return Path.home()

    def remember(self, path: Path) -> None:
        recent = [str(path)] + [text for text in recent_files() if text != str(path)]
        QSettings().setValue("recent", recent[:RECENT_LIMIT])
        self.refresh()

    def refresh(self) -> None:
        self.clear()
        recent = recent_files()
        names = [Path(text).name for text in recent]
        for text, name in zip(recent, names):
            if names.count(name) > 1:  # two files of one name: their folders tell them apart
                name = f"{name} — {Path(text).parent.name or Path(text).parent}"
            action = self.addAction(elide(name, 80))
            action.setToolTip(elide(text, 300))
            action.setStatusTip(elide(text, 300))
            action.triggered.connect(lambda checked=False, text=text: self._open_path(Path(text)))
        self.setEnabled(not self.isEmpty())


def recent_files() -> list[str]:
    """The files last opened or saved, newest first. QSettings gives back a list of one
    as its one string (in an INI file), so a lone string is a list of one."""
    value = QSettings().value("recent", [])
    if isinstance(value, str):
        return [value] if value else []
    return [str(text) for text in value or []]
