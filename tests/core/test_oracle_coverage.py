"""Every layer type of the catalog is held to PyTorch by one of the oracle test files."""

from __future__ import annotations

from designer.core.registry import LAYERS
from tests.core import (
    test_oracle_attention,
    test_oracle_sequence,
    test_oracle_tensor_ops,
    test_torch_oracle,
)

ORACLES = (test_torch_oracle, test_oracle_tensor_ops, test_oracle_attention, test_oracle_sequence)
# Input is the network's input. Custom computes nothing of its own: it gives the shapes,
# parameters and MACs torch traced for a call at import, so torch is its source, not its
# judge; tests/io/test_import_real_models.py holds each Custom node to torch's call.
NO_ORACLE = {"Input", "Custom"}


def test_every_layer_type_has_an_oracle() -> None:
    cases = [set(oracle.CASES) for oracle in ORACLES]
    covered = set().union(*cases)
    assert covered == set(LAYERS) - NO_ORACLE
    assert sum(len(names) for names in cases) == len(covered), "a type in two oracle files"
