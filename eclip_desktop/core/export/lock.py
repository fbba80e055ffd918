"""One export at a time per output folder. Two runs into one `--out` would triage the same rows,
write the same maps and each rewrite index.json from its own view: rows lost or doubled. The second
run refuses in one line naming the holder.

The lock is an advisory `flock` on `<out>/.eclip-export.lock`, which the kernel drops when its holder
dies however it dies (kill -9, power loss of a local disk), so a lock left by a killed run is never in
the way: the next run takes it over and says whose it was. The file holds the holder's pid, host and
start time for the message; a run that ends removes it.
"""
from __future__ import annotations

import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

from eclip_desktop.core.errors import OutputError
from eclip_desktop.core.io.atomic import ensure_writable_dir
from eclip_desktop.core.io.guards import shown

try:
    import fcntl
except ImportError:  # not POSIX: no lock, as before
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".eclip-export.lock"


def _holder(text: str) -> str:
    try:
        info = json.loads(text)
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["started"])))
        return f"pid {int(info['pid'])} on {shown(info['host'])}, started {started}"
    except (ValueError, KeyError, TypeError, OverflowError):
        return "a process that left no details"


def _read(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 4096).decode("utf-8", "replace")


@contextmanager
def export_lock(out_dir: str | os.PathLike, note=None):
    """Holds `out_dir` for this export; OutputError when another export holds it. `note(text)` hears
    of a stale lock taken over."""
    out = ensure_writable_dir(out_dir)
    if fcntl is None:
        yield
        return
    path = Path(out) / LOCK_NAME
    fd = _acquire(path, out)
    if fd is None:  # a file system without locks: run as before
        yield
        return
    try:
        left = _read(fd)
        if left.strip() and note is not None:
            note(f"the export folder's lock was left by {_holder(left)}, which is no longer running; taken over")
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}).encode())
        yield
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
        os.close(fd)


def _acquire(path: Path, out: Path) -> int | None:
    """The locked descriptor of `path`; None where the file system has no locks."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        except OSError as exc:
            raise OutputError(f"cannot lock the export folder {shown(out)}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(_read(fd))
            os.close(fd)
            raise OutputError(f"the export folder {shown(out)} is in use by another export ({holder}); wait for it "
                              "to finish, or choose another --out") from None
        except OSError:
            os.close(fd)
            return None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except OSError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed the file between our open and our lock: lock the new one
