"""Recognising Intel's files by content and loading one: :func:`sniff_kind` tells the kinds
apart so ``--policy`` can take a directory of mixed files; :func:`load_intel_file` reads one
file; :func:`parse_intel_bytes` hands bytes of a known kind to its reader."""

from __future__ import annotations

import re
from pathlib import Path

from ...errors import InputError
from ...model import Location, PolicyDocument, SourceKind
from .common import BOM, MAX_SOURCE_BYTES, decode_utf8, too_large
from .mapping import parse_mapping_json
from .mrseam import has_mrseam_header, parse_mrseam_table
from .readme import (
    README_COLUMNS,
    README_TABLE_TITLE,
    README_TITLE_RE,
    has_readme_header,
    parse_readme_table,
)

__all__ = ["SNIFF_BYTES", "sniff_kind", "no_table_error", "parse_intel_bytes", "load_intel_file"]

# How much of a file sniff_kind needs to see: the README's table starts ~5 KiB in.
SNIFF_BYTES = 64 * 1024


# Possessive throughout: with "#[^\n]*" free to give back a '\r' that "\r?" could take
# instead, a failing match tried both ways on every "#\r\n" line (26 such lines: 7.7 s).
_FORMAT_LINE_RE = re.compile(rb"\A(?:[ \t]*+(?:#[^\n]*+)?+\r?\n)*+[ \t]*+format[ \t]++1\b")


def sniff_kind(path: Path, head: bytes) -> SourceKind | None:
    """What kind of policy source a file is, from its name and first bytes, or None.

    ``.tdxpolicy`` or a first statement ``format 1`` -> document; a JSON object naming
    ``tdx_module_releases`` (or ``Header``, so that
    a damaged mapping file gets the mapping file's errors) -> mapping JSON; Markdown with the
    TD-preserving table's header -> README table; with a ``| Version | MRSEAM |`` header ->
    MRSEAM table. Other JSON and Markdown files -> None: a policy directory may hold notes.

    Intel's README puts its table ~5 KiB in: when ``head`` is shorter than
    :data:`SNIFF_BYTES` and finds no table, up to :data:`SNIFF_BYTES` of ``path`` are read.
    """
    suffix = path.suffix.lower()
    if suffix == ".tdxpolicy":
        return SourceKind.DOCUMENT
    body = head[3:] if head.startswith(BOM) else head
    if _FORMAT_LINE_RE.match(body):
        return SourceKind.DOCUMENT
    if body.lstrip().startswith(b"{") or suffix == ".json":
        if any(k in body for k in _MAPPING_MARKERS):
            return SourceKind.MAPPING_JSON
        return None
    kind = _sniff_markdown(body)
    if kind is None and len(head) < SNIFF_BYTES and suffix in (".md", ".markdown"):
        try:
            with path.open("rb") as fh:
                more = fh.read(SNIFF_BYTES)
        except OSError:
            return None
        if len(more) > len(head):
            kind = _sniff_markdown(more)
    return kind


_MAPPING_MARKERS = (b'"tdx_module_releases"', b'"Header"')


def no_table_error(text: str, file: str) -> InputError:
    """The error for a Markdown file named explicitly as a source that holds neither table.

    Located at ``file:1:1`` and naming both tables looked for, so that an operator who passed
    the wrong Markdown file (or a README whose table header was edited) sees what is missing.
    A file that has the README table's title but not its header gets the README's own error.
    """
    if README_TITLE_RE.search(text):
        try:
            parse_readme_table(text, file)
        except InputError as e:
            return e
    what = "the file is empty" if not text.strip() else "no Intel table found"
    return InputError.at(
        f"{what}: expected Intel's binaries README with the table '{README_TABLE_TITLE}' "
        f"(header '| {' | '.join(README_COLUMNS)} |') or Intel's tdx-module-releases.md "
        "with the table '| Version | MRSEAM |'",
        Location(file, 1, 1),
        code="unsupported-source",
    )


def _sniff_markdown(data: bytes) -> SourceKind | None:
    text = data.decode("utf-8", "replace")
    if has_readme_header(text):
        return SourceKind.README_TABLE
    if has_mrseam_header(text):
        return SourceKind.MRSEAM_TABLE
    return None


def parse_intel_bytes(data: bytes, file: str, kind: SourceKind) -> PolicyDocument:
    """Parse one of Intel's kinds (not a .tdxpolicy document) from raw bytes."""
    if kind is SourceKind.MAPPING_JSON:
        return parse_mapping_json(data, file)
    text = decode_utf8(data, file)
    if kind is SourceKind.README_TABLE:
        return parse_readme_table(text, file)
    if kind is SourceKind.MRSEAM_TABLE:
        return parse_mrseam_table(text, file)
    raise ValueError(f"not an Intel source kind: {kind}")


def load_intel_file(path: Path) -> PolicyDocument:
    """Read, recognise and parse one file (any kind; documents go to the document parser)."""
    file = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise too_large(file, size)
        data = path.read_bytes()
    except OSError as e:
        raise InputError.at(f"cannot read the file: {e.strerror or e}", Location(file)) from None
    kind = sniff_kind(path, data[:SNIFF_BYTES])
    if kind is None:
        raise InputError.at(
            "not a policy source: expected a policy document (.tdxpolicy, 'format 1'), Intel's "
            "mapping_file.json, Intel's binaries README (TD-preserving table) or "
            "tdx-module-releases.md (MRSEAM table)",
            Location(file, 1, 1),
        )
    if kind is SourceKind.DOCUMENT:
        from ..document import parse_document

        return parse_document(decode_utf8(data, file), file)
    return parse_intel_bytes(data, file, kind)
