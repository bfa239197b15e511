"""Benchmark of the designer window: opening a design, live edits, and cold start.

Run with `QT_QPA_PLATFORM=offscreen python bench/bench_window.py` from the repository root
(the script sets the offscreen platform itself where QT_QPA_PLATFORM is unset). It prints the
machine, then one table: each figure is the median, minimum and maximum of several
repetitions timed with time.perf_counter, beside its target:

- **open**: `MainWindow.open_path` of a generated residual chain of 100, 1,000 and 5,000
  nodes saved without positions (so the open includes the automatic layered layout), plus
  event processing and a forced repaint of the window and the canvas, so drawing counts;
  target 1,000 nodes in <= 1 s;
- **edit to screen**: `Document.push` of a parameter edit, then event processing until the
  canvas viewport has painted (and one more round for what painting posted: the summary
  and status bar repaint in the same rounds), with the edited node selected and centred:
  a mid conv's `bias` toggled (only that node changes) and a mid transition conv's
  `padding` toggled 0/1 (every node below it changes shape); targets: median <= 16 ms at
  1,000 nodes, maximum <= 100 ms at 5,000;
- **cold start**: a new interpreter that imports the app and shows an empty window,
  from process start to the shown window (and the whole subprocess, exit included);
  target <= 1.5 s.

Settings, autosaves and the data folder live in a temporary folder (QStandardPaths test
mode, an ini QSettings path, an Autosaver of its own): the user's files are untouched.
The whole run takes about a minute on a quiet machine. This is a benchmark, not a test:
it fails only if the window disagrees with the engine after the edits.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench_engine import (
    Timing,
    engine_version,
    load,
    machine,
    measure,
    ms,
    print_footer,
    print_table,
    residual_chain,
)
from PySide6.QtCore import (
    QEvent,
    QMessageLogContext,
    QObject,
    QSettings,
    QStandardPaths,
    QtMsgType,
    qInstallMessageHandler,
)
from PySide6.QtWidgets import QApplication, QWidget

from designer.core.edits import SetParams
from designer.core.spec import dims
from designer.io.project import save
from designer.ui.app import application
from designer.ui.autosave import Autosaver
from designer.ui.main_window import MainWindow

SIZES = (100, 1_000, 5_000)
OPEN_TARGET = (1_000, 1.0)  # nodes, seconds (median)
EDIT_FRAME = (1_000, 0.016)  # nodes, seconds (median)
EDIT_CEILING = (5_000, 0.100)  # nodes, seconds (maximum)
COLD_TARGET = 1.5  # seconds (median), process start to shown window

# The cold start: the brief's one-liner, with the user's settings and data folder kept away
# (test mode, ini settings and autosaves in the folder named by argv[1]). `T0` is read from
# the same system-wide monotonic clock the parent read just before it started the process.
COLD = """\
import time; t = time.perf_counter()
import sys; from pathlib import Path
from designer.ui.app import application
from designer.ui.main_window import MainWindow
from designer.ui.autosave import Autosaver
from PySide6.QtCore import QSettings, QStandardPaths
QStandardPaths.setTestModeEnabled(True)
QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[1] + "/settings")
app = application(); w = MainWindow(autosaver=Autosaver(Path(sys.argv[1]))); w.show(); app.processEvents()
print(time.perf_counter() - t, time.monotonic())
"""


# the window -----------------------------------------------------------------------------


def check_bindings() -> None:
    """Refuse to run on bindings that lose a reference to None on every call returning
    nothing (PySide6 6.12.0 on Python 3.11, where None is not immortal): opening a design
    of a few hundred nodes then aborts Python with "none_dealloc: deallocating None"."""
    from PySide6 import __version__
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(100):
        probe.setObjectName("probe")
    if sys.getrefcount(None) < before - 50:
        raise SystemExit(
            f"PySide6 {__version__} on Python {sys.version.split()[0]} drops a reference to "
            "None on every call that returns nothing; the window would abort Python within "
            "a few thousand calls. Install another PySide6 (pyproject pins <6.12) or use "
            "Python >= 3.12."
        )


def quiet_qt() -> None:
    """Drop the offscreen platform's one-line notice that it cannot propagate size hints."""

    def handler(mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    qInstallMessageHandler(handler)


def isolate(folder: Path) -> None:
    """Keep settings (recent files, layout) and the data folder out of the user's home."""
    QStandardPaths.setTestModeEnabled(True)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder / "settings")
    )


