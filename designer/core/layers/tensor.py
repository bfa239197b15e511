"""Tensor operations named after their torch function: reshaping, selecting, reducing and
the arithmetic real models are written with."""

from __future__ import annotations

from designer.core.spec import LayerSpec

SPECS: list[LayerSpec] = []
