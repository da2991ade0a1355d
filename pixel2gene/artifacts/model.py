"""p2g-train's folder: the fold models of one training task, and ModelSet, every fold of a run's tasks.

A fold's checkpoint (model/checkpoint.py) holds its MLP (`layerK.*`), its ridge fitted without the fold
(`ridge.*`) and the MLP's weight in the blend (`blend.mlp`). `ridge.pt` is the ridge fitted on all
training bins, which prediction uses for the ridge part (the same fit in every task's folder).
"""
from pathlib import Path
from typing import List

from ..errors import InputError
from ..model.checkpoint import load_fold, save_fold
from ..model.novelty import NoveltyModel
from .base import CHANNEL_MEAN, CHANNEL_STD, SKILL, Json, Npy, StepFolder


class Model(StepFolder):
    STEP = "train"
    FORMAT = 2  # 0.2.0: per-gene skill and the novelty of each superpixel (issue #26)
    gene_min = Npy("gene-min.npy")   # (G,) float32: the MLPs learn (density - min) / span per gene
    gene_max = Npy("gene-max.npy")
    mean = Npy(CHANNEL_MEAN)         # the training sets' pooled feature statistics (--standardise training)
    std = Npy(CHANNEL_STD)
    record = Json("model.json")      # folds, genes, samples, the CV selection, skill summary, curves, config
    skill = Npy(SKILL)         # (G, 2, 6) per-gene sums of out-of-fold r (training/skill.py); not when
                                     # nothing was held out (one fold)
    # how unlike the training tissue a superpixel is (model/novelty.py)
    novelty_mean = Npy("novelty-mean.npy")
    novelty_axes = Npy("novelty-axes.npy")
    novelty_reference = Npy("novelty-reference.npy")
    novelty_calibration = Npy("novelty-calibration.npy")

    def fold_file(self, fold: int) -> Path:
        return self.path / f"fold-{fold:02d}.pt"

    @property
    def full_ridge_file(self) -> Path:
        return self.path / "ridge.pt"

    @property
    def colour_ridge_file(self) -> Path:
        """The colour ridge alone, fitted on all training bins: what prediction leans on where tissue is novel."""
        return self.path / "colour-ridge.pt"

    def save_colour_ridge(self, state: dict) -> None:
        save_fold(self.colour_ridge_file, state)

    def write_novelty(self, model: NoveltyModel) -> None:
        self.novelty_mean.write(model.mean)
        self.novelty_axes.write(model.axes)
        self.novelty_reference.write(model.reference)
        self.novelty_calibration.write(model.calibration)

    def novelty(self) -> NoveltyModel:
        return NoveltyModel(self.novelty_mean.read(), self.novelty_axes.read(), self.novelty_reference.read(),
                            self.novelty_calibration.read())
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

    def novelty(self) -> NoveltyModel:
        """The training tissue's novelty model (the same in every task's folder)."""
        return self.models[0].novelty()

    def colour_ridge(self):
        """The colour ridge fitted on all training bins, or None (one fold: no penalty could be chosen)."""
        first = self.models[0].colour_ridge_file
        return load_fold(first) if first.is_file() else None

    def skill_sums(self):
        """The per-gene skill sums of every task pooled (each task scored its own folds), or None."""
        if not all(m.skill.exists() for m in self.models):
            return None
        return sum(m.skill.read() for m in self.models)
