"""Why an import from PyTorch stops: shared by the modules the import is made of."""

from __future__ import annotations


class ImportFailure(Exception):
    """The model cannot be brought in; the message says what and where."""


class TorchMissing(ImportFailure):
    pass


class Unsupported(ImportFailure):
    """The model does something the design cannot hold (a batch merged into another
    dimension, a constant tensor); the message says what and where."""
