"""Histology encoders: image -> (H/16, W/16, C) float16 features per superpixel."""
from .registry import create_encoder, list_encoders, register_encoder  # noqa: F401
from . import efficientnet, hipt, texture  # noqa: F401  (registers the built-in encoders)
