"""Writing results: atomic files and directories, safe .npy, JSON records."""
import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..errors import InputError


def remove_stale_partials(final: Path) -> None:
    """Remove what a killed earlier run left beside `final`: only names our temp pattern makes."""
    final = Path(final)
    if not final.parent.is_dir():
        return
    ours = re.compile(r"\." + re.escape(final.name) + r"\.[A-Za-z0-9_]{8}\.(partial|old)")
    for p in final.parent.iterdir():
        if ours.fullmatch(p.name) and not p.is_symlink():
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(final: Path):
    """Yield a temporary sibling directory; it becomes `final` only on success.

    A crash or a validation error leaves nothing at `final`, so a resumed run
    never mistakes half-written output for a finished step. The caller decides
    whether an existing `final` may be replaced (tool.reuse.check_replaceable).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide results from other users
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _publish(tmp, final)


def _publish(tmp: Path, final: Path) -> None:
    """Put `tmp` in the place of `final`: an earlier `final` is moved aside first and deleted last, so at
    every moment one complete folder is there (or, before the first run, none)."""
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
        os.replace(final, old / final.name)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(final: Path):
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(final)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
    os.close(fd)
    os.chmod(tmp, 0o644)
    try:
        yield Path(tmp)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    os.replace(tmp, final)


def load_npy(path: Path, mmap: bool = False):
    return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)


def read_user_npy(path) -> np.ndarray:
    """A user's .npy of plain numbers; anything that would run code on load is refused."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror})", "give an existing .npy file") from None
    if magic != b"\x93NUMPY":
        raise InputError(path, "is not a .npy file", "save the array with numpy.save, or give a .png/.tif image")
    try:
        a = np.load(path, allow_pickle=False)
    except ValueError as exc:
        why = "holds Python objects (pickled)" if "pickle" in str(exc) else f"is not a readable .npy ({exc})"
        raise InputError(path, why, "save a plain numeric array, e.g. numpy.save(path, mask.astype('uint8'))") from None
    except (OSError, EOFError) as exc:
        raise InputError(path, f"is not a readable .npy ({exc})", "save it again with numpy.save") from None
    if not isinstance(a, np.ndarray) or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise InputError(path, f"holds {getattr(a, 'dtype', type(a))} values, not numbers",
                         "save a plain numeric array, e.g. numpy.save(path, mask.astype('uint8'))")
    return a


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
