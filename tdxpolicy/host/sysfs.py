"""The filesystem seam between tdxpolicy and the kernel's sysfs/procfs attributes.

Everything under :mod:`tdxpolicy.host` reads and writes kernel attributes through a
:class:`SysfsIO`. The real implementation (:class:`RealSysfs`) uses ``os.open``/``os.read``/
``os.write`` with a size cap on every read and never creates a file (a sysfs attribute that is
missing stays missing: ``O_CREAT`` is never passed). Tests substitute the simulated kernel of
``tests/simkernel.py``, which implements the same protocol in-process, because plain files
cannot fail with ``ENXIO`` or move ``status`` through the ``fw_upload`` states
(docs/domain.md#linux-interface).

Nothing here interprets content; :mod:`tdxpolicy.host.probe` does.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Protocol

__all__ = ["SysfsIO", "RealSysfs", "ATTR_LIMIT", "default_io"]

# A sysfs attribute is at most one page; anything larger is not what the kernel wrote.
ATTR_LIMIT = 4096


class SysfsIO(Protocol):
    """Reads and writes of kernel attributes. Errors are ``OSError`` with the kernel's errno."""

    def read_bytes(self, path: Path, limit: int = ATTR_LIMIT) -> bytes:
        """At most ``limit + 1`` bytes of ``path`` (one more than allowed, so that the caller
        can tell an oversized file from one of exactly ``limit`` bytes)."""
        ...

    def write_bytes(self, path: Path, data: bytes) -> None:
        """Write all of ``data`` to an existing attribute; never create it."""
        ...

    def exists(self, path: Path) -> bool: ...

    def is_dir(self, path: Path) -> bool: ...

    def is_regular(self, path: Path) -> bool:
        """Whether ``path`` itself (not what a symbolic link points to) is a regular file, as
        every sysfs attribute is."""
        ...

    def writable(self, path: Path) -> bool:
        """Whether this process may write ``path`` (``os.access(W_OK)`` for the real host)."""
        ...


class RealSysfs:
    """The real host: plain system calls, bounded reads, no file creation."""

    CHUNK = 1 << 20

    def read_bytes(self, path: Path, limit: int = ATTR_LIMIT) -> bytes:
        # O_NONBLOCK: a FIFO planted in a fake tree must not hang the probe.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        try:
            chunks: list[bytes] = []
            total = 0
            while total <= limit:
                b = os.read(fd, min(self.CHUNK, limit + 1 - total))
                if not b:
                    break
                chunks.append(b)
                total += len(b)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def write_bytes(self, path: Path, data: bytes) -> None:
        # O_NOFOLLOW: a sysfs attribute is never a symbolic link; one planted in place of
        # `data` must not redirect the image elsewhere (ELOOP instead).
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view[: self.CHUNK])
                if n <= 0:  # pragma: no cover - the kernel never returns 0 for a write
                    raise OSError(5, "short write", str(path))
                view = view[n:]
        finally:
            os.close(fd)

    def exists(self, path: Path) -> bool:
        return os.path.exists(path)

    def is_dir(self, path: Path) -> bool:
        return os.path.isdir(path)

    def is_regular(self, path: Path) -> bool:
        try:
            return stat.S_ISREG(os.lstat(path).st_mode)
        except OSError:
            return False

    def writable(self, path: Path) -> bool:
        return os.access(path, os.W_OK)


def default_io() -> SysfsIO:
    """The I/O used when none is given: the real host."""
    return RealSysfs()
