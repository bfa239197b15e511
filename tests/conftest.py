"""Shared test set-up: Qt renders offscreen, and examples load by name."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

EXAMPLES = Path(__file__).resolve().parent.parent / "resources" / "examples"
# Examples that show a mistake on purpose: they neither export nor import back
MISTAKES = frozenset({"mistake-template-as-written"})
WORKING_EXAMPLES = sorted(p for p in EXAMPLES.glob("*.nnd") if p.stem not in MISTAKES)
