"""Padding layers: ZeroPad, ConstantPad, ReflectionPad, ReplicationPad and CircularPad in
1, 2 and 3 dimensions."""

from __future__ import annotations

from designer.core.spec import LayerSpec

SPECS: list[LayerSpec] = []
