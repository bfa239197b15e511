"""Autosave of unsaved work, and its recovery after a crash.

While a design has unsaved changes it is written every minute to the user's data folder as
one project file, `<session>.nnd`, that carries its own note (the session that wrote it, its
process id and the file the work belongs to) under the `designer-autosave` key, so the
design and its note are replaced together, atomically (a temporary file, then os.replace).

A session is a random token (`secrets.token_hex`), not a process id: a restarted app can
get the crashed one's process id (in a container both are PID 1). A running session holds
an advisory lock on `<session>.lock` (where the system has one); a snapshot whose lock
can be taken, or, without a lock file, whose process is gone or is this process (which
did not write it), was left by a crash and is offered at the next start. A session only
ever deletes its own snapshot, and another's only when the user recovers (it is then
rewritten as the recovering session's own) or says to discard it.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QStandardPaths

from designer.io.project import Project, loads

try:  # POSIX: the lock goes with the process that holds it, however it ends
    import fcntl
except ImportError:  # pragma: no cover - Windows: process ids alone say who is running
    fcntl = None  # type: ignore[assignment]

NOTE_KEY = "designer-autosave"
SUFFIX = ".nnd"


@dataclass(frozen=True)
class Recovery:
    snapshot: Path
    original: Path | None  # the file the unsaved work belonged to, if any
    session: str = ""

    def load(self) -> Project:
        """The design it holds, its note taken out (ProjectError if it cannot be read)."""
        project = loads(self.snapshot.read_text(encoding="utf-8"))
        project.extras.pop(NOTE_KEY, None)
        project.notes[:] = [n for n in project.notes if NOTE_KEY not in n]
        return project


def autosave_folder() -> Path:
    """The data folder's autosave folder; made when the first autosave is written."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".designer") / "autosave"


class Autosaver:
    """Writes this session's snapshot; `discard` when the work is saved or the app quits.
    Writing raises OSError where the folder cannot be made or written (the caller says so
    and tries again later); discarding never raises."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or autosave_folder()
        self.session = secrets.token_hex(8)
        self.snapshot = self.folder / f"{self.session}{SUFFIX}"
        self._lock_path = self.folder / f"{self.session}.lock"
        self._lock: int | None = None  # the open, locked descriptor while this session runs

    def write(self, snapshot: Callable[[dict[str, Any]], str], original: Path | None) -> None:
        """Write the design's file text, `snapshot(note)`, whose extras hold the note that
        says whose session wrote it and which file it was opened from."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._hold_lock()
        note = {
            "session": self.session,
            "pid": os.getpid(),
            "original": str(original) if original else None,
        }
        data = snapshot({NOTE_KEY: note}).encode("utf-8")
        temporary = self.folder / f".{self.session}.{secrets.token_hex(4)}.tmp"
        try:
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.snapshot)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def discard(self) -> None:
        """Delete this session's snapshot (never another's)."""
        try:
            self.snapshot.unlink(missing_ok=True)
        except OSError:
            pass
        self._drop_lock()

    def adopt(self, recovery: Recovery) -> None:
        """Recovered work is this session's now: the crashed session's snapshot goes, once
        this session's own holds the work (the caller writes it first)."""
        if recovery.snapshot != self.snapshot and self.snapshot.exists():
            forget(recovery)

    def _hold_lock(self) -> None:
        if self._lock is not None or fcntl is None:
            return
        descriptor = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            raise
        self._lock = descriptor

    def _drop_lock(self) -> None:
        if self._lock is None:
            return
        try:
            self._lock_path.unlink(missing_ok=True)
        except OSError:
            pass
        os.close(self._lock)  # closing releases the lock
        self._lock = None


def leftovers(folder: Path | None = None, own: str | None = None) -> list[Recovery]:
    """Autosaves of sessions that are no longer running (work a crash left behind), oldest
    first; `own` is this session's token, never listed."""
    folder = folder or autosave_folder()
    found = []
    try:
        snapshots = sorted(folder.glob(f"*{SUFFIX}"), key=_age)
    except OSError:
        return []
    for snapshot in snapshots:
        note = _note(snapshot)
        if note is None:
            continue
        session = note.get("session")
        if session == own or _running(folder, note):
            continue
        original = note.get("original")
        found.append(Recovery(snapshot, Path(original) if original else None, session or ""))
    return found


def forget(recovery: Recovery) -> None:
    """Delete a crashed session's snapshot (the user recovered or discarded it)."""
    try:
        recovery.snapshot.unlink(missing_ok=True)
        recovery.snapshot.with_suffix(".json").unlink(missing_ok=True)  # an older version's note
        if recovery.session:
            recovery.snapshot.with_name(f"{recovery.session}.lock").unlink(missing_ok=True)
    except OSError:
        pass


def _age(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _note(snapshot: Path) -> dict[str, Any] | None:
    """The note a snapshot carries; an older version's `<pid>.json` beside `<pid>.nnd`."""
    try:
        data = json.loads(snapshot.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if isinstance(data, dict) and isinstance(data.get(NOTE_KEY), dict):
        return data[NOTE_KEY]
    try:
        old = json.loads(snapshot.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return old if isinstance(old, dict) and isinstance(old.get("pid"), int) else None


def _running(folder: Path, note: dict[str, Any]) -> bool:
    """Whether the session that wrote a note is still running."""
    session = note.get("session")
    if isinstance(session, str) and session.isalnum() and fcntl is not None:
        held = _locked(folder / f"{session}.lock")
        if held is not None:
            return held
    pid = note.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return False  # this process did not write it (its sessions have their own tokens)
    return _alive(pid)


def _locked(path: Path) -> bool | None:
    """Whether another open file holds the lock; None where there is no lock file."""
    try:
        descriptor = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    except OSError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(descriptor)  # releases the lock if it was taken
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    except OSError:
        return True
    return True
