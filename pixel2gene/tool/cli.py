"""Entry point shared by every bin/ tool: parse a dataclass, run, fail in one line."""
import argparse
import os
import re
import sys
import traceback
from dataclasses import MISSING, fields
from pathlib import Path

from argparse_dataclass import ArgumentParser

from ..errors import InputError
from .options import check, option_name
from .progress import say


def list_flags(args_class):
    """The options that take several values, in their current and their old spellings."""
    out = set()
    for f in fields(args_class):
        if f.metadata.get("nargs") in ("+", "*"):
            out |= {option_name(f.name)} | ({f.metadata["renamed_from"]} if "renamed_from" in f.metadata else set())
    return out


def merge_repeated(argv, flags):
    """Let list options repeat (--train A --train B) as well as take several values."""
    rest, values, current = [], {}, None
    for token in argv:
        if token in flags:
            current = token
            values.setdefault(token, [])
        elif current and not token.startswith("--"):
            values[current].append(token)
        else:
            current = None
            rest.append(token)
    for flag, vals in values.items():
        rest += [flag] + vals
    return rest


def renamed(action_class, old: str, new: str):
    """`action_class` that also answers to the option's old spelling, with a warning when it is used."""
    class Renamed(action_class):
        def __call__(self, parser, namespace, values, option_string=None):
            if option_string in (old, "--no-" + old[2:]):
                now = new if not option_string.startswith("--no-") else "--no-" + new[2:]
                say(f"warning: {option_string} is now {now}; the old spelling goes in the next release")
            super().__call__(parser, namespace, values, option_string)
    return Renamed


class Parser(ArgumentParser):
    """argparse over a dataclass: help shows every default, flags pair as --x/--no-x, usage errors are one
    line, and a renamed option still takes its old spelling (field metadata `renamed_from`) for one release."""

    def add_argument(self, *names, **kwargs):
        options = getattr(self, "_options_type", None)  # unset while argparse adds -h
        by_name = {f.name: f for f in fields(options)} if options else {}
        f = by_name.get(kwargs.get("dest") or names[0].lstrip("-").replace("-", "_"))
        if f is None:
            return super().add_argument(*names, **kwargs)
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        flag, old = option_name(f.name), f.metadata.get("renamed_from")
        if f.type is bool:
            shown = flag if default is True else "--no-" + flag[2:]
            kwargs = dict(help=f"{kwargs.get('help') or ''} (default: {shown})".strip(), dest=f.name,
                          default=bool(default), action=argparse.BooleanOptionalAction)
            names = (flag,)
        elif default is not MISSING and default not in (None, "", []):
            kwargs["help"] = f"{kwargs.get('help') or ''} (default: {_shown(default)})".strip()
        if old:
            kwargs["dest"] = f.name
            kwargs["action"] = renamed(kwargs.get("action", argparse._StoreAction), old, flag)
            kwargs["help"] = f"{kwargs.get('help') or ''}; was {old}, which still works until the next release"
            names = tuple(names) + (old,)
        return super().add_argument(*names, **kwargs)

    def error(self, message):
        print(f"error: {message}; see {self.prog} --help", file=sys.stderr)
        sys.exit(2)


def _shown(value) -> str:
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def parse(args_class, description: str, argv=None, prog=None):
    parser = Parser(args_class, description=description, prog=prog)
    argv = sys.argv[1:] if argv is None else list(argv)
    return parser.parse_args(merge_repeated(argv, list_flags(args_class)))


def main(args_class, run, description: str, argv=None, prog=None) -> int:
    args = parse(args_class, description, argv, prog)
    quiet_hdf5_cleanup()
    try:
        check(args)
        run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; no partial output was kept", file=sys.stderr)
        return exit_now_if_hdf5_is_stuck(130)
    except OSError as exc:  # disk full, no permission, name too long: the system's reason, in one line
        print(f"error: {exc.filename or getattr(args, 'out', None) or 'a file'}: {system_reason(exc)}; free space "
              "or choose a folder you can write to (no partial output was kept)", file=sys.stderr)
        return exit_now_if_hdf5_is_stuck(2)
    except Exception as exc:
        if os.environ.get("P2G_DEBUG"):
            raise
        print(f"error: internal error ({type(exc).__name__}: {str(exc)[:300]}); no partial output was kept; "
              "please report it with the output of the same command run with P2G_DEBUG=1", file=sys.stderr)
        return exit_now_if_hdf5_is_stuck(1)
    return 0


def system_reason(exc: OSError) -> str:
    """The system's reason for an OSError in a few words; libhdf5's own messages run over several lines and
    bury the errno in them."""
    code = exc.errno or next(iter(re.findall(r"errno = (\d+)", str(exc))), None)
    if code:
        return os.strerror(int(code))
    short = re.search(r"(\d+) requested and (\d+) written", str(exc))  # numpy's words for a write cut short
    if short:
        return f"No space left on device (a write stopped after {short[2]} of {short[1]} bytes)"
    return (exc.strerror or str(exc)).splitlines()[0][:200]


def quiet_hdf5_cleanup() -> None:
    """A write that failed inside libhdf5 (a full disk) fails again each time h5py lets go of one of the file's
    objects, and h5py prints each of those as a traceback and 'Exception ignored'; the first failure is the one
    reported, in one line."""
    if getattr(sys.excepthook, "quiet_hdf5", False):  # once per process: tests run many tools in one
        return
    unraisable, excepthook = sys.unraisablehook, sys.excepthook

    def from_h5py(exc, where) -> bool:
        return isinstance(exc, OSError) and "h5py" in where

    def quiet_unraisable(u):
        if not from_h5py(u.exc_value, repr(u.object)):
            unraisable(u)

    def quiet_excepthook(kind, exc, tb):  # h5py's object clean-up prints its traceback through this
        last = traceback.extract_tb(tb)[-1].filename if tb else ""
        if not from_h5py(exc, last):
            excepthook(kind, exc, tb)
    quiet_excepthook.quiet_hdf5 = True
    sys.unraisablehook, sys.excepthook = quiet_unraisable, quiet_excepthook


def exit_now_if_hdf5_is_stuck(code: int) -> int:
    """After a failed write, libhdf5 can hold a file it could not close, and crashes (SIGSEGV, exit 139) when
    the exception is cleared or the interpreter exits. The partial output is already removed by then, so where
    a file is still open, leave at once with the error's status, before either happens."""
    h5py = sys.modules.get("h5py")
    if h5py is None or not h5py.h5f.get_obj_count(h5py.h5f.OBJ_ALL, h5py.h5f.OBJ_FILE):
        return code
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main_commands(commands: dict, description: str, argv=None) -> int:
    """A tool with sub-commands (`p2g-import visium ...`): {name: (Args class, run, description)}."""
    argv = sys.argv[1:] if argv is None else list(argv)
    tool = Path(sys.argv[0]).name
    if not argv or argv[0] not in commands:
        out = sys.stdout if argv and argv[0] in ("-h", "--help") else sys.stderr
        print(f"usage: {tool} {{{','.join(commands)}}} ...\n\n{description.strip()}\n\ncommands:", file=out)
        for name, (_, _, text) in commands.items():
            print(f"  {name:12s} {text}", file=out)
        print(f"\n'{tool} COMMAND --help' lists a command's options.", file=out)
        if out is sys.stdout:
            return 0
        print(f"error: {'no command given' if not argv else repr(argv[0]) + ' is not a command'}; "
              f"use one of {', '.join(commands)}", file=sys.stderr)
        return 2
    args_class, run, text = commands[argv[0]]
    return main(args_class, run, text, argv[1:], prog=f"{tool} {argv[0]}")
