"""One trained model on disk: a plain tensor dict, saved with torch.save and loaded with weights_only.

A fold's dict holds its MLP (`layerK.*`), its ridge fitted without the fold (`ridge.*`) and the MLP's
weight in the blend (`blend.mlp`); a ridge alone holds `ridge.*`. The folder around them is
artifacts/model.py.
"""
import io
from pathlib import Path

import torch

from ..errors import InputError


def save_fold(path: Path, state: dict) -> None:
    """Serialised in memory (a fold is megabytes) and written as plain bytes: torch's own file writer reports a
    full disk as a RuntimeError without the file's name or the system's reason."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    Path(path).write_bytes(buffer.getbuffer())


def load_fold(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(path, f"checkpoint does not load ({type(exc).__name__})",
                         "re-run p2g-train or p2g-select; checkpoints hold plain tensors only") from None
    if not isinstance(state, dict) or not ("layer0.weight" in state or "ridge.weight" in state):
        raise InputError(path, "not a pixel2gene fold checkpoint", "give a directory written by p2g-train or p2g-select")
    return state


def mlp_weight(state: dict) -> float:
    """The MLP's weight in a fold model's blend with the ridge (1: the MLP alone, 0: the ridge alone)."""
    return float(state["blend.mlp"])