def window_in(folder: Path) -> tuple[QApplication, MainWindow]:
    """The window as the window benches time it: Qt's bindings checked and its messages
    quieted, settings and autosaves kept in `folder`, shown at 1400×860, painted once."""
    check_bindings()
    quiet_qt()
    isolate(folder)
    app = application()
    autosaves = folder / "autosave"
    autosaves.mkdir()
    window = MainWindow(autosaver=Autosaver(autosaves))
    window.resize(1400, 860)
    window.show()
    painted(window)
    return app, window


def painted(window: MainWindow) -> None:
    """Pending events handled, then the window and the canvas drawn now."""
    QApplication.processEvents()
    window.repaint()
    window.canvas.viewport().repaint()
    QApplication.processEvents()


class PaintCount(QObject):
    """Counts the paint events a widget receives."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self.paints = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def until_painted(viewport: QWidget, rounds: int = 20) -> None:
    """Handle events until the canvas has painted what an edit changed, then once more for
    what painting posted: the summary and the status bar repaint in the same rounds."""
    count = viewport.findChild(PaintCount) or PaintCount(viewport)
    before = count.paints
    for _ in range(rounds):
        QApplication.processEvents()
        if count.paints > before:
            QApplication.processEvents()
            return
    raise SystemExit(f"the canvas did not repaint within {rounds} rounds of events")


def write_design(nodes: int, folder: Path) -> tuple[Path, str, str]:
    """A residual chain of `nodes` nodes as a file without positions; returns the path, the
    mid conv and the mid transition conv."""
    big = residual_chain(nodes)
    assert len(big.arch) == nodes and all(n.pos is None for n in big.arch.nodes())
    path = folder / f"chain_{nodes}.nnd"
    save(path, big.arch)
    assert '"pos"' not in path.read_text(encoding="utf-8")
    return path, big.mid_conv, big.mid_transition


def time_open(window: MainWindow, path: Path, repeat: int) -> Timing:
    def run() -> None:
        assert window.open_path(path)
        painted(window)

    return measure(run, repeat, budget=30.0)


def time_edit(
    window: MainWindow, node_id: str, name: str, values: tuple[Any, Any], repeat: int
) -> tuple[Timing, int]:
    """Push SetParams alternating `name` between two values, until the canvas viewport is
    drawn; returns the timing and the most nodes one edit changed the results of."""
    document = window.document
    arch = document.arch
    changed: list[int] = []
    edits = 0
    edit: SetParams | None = None

    def count(node_ids: set[str]) -> None:
        changed.append(len(node_ids))

    def prepare() -> None:  # untimed: the edit is built before the user's change lands
        nonlocal edit, edits
        edits += 1
        edit = SetParams.with_param(arch, node_id, name, values[edits % 2])

    def run() -> None:
        assert edit is not None
        document.push(edit)
        until_painted(window.canvas.viewport())

    document.analysis_changed.connect(count)
    try:
        timing = measure(run, repeat, prepare, budget=20.0)
    finally:
        document.analysis_changed.disconnect(count)
    if edits % 2:  # leave the design as it was
        document.push(SetParams.with_param(arch, node_id, name, values[0]))
        painted(window)
    return timing, max(changed)


def check_window(window: MainWindow) -> None:
    """The canvas, summary and totals agree with the engine (after the timed edits)."""
    document = window.document
    results = document.results  # the shown nodes' (with blocks, an instance's totals)
    scene = window.scene
    if set(scene.nodes) != set(document.arch.graph):
        raise SystemExit("the canvas does not show the design's nodes")
    for node_id, item in scene.nodes.items():
        if item.result is not results[node_id]:
            raise SystemExit(f"the canvas shows an old result for {node_id}")
    for edge, item in scene.edges.items():
        shape = results[edge.source].shape
        if item.label_text != (dims(shape) if shape is not None else ""):
            raise SystemExit(f"the canvas labels {edge} with an old shape")
    model = window.summary.model()
    if model.rowCount() != len(results):
        raise SystemExit("the summary does not have one row per node")
    if f"Params {document.totals().params:,}" not in window.totals_label.text():
        raise SystemExit("the status bar shows old totals")


# cold start -----------------------------------------------------------------------------


def time_cold_start(folder: Path, repeat: int) -> tuple[Timing, Timing, Timing]:
    """(process start to shown window, imports to shown window, whole subprocess)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    shown, inside, whole = [], [], []
    for attempt in range(repeat + 1):  # the first run warms the file cache and __pycache__
        gc.collect()
        start = time.monotonic()
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", COLD, str(folder)],
            check=False,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"cold start failed:\n{done.stderr}")
        in_process, at_shown = (float(v) for v in done.stdout.split()[-2:])
        if attempt:
            shown.append(at_shown - start)
            inside.append(in_process)
            whole.append(wall)

    return Timing.of(shown), Timing.of(inside), Timing.of(whole)


