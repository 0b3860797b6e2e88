"""An exclusive lock against concurrent updates of one host (``fcntl.flock``).

Two ``tdxpolicy update`` runs must never interleave their ``fw_upload`` writes. The lock is an
advisory ``flock`` on a lock file (default ``/run/lock/tdxpolicy.lock``); it is released by the
kernel when the process exits, so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from types import TracebackType

__all__ = ["DEFAULT_LOCK", "LockBusy", "UpdateLock"]

DEFAULT_LOCK = Path("/run/lock/tdxpolicy.lock")


class LockBusy(Exception):
    """Another process holds the lock."""


class UpdateLock:
    """``with UpdateLock(path):`` — non-blocking; raises :class:`LockBusy` if held, ``OSError``
    if the lock file cannot be created."""

    def __init__(self, path: Path = DEFAULT_LOCK) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LockBusy(str(self.path)) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> UpdateLock:
        self.acquire()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
