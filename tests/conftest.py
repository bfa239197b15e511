"""Shared test set-up: Qt renders offscreen, and examples load by name."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

EXAMPLES = Path(__file__).resolve().parent.parent / "resources" / "examples"
