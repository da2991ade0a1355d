"""Typed step artifacts: one class per step's output folder (and per single-file result).

Each class owns its files' names, how they are read and written, its format
version, and its part of the reuse record (base.py). Steps, training,
prediction, evaluation and export pass these objects around, never a path plus
a file name written by hand. Import each from its module (artifacts.mask.Mask):
a step then loads only what it reads.
"""
