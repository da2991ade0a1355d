"""Writing results: atomic files and directories, safe .npy, JSON records."""
import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_dir(final: Path):
    """Yield a temporary sibling directory; it becomes `final` only on success.

    A crash or a validation error leaves nothing at `final`, so a resumed run
    never mistakes half-written output for a finished step.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide results from other users
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


@contextlib.contextmanager
def atomic_file(final: Path):
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
    os.close(fd)
    os.chmod(tmp, 0o644)
    try:
        yield Path(tmp)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    os.replace(tmp, final)


def save_npy(path: Path, array) -> None:
    with atomic_file(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(array), allow_pickle=False)


def load_npy(path: Path, mmap: bool = False):
    return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)


def write_json(path: Path, obj) -> None:
    with atomic_file(path) as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2, default=_jsonable) + "\n")


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def _jsonable(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x)}")
