"""Resumability: a finished step's output directory is reused when its inputs match."""
import json
from pathlib import Path

from ..io.outputs import atomic_dir

STAMP = "step.json"


def finished(out: Path, params: dict) -> bool:
    stamp = Path(out) / STAMP
    if not stamp.is_file():
        return False
    try:
        return json.loads(stamp.read_text()).get("params") == _normal(params)
    except (ValueError, OSError):
        return False


def _normal(params):
    return json.loads(json.dumps(params, default=str))


class StepOutput:
    """`with StepOutput(out, params) as tmp:` writes into tmp, stamps, then publishes."""

    def __init__(self, out, params: dict, step: str):
        self.out, self.params, self.step = Path(out), params, step
        self._ctx = None

    def __enter__(self):
        self._ctx = atomic_dir(self.out)
        self.tmp = self._ctx.__enter__()
        return self.tmp

    def __exit__(self, et, ev, tb):
        if et is None:
            (self.tmp / STAMP).write_text(json.dumps(
                {"step": self.step, "params": _normal(self.params)}, indent=2) + "\n")
        return self._ctx.__exit__(et, ev, tb)
