"""Docked panels: palette, inspector, summary."""
