"""p2g-train's folder: the fold models of one training task, and ModelSet, every fold of a run's tasks.

A fold's checkpoint (model/checkpoint.py) holds its MLP (`layerK.*`), its ridge fitted without the fold
(`ridge.*`) and the MLP's weight in the blend (`blend.mlp`). `ridge.pt` is the ridge fitted on all
training bins, which prediction uses for the ridge part (the same fit in every task's folder).
"""
from pathlib import Path
from typing import List

from ..errors import InputError
from ..model.checkpoint import load_fold, save_fold
from .base import CHANNEL_MEAN, CHANNEL_STD, Json, Npy, StepFolder


class Model(StepFolder):
    STEP = "train"
    gene_min = Npy("gene-min.npy")   # (G,) float32: the MLPs learn (density - min) / span per gene
    gene_max = Npy("gene-max.npy")
    mean = Npy(CHANNEL_MEAN)         # the training sets' pooled feature statistics (--standardise training)
    std = Npy(CHANNEL_STD)
    record = Json("model.json")      # folds, genes, samples, the CV selection, curves, config

    def fold_file(self, fold: int) -> Path:
        return self.path / f"fold-{fold:02d}.pt"

    @property
    def full_ridge_file(self) -> Path:
        return self.path / "ridge.pt"

    def save_fold(self, fold: int, state: dict) -> None:
        save_fold(self.fold_file(fold), state)

    def save_full_ridge(self, state: dict) -> None:
        save_fold(self.full_ridge_file, state)

    def channel_stats(self):
        return self.mean.read(), self.std.read()

    def write_channel_stats(self, mean, std) -> None:
        self.mean.write(mean)
        self.std.write(std)


class ModelSet:
    """All folds of one or more p2g-train folders (the tasks of one run), checked to agree with each other."""

    def __init__(self, models: List[Model]):
        if not models:
            raise InputError("--model", "no p2g-train output given", "give the folder(s) that p2g-train wrote")
        self.models = list(models)
        self.states: List[dict] = []
        self.folds: List[int] = []
        self.info = None
        self.ridge = None
        for m in self.models:
            info = m.record.read()
            if self.info is not None and info["genes"] != self.info["genes"]:
                raise InputError(m.path, "models predict different genes", "combine models from one training run")
            self.info = self.info or info
            self.gene_min = m.gene_min.read()
            self.gene_max = m.gene_max.read()
            if self.ridge is None and m.full_ridge_file.is_file():
                self.ridge = load_fold(m.full_ridge_file)
            for f in info["folds"]:
                self.states.append(load_fold(m.fold_file(f)))
                self.folds.append(f)

    @classmethod
    def open(cls, paths, option: str = "--model") -> "ModelSet":
        return cls([Model.open(p, option) for p in paths])

    @property
    def genes(self):
        return self.info["genes"]

    def channel_stats(self):
        """The training sets' pooled feature statistics (mean, std), saved by p2g-train."""
        return self.models[0].channel_stats()
