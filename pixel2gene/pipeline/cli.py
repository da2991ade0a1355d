"""Entry point shared by every bin/ tool: parse a dataclass, run, fail in one line."""
import sys
from dataclasses import fields

from argparse_dataclass import ArgumentParser

from ..errors import InputError


def list_flags(args_class):
    return {"--" + f.name.replace("_", "-") for f in fields(args_class) if f.metadata.get("nargs") in ("+", "*")}


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


def parse(args_class, description: str, argv=None):
    parser = ArgumentParser(args_class, description=description)
    argv = sys.argv[1:] if argv is None else list(argv)
    return parser.parse_args(merge_repeated(argv, list_flags(args_class)))


def main(args_class, run, description: str, argv=None) -> int:
    args = parse(args_class, description, argv)
    try:
        run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; no partial output was kept", file=sys.stderr)
        return 130
    return 0
