"""p2g-select's folder: the fold models of a run in the form chosen by CV, and ModelSet, the folds of one or more
such folders.

A fold's checkpoint (model/checkpoint.py) holds its MLP (`layerK.*`), its ridge fitted without the fold
(`ridge.*`) and the MLP's weight in the blend (`blend.mlp`). `ridge.pt` is the ridge fitted on all
training bins, which prediction uses for the ridge part (the same fit in every task's folder).
"""
from pathlib import Path
from typing import List

from ..errors import InputError
from ..model.checkpoint import load_fold, save_fold
from ..model.novelty import NoveltyModel
from .base import CHANNEL_MEAN, CHANNEL_STD, GENE_MAX, GENE_MIN, SKILL, Json, Npy, StepFolder


class Model(StepFolder):
    STEP = "select"
    FORMAT = 4  # 0.2.0: one selection from all tasks' folds (3, issue #27 B1); novelty per training section (4)
    REPLACES = {"train": 2}  # until 0.2.0 p2g-train wrote this folder (p2g-run's work/model): a re-run replaces it
    gene_min = Npy(GENE_MIN)   # (G,) float32: the MLPs learn (density - min) / span per gene
    gene_max = Npy(GENE_MAX)
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
    """All folds of one or more p2g-select folders, checked to agree with each other."""

    def __init__(self, models: List[Model]):
        if not models:
            raise InputError("--model", "no p2g-select output given", "give the folder that p2g-select wrote")
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
        """The training sets' pooled feature statistics (mean, std), saved by p2g-select."""
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
