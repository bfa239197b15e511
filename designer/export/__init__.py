"""Exporters: reports (and, later, PyTorch code). No Qt."""
