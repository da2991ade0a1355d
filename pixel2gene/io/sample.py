"""Locate the files of one sample in the seed layout (all share one prefix)."""
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import InputError
from .slides import SLIDE_SUFFIXES

# the seed layout: every file of a sample is PREFIX + one of these names
HE_RAW = "he-raw"
# scanner formats last: a prefix that also holds one of the others keeps the image it always had
IMAGE_ENDINGS = (".ome.tif", ".tif", ".tiff", ".btf", ".jpg", ".jpeg", ".png") + SLIDE_SUFFIXES
IMAGE_SUFFIXES = tuple(HE_RAW + e for e in IMAGE_ENDINGS)
COUNTS, LOCS = "cnts", "locs-raw"
TABLE_SUFFIXES = (".parquet", ".tsv", ".tsv.gz")
COUNTS_SUFFIXES = (".h5ad",) + TABLE_SUFFIXES  # sparse AnnData first: what p2g-import writes
RADIUS = "radius-raw.txt"                  # the diameter in µm one bin/spot/cell spans
PIXEL_SIZE_RAW = "pixel-size-raw.txt"      # µm per pixel of he-raw
PIXEL_SIZE = "pixel-size.txt"              # the target µm per pixel (optional)


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
    """The prefix's last path part without a trailing '-' (or the folder name, '.' included)."""
    p = os.path.abspath(prefix)  # './' names the current folder, not an empty sample
    if prefix.endswith(("/", os.sep)):
        return Path(p).name
    name = Path(p).name
    return name[:-1] if name.endswith("-") else name


RENAME = "rename the folder, or give a file prefix such as data/S1- (the sample is named S1)"


def check_sample_name(name: str, where: str, reserved=(), fix: str = RENAME) -> None:
    """A sample name must work as a folder name of its own under the output folder; `where` and `fix` say
    where it came from and how to change it there (a prefix's folder, or p2g-rescale --name)."""
    if not name or name in (".", ".."):
        raise InputError(where, f"gives the sample name '{name}'", fix)
    if name.startswith(".") or any(c in name for c in "/\\") or not name.isprintable() or name != name.strip():
        raise InputError(where, f"sample name {name!r} is not a plain folder name (it starts with '.', holds a "
                         "separator or control character, or starts or ends with a space)", fix)
    if name.lower() in reserved:
        raise InputError(where, f"sample name '{name}' is a folder the results need "
                         f"({', '.join(sorted(reserved))})", fix)


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
        raise InputError(prefix + HE_RAW + ".*", "no H&E image found",
                         "provide he-raw.jpg|png|tif|tiff|btf|ome.tif or a scanner's slide (he-raw.svs|ndpi|mrxs|scn|...) "
                         "with this prefix")
    counts = _first_existing(prefix, COUNTS, COUNTS_SUFFIXES)
    locs = _first_existing(prefix, LOCS, TABLE_SUFFIXES)
    if need_counts and counts is None:
        raise InputError(prefix + COUNTS + ".tsv", "training sample has no counts",
                         "provide cnts.h5ad, cnts.parquet or cnts.tsv (p2g-import writes them from 10x outputs), "
                         "or use this sample for prediction only")
    if counts is not None and locs is None:
        raise InputError(prefix + LOCS + ".tsv", "counts given without spot/bin locations",
                         "provide locs-raw.tsv|parquet with columns x, y for the same ids")
    name = sample_name(prefix)
    check_sample_name(name, prefix)
    return SampleFiles(prefix=prefix, name=name, image=image, radius=Path(prefix + RADIUS),
                       pixel_size_raw=Path(prefix + PIXEL_SIZE_RAW), pixel_size=Path(prefix + PIXEL_SIZE),
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
    counts = _first_existing(prefix, COUNTS, COUNTS_SUFFIXES)
    locs = _first_existing(prefix, LOCS, TABLE_SUFFIXES)
    if counts is None or locs is None:
        raise InputError(prefix + (COUNTS if counts is None else LOCS) + ".tsv", "truth file is missing",
                         "give a prefix holding cnts.h5ad|tsv|tsv.gz|parquet and locs-raw.tsv|parquet "
                         "of the measured bins")
    radius = Path(prefix + RADIUS)
    return TruthFiles(counts, locs, read_positive_number(radius) if radius.is_file() else None)
