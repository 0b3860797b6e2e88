"""What the readers of Intel's three files share: the size limit, UTF-8 decoding, a value
shown in a message, Intel's within-series minimum (docs/domain.md#update-rule) and the order
problems are reported in."""

from __future__ import annotations

import json
from typing import Any

from ...errors import InputError, Problem
from ...model import Location
from ...version import Version

__all__ = [
    "MAX_SOURCE_BYTES",
    "BOM",
    "too_large",
    "decode_utf8",
    "show_value",
    "check_release_versions",
    "in_file_order",
]

# Intel's files are a few KiB; 16 MiB leaves room for generated catalogues of 50,000+
# releases while refusing to read a wrong file (a disk image, a log) into memory.
MAX_SOURCE_BYTES = 16 * 1024 * 1024

BOM = b"\xef\xbb\xbf"
_MIB = 1024 * 1024


def too_large(file: str, size: int) -> InputError:
    return InputError.at(
        f"file is too large ({size / _MIB:.1f} MiB): Intel's files are a few KiB, "
        f"the limit is {MAX_SOURCE_BYTES // _MIB} MiB",
        Location(file),
    )


def decode_utf8(data: bytes, file: str) -> str:
    """Decode an Intel source file. UTF-8 only; a leading UTF-8 BOM is accepted and dropped
    (RFC 8259 section 8.1 lets parsers ignore it; Windows editors add it). UTF-16/32 and
    invalid bytes are located errors."""
    if len(data) > MAX_SOURCE_BYTES:
        raise too_large(file, len(data))
    skip = 3 if data.startswith(BOM) else 0
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InputError.at(
            "the file is UTF-16 (it starts with a UTF-16 byte-order mark): expected UTF-8",
            Location(file, 1, 1, offset=0),
        )
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        off = skip + e.start
        line_start = data.rfind(b"\n", 0, off) + 1
        line_no = data.count(b"\n", 0, off) + 1
        col = len(data[max(line_start, skip) : off].decode("utf-8", "replace")) + 1
        line_end = data.find(b"\n", off)
        src = data[line_start : line_end if line_end >= 0 else len(data)]
        raise InputError(
            [
                Problem(
                    f"not UTF-8: byte 0x{data[off]:02X} is not valid here "
                    "(save the file as UTF-8)",
                    Location(file, line_no, col, offset=off),
                    src.decode("utf-8", "replace"),
                )
            ]
        ) from None


def show_value(value: Any) -> str:
    """A short, printable rendering of a JSON value for messages (never the whole value)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > 60:
        text = text[:57] + '..."' if isinstance(value, str) else text[:57] + "..."
    # Lone surrogates from \\ud800 escapes cannot be printed: escape them.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def check_release_versions(
    version: Version, minimum: Version, min_loc: Location, what_min: str
) -> Problem | None:
    """Intel's ``min_module_version_for_td_preserving`` compares update numbers within the
    release's own series (docs/domain.md#update-rule)."""
    if minimum.series != version.series:
        return Problem(
            f"{what_min} {minimum} is in series {minimum.series_text}, but release {version} "
            f"is in series {version.series_text}: Intel's rule compares update numbers within "
            "one series",
            min_loc,
        )
    if minimum > version:
        return Problem(
            f"{what_min} {minimum} is newer than the release {version} itself: "
            "no running version could be updated to it",
            min_loc,
        )
    return None


def in_file_order(problems: list[Problem]) -> list[Problem]:
    def key(p: Problem) -> tuple[int, int, str]:
        loc = p.location
        if loc is None:
            return (0, 0, p.message)
        return (loc.line or 0, loc.column or 0, p.message)

    unique = list(dict.fromkeys(problems))  # jsonschema may report one fault twice
    return sorted(unique, key=key)
