"""Entry point shared by every bin/ tool: parse a dataclass, run, fail in one line."""
import sys

from argparse_dataclass import ArgumentParser

from ..errors import InputError


def main(args_class, run, description: str, argv=None) -> int:
    parser = ArgumentParser(args_class, description=description)
    args = parser.parse_args(argv)
    try:
        run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; no partial output was kept", file=sys.stderr)
        return 130
    return 0
