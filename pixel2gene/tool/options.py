"""Options declared once: their checks ride on the field, and p2g-run takes the steps' own fields.

A step's Args field says everything about its option: type, default, help,
`choices`, bounds (`least` and `most`: the smallest and largest values
allowed, `above`: a value it must exceed), `role` (tool/stamps.py) and, for a
renamed option, the old spelling it still accepts for one release
(`renamed_from`). `check` applies those rules to a parsed Args and names the
option the user typed; the command line (tool/cli.py), every step (through
input_stamp) and p2g-run call it, so one declaration is checked one way
everywhere.

`compose` builds a dataclass from the fields of others: the local runner's
options are its own plus the fields of the steps it calls (runner/run.py), so a
new step option reaches p2g-run without being written again.
"""
import dataclasses
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Iterable

from ..errors import InputError


def option_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def default_of(f: dataclasses.Field):
    return f.default_factory() if f.default_factory is not MISSING else f.default


def choices_of(f: dataclasses.Field):
    from typing import Literal, get_args, get_origin
    if f.metadata.get("choices") is not None:
        return list(f.metadata["choices"])
    return list(get_args(f.type)) if get_origin(f.type) is Literal else None


def check(args) -> None:
    """Every option of `args` against its declared rules; the first that fails is a one-line error."""
    for f in fields(args):
        value, option = getattr(args, f.name), option_name(f.name)
        if value is None:
            continue
        allowed = choices_of(f)
        values = value if isinstance(value, (list, tuple)) else [value]
        if allowed is not None:
            bad = [v for v in values if v not in allowed]
            if bad:
                raise InputError(option, f"unknown value '{bad[0]}'", f"choose one of {', '.join(map(str, allowed))}")
        if "least" in f.metadata and value < f.metadata["least"]:
            raise InputError(option, f"{value} is too small", f"give {option} {f.metadata['least']} or more")
        if "above" in f.metadata and not value > f.metadata["above"]:
            raise InputError(option, f"{value} is too small", f"give {option} a value above {f.metadata['above']}")
        if "most" in f.metadata and value > f.metadata["most"]:
            raise InputError(option, f"{value} is too large", f"give {option} {f.metadata['most']} or less")
        if f.metadata.get("role") == "file":
            remote = f.metadata.get("remote")  # a reference the step resolves itself (hf-hub:ORG/NAME)
            for v in values:
                if v and not (remote and str(v).startswith(remote)) and not Path(v).is_file():
                    raise InputError(v, "file is missing", f"give {option} an existing file")


def same_option(a: dataclasses.Field, b: dataclasses.Field) -> bool:
    """Two declarations of one option: the same type, default and choices (their help may differ)."""
    return a.type == b.type and default_of(a) == default_of(b) and choices_of(a) == choices_of(b)


def compose(name: str, own, *borrowed, exclude: Iterable[str] = (), module: str = None):
    """A dataclass with the fields of `own` and of the `borrowed` dataclasses, the first of each name kept.

    From the borrowed ones, the names in `exclude` are left out, and so are the folders of earlier steps
    and sample prefixes (the composer gives those). A name declared differently twice is an error: one
    option, one meaning.
    """
    exclude, chosen, where = set(exclude), {}, {}
    for source in (own, *borrowed):
        for f in fields(source):
            if source is not own and (f.name in exclude or "upstream" in f.metadata or f.name == "out"
                                      or f.metadata.get("role") == "sample"):
                continue
            if f.name in chosen:
                if not same_option(chosen[f.name], f):
                    raise TypeError(f"option {option_name(f.name)} means two things: in {where[f.name]} and in "
                                    f"{source.__module__}.{source.__qualname__}")
                continue
            chosen[f.name], where[f.name] = f, f"{source.__module__}.{source.__qualname__}"
    required = [f for f in chosen.values() if f.default is MISSING and f.default_factory is MISSING]
    optional = [f for f in chosen.values() if f not in required]
    own_names = {f.name for f in fields(own)}
    spec = [(f.name, f.type, _copy(f, keep_old_name=f.name in own_names)) for f in required + optional]
    cls = dataclasses.make_dataclass(name, spec)
    if module:
        cls.__module__ = module
    return cls


def _copy(f: dataclasses.Field, keep_old_name: bool) -> dataclasses.Field:
    """The field for a composed class; an old spelling is the history of the tool that had it, not of this one."""
    metadata = {k: v for k, v in f.metadata.items() if keep_old_name or k != "renamed_from"}
    if f.default_factory is not MISSING:
        return dataclasses.field(default_factory=f.default_factory, metadata=metadata)
    if f.default is not MISSING:
        return dataclasses.field(default=f.default, metadata=metadata)
    return dataclasses.field(metadata=metadata)


def values_for(target, args, exclude: Iterable[str] = ()) -> dict:
    """The values in `args` of `target`'s fields (a step's Args): what a caller hands on unchanged."""
    names = {f.name for f in fields(args)}
    return {f.name: getattr(args, f.name) for f in fields(target) if f.name in names and f.name not in set(exclude)}


# The fields every step shares, declared here once -------------------------------------------------------
def device_field():
    from .device import DEVICE_HELP
    return dataclasses.field(default="auto", metadata=dict(role="runtime", help=DEVICE_HELP))


def threads_field(what: str = "CPU threads for torch"):
    return dataclasses.field(default=0, metadata=dict(role="runtime", least=0, help=f"{what} (0 = all cores)"))


def out_field(what: str = "output directory of this step"):
    return dataclasses.field(metadata=dict(role="runtime", help=what))


def upstream_field(folder_class, note: str = "", **metadata):
    """An option naming the output folder(s) of an earlier step (a StepFolder class): its help says which."""
    what = "output directories" if metadata.get("nargs") in ("+", "*") else "output directory"
    metadata = dict(upstream=folder_class, help=f"{what} of {folder_class.tool()}" + (f" {note}" if note else ""),
                    **metadata)
    if metadata.get("nargs") == "*":
        return dataclasses.field(default_factory=list, metadata=metadata)
    if "default" in metadata:
        return dataclasses.field(default=metadata.pop("default"), metadata=metadata)
    return dataclasses.field(metadata=metadata)
