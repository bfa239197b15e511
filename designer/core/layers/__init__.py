"""The layer catalog, one module per family."""
