"""Locate the files of one sample in the seed layout (all share one prefix)."""
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import InputError

IMAGE_SUFFIXES = ("he-raw.ome.tif", "he-raw.tif", "he-raw.tiff", "he-raw.btf",
                  "he-raw.jpg", "he-raw.jpeg", "he-raw.png")
TABLE_SUFFIXES = (".parquet", ".tsv", ".tsv.gz")


@dataclass(frozen=True)
class SampleFiles:
    prefix: str
    name: str
    image: Path
    radius: Path
    pixel_size_raw: Path
    pixel_size: Path
    counts: Optional[Path]
    locs: Optional[Path]

    @property
    def is_measured(self) -> bool:
        return self.counts is not None


def sample_name(prefix: str) -> str:
    """The prefix's last path part without a trailing '-' (or the folder name)."""
    p = prefix.rstrip("/")
    if prefix.endswith("/"):
        return Path(p).name
    name = Path(p).name
    return name[:-1] if name.endswith("-") else name


def _first_existing(prefix: str, stem: str, suffixes) -> Optional[Path]:
    for suffix in suffixes:
        path = Path(prefix + stem + suffix)
        if path.is_file():
            return path
    return None


def locate(prefix: str, need_counts: bool = False) -> SampleFiles:
    prefix = str(prefix)
    if Path(prefix).is_dir() and not prefix.endswith("/"):
        prefix += "/"
    image = _first_existing(prefix, "", IMAGE_SUFFIXES)
    if image is None:
        raise InputError(prefix + "he-raw.*", "no H&E image found",
                         "provide he-raw.jpg|png|tif|tiff|btf|ome.tif with this prefix")
    counts = _first_existing(prefix, "cnts", TABLE_SUFFIXES)
    locs = _first_existing(prefix, "locs-raw", TABLE_SUFFIXES)
    if need_counts and counts is None:
        raise InputError(prefix + "cnts.tsv", "training sample has no counts",
                         "provide cnts.tsv or cnts.parquet, or use this sample for prediction only")
    if counts is not None and locs is None:
        raise InputError(prefix + "locs-raw.tsv", "counts given without spot/bin locations",
                         "provide locs-raw.tsv|parquet with columns x, y for the same ids")
    return SampleFiles(prefix=prefix, name=sample_name(prefix), image=image,
                       radius=Path(prefix + "radius-raw.txt"),
                       pixel_size_raw=Path(prefix + "pixel-size-raw.txt"),
                       pixel_size=Path(prefix + "pixel-size.txt"),
                       counts=counts, locs=locs)


@dataclass(frozen=True)
class TruthFiles:
    counts: Path
    locs: Path
    diameter_um: Optional[float]


def locate_truth(prefix: str) -> TruthFiles:
    """Measured truth for a section in the seed layout: cnts.* and locs-raw.* (+ optional radius-raw.txt)."""
    from .scalars import read_positive_number
    prefix = str(prefix)
    if Path(prefix).is_dir() and not prefix.endswith("/"):
        prefix += "/"
    counts = _first_existing(prefix, "cnts", TABLE_SUFFIXES)
    locs = _first_existing(prefix, "locs-raw", TABLE_SUFFIXES)
    if counts is None or locs is None:
        raise InputError(prefix + ("cnts.tsv" if counts is None else "locs-raw.tsv"), "truth file is missing",
                         "give a prefix holding cnts.tsv|tsv.gz|parquet and locs-raw.tsv of the measured bins")
    radius = Path(prefix + "radius-raw.txt")
    return TruthFiles(counts, locs, read_positive_number(radius) if radius.is_file() else None)
