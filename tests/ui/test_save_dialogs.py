"""Where Open and Save As start: Save As from the file's own folder and name; a new design
in the folder last used, named after the design; Open in that folder too (both started in
the process's working folder, wherever the app was launched from)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog

from designer.core.edits import AddNode
from designer.core.graph import NodeRecord
from designer.ui.window_parts import RenameDesign
from tests.conftest import EXAMPLES


def proposals(monkeypatch, method: str, answer: Path | None = None) -> list[str]:
    """The folder or file each dialog of `method` proposes, answered with `answer`."""
    proposed: list[str] = []

    def ask(parent, caption, directory, *rest):
        proposed.append(directory)
        return (str(answer) if answer else ""), ""

    monkeypatch.setattr(QFileDialog, method, ask)
    return proposed


def test_save_as_starts_from_the_file_and_a_new_design_from_the_last_folder(
    window, tmp_path, monkeypatch
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    saved = folder / "first.nnd"
    document = window.document
    document.push(AddNode(NodeRecord("x", "Input", {"shape": [3, 8, 8]})))
    asked = proposals(monkeypatch, "getSaveFileName", saved)
    window.save_as_action.trigger()
    assert saved.exists()
    window.save_as_action.trigger()  # Save As of a file: its own folder and name
    assert asked[-1] == str(saved)

    window.new()
    window.document.push(AddNode(NodeRecord("x", "Input", {"shape": [3, 8, 8]})))
    asked = proposals(monkeypatch, "getSaveFileName")
    window.save_action.trigger()  # a new design: the folder last used
    assert asked == [str(folder / "untitled.nnd")]
    window.document.push(RenameDesign("Tiny Net"))
    window.save_action.trigger()
    assert asked[-1] == str(folder / "tiny_net.nnd")

    opened = proposals(monkeypatch, "getOpenFileName")
    window.document.undo_stack.setClean()
    window.open_action.trigger()
    assert opened == [str(folder)]


def test_an_example_is_never_where_save_as_or_open_start(window, monkeypatch) -> None:
    assert window.open_path(EXAMPLES / "lenet5.nnd")
    asked = proposals(monkeypatch, "getSaveFileName")
    window.save_action.trigger()
    assert asked == [str(Path.home() / "lenet_5.nnd")]  # named after the design, LeNet-5
    opened = proposals(monkeypatch, "getOpenFileName")
    window.open_action.trigger()
    assert opened == [str(Path.home())]


def test_one_remembered_file_is_a_list_of_one(window, tmp_path) -> None:
    """QSettings reads a list of one back from its file as the one string: it is not
    taken letter by letter (Open then started at /, Open Recent listed a letter a line)."""
    saved = tmp_path / "only.nnd"
    saved.write_text("{}", encoding="utf-8")
    QSettings().setValue("recent", str(saved))
    menu = window.recent_menu
    assert menu.folder() == tmp_path
    menu.refresh()
    assert [action.text() for action in menu.actions()] == ["only.nnd"]
