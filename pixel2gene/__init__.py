"""Pixel2Gene: 8 µm gene-expression maps from H&E histology."""

__version__ = "0.1.0"
