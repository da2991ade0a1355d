"""Resumability: a finished step's output directory is reused when its inputs match."""
import json
import time
from pathlib import Path

from ..io.outputs import atomic_dir

STAMP = "step.json"
_started = {}  # every step asks finished() first, so that call marks when its work began




def finished(out: Path, params: dict) -> bool:
    _started[str(Path(out).resolve())] = time.time()
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
        self.started = _started.pop(str(self.out.resolve()), time.time())
        self._ctx = None

    def __enter__(self):
        self._ctx = atomic_dir(self.out)
        self.tmp = self._ctx.__enter__()
        return self.tmp

    def __exit__(self, et, ev, tb):
        if et is None:
            (self.tmp / STAMP).write_text(json.dumps(
                {"step": self.step, "params": _normal(self.params),
                 "seconds": round(time.time() - self.started, 2),
                 "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=2) + "\n")
        return self._ctx.__exit__(et, ev, tb)
