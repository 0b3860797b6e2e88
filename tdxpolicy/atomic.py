"""Replace a file atomically: readers see the old content or the new one, never a part.

For files that another program polls: node-feature-discovery's feature files and
node_exporter's textfile collector (docs/exporters.md). The new content goes to a dot-file in
the same directory (``.NAME.XXXXXXXX.tmp``), is flushed to disk, then renamed over ``NAME``;
the directory is flushed too, so the rename survives a crash. A dot-file because NFD skips
files whose name starts with a dot (its customization guide, "Local feature source") and the
textfile collector reads only ``*.prom``, so neither ever reads a half-written temporary file;
the same directory because a rename is atomic only within one file system.

:func:`tdxpolicy.image.convert.write_new_file` does the same for images but never replaces an
existing file without ``--force``; the exporters replace theirs on every run, and this module
imports nothing heavy (the image package costs about 0.1 s to import).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import InputError
from .model import Location

__all__ = ["write_atomic"]


def _unwritable(path: Path, why: str) -> InputError:
    return InputError.at(f"cannot write: {why}", Location(str(path)), code="unwritable")


def write_atomic(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically (dot-file in the same directory, fsync,
    rename, fsync of the directory). Refuses a directory or a special file (FIFO, device) at
    ``path``; a symbolic link there is replaced by the file, never followed. Raises
    :class:`~tdxpolicy.errors.InputError` with code ``unwritable`` (exit 2) on any failure,
    and leaves no temporary file behind."""
    path = Path(path)
    if not path.name or path.name in (".", ".."):
        raise _unwritable(path, "expected a file name, got a directory")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise _unwritable(path, e.strerror or str(e)) from None
    else:
        if stat.S_ISDIR(st.st_mode):
            raise _unwritable(path, "it is a directory; give a file name inside it")
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
            raise _unwritable(path, "it is a special file (FIFO, socket or device), not a "
                                    "regular file")
    directory = path.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise _unwritable(path, e.strerror or str(e)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; the collectors often run as another user than the writer.
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        _sync_directory(directory)
    except OSError as e:
        raise _unwritable(path, e.strerror or str(e)) from None
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _sync_directory(directory: Path) -> None:
    """Flush the rename to disk; some file systems cannot open a directory for that, and the
    file itself is already complete, so a refusal here is not an error."""
    try:
        dfd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
