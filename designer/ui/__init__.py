"""The PySide6 window. All Qt lives in this package."""
