"""One p2g-run at a time per results folder.

Two runs into one folder (a second terminal, a re-submitted job) would each replace the other's steps half-way.
The first run holds an advisory lock (flock) on `.p2g-run.lock` in the results folder; the kernel drops it when
the process ends however it ends, so a killed run never leaves the folder locked, and the file's contents (pid,
host, start) only say who holds it. A second run stops at once with one line saying so.
"""
import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from ..errors import InputError

LOCK_NAME = ".p2g-run.lock"


@contextlib.contextmanager
def run_lock(outdir: Path):
    path = Path(outdir) / LOCK_NAME
    fd = _acquire(path)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode())
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)  # after the unlink: a run that waits on this file finds it gone and starts afresh


def _acquire(path: Path) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise InputError(path.parent, f"another p2g-run is writing these results ({holder})",
                             "wait for it to finish, or give this run another --outdir") from None
        except OSError:  # a file system without locks (some network mounts): run unguarded, as before
            return fd
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder finished and removed the file between our open and our lock: try again


def _holder(fd: int) -> str:
    try:
        who = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        who = {}
    if not who:
        return "it is starting"
    return f"pid {who.get('pid')} on {who.get('host')}, started {who.get('started')}"
