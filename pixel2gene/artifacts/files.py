"""The single-file results: the .h5ad, the HTML report and the run record (run.json).

Each knows how to tell a file pixel2gene wrote from anyone else's, so that a
run replaces only its own earlier results, and writes itself atomically.
"""
import contextlib
from pathlib import Path

from ..errors import InputError
from ..io.outputs import atomic_dir, atomic_file, read_json, write_json


class ResultFile:
    SUFFIX = ""
    WHAT = ""
    FOLDER = False  # a store that is a folder (a .zarr), written and replaced whole like a file

    def __init__(self, path):
        self.path = Path(path)

    @classmethod
    def ours(cls, path: Path) -> bool:
        """Whether an existing file at `path` was written by pixel2gene."""
        raise NotImplementedError

    @classmethod
    def check_out(cls, path, option: str = "--out") -> None:
        """Before any work: `path` has this kind's suffix and replaces nothing pixel2gene did not write."""
        if Path(path).suffix != cls.SUFFIX:
            raise InputError(path, f"output is not {cls.WHAT}", f"name the output file NAME{cls.SUFFIX}")
        check_file_replaceable(path, option)

    @classmethod
    @contextlib.contextmanager
    def writing(cls, path, option: str = "--out"):
        """`with ReportFile.writing(path) as tmp:` write tmp; it replaces `path` only when complete."""
        check_file_replaceable(path, option)
        with atomic_file(path) as tmp:
            yield tmp


class AnnDataFile(ResultFile):
    SUFFIX, WHAT = ".h5ad", "an .h5ad file"
    UNS_KEY = "pixel2gene"  # uns/pixel2gene marks our files and holds the run's record

    @classmethod
    def ours(cls, path: Path) -> bool:
        import h5py
        try:
            with h5py.File(path, "r") as f:
                return f"uns/{cls.UNS_KEY}" in f
        except (OSError, ValueError):
            return False


def _head(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(4096).decode("utf-8", "replace")
    except OSError:
        return ""


class ReportFile(ResultFile):
    SUFFIX, WHAT = ".html", "an .html file"
    TITLE = "Pixel2Gene: "  # every report's title starts so, then names the sample

    @classmethod
    def ours(cls, path: Path) -> bool:
        return f"<title>{cls.TITLE}" in _head(path)


class RunRecord(ResultFile):
    """OUTDIR/run.json: the local runner's record of the whole run (its options, steps and timings)."""
    SUFFIX, WHAT = ".json", "a .json file"
    NAME = "run.json"

    @classmethod
    def ours(cls, path: Path) -> bool:
        head = _head(path)
        return '"version"' in head and '"args"' in head

    def write(self, record: dict) -> None:
        check_file_replaceable(self.path)
        write_json(self.path, record)

    def read(self) -> dict:
        if not self.path.is_file():
            raise InputError(self.path, "parameters file is missing", "give the run's JSON parameters file")
        return read_json(self.path)


class SpatialDataStore(ResultFile):
    """SAMPLE.zarr (p2g-spatialdata): one SpatialData store of a sample, everything in pixels of he-raw.

    A .zarr is a folder, but it is replaced as the single-file results are: only one pixel2gene wrote (its
    superpixel table's uns holds UNS_KEY), and only whole (a hidden sibling renamed into place).
    """
    SUFFIX, WHAT, FOLDER = ".zarr", "a .zarr store", True
    UNS_KEY = AnnDataFile.UNS_KEY
    COORDINATES = "global"             # spatialdata's default system, here he-raw pixels (as spatialdata-io's)
    IMAGE = "he"                       # the H&E pyramid
    SUPERPIXELS, TABLE = "superpixels", "table"          # squares of the 8 µm grid, and their predictions
    CELLS, CELL_TABLE = "cells", "cells_table"           # with a p2g-cells folder: circles of the cells' areas
    REGION_KEY, INSTANCE_KEY = "region", "instance_id"   # which shapes each table row annotates

    @classmethod
    def ours(cls, path: Path) -> bool:
        return (Path(path) / "tables" / cls.TABLE / "uns" / cls.UNS_KEY).is_dir()

    @classmethod
    @contextlib.contextmanager
    def writing(cls, path, option: str = "--out"):
        """`with SpatialDataStore.writing(path) as tmp:` tmp does not exist yet (spatialdata writes only a new
        store); it replaces `path` only when complete, and a failure leaves nothing."""
        check_file_replaceable(path, option)
        with atomic_dir(path) as tmp:
            tmp.rmdir()  # the name stays ours (hidden, random); spatialdata refuses an existing non-zarr folder
            yield tmp


KINDS = {kind.SUFFIX: kind for kind in (AnnDataFile, ReportFile, RunRecord, SpatialDataStore)}


def check_file_replaceable(path, option: str = "--out") -> None:
    """Refuse to overwrite a file that pixel2gene did not write (or a folder) with a one-file output."""
    p = Path(path)
    kind = KINDS.get(p.suffix)
    wrong_kind = p.is_dir() != bool(kind and kind.FOLDER)
    if p.is_symlink() or (p.exists() and (wrong_kind or not (kind and kind.ours(p)))):
        raise InputError(p, "exists and was not written by pixel2gene; it is left as is",
                         f"give {option} another name, or move that file away yourself")
