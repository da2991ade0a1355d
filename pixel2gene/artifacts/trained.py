"""p2g-train's folder: one task's trained fold MLPs, each at every kept epoch, before p2g-select chooses the
model's form (ridge, MLP or a blend, and the epoch) from all folds of all tasks at once (artifacts/model.py).

A task trains some folds (the pipeline scatters them, `--folds_per_task`); choosing the form inside a task
would make the maps depend on how the folds were grouped (issue #27, B1).
"""
from pathlib import Path

from ..model.checkpoint import load_fold, save_fold
from .base import GENE_MAX, GENE_MIN, Json, Npy, StepFolder


class TrainedFolds(StepFolder):
    STEP = "train"
    FORMAT = 3  # 0.2.0: fold MLPs only; the form is chosen by p2g-select (issue #27 B1)
    gene_min = Npy(GENE_MIN)   # (G,) float32: the MLPs learn (density - min) / span per gene
    gene_max = Npy(GENE_MAX)
    record = Json("trained.json")    # folds, the kept epochs, each fold's curves, the settings, the training sets

    def mlp_file(self, fold: int, epoch: float) -> Path:
        return self.path / f"fold-{fold:02d}-epoch-{epoch:g}.pt"

    def save_mlp(self, fold: int, epoch: float, state: dict) -> None:
        save_fold(self.mlp_file(fold, epoch), state)

    def load_mlp(self, fold: int, epoch: float) -> dict:
        return load_fold(self.mlp_file(fold, epoch))
