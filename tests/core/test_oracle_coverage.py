"""Every layer type of the catalog is held to PyTorch by one of the oracle test files."""

from __future__ import annotations

from designer.core.registry import LAYERS
from tests.core import test_oracle_tensor_ops, test_torch_oracle


def test_every_layer_type_has_an_oracle() -> None:
    covered = set(test_torch_oracle.CASES) | set(test_oracle_tensor_ops.CASES)
    assert covered == set(LAYERS) - {"Input"}
    assert not set(test_torch_oracle.CASES) & set(test_oracle_tensor_ops.CASES)
