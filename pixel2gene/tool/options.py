"""Options declared once: their checks ride on the field, and p2g-run takes the steps' own fields.

A step's Args field says everything about its option: type, default, help,
`choices`, a bound (`least`: the smallest value allowed, `above`: a value it
must exceed), `role` (tool/stamps.py) and, for an option renamed, the old
spelling it still accepts for one release (`renamed_from`). `check` applies
those rules to a parsed Args and names the option the user typed; the command
line (tool/cli.py) and every step call it, so one declaration is checked in one
way everywhere.

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
        if f.metadata.get("role") == "file":
            for v in values:
                if v and not Path(v).is_file():
                    raise InputError(v, "file is missing", f"give {option} an existing file")


def same_option(a: dataclasses.Field, b: dataclasses.Field) -> bool:
    """Two declarations of one option: the same type, default and choices (their help may differ)."""
    return a.type == b.type and default_of(a) == default_of(b) and choices_of(a) == choices_of(b)


def compose(name: str, *sources, exclude: Iterable[str] = (), module: str = None):
    """A dataclass with the fields of `sources` (dataclasses), the first of each name kept, `exclude` left out.

    A name that two sources declare differently is an error: one option, one meaning.
    """
    exclude, chosen = set(exclude), {}
    for source in sources:
        for f in fields(source):
            if f.name in exclude:
                continue
            if f.name in chosen:
                if not same_option(chosen[f.name], f):
                    raise TypeError(f"option {option_name(f.name)} means two things: in {chosen[f.name]._source} "
                                    f"and in {source.__qualname__}")
                continue
            f._source = source.__qualname__
            chosen[f.name] = f
    required = [f for f in chosen.values() if f.default is MISSING and f.default_factory is MISSING]
    optional = [f for f in chosen.values() if f not in required]
    spec = [(f.name, f.type, _copy(f)) for f in required + optional]
    cls = dataclasses.make_dataclass(name, spec)
    if module:
        cls.__module__ = module
    return cls


def _copy(f: dataclasses.Field) -> dataclasses.Field:
    if f.default_factory is not MISSING:
        return dataclasses.field(default_factory=f.default_factory, metadata=f.metadata)
    if f.default is not MISSING:
        return dataclasses.field(default=f.default, metadata=f.metadata)
    return dataclasses.field(metadata=f.metadata)


def values_for(target, args, exclude: Iterable[str] = ()) -> dict:
    """The values in `args` of `target`'s fields (a step's Args): what a caller hands on unchanged."""
    names = {f.name for f in fields(args)}
    return {f.name: getattr(args, f.name) for f in fields(target) if f.name in names and f.name not in set(exclude)}