# report ---------------------------------------------------------------------------------


def main() -> None:
    started = time.perf_counter()
    load_before = load()
    print(f"machine: {machine()}")
    from PySide6 import __version__ as pyside

    print(f"code:    {engine_version()}")
    print(f"Qt:      PySide6 {pyside}, platform {os.environ['QT_QPA_PLATFORM']!r}")
    rows: list[tuple[str, ...]] = []

    def row(what: str, t: Timing, target: str = "", ok: bool | None = None) -> None:
        verdict = "" if ok is None else ("met" if ok else "MISSED")
        rows.append((what, ms(t.median), ms(t.best), ms(t.worst), str(t.runs), target, verdict))

    with tempfile.TemporaryDirectory(prefix="bench_window_") as temp:
        folder = Path(temp)
        app, window = window_in(folder)
        designs = {n: write_design(n, folder) for n in SIZES}

        for nodes in SIZES:
            path, mid_conv, mid_transition = designs[nodes]
            opened = time_open(window, path, repeat={100: 15, 1_000: 9}.get(nodes, 5))
            target_nodes, limit = OPEN_TARGET
            if nodes == target_nodes:
                row(
                    f"open, {nodes:,} nodes (layout, canvas, summary, painted)",
                    opened,
                    f"median <= {limit:g} s",
                    opened.median <= limit,
                )
            else:
                row(f"open, {nodes:,} nodes (layout, canvas, summary, painted)", opened)

            window.document.select([mid_conv])
            window.canvas.centre_on(mid_conv)
            painted(window)
            for node_id, name, values, kind in (
                (mid_conv, "bias", (False, True), "only the node"),
                (mid_transition, "padding", (0, 1), "all downstream"),
            ):
                timing, most = time_edit(
                    window, node_id, name, values, repeat=51 if nodes < 5_000 else 15
                )
                what = (
                    f"edit to screen, {nodes:,} nodes, {kind} ({node_id} {name}; {most:,} changed)"
                )
                if nodes == EDIT_FRAME[0]:
                    row(
                        what,
                        timing,
                        f"median <= {EDIT_FRAME[1] * 1e3:g} ms",
                        timing.median <= EDIT_FRAME[1],
                    )
                elif nodes == EDIT_CEILING[0]:
                    row(
                        what,
                        timing,
                        f"max <= {EDIT_CEILING[1] * 1e3:g} ms",
                        timing.worst <= EDIT_CEILING[1],
                    )
                else:
                    row(what, timing)
            check_window(window)
            window.document.undo_stack.clear()  # clean again: the next open asks nothing

        window.close()
        app.processEvents()

        shown, inside, whole = time_cold_start(folder, repeat=5)
        row(
            "cold start, process start to shown window",
            shown,
            f"median <= {COLD_TARGET:g} s",
            shown.median <= COLD_TARGET,
        )
        row("cold start, imports to shown window (in the process)", inside)
        row("cold start, whole subprocess (exit included)", whole)

    print_table(("measurement", "median", "min", "max", "runs", "target", ""), rows)
    print_footer(started, load_before)


if __name__ == "__main__":
    main()
