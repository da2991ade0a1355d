"""Reuse of finished steps, and who may replace a step's output folder.

A step's stamp is derived from its Args dataclass, field by field, so a field
added later is covered without touching this module:

- `upstream="rescale"` (or any step name): the field names output folder(s)
  of that step; the stamp holds the upstream step's own digest, so a step
  re-runs whenever anything upstream of it changed, wherever it lives;
- `role="file"`: user file(s); the stamp holds what they contain (a hash of
  small files, size and modification time of big ones), not their paths;
- `role="sample"`: a sample prefix; the stamp holds its absolute path (the
  step records it) and what each of the sample's files contains;
- `role="runtime"`: how, not what (out, device, threads); left out;
- anything else is a parameter that changes the output and is stamped as is.

A stamp also holds the pixel2gene version. Its digest is what downstream
steps record, so re-running a step on unchanged inputs keeps its digest. A
step may also stamp parts of its output that depend on fewer inputs (the
rescaled image does not depend on the counts); a field with `part="image"`
then records only that part's digest, so fixing the counts does not redo the
tissue mask and the features.
"""
import hashlib
import json
import os
import time
from dataclasses import fields
from pathlib import Path

from .. import __version__
from ..errors import InputError
from ..io.outputs import atomic_dir

STAMP = "step.json"
HASHED_BYTES = 4 << 20  # files up to this size are hashed; bigger ones are known by size and mtime
_started = {}  # every step asks finished() first, so that call marks when its work began


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def file_fingerprint(path) -> dict:
    """What a user file contains, cheaply: a hash when small, else size and mtime."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return {"missing": os.path.abspath(p)}  # the step itself reports the missing file
    if p.is_dir():
        return {"folder": str(p.resolve())}
    if st.st_size <= HASHED_BYTES:
        return {"size": st.st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def read_stamp(folder) -> dict:
    """A step folder's stamp, or None when the folder holds no readable step.json."""
    try:
        stamp = json.loads((Path(folder) / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) and "step" in stamp else None


def upstream_stamp(path, step: str, option: str) -> dict:
    """The stamp of a folder that must be `step`'s output; a one-line error otherwise."""
    p = Path(path)
    if not p.is_dir():
        raise InputError(p, "folder is missing" if not p.exists() else "is a file, not a step's output folder",
                         f"give {option} the folder that p2g-{step} wrote")
    stamp = read_stamp(p)
    if stamp is None:
        raise InputError(p, f"not a p2g-{step} output ({STAMP} is missing)",
                         f"give {option} the folder that p2g-{step} wrote")
    if step != "any" and stamp["step"] != step:
        raise InputError(p, f"is a p2g-{stamp['step']} output, not a p2g-{step} one",
                         f"give {option} the folder that p2g-{step} wrote")
    return stamp


def digest_of(stamp: dict, part: str = None) -> str:
    if part and part in stamp.get("parts", {}):
        return stamp["parts"][part]
    if stamp.get("digest"):
        return stamp["digest"]
    return _digest(stamp.get("inputs", stamp.get("params")))  # a folder from an older version


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _normal(obj):
    return json.loads(json.dumps(obj, default=str))


def _input_paths(args):
    for f in fields(args):
        if "upstream" in f.metadata or f.metadata.get("role") in ("file", "sample"):
            for v in _as_list(getattr(args, f.name)):
                if v:
                    yield f.name, Path(v)


def check_out_is_not_an_input(args, out_field: str = "out") -> None:
    """The output may be neither an input nor a folder that holds one."""
    out = Path(os.path.abspath(getattr(args, out_field)))
    for name, path in _input_paths(args):
        p = Path(os.path.abspath(path))
        if out == p or out in p.parents:
            raise InputError(out, f"output would replace the input given with {_option(name)}",
                             f"give {_option(out_field)} a new folder outside your inputs")


def _sample_stamp(prefix) -> dict:
    from ..io.sample import locate
    files = locate(prefix)
    found = {k: v for k, v in vars(files).items() if isinstance(v, Path)}
    return {"prefix": os.path.abspath(files.prefix), **{k: file_fingerprint(v) for k, v in found.items()}}


def input_stamp(args) -> dict:
    """Everything that decides a step's output, derived from its Args (see the module's docstring)."""
    check_out_is_not_an_input(args)
    stamp = {"version": __version__, "params": {}, "upstream": {}, "files": {}}
    for f in fields(args):
        value, role = getattr(args, f.name), f.metadata.get("role")
        if role == "runtime":
            continue
        if role == "sample":
            stamp["files"][f.name] = _sample_stamp(value)
        elif "upstream" in f.metadata:
            digests = [digest_of(upstream_stamp(v, f.metadata["upstream"], _option(f.name)), f.metadata.get("part"))
                       for v in _as_list(value)]
            stamp["upstream"][f.name] = digests if isinstance(value, (list, tuple)) else (digests or [None])[0]
        elif role == "file":
            prints = [file_fingerprint(v) for v in _as_list(value) if v]
            stamp["files"][f.name] = prints if isinstance(value, (list, tuple)) else (prints or [None])[0]
        else:
            stamp["params"][f.name] = value
    return _normal(stamp)


def finished(out: Path, stamp: dict, step: str) -> bool:
    """True when `out` holds this step's output for exactly these inputs.

    Asked first by every step, so it also refuses, before any work, an `out`
    that this step may not replace.
    """
    _started[str(Path(out).resolve())] = time.time()
    check_replaceable(out, step)
    found = read_stamp(out)
    return bool(found) and found.get("inputs") == _normal(stamp)


def check_replaceable(out: Path, step: str, option: str = "--out") -> None:
    """Refuse to replace anything but an empty folder or an earlier output of this same step."""
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
    if found["step"] != step:
        raise InputError(out, f"holds a p2g-{found['step']} output, which p2g-{step} would replace",
                         f"give {option} a new folder")


def _ours(path: Path) -> bool:
    """Whether an existing single-file output (.h5ad, .html, run.json) was written by pixel2gene."""
    try:
        if path.suffix == ".h5ad":
            import h5py
            with h5py.File(path, "r") as f:
                return "uns/pixel2gene" in f
        head = path.open("rb").read(4096).decode("utf-8", "replace")
    except (OSError, ValueError):
        return False
    if path.suffix == ".html":
        return "<title>Pixel2Gene: " in head
    if path.suffix == ".json":
        return '"version"' in head and '"args"' in head
    return False


def check_file_replaceable(path, option: str = "--out") -> None:
    """Refuse to overwrite a file that pixel2gene did not write (or a folder) with a one-file output."""
    p = Path(path)
    if p.is_symlink() or p.is_dir() or (p.exists() and not _ours(p)):
        raise InputError(p, "exists and was not written by pixel2gene; it is left as is",
                         f"give {option} another name, or move that file away yourself")


class StepOutput:
    """`with StepOutput(out, stamp, step) as tmp:` writes into tmp, stamps, then publishes.

    `parts` maps a part of the output to the subset of the stamp it depends on.
    """

    def __init__(self, out, stamp: dict, step: str, parts: dict = None):
        self.out, self.stamp, self.step = Path(out), _normal(stamp), step
        self.parts = {k: _digest([step, k, _normal(v)]) for k, v in (parts or {}).items()}
        self.started = _started.pop(str(self.out.resolve()), time.time())
        self._ctx = None

    def __enter__(self):
        check_replaceable(self.out, self.step)
        self._ctx = atomic_dir(self.out)
        self.tmp = self._ctx.__enter__()
        return self.tmp

    def __exit__(self, et, ev, tb):
        if et is None:
            (self.tmp / STAMP).write_text(json.dumps(
                {"step": self.step, "digest": _digest([self.step, self.stamp]), "parts": self.parts,
                 "inputs": self.stamp,
                 "seconds": round(time.time() - self.started, 2),
                 "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=2) + "\n")
        return self._ctx.__exit__(et, ev, tb)
