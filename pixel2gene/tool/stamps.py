"""What decides a step's output, derived from its Args dataclass field by field.

A field added later is covered without touching this module:

- `upstream=Rescaled` (or any artifacts class): the field names output folder(s)
  of that step; they are opened as such (a wrong or outdated folder is a one-line
  error) and the stamp holds their digests, so a step re-runs whenever anything
  upstream of it changed, wherever it lives; `part="image"` records only the
  digest of that part of the folder (fixing the counts does not redo the mask);
- `role="file"`: user file(s); the stamp holds what they contain (a hash of
  small files, size and modification time of big ones), not their paths;
- `role="sample"`: a sample prefix; the stamp holds its absolute path and what
  each of the sample's files contains;
- `role="runtime"`: how, not what (out, device, threads); left out;
- anything else is a parameter that changes the output and is stamped as is.

The stamp also holds the pixel2gene version: a new version re-runs every step.
"""
import hashlib
import os
from dataclasses import fields
from pathlib import Path

from .. import __version__
from ..errors import InputError
from ..artifacts.base import normal
from .options import check, option_name
from .progress import say

HASHED_BYTES = 4 << 20  # files up to this size are hashed; bigger ones are known by size and mtime


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def file_fingerprint(path) -> dict:
    """What a user file contains, cheaply: a hash when small, else size and mtime."""
    if str(path).startswith("hf-hub:"):  # a repository's file, fetched by the step: its name is all there is
        return {"remote": str(path)}
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
            raise InputError(out, f"output would replace the input given with {option_name(name)}",
                             f"give {option_name(out_field)} a new folder outside your inputs")


def _sample_stamp(prefix) -> dict:
    from ..io.sample import locate
    files = locate(prefix)
    found = {k: v for k, v in vars(files).items() if isinstance(v, Path)}
    return {"prefix": os.path.abspath(files.prefix), **{k: file_fingerprint(v) for k, v in found.items()}}


def upstream_digests(f, value):
    folder_class, option = f.metadata["upstream"], option_name(f.name)
    digests = [folder_class.open(v, option).digest(f.metadata.get("part")) for v in _as_list(value)]
    return digests if isinstance(value, (list, tuple)) else (digests or [None])[0]


def input_stamp(args) -> dict:
    """Everything that decides a step's output, derived from its Args (see the module's docstring), once every
    option has passed its declared checks (tool/options.py)."""
    check(args)
    check_out_is_not_an_input(args)
    stamp = {"version": __version__, "params": {}, "upstream": {}, "files": {}}
    for f in fields(args):
        value, role = getattr(args, f.name), f.metadata.get("role")
        if role == "runtime":
            continue
        if role == "sample":
            stamp["files"][f.name] = _sample_stamp(value)
        elif "upstream" in f.metadata:
            stamp["upstream"][f.name] = upstream_digests(f, value)
        elif role == "file":
            prints = [file_fingerprint(v) for v in _as_list(value) if v]
            stamp["files"][f.name] = prints if isinstance(value, (list, tuple)) else (prints or [None])[0]
        else:
            stamp["params"][f.name] = value
    return normal(stamp)


def start(folder_class, args, implied=None):
    """A step's first move: (its output path, its inputs (input_stamp), and the folder at that path when it
    already holds this step's output, in this format, for exactly these inputs: the step has nothing to do,
    and says so). `implied`: name -> path of files the step reads that no option names (a file found beside
    another); what they contain is stamped too."""
    inputs = input_stamp(args)
    if implied:
        inputs["files"]["implied"] = normal({k: file_fingerprint(v) for k, v in sorted(implied.items())})
    out = Path(args.out)
    if folder_class.is_finished(out, inputs):
        say(f"{folder_class.STEP}: reusing {out}")
        return out, inputs, folder_class(out)
    return out, inputs, None
