"""Parsed policy documents, cached per user and keyed by their content (issue #11, item 6).

Parsing a document needs lark: importing it and loading the parser tables costs about 30 ms,
which alone would put every ``--policy site.tdxpolicy`` run over the cold start-up target
(1.3x ``import typer``). So a document parsed once is kept, as the ``catalogue/1`` form of
:class:`~tdxpolicy.model.PolicyDocument` (:mod:`tdxpolicy.serialize`), under
``$XDG_CACHE_HOME/tdxpolicy/documents`` (``~/.cache/...`` by default), and later runs read it
back without lark (docs/performance.md#document-cache).

Why an entry can never serve other facts than parsing would:

- Its name is the SHA-256 of everything the parse depends on: the document's bytes and the
  name it is read under (every location cites it), whether it is embedded, and the code that
  parses it (the grammar and the ``sources/document``, ``model``, ``version`` and
  ``serialize`` modules, by size and modification time), the package and Python versions.
  Change any of them and the name changes: the old entry is simply never asked for.
- Only documents that parsed are stored; a document with an error is parsed (and its error
  reported) every time.
- An entry is used only from a directory and a file owned by the user running tdxpolicy and
  writable by no one else (the same trust as the user's own files); anything else, and any
  entry that does not read back as a document, is ignored and the document is parsed.
- ``TDXPOLICY_NO_CACHE=1`` turns the cache off (nothing read, nothing written).

The entries are the document's JSON-shaped data written with :mod:`marshal` (no import, and
reading it executes nothing), behind a header line. Writing is best effort (a read-only home
is not an error) and atomic (:func:`tdxpolicy.atomic.write_atomic`); the directory keeps the
:data:`KEEP` most recent entries.
"""

from __future__ import annotations

import marshal
import os
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING

# The built-in SHA-256, as for the embedded catalogue's digest: hashlib would load OpenSSL.
from .embedded import builtin_sha256

if TYPE_CHECKING:  # pragma: no cover
    from ..model import PolicyDocument

__all__ = ["NO_CACHE_ENV", "KEEP", "cache_dir", "entry_path", "load", "store"]

#: ``1``, ``true``, ``yes`` or ``on``: no entry is read or written (docs/cli.md#environment).
NO_CACHE_ENV = "TDXPOLICY_NO_CACHE"
#: Entries kept in the directory (the oldest are removed when one is added).
KEEP = 64

_MAGIC = b"tdxpolicy-document-cache/1\n"
_SUFFIX = ".doc"

# The modules whose code decides what a document parses to (with the grammar): a change to
# any of them changes every key. Paths relative to the package.
_PARSING_CODE = ("sources/document/decode.py", "sources/document/syntax.py",
                 "sources/document/build.py", "sources/document/parse.py", "model.py",
                 "location.py", "version.py", "serialize.py", "sources/document_cache.py")

_code_digest: bytes | None = None


def cache_dir() -> Path | None:
    """Where entries live, or ``None`` when the cache is off (``TDXPOLICY_NO_CACHE``) or no
    absolute cache directory is known (XDG: a relative ``XDG_CACHE_HOME`` is ignored)."""
    if os.environ.get(NO_CACHE_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return None
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / "tdxpolicy" / "documents"


def _parsing_code_digest() -> bytes:
    """An identity of the grammar and the parsing modules as installed: each file's size and
    modification time (nanoseconds), once per process. Editing or reinstalling any of them
    changes it; it costs a few ``stat`` calls where hashing their 120 KB would cost about
    0.3 ms of every run that reads a document."""
    global _code_digest
    if _code_digest is None:
        from ..resources import grammar_path

        h = builtin_sha256()
        pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        for path in (str(grammar_path("policy.lark")),
                     *(os.path.join(pkg, p) for p in _PARSING_CODE)):
            st = os.stat(path)
            h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        _code_digest = h.digest()
    return _code_digest


def entry_path(name: str, data: bytes, embedded: bool = False) -> Path | None:
    """The entry for ``data`` read under ``name`` (``None``: cache off)."""
    directory = cache_dir()
    if directory is None:
        return None
    from .. import __version__

    h = builtin_sha256(_MAGIC)
    h.update(_parsing_code_digest())
    context = (f"{__version__}\0{sys.version_info[0]}.{sys.version_info[1]}\0"
               f"{marshal.version}\0{int(embedded)}\0").encode()
    raw_name = name.encode("utf-8", "surrogateescape")
    for part in (context, raw_name, data):
        h.update(len(part).to_bytes(8, "little") + part)
    key: str = h.hexdigest()
    return directory / (key + _SUFFIX)


def _private(st: os.stat_result, is_dir: bool) -> bool:
    """Owned by this user and writable by no one else (and of the expected kind)."""
    kind_ok = stat.S_ISDIR(st.st_mode) if is_dir else stat.S_ISREG(st.st_mode)
    return kind_ok and st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def load(name: str, data: bytes, embedded: bool = False) -> PolicyDocument | None:
    """The cached parse of ``data`` read under ``name``, or ``None`` (no entry, cache off, or
    an entry that cannot be trusted or read: the caller parses)."""
    path = entry_path(name, data, embedded)
    if path is None:
        return None
    try:
        if not _private(os.stat(path.parent), is_dir=True):
            return None
        with open(path, "rb") as f:
            if not _private(os.fstat(f.fileno()), is_dir=False):
                return None
            raw = f.read()
    except OSError:
        return None
    if not raw.startswith(_MAGIC):
        return None
    from ..serialize import document_from_json

    try:
        doc = document_from_json(marshal.loads(raw[len(_MAGIC):]))
    except Exception:  # any damage to an entry means "not cached": parse instead
        return None
    # The entry's own record of what it is must agree with the key that found it.
    if doc.file != name or doc.embedded != embedded:
        return None
    return doc


def store(name: str, data: bytes, doc: PolicyDocument) -> None:
    """Keep ``doc``, the parse of ``data`` read under ``name``; best effort, never raises."""
    path = entry_path(name, data, doc.embedded)
    if path is None:
        return
    from ..serialize import document_to_json

    from ..atomic import write_atomic
    from ..errors import InputError

    try:
        payload = _MAGIC + marshal.dumps(document_to_json(doc))
        directory = path.parent
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if not _private(os.stat(directory), is_dir=True):
            return  # someone else's or shared directory: neither read nor written
        write_atomic(path, payload, mode=0o600)
        _prune(directory)
    except (OSError, ValueError, InputError):
        return


def _prune(directory: Path) -> None:
    """Keep the :data:`KEEP` most recently written entries."""
    entries = []
    for e in os.scandir(directory):
        if e.name.endswith(_SUFFIX) and e.is_file(follow_symlinks=False):
            entries.append((e.stat(follow_symlinks=False).st_mtime_ns, e.path))
    if len(entries) <= KEEP:
        return
    entries.sort()
    for _, p in entries[:len(entries) - KEEP]:
        try:
            os.unlink(p)
        except OSError:
            pass
