"""Entry point shared by every bin/ tool: parse a dataclass, run, fail in one line."""
import argparse
import os
import sys
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
    try:
        check(args)
        run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; no partial output was kept", file=sys.stderr)
        return 130
    except OSError as exc:  # disk full, no permission, name too long: the system's reason, in one line
        where = exc.filename or "a file"
        print(f"error: {where}: {exc.strerror or exc}; free space or choose a folder you can write to "
              "(no partial output was kept)", file=sys.stderr)
        return 2
    except Exception as exc:
        if os.environ.get("P2G_DEBUG"):
            raise
        print(f"error: internal error ({type(exc).__name__}: {str(exc)[:300]}); no partial output was kept; "
              "please report it with the output of the same command run with P2G_DEBUG=1", file=sys.stderr)
        return 1
    return 0


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
