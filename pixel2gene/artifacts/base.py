"""A step's output folder: its own files, the record of what made it (step.json), and how it is written.

Every step writes one folder (or, for the .h5ad, the report and run.json, one
file: files.py). A folder is only ever published whole: the step writes into a
hidden sibling and renames it into place once its record is written, so a
killed run leaves nothing a later run could mistake for a finished step.

The record holds the step's name, the format version of its folder (FORMAT,
bumped with the package version whenever a class changes what its folder holds),
the inputs that decided it (tool/stamps.py) and a digest of all that. Steps
downstream record that digest, so a change anywhere upstream re-runs them.
"""
import contextlib
import hashlib
import json
import time
from pathlib import Path
from typing import ClassVar, Dict, Optional

import numpy as np

from ..errors import InputError
from ..genes.names import read_gene_names, write_gene_names
from ..io.memmaps import new_npy
from ..io.outputs import atomic_dir, load_npy, read_json, write_json

STAMP = "step.json"
# shared by several folders: each writer stores these files the same way
CHANNEL_MEAN, CHANNEL_STD = "channel-mean.npy", "channel-std.npy"
MASK, MASK_PICTURE = "mask.npy", "mask.png"
GENE_NAMES = "gene-names.txt"
NOVELTY, COLOUR_SHARE = "novelty.npy", "colour-share.npy"
SKILL = "skill.npy"  # per-gene out-of-fold skill sums: the model's, copied beside its predictions
GENE_MIN, GENE_MAX = "gene-min.npy", "gene-max.npy"  # the MLPs' per-gene target range: trained, then selected

_started: Dict[str, float] = {}  # every step asks is_finished() first, so that call marks when its work began


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:32]


def normal(obj):
    """`obj` as it reads back from JSON (tuples become lists, paths strings), so records compare equal."""
    return json.loads(json.dumps(obj, default=str))


