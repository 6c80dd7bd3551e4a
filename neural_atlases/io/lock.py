"""A project lock, so that two ``train`` runs never write one project's checkpoint at once.

The lock is an advisory ``flock`` on ``results/train.lock``; the file also holds the owner's pid,
for the message that a second run gets. The kernel drops a ``flock`` when its process ends, however
it ends (``kill -9`` included), so a dead process never holds a lock: the next run takes it over.
Where ``flock`` is not available (Windows, some network file systems) the pid in the file decides
instead: a lock whose pid is not a running process is taken over (``pid_is_running``).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from neural_atlases.errors import UserError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "train.lock"
"""The lock file, in the project's ``results/`` folder."""


def pid_is_running(pid: int) -> bool:
    """Whether a process with this id exists (``os.kill(pid, 0)``; another user's counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _read_pid(fd: int) -> int | None:
    """The pid written in a lock file, or None when it holds none."""
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _flock(fd: int) -> bool | None:
    """Try to take the ``flock``: True (taken), False (another process holds it) or None (this file
    system cannot ``flock``)."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as e:
        if e.errno in (errno.EAGAIN, errno.EACCES):
            return False
        return None  # ENOLCK, EOPNOTSUPP...: fall back on the pid
    return True


@contextlib.contextmanager
def project_lock(results_dir: Path, what: str = "train") -> Iterator[Path]:
    """Hold ``results_dir/train.lock`` for the duration of the block; yields the lock file's path.

    Raises ``UserError`` naming the holder's pid when a running process holds the lock, and
    ``UserError`` naming the folder when the lock cannot be made there (a read-only project).
    """
    path = Path(results_dir) / LOCK_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        taken = _flock(fd)
        holder = _read_pid(fd)
        if taken is None:  # no flock here: the pid decides
            taken = holder is None or holder == os.getpid() or not pid_is_running(holder)
        if not taken:
            who = f"process {holder}" if holder is not None else "another process"
            raise UserError(
                f"{path.parent.parent} is busy: {who} is already running `{what}` on it "
                f"(lock {path}); wait for it to end, or stop it and run again"
            )
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except OSError as e:
            raise UserError(f"cannot write {path}: {e.strerror or e}") from None
        try:
            yield path
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # released: no pid left to mislead the fallback
    finally:
        os.close(fd)  # drops the flock
