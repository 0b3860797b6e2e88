"""Sources: turn files into :class:`~tdxpolicy.model.PolicyDocument` values, and those into a
merged :class:`~tdxpolicy.catalogue.Catalogue`.

``--policy`` takes files or directories. Each file is recognised by extension and content:

- ``.tdxpolicy``, or any text file whose first statement is ``format``: a policy document
  (:mod:`tdxpolicy.sources.document`);
- Intel's ``mapping_file.json``, the binaries README table, the MRSEAM release table:
  recognised and parsed by :mod:`tdxpolicy.sources.intel` (imported only when needed);
- TDX module images (``*.blob``, or any named file with an image header): verified, then
  their facts, by :mod:`tdxpolicy.sources.images`. Images are read after every other source,
  since which release an image is comes from the MRSEAM facts of the others.

Directories are walked recursively in name order; inside a directory only ``.tdxpolicy``,
``.json``, ``.md`` and ``.blob`` files are considered, and hidden entries are skipped. A file named
explicitly must be of a known kind. Unreadable files or directories raise
:class:`~tdxpolicy.errors.InputError` (exit 2), and a failure anywhere loads nothing.

This package reads files; it decides nothing (the engine does) and prints nothing (the CLI
does).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from ..errors import InputError
from ..model import Location, PolicyDocument, SourceKind
from .embedded import embedded_documents

if TYPE_CHECKING:  # pragma: no cover
    from ..catalogue import Catalogue

__all__ = [
    "embedded_documents",
    "load_documents",
    "load_document",
    "load_catalogue",
    "settle_heap",
    "sniff",
    "LARGE_CATALOGUE",
    "MAX_SOURCE_BYTES",
]

#: No source file is larger than this (Intel's biggest is a few KiB). A policy document has a
#: limit of its own (``document.MAX_DOCUMENT_BYTES``), at most this one (a test keeps it so),
#: so that reading a file needs no import of the document parser.
MAX_SOURCE_BYTES = 16 * 1024 * 1024
_DIRECTORY_SUFFIXES = (".tdxpolicy", ".json", ".md", ".blob")
_HEAD_BYTES = 4096
#: How much of a named file is sniffed (tdxpolicy.sources.intel.SNIFF_BYTES).
_SNIFF_BYTES = 64 * 1024


def _unreadable(path: Path, err: OSError) -> InputError:
    why = err.strerror or str(err)
    return InputError.at(f"cannot read {path}: {why}", Location(str(path)), code="unreadable")


def sniff(path: Path, head: bytes) -> SourceKind | None:
    """The kind of a source file from its name and first bytes; ``None`` if unknown."""
    if path.suffix == ".tdxpolicy":  # before importing the document code (the document cache)
        return SourceKind.DOCUMENT
    from .document import looks_like_document

    if looks_like_document(head):
        return SourceKind.DOCUMENT
    from .intel import sniff_kind

    return sniff_kind(path, head)


def _unsupported(path: Path) -> InputError:
    return InputError.at(
        f"unsupported file kind: {path} is not a policy document (.tdxpolicy, starting with "
        "'format 1'), an Intel mapping_file.json, an Intel binaries README table or an Intel "
        "MRSEAM release table",
        Location(str(path)),
        code="unsupported-source",
    )


#: The name that means standard input (``--policy -``, ``lint -``), and how errors name it.
STDIN = "-"
STDIN_NAME = "<stdin>"


def read_stdin_limited(limit: int, what: str) -> bytes:
    """All of standard input, refusing (before reading more) input larger than ``limit``."""
    import sys

    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream put in place by a test or an embedding program
        text = sys.stdin.read(limit + 1) if sys.stdin is not None else ""
        data = text.encode("utf-8", "surrogateescape")
    else:
        try:
            data = stream.read(limit + 1)
        except OSError as e:
            raise _unreadable(Path(STDIN_NAME), e) from None
    if len(data) > limit:
        raise InputError.at(
            f"standard input is larger than {limit // (1024 * 1024)} MiB; {what} may be at most "
            "that (is this the right input?)", Location(STDIN_NAME), code="input-too-large")
    return data


def load_document(path: Path) -> PolicyDocument:
    """Read and parse one file of any known kind (``-``: standard input)."""
    if str(path) == STDIN:
        data = read_stdin_limited(MAX_SOURCE_BYTES, "a policy source")
        return _parse_source(Path(STDIN_NAME), data)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            # A FIFO or device would block or never end: refuse before opening it.
            raise InputError.at(f"cannot read {path}: not a regular file", Location(str(path)),
                                code="unreadable")
        size = st.st_size
        if size > MAX_SOURCE_BYTES:
            raise InputError.at(
                f"file is {size / (1024 * 1024):.1f} MiB; a policy source may be at most "
                f"{MAX_SOURCE_BYTES // (1024 * 1024)} MiB (is this the right file?)",
                Location(str(path)),
            )
        data = path.read_bytes()
    except OSError as e:
        raise _unreadable(path, e) from None
    return _parse_source(path, data)


def _parse_source(path: Path, data: bytes) -> PolicyDocument:
    name = str(path)
    # The whole sniffing window, not only the 4 KiB a directory walk reads: Intel's README
    # puts its table ~5 KiB in, and a named file must not be refused for where its table is.
    kind = sniff(path, data[:_SNIFF_BYTES])
    if kind is SourceKind.DOCUMENT:
        # A document parsed before (same bytes, same name, same parsing code) is read back
        # without lark (docs/performance.md#document-cache).
        from . import document_cache

        doc = document_cache.load(name, data)
        if doc is None:
            from .document import read_document  # lark: only when the document is parsed

            doc = read_document(data, name)
            document_cache.store(name, data, doc)
        return doc
    from . import intel

    suffix = path.suffix.lower()
    if kind is None and suffix == ".json":
        # Named explicitly, a .json file is meant as Intel's mapping file: its own located
        # errors (JSON paths, missing keys) say what is wrong, not "unsupported file kind".
        kind = SourceKind.MAPPING_JSON
    if kind is None and suffix in (".md", ".markdown"):
        raise intel.no_table_error(intel.decode_utf8(data, name), name)
    if kind is None:
        raise _unsupported(path)
    # UTF-8 with a BOM tolerated; UTF-16 and bad bytes located (intel.decode_utf8).
    return intel.parse_intel_bytes(data, name, kind)


def _walk(directory: Path) -> list[Path]:
    out: list[Path] = []

    def onerror(e: OSError) -> None:
        raise _unreadable(Path(e.filename or directory), e)

    for root, dirs, files in os.walk(directory, onerror=onerror):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            p = Path(root) / f
            if not f.startswith(".") and f.endswith(_DIRECTORY_SUFFIXES) and p.is_file():
                out.append(p)
    return out


def _expand(paths: Iterable[Path]) -> list[tuple[Path, bool]]:
    """(file, named explicitly?) for every path; directories expanded."""
    out: list[tuple[Path, bool]] = []
    for p in paths:
        p = Path(p)
        if str(p) == STDIN:
            out.append((p, True))
        elif p.is_dir():
            if not os.access(p, os.R_OK | os.X_OK):
                raise InputError.at(
                    f"cannot read directory {p}: permission denied", Location(str(p)), code="unreadable"
                )
            found = _walk(p)
            if not found:
                raise InputError.at(
                    f"no policy sources in directory {p} (looked for *.tdxpolicy, *.json, *.md)",
                    Location(str(p)),
                    code="unreadable",
                )
            out.extend((f, False) for f in found)
        elif p.exists():
            out.append((p, True))
        else:
            raise InputError.at(f"cannot read {p}: no such file or directory", Location(str(p)),
                                code="unreadable")
    return out


def _is_image(path: Path) -> bool:
    if path.suffix == ".tdxpolicy":  # before importing the image code: the common case
        return False
    from .images import IMAGE_SUFFIXES, looks_like_image

    if path.suffix.lower() in IMAGE_SUFFIXES:
        return True
    try:
        with path.open("rb") as fh:
            return looks_like_image(fh.read(16))
    except OSError:
        return False  # load_document reports it


def load_documents(paths: Sequence[Path], *, images: list[Path] | None = None
                   ) -> list[PolicyDocument]:
    """Every document in ``paths`` (files or directories), in order; all or nothing.

    Module images found are appended to ``images`` (for :func:`load_catalogue`, which reads
    them last); without that list an image is an unsupported source here.
    """
    docs: list[PolicyDocument] = []
    for path, explicit in _expand(paths):
        if images is not None and str(path) != STDIN and path.is_file() and _is_image(path):
            images.append(path)
            continue
        if not explicit and path.suffix != ".tdxpolicy":
            # Inside a directory, .json/.md files that are not Intel sources are skipped
            # (a directory may hold notes); named files must be of a known kind.
            try:
                with path.open("rb") as fh:
                    head = fh.read(_HEAD_BYTES)
            except OSError as e:
                raise _unreadable(path, e) from None
            if sniff(path, head) is None:
                continue
        docs.append(load_document(path))
    return docs


#: From this many releases on, :func:`load_catalogue` with ``settle=True`` calls
#: :func:`settle_heap` (docs/performance.md#settle-heap: at 10,000 releases and more every
#: command is up to twice as slow without it; below, the collection itself costs more than
#: it saves).
LARGE_CATALOGUE = 2_000


def settle_heap() -> None:
    """Move every object alive into the cyclic garbage collector's permanent generation
    (:func:`gc.freeze`).

    Call it when the long-lived data (a loaded catalogue) is built and before the work that
    allocates many short-lived objects: the full collections that work triggers then no
    longer traverse the catalogue's millions of objects. Objects still die by reference
    counting as usual; only cycles among them would wait for :func:`gc.unfreeze`. No
    :func:`gc.collect` first: on a 10,000-release catalogue that one collection costs about a
    second, more than the freeze saves (loading leaves little cyclic garbage). Answers never
    change (docs/performance.md#settle-heap).
    """
    import gc

    gc.freeze()


def load_catalogue(paths: Sequence[Path] = (), include_default: bool = True, *,
                   trusted_key_hashes: Sequence[str] | None = None,
                   settle: bool = False) -> Catalogue:
    """The merged catalogue of the embedded documents (unless left out) and ``paths``.

    Module images among ``paths`` are verified (against Intel's production key, or
    ``trusted_key_hashes``) and identified against the other sources, then add their facts.
    With ``settle``, a catalogue of at least :data:`LARGE_CATALOGUE` releases is followed by
    :func:`settle_heap` (for a process that loads one catalogue and then works on it, such as
    a CLI command). Raises :class:`~tdxpolicy.errors.InputError` for unreadable or invalid
    sources and :class:`~tdxpolicy.errors.ConflictError` when sources disagree on a fact.
    """
    from ..catalogue import merge

    docs: list[PolicyDocument] = list(embedded_documents()) if include_default else []
    images: list[Path] = []
    docs.extend(load_documents(paths, images=images))
    if images:
        from .images import image_document

        # Which release an image is comes from the other sources' MRSEAM/seamhash facts.
        base = merge(docs)
        docs.extend(image_document(p, base, trusted_key_hashes=trusted_key_hashes)
                    for p in images)
    catalogue = merge(docs)
    if settle and len(catalogue.releases) >= LARGE_CATALOGUE:
        settle_heap()
    return catalogue
