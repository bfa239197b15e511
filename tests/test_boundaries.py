"""The engine, project files and exporters load without Qt and without torch."""

from __future__ import annotations

import subprocess
import sys


def test_core_io_and_export_import_neither_qt_nor_torch() -> None:
    code = (
        "import sys\n"
        "import designer.cli, designer.core.propagate, designer.core.memo, designer.core.layout\n"
        "import designer.io.project, designer.io.pytorch_import\n"
        "import designer.export.report, designer.export.pytorch, designer.export.verify\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6'))\n"
        "print(loaded)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
