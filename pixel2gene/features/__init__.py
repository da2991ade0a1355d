"""Histology encoders: image -> (H/16, W/16, C) float16 features per superpixel."""
from .registry import (DEFAULT_ENCODER, check_settings, create_encoder, from_settings, list_encoders,  # noqa: F401
                       option_classes, preflight, register_encoder)
from . import efficientnet, foundation, hipt, texture  # noqa: F401  (registers the built-in encoders)
