"""Progress lines on stderr: one per step, and throttled updates with an ETA."""
import sys
import time


def say(msg: str) -> None:
    print(f"[p2g] {msg}", file=sys.stderr, flush=True)


class Progress:
    """Call with (done, total); prints at most every `every` seconds."""

    def __init__(self, label: str, every: float = 10.0):
        self.label = label
        self.every = every
        self.start = time.monotonic()
        self.last = self.start

    def __call__(self, done, total):
        now = time.monotonic()
        if now - self.last < self.every and done < total:
            return
        self.last = now
        elapsed = now - self.start
        frac = done / total if total else 1.0
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        say(f"{self.label}: {100 * frac:5.1f}% ({elapsed:.0f} s, about {eta:.0f} s left)")