def read_stamp(folder) -> Optional[dict]:
    """A folder's record, or None when it holds no readable step.json."""
    try:
        stamp = json.loads((Path(folder) / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) and "step" in stamp else None


_FOLDERS: Dict[str, type] = {}  # step name -> its StepFolder class (StepFolder.__init_subclass__)


def check_replaceable(out, step: str, option: str = "--out") -> None:
    """Refuse to replace anything but an empty folder or an earlier output of this same step (or of the step
    whose folder an earlier version kept there: the folder class's REPLACES)."""
    out = Path(out)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise InputError(out, "exists and is not a folder that pixel2gene wrote; it is left as is",
                         f"give {option} a new folder")
    if not out.exists() or not any(out.iterdir()):
        return
    found = read_stamp(out)
    if found is None:
        raise InputError(out, f"folder exists and was not written by pixel2gene (no {STAMP}); it is left as is",
                         f"give {option} a new folder, or move that one away yourself")
    predecessor = getattr(_FOLDERS.get(step), "REPLACES", {}).get(found["step"])
    if found["step"] != step and not (predecessor is not None and found.get("format", 0) <= predecessor):
        raise InputError(out, f"holds a p2g-{found['step']} output, which p2g-{step} would replace",
                         f"give {option} a new folder")


class File:
    """One file of a step folder, declared on the folder's class: `mask = Npy("mask.npy")`.

    On a folder object the attribute is the file itself, bound to that folder:
    `folder.mask.read()`, `folder.mask.write(a)`, `folder.mask.path`.
    """

    def __init__(self, name: str):
        self.name = name
        self.path = None   # set on the file of a folder
        self.step = None   # the tool that writes it, for error messages

    @classmethod
    def at(cls, path, step: str = None) -> "File":
        """The file at `path` (for files a folder holds by the dozen, such as one map per gene)."""
        bound = cls(Path(path).name)
        bound.path, bound.step = Path(path), step
        return bound

    def __get__(self, folder, owner=None):
        return self if folder is None else type(self).at(folder.path / self.name, folder.STEP)

    def exists(self) -> bool:
        return self.path.is_file()

    def unreadable(self, exc: Exception = None) -> InputError:
        """The one-line error for a file that is missing or not as its step wrote it. Only a folder that
        holds a step record is called ours, and only then is deleting it the fix."""
        tool = f"p2g-{self.step}" if self.step else "its step"
        folder = next((f for f in (self.path.parent, self.path.parent.parent) if read_stamp(f) is not None), None)
        if folder is None:
            return InputError(self.path.parent, f"not a {tool} output ({self.name} is missing)" if exc is None else
                              f"not a {tool} output ({self.name} does not read as one)",
                              f"give the folder that {tool} wrote")
        if exc is None:
            return InputError(self.path, "is missing from its step folder",
                              f"delete the folder {folder} and run {tool} again (p2g-run redoes it by itself)")
        return InputError(self.path, f"is not as pixel2gene wrote it ({type(exc).__name__}: {str(exc)[:120]}); "
                          "it was not loaded", f"delete the folder {folder} and run {tool} again "
                          "(p2g-run redoes it by itself)")

    def _read(self, load, errors=(ValueError, OSError)):
        try:
            return load(self.path)
        except FileNotFoundError:
            raise self.unreadable() from None
        except PermissionError:
            raise  # the file may be fine: the tools' one-line error for the system's reason applies
        except errors as exc:
            raise self.unreadable(exc) from None


class Npy(File):
    """A .npy array of plain numbers, never loaded with pickles."""

    def read(self, mmap: bool = False) -> np.ndarray:
        return self._read(lambda p: load_npy(p, mmap=mmap), (ValueError, OSError, EOFError))

    def write(self, array, dtype=None) -> None:
        np.save(self.path, np.asarray(array, dtype=dtype), allow_pickle=False)

    def create(self, shape, dtype, sparse: bool = False) -> np.ndarray:
        """A new array on disk, filled in place (a memory map: never the whole array in memory); its disk space is
        reserved first unless `sparse` (io/memmaps.py)."""
        return new_npy(self.path, shape, dtype, sparse)


class Json(File):
    def read(self):
        return self._read(read_json, (ValueError, UnicodeDecodeError, OSError))

    def write(self, record) -> None:
        write_json(self.path, record)


class Parquet(File):
    def read(self):
        import pandas as pd
        return self._read(pd.read_parquet)

    def write(self, table) -> None:
        table.to_parquet(self.path)


class Png(File):
    """A picture for people (an overview, a map); steps draw it, nothing reads it back but the report."""

    def write(self, rgb: np.ndarray) -> None:
        import cv2
        cv2.imwrite(str(self.path), np.ascontiguousarray(rgb[..., ::-1]))

    def copy_from(self, other: "Png") -> None:
        if other.exists():
            self.path.write_bytes(other.path.read_bytes())


class Tsv(File):
    """A table for people and spreadsheets, tab-separated with a header."""

    def read(self):
        import pandas as pd
        return self._read(lambda p: pd.read_csv(p, sep="\t"))

    def write(self, table, float_format: str = "%.5g") -> None:
        table.to_csv(self.path, sep="\t", index=False, float_format=float_format)


class GeneNames(File):
    """One gene name per line, in the order of the folder's arrays (genes/names.py)."""

    def read(self):
        return self._read(read_gene_names, (ValueError, OSError, UnicodeDecodeError))

    def write(self, genes) -> None:
        write_gene_names(self.path, genes)


class StepFolder:
    """One step's output folder. Subclasses name the step, the format and their files, and read and
    write them; `StepFolder(path)` only points at a folder, `open` also checks what it holds."""

    STEP: ClassVar[str] = ""
    FORMAT: ClassVar[int] = 1
    # step -> its last format whose folder this one takes the place of (a step renamed or split between versions)
    REPLACES: ClassVar[Dict[str, int]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _FOLDERS[cls.STEP] = cls

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self):
        return f"{type(self).__name__}({str(self.path)!r})"

    @classmethod
    def tool(cls) -> str:
        return f"p2g-{cls.STEP}"

    # reading ------------------------------------------------------------------------------------------
    @classmethod
    def open(cls, path, option: str = "--in"):
        """The folder at `path`, which must be this step's output in this format; a one-line error otherwise."""
        p = Path(path)
        wrote = f"give {option} the folder that {cls.tool()} wrote"
        if not p.is_dir():
            raise InputError(p, "folder is missing" if not p.exists() else "is a file, not a step's output folder",
                             wrote)
        stamp = read_stamp(p)
        if stamp is None:
            raise InputError(p, f"not a {cls.tool()} output ({STAMP} is missing)", wrote)
        if stamp["step"] != cls.STEP:
            raise InputError(p, f"is a p2g-{stamp['step']} output, not a {cls.tool()} one", wrote)
        if stamp.get("format") != cls.FORMAT:
            raise InputError(p, f"was written by pixel2gene {stamp.get('inputs', {}).get('version', '(unknown)')} "
                             f"in another format than this version reads",
                             f"run {cls.tool()} again (p2g-run redoes it by itself), or delete the folder")
        folder = cls(p)
        folder._stamp = stamp
        return folder

    @property
    def stamp(self) -> dict:
        if getattr(self, "_stamp", None) is None:
            self._stamp = read_stamp(self.path)
        return self._stamp

    def digest(self, part: str = None) -> str:
        """What downstream steps record of this folder: its digest, or that of the part they read."""
        if part is not None:
            return self.stamp["parts"][part]
        return self.stamp["digest"]

    def file(self, name: str) -> Path:
        """A path inside the folder, for files a class names by pattern (maps' genes/STEM.png)."""
        return self.path / name

    # reuse and writing --------------------------------------------------------------------------------
    @classmethod
    def is_finished(cls, out, inputs: dict) -> bool:
        """True when `out` holds this step's output, in this format, for exactly these inputs.

        Asked first by every step, so it also refuses, before any work, an `out` that this step may
        not replace, and marks when the step's work began.
        """
        _started[str(Path(out).resolve())] = time.time()
        check_replaceable(out, cls.STEP)
        found = read_stamp(out)
        return bool(found) and found.get("format") == cls.FORMAT and found.get("inputs") == normal(inputs)

    @classmethod
    @contextlib.contextmanager
    def create(cls, out, inputs: dict, parts: dict = None):
        """`with Folder.create(out, inputs) as folder:` the step writes into `folder` (a hidden sibling of
        `out`); on success the record is written and the folder published as `out`, on any error nothing is.

        `parts` maps a part of the output to the subset of the inputs it depends on, so that a step reading
        only that part re-runs only when it changes.
        """
        out = Path(out)
        inputs = normal(inputs)
        started = _started.pop(str(out.resolve()), time.time())
        check_replaceable(out, cls.STEP)
        with atomic_dir(out) as tmp:
            yield cls(tmp)
            (tmp / STAMP).write_text(json.dumps({
                "step": cls.STEP, "format": cls.FORMAT, "digest": digest([cls.STEP, cls.FORMAT, inputs]),
                "parts": {k: digest([cls.STEP, cls.FORMAT, k, normal(v)]) for k, v in (parts or {}).items()},
                "inputs": inputs, "seconds": round(time.time() - started, 2),
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=2) + "\n")
