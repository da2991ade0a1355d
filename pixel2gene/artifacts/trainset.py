"""p2g-folds' folder: one measured sample as a training set (each bin's superpixel disk, its counts, its fold).

This class is the format's one writer and one reader: training (training/data.py) and held-out scoring
(evaluation/crossval.py) read it only through here.
"""
import numpy as np

from ..io.memmaps import release_pages
from .base import CHANNEL_MEAN, CHANNEL_STD, GENE_NAMES, GeneNames, Json, Npy, Parquet, StepFolder

CHUNK_VALUES = 1 << 25  # values per chunk when writing the training arrays (64-128 MB)


class TrainingSet(StepFolder):
    STEP = "folds"
    bins = Parquet("bins.parquet")              # every bin: x, y, fold, on_tissue, keep, cluster, sizes, total
    disk_features = Npy("disk-features.npy")    # (n, K, C) float16 features of each kept bin's tissue superpixels
    disk_valid = Npy("disk-valid.npy")          # (n, K) bool: which of the K are real (the rest is padding)
    density = Npy("density.npy")                # (n, G) float32 counts per tissue superpixel of the bin
    fold = Npy("fold.npy")                      # (n,) the kept bins' spatial folds
    mean = Npy(CHANNEL_MEAN)                    # the sample's feature statistics (its Features')
    std = Npy(CHANNEL_STD)
    genes = GeneNames(GENE_NAMES)
    record = Json("trainset.json")              # sample, bins, folds and their block side, QC, encoder, channels

    def channel_stats(self):
        return self.mean.read(), self.std.read()

    def write_channel_stats(self, mean, std) -> None:
        self.mean.write(mean)
        self.std.write(std)

    def write_disk_features(self, flat: np.ndarray, disk_index: np.ndarray) -> None:
        """(bins, K, C) float16 features of each bin's superpixels (zeros where padded), by chunks of bins;
        `flat` is the (cells, C) feature map and `disk_index` (bins, K) its rows, -1 for padding."""
        out = self.disk_features.create(disk_index.shape + (flat.shape[1],), np.float16)
        step = max(1, CHUNK_VALUES // (disk_index.shape[1] * flat.shape[1]))
        for s in range(0, len(disk_index), step):
            index = disk_index[s:s + step]
            chunk = np.asarray(flat[np.maximum(index, 0)], np.float16)
            chunk[index < 0] = 0
            out[s:s + step] = chunk
            release_pages(out)
            release_pages(flat)
        del out

    def write_density(self, counts, n_superpixels: np.ndarray) -> None:
        """(bins, G) float32 counts per tissue superpixel from sparse counts, densified a chunk at a time."""
        out = self.density.create(counts.shape, np.float32)
        step = max(1, CHUNK_VALUES // max(1, counts.shape[1]))
        for s in range(0, counts.shape[0], step):
            out[s:s + step] = counts[s:s + step].toarray() / n_superpixels[s:s + step, None]
            release_pages(out)
        del out
