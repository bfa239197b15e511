"""designer: draw a neural network, see its shapes, parameters, operations and receptive fields."""

from __future__ import annotations

FALLBACK_VERSION = "0.1.0"  # where the package is not installed (run from a checkout)


def __getattr__(name: str) -> str:
    """`__version__`, from the installed package's metadata, read when first asked for
    (importlib.metadata costs tens of milliseconds to import; every command would pay)."""
    if name != "__version__":
        raise AttributeError(f"module 'designer' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("designer")
    except PackageNotFoundError:
        found = FALLBACK_VERSION
    globals()["__version__"] = found
    return found
