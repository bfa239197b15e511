"""designer: draw a neural network, see its shapes, parameters, operations and receptive fields."""

__version__ = "0.1.0"
