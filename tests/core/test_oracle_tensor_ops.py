"""PyTorch as the oracle for the tensor operations (Reshape, Permute, MatMul, …), which
have no torch.nn class: each case runs the torch function the type is named after."""

from __future__ import annotations

from hypothesis import strategies as st

CASES: dict[str, st.SearchStrategy] = {}
