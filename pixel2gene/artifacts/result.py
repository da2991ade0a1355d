"""p2g-combine's folder, a sample's results: one map per gene over the superpixel grid, and their record.

    cnts-super/GENE.npy   float32 (H/16, W/16): counts per superpixel, NaN off tissue
    gene-names.txt        the genes, in the order of every other output
    gene-files.tsv        gene -> file stem (names that are no plain file name get a hashed stem)
    skill.tsv             per gene: how well spatial CV on the training bins predicted it (training/skill.py)
    novelty.npy           float32 grid: how unlike the training tissue each superpixel is (model/novelty.py)
    colour-share.npy      float32 grid: the colour ridge's share of each superpixel's prediction
    mask.npy, mask.png    the tissue mask the maps cover
    metadata.json         sample, mask, predictions, units, versions
"""
from pathlib import Path
from typing import Dict

import numpy as np

from ..genes.names import gene_file_names, read_gene_files, write_gene_files
from .base import (COLOUR_SHARE, GENE_NAMES, MASK, MASK_PICTURE, NOVELTY, File, GeneNames, Json, Npy, Png,
                   StepFolder, Tsv)


class GeneFiles(File):
    def read(self) -> Dict[str, str]:
        return self._read(read_gene_files, (ValueError, OSError, UnicodeDecodeError))

    def write(self, mapping: Dict[str, str]) -> None:
        write_gene_files(self.path, mapping)


class Result(StepFolder):
    STEP = "combine"
    FORMAT = 2  # 0.2.0: per-gene skill and the novelty of each superpixel (issue #26)
    MAPS = "cnts-super"
    genes = GeneNames(GENE_NAMES)
    gene_files = GeneFiles("gene-files.tsv")
    skill = Tsv("skill.tsv")         # per gene: out-of-fold r of counts and composition, bins, skilful (when known)
    novelty = Npy(NOVELTY)           # float32 (H/16, W/16): how unlike the training tissue (quantile), NaN off tissue
    colour_share = Npy(COLOUR_SHARE)  # float32 (H/16, W/16): the colour ridge's share of the prediction
    tissue = Npy(MASK)
    overlay = Png(MASK_PICTURE)
    record = Json("metadata.json")

    @property
    def maps_dir(self) -> Path:
        return self.path / self.MAPS

    def file_stems(self) -> Dict[str, str]:
        """gene -> file stem of its map (read once)."""
        if getattr(self, "_stems", None) is None:
            self._stems = self.gene_files.read()
        return self._stems

    def map_file(self, gene: str) -> Path:
        return self.maps_dir / f"{self.file_stems()[gene]}.npy"

    def gene_map(self, gene: str, mmap: bool = True) -> np.ndarray:
        return Npy.at(self.map_file(gene), self.STEP).read(mmap=mmap)

    def tissue_values(self, genes, mask: np.ndarray) -> np.ndarray:
        """(tissue superpixels in row-major order, genes) float32: what every reader of the maps multiplies."""
        return np.stack([self.gene_map(g)[mask] for g in genes], 1).astype(np.float32, copy=False)

    def start_maps(self, genes) -> None:
        """Before the maps are written: their folder, the genes and the gene -> file stem table."""
        self.maps_dir.mkdir(parents=True, exist_ok=True)
        self._stems = gene_file_names(genes)
        self.genes.write(genes)
        self.gene_files.write(self._stems)


def check_same_sample(result: "Result", rescaled) -> dict:
    """The result's record, once it is known to be of the rescaled image's sample: the steps that read both
    refuse a mix-up of samples with one line."""
    from ..errors import InputError
    meta, name = result.record.read(), rescaled.sample["name"]
    if meta["sample"]["name"] != name:
        raise InputError(rescaled.path, f"rescaled sample '{name}' is not the result's '{meta['sample']['name']}'",
                         "give the p2g-rescale output of the same sample")
    return meta
