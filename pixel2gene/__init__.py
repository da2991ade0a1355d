"""Pixel2Gene: 8 µm gene-expression maps from H&E histology."""

# Bumped whenever a step folder's format changes (artifacts/): every stamp holds it, so a new version re-runs
# every step instead of reading an older folder.
__version__ = "0.2.0"
