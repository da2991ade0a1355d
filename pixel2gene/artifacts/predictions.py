"""p2g-predict's folder: every tissue superpixel's counts summed over the given fold models."""
import numpy as np

from .base import COLOUR_SHARE, GENE_NAMES, NOVELTY, SKILL, GeneNames, Json, Npy, StepFolder


class Predictions(StepFolder):
    STEP = "predict"
    FORMAT = 3  # 0.2.0: per-gene skill and novelty (2); section statistics from its familiar tissue (3)
    sums = Npy("pred-sum.npy")       # (G, tissue superpixels) float32, gene-major, summed over the models
    genes = GeneNames(GENE_NAMES)
    record = Json("pred.json")       # n_models, folds, encoder, how features were standardised
    skill = Npy(SKILL)         # the models' pooled per-gene skill sums (training/skill.py), when they have them
    novelty = Npy(NOVELTY)           # (tissue superpixels,) float32: novelty quantile (model/novelty.py)
    colour_share = Npy(COLOUR_SHARE)  # (tissue superpixels,) float32: the colour ridge's share of the prediction

    def create_sums(self, n_genes: int, n_tissue: int) -> np.ndarray:
        return self.sums.create((n_genes, n_tissue), np.float32)

    @property
    def n_models(self) -> int:
        return int(self.record.read()["n_models"])
