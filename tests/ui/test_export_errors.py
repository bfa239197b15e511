"""Exports to a place that cannot be written say so in a warning, as Save does, and
never raise out of the menu action."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from tests.conftest import EXAMPLES

ACTIONS = {
    "code": ("export_code_action", None, "design.py"),
    "csv": ("report_actions", "csv", "report.csv"),
    "markdown": ("report_actions", "markdown", "report.md"),
    "json": ("report_actions", "json", "report.json"),
    "png": ("picture_actions", "png", "design.png"),
    "svg": ("picture_actions", "svg", "design.svg"),
}


def trigger(window, what: str) -> None:
    attribute, key, _ = ACTIONS[what]
    action = getattr(window.exports, attribute)
    (action if key is None else action[key]).trigger()


@pytest.fixture
def shown(window, monkeypatch) -> list[tuple[str, str]]:
    """(title, text) of each warning the window shows, instead of showing it."""
    warnings: list[tuple[str, str]] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args[1:3]))
    window.open_path(EXAMPLES / "lenet5.nnd")
    return warnings


def choose(monkeypatch, path: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(path), ""))


@pytest.mark.parametrize("what", ACTIONS)
def test_an_export_into_a_missing_folder_warns(
    window, shown, monkeypatch, tmp_path: Path, what: str
) -> None:
    path = tmp_path / "missing" / ACTIONS[what][2]
    choose(monkeypatch, path)
    trigger(window, what)
    assert len(shown) == 1, shown
    title, text = shown[0]
    assert title == "Cannot export"
    assert str(path) in text
    assert "No such file or directory" in text
    assert not path.exists()
    assert not path.parent.exists()


@pytest.mark.parametrize("what", ACTIONS)
def test_an_export_onto_a_folder_warns(
    window, shown, monkeypatch, tmp_path: Path, what: str
) -> None:
    path = tmp_path / ACTIONS[what][2]
    path.mkdir()  # a folder where the file should go: refused even to root
    choose(monkeypatch, path)
    trigger(window, what)
    assert [title for title, _ in shown] == ["Cannot export"]
    assert str(path) in shown[0][1]
    assert path.is_dir() and not any(path.iterdir())


@pytest.mark.parametrize("what", ACTIONS)
def test_an_export_that_can_be_written_is(
    window, shown, monkeypatch, tmp_path: Path, what: str
) -> None:
    path = tmp_path / ACTIONS[what][2]
    choose(monkeypatch, path)
    trigger(window, what)
    assert shown == []
    assert path.stat().st_size > 0
    assert window.statusBar().currentMessage() == f"Wrote {path}"
