"""A policy document's bytes -> text: strict UTF-8, LF line ends, no byte-order mark, no NUL,
at most :data:`MAX_DOCUMENT_BYTES` (policy-format.md, "Errors"). Each refusal is located and
says what to do about it."""

from __future__ import annotations

from ...errors import InputError
from ...model import Location

__all__ = ["MAX_DOCUMENT_BYTES", "decode_document", "check_text", "text_line", "looks_like_document"]

#: Documents larger than this are refused before decoding: Intel's whole catalogue is ~20 KiB,
#: so a bigger file is a mistake (or hostile), not a policy.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


def _line_col_of_offset(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    return line, offset - start + 1


def _byte_line(data: bytes, offset: int) -> str:
    start = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", offset)
    raw = data[start : end if end >= 0 else len(data)]
    return raw.decode("utf-8", errors="replace")


def decode_document(data: bytes, file: str) -> str:
    """Decode a document's bytes: strict UTF-8, LF line ends, no BOM, no NUL, at most 16 MiB.

    Each refusal says where and what to do about it; all are :class:`InputError` (exit 2).
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InputError.at(
            f"file is {len(data) / (1024 * 1024):.1f} MiB; a policy document may be at most "
            f"{MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB (is this the right file?)",
            Location(file),
        )
    if data.startswith(b"\xef\xbb\xbf"):
        raise InputError.at(
            "file starts with a UTF-8 byte-order mark (BOM); save it as UTF-8 without a BOM",
            Location(file, 1, 1),
        )
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        # Before the NUL check: "NUL byte ... binary file?" misleads for a UTF-16 text file.
        raise InputError.at(
            "file is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8",
            Location(file, 1, 1, offset=0),
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = _line_col_of_offset(data, nul)
        raise InputError.at(
            "NUL byte in a text document; is this a binary file?",
            Location(file, line, col),
            _byte_line(data, nul).replace("\x00", " "),
        )
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        line, col = _line_col_of_offset(data, e.start)
        raise InputError.at(
            f"byte 0x{data[e.start]:02X} is not valid UTF-8; save the file as UTF-8",
            Location(file, line, col, offset=e.start),
            _byte_line(data, e.start),
        ) from None
    check_text(text, file)
    return text


def check_text(text: str, file: str) -> None:
    """Checks that apply to text however it was obtained (``parse_document`` takes text)."""
    if text.startswith("\ufeff"):
        raise InputError.at(
            "file starts with a UTF-8 byte-order mark (BOM); save it as UTF-8 without a BOM",
            Location(file, 1, 1),
        )
    cr = text.find("\r")
    if cr >= 0:
        line = text.count("\n", 0, cr) + 1
        col = cr - (text.rfind("\n", 0, cr) + 1) + 1
        what = "CRLF line ends" if text.startswith("\n", cr + 1) else "a carriage return (CR)"
        raise InputError.at(
            f"{what} found; save the file with LF line ends",
            Location(file, line, col),
            text_line(text, line),
        )
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        col = nul - (text.rfind("\n", 0, nul) + 1) + 1
        raise InputError.at(
            "NUL character in a text document; is this a binary file?",
            Location(file, line, col),
            text_line(text, line).replace("\x00", " "),
        )


def text_line(text: str, line: int) -> str:
    lines = text.split("\n")
    return lines[line - 1] if 0 < line <= len(lines) else ""


def looks_like_document(head: bytes) -> bool:
    """Content sniffing: does this start (after comments/blank lines) with ``format``?"""
    for raw in head.splitlines():
        s = raw.strip()
        if not s or s.startswith(b"#"):
            continue
        return s.startswith(b"format") and (len(s) == 6 or s[6:7] in (b" ", b"\t"))
    return False
