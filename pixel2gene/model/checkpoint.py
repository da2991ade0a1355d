"""Trained folds on disk: plain tensor dicts (weights_only loading) + JSON + .npy.

A fold's dict holds its MLP (`layerK.*`), its ridge fitted without the fold (`ridge.*`) and the MLP's
weight in the blend (`blend.mlp`; absent in MLP-only checkpoints, meaning 1). `ridge.pt` beside the folds
is the ridge fitted on all training bins, which prediction uses for the ridge part.
"""
from pathlib import Path
from typing import List

import torch

from ..errors import InputError
from ..io.outputs import load_npy, read_json


def save_fold(path: Path, state: dict) -> None:
    torch.save(state, path)


def load_fold(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(path, f"checkpoint does not load ({type(exc).__name__})",
                         "re-run p2g-train; checkpoints hold plain tensors only") from None
    if not isinstance(state, dict) or not ("layer0.weight" in state or "ridge.weight" in state):
        raise InputError(path, "not a p2g-train fold checkpoint", "give a directory written by p2g-train")
    return state


class ModelSet:
    """All folds of one or more p2g-train outputs, checked to agree with each other."""

    def __init__(self, dirs):
        self.states: List[dict] = []
        self.folds: List[int] = []
        self.info = None
        self.ridge = None
        self.dirs = [Path(d) for d in dirs]
        for d in self.dirs:
            if not (d / "model.json").is_file():
                raise InputError(d, "not a p2g-train output", "give the directory written by p2g-train")
            info = read_json(d / "model.json")
            if self.info is not None and info["genes"] != self.info["genes"]:
                raise InputError(d, "models predict different genes", "combine models from one training run")
            self.info = self.info or info
            self.gene_min = load_npy(d / "gene-min.npy")
            self.gene_max = load_npy(d / "gene-max.npy")
            if (d / "ridge.pt").is_file() and self.ridge is None:  # the same fit in every task's output
                self.ridge = load_fold(d / "ridge.pt")
            for f in info["folds"]:
                self.states.append(load_fold(d / f"fold-{f:02d}.pt"))
                self.folds.append(f)

    @property
    def genes(self):
        return self.info["genes"]

    def channel_stats(self):
        """The training sets' pooled feature statistics (mean, std), saved by p2g-train."""
        d = self.dirs[0]
        if not (d / "channel-mean.npy").is_file() or not (d / "channel-std.npy").is_file():
            raise InputError(d, "holds no training feature statistics (written by an older p2g-train)",
                             "train again, or predict with --standardise section")
        return load_npy(d / "channel-mean.npy"), load_npy(d / "channel-std.npy")


def mlp_weight(state: dict) -> float:
    """The MLP's weight in a fold model's blend with the ridge (1 for MLP-only checkpoints)."""
    w = state.get("blend.mlp")
    return 1.0 if w is None else float(w)
