"""Autosave of unsaved work, and its recovery after a crash.

While a design has unsaved changes it is written every minute to the user's data folder,
beside a note of the file it belongs to and the process that wrote it. A clean exit
deletes both; an autosave whose process is gone is offered for recovery at the next start.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QStandardPaths


@dataclass(frozen=True)
class Recovery:
    snapshot: Path
    original: Path | None  # the file the unsaved work belonged to, if any


def autosave_folder() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    folder = Path(base or Path.home() / ".designer") / "autosave"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Autosaver:
    """Writes this process's snapshot; `discard` when the work is saved or the app quits."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or autosave_folder()
        self.snapshot = self.folder / f"{os.getpid()}.nnd"
        self.note = self.folder / f"{os.getpid()}.json"

    def write(self, text: str, original: Path | None) -> None:
        temporary = self.snapshot.with_suffix(".tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, self.snapshot)
        self.note.write_text(
            json.dumps({"pid": os.getpid(), "original": str(original) if original else None})
        )

    def discard(self) -> None:
        self.snapshot.unlink(missing_ok=True)
        self.note.unlink(missing_ok=True)


def leftovers(folder: Path | None = None) -> list[Recovery]:
    """Autosaves of processes that are no longer running: work a crash left behind."""
    folder = folder or autosave_folder()
    found = []
    for note in sorted(folder.glob("*.json")):
        try:
            data = json.loads(note.read_text())
        except (OSError, ValueError):
            continue
        pid = data.get("pid")
        snapshot = note.with_suffix(".nnd")
        if not isinstance(pid, int) or _alive(pid) or not snapshot.exists():
            continue
        original = data.get("original")
        found.append(Recovery(snapshot, Path(original) if original else None))
    return found


def forget(recovery: Recovery) -> None:
    recovery.snapshot.unlink(missing_ok=True)
    recovery.snapshot.with_suffix(".json").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
