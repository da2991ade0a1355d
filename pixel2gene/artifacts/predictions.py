"""p2g-predict's folder: every tissue superpixel's counts summed over the given fold models."""
import numpy as np

from .base import GENE_NAMES, GeneNames, Json, Npy, StepFolder


class Predictions(StepFolder):
    STEP = "predict"
    sums = Npy("pred-sum.npy")       # (G, tissue superpixels) float32, gene-major, summed over the models
    genes = GeneNames(GENE_NAMES)
    record = Json("pred.json")       # n_models, folds, encoder, how features were standardised

    def create_sums(self, n_genes: int, n_tissue: int) -> np.ndarray:
        return self.sums.create((n_genes, n_tissue), np.float32)

    @property
    def n_models(self) -> int:
        return int(self.record.read()["n_models"])
