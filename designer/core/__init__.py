"""The engine: layer catalog, graph, edits and propagation. No Qt, no torch."""
