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
