"""Writing text the tool did not choose (file names, values read from hostile input) so that
every output stays encodable and every JSON document stays valid UTF-8 (issue #15).

Python hands out names that are not valid UTF-8 (a policy file called ``bad\\xff.tdxpolicy``,
an argument typed in Latin-1) as strings holding *lone surrogates* (``'\\udcff'``, PEP 383).
Such a string cannot be encoded by a strict UTF-8 stream (a traceback under ``en_US.UTF-8`` or
``PYTHONIOENCODING=utf-8``), is written back as the raw invalid byte by a ``surrogateescape``
stream (``C.UTF-8``: the JSON on stdout is then not UTF-8 at all), and ``json.dumps`` with its
default ``ensure_ascii`` turns it into a ``\\udcff`` escape that strict JSON readers refuse.

One spelling everywhere instead: a byte that was not UTF-8 is shown as ``\\xNN`` (the byte
itself, as ``ls --quoting-style=escape`` would) and any other lone surrogate as ``\\uXXXX``.
:func:`shown` does it for one string, :func:`dumps` for a whole JSON document (the backslash
itself JSON-escaped, so the document decodes to the same ``\\xNN`` text people see), and
:func:`install` makes ``sys.stdout``/``sys.stderr`` escape the same way (and anything else
they cannot encode, e.g. ``é`` under ``PYTHONIOENCODING=ascii``, as ``\\xe9``) instead of
raising. :func:`os_bytes` recovers the original bytes where bytes are what matters (a
fingerprint, a SARIF URI).

Standard library only: imported on the start-up path of every command, so it imports
:mod:`json` only when a document is written, and leaves its two patterns to :mod:`re`'s own
cache, compiled the first time an escape is needed (about 1.5 ms of a cold text-format run;
docs/performance.md#no-json-on-the-text-path).
"""

from __future__ import annotations

import codecs
import re
from typing import Any, TextIO

__all__ = ["ERRORS", "shown", "os_bytes", "dumps", "ascii_json", "install", "is_utf"]

#: Name of the codec error handler registered by this module.
ERRORS = "tdxpolicy-escape"


def _has_surrogate(text: str) -> bool:
    # Strict UTF-8 encodes every code point except the surrogates, in C: no regex needed to
    # answer the common case (nothing to escape).
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# Given to re.sub as text: re compiles each on first use and keeps it in its cache.
_SURROGATE = "[\ud800-\udfff]"
_NON_ASCII = "[^\x00-\x7f]"


def _escape_char(c: str) -> str:
    n = ord(c)
    if 0xDC80 <= n <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape, PEP 383)
        return f"\\x{n - 0xDC00:02x}"
    if n <= 0xFF:
        return f"\\x{n:02x}"
    if n <= 0xFFFF:
        return f"\\u{n:04x}"
    return f"\\U{n:08x}"


def shown(text: str) -> str:
    """``text`` with every lone surrogate written as ``\\xNN`` / ``\\uXXXX`` (unchanged, and
    not copied, when it has none)."""
    if not _has_surrogate(text):
        return text
    return re.sub(_SURROGATE, lambda m: _escape_char(m.group()), text)


def os_bytes(text: str) -> bytes:
    """The bytes a name stood for: UTF-8, with the undecodable bytes of a file name
    (``surrogateescape``) restored; other lone surrogates (from a JSON ``\\ud800`` escape) are
    encoded as they are (``surrogatepass``), so this never raises."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _json_escape(m: re.Match[str]) -> str:
    return _escape_char(m.group()).replace("\\", "\\\\")


def _ascii_escape(m: re.Match[str]) -> str:
    n = ord(m.group())
    if n <= 0xFFFF:
        return f"\\u{n:04x}"
    n -= 0x10000
    return f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}"


def dumps(doc: Any, *, indent: int | None = 2, compact: bool = False,
          default: Any = None) -> str:
    """``json.dumps`` of ``doc`` as text that is valid Unicode whatever the strings held: non-
    ASCII characters are kept as they are, lone surrogates become the escaped text of
    :func:`shown`. ``compact`` gives one line without spaces (JSON Lines)."""
    import json

    if compact:
        text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=default)
    else:
        text = json.dumps(doc, indent=indent, ensure_ascii=False, default=default)
    if not _has_surrogate(text):
        return text
    # A surrogate can only stand inside a JSON string (all JSON syntax is ASCII), where its
    # escaped spelling needs its backslash escaped too.
    return re.sub(_SURROGATE, _json_escape, text)


def ascii_json(text: str) -> str:
    """JSON text (from :func:`dumps`) with every non-ASCII character as a ``\\uXXXX`` escape:
    the same document, for a stream that cannot encode more than ASCII."""
    if text.isascii():
        return text
    return re.sub(_NON_ASCII, _ascii_escape, text)


def is_utf(stream: Any) -> bool:
    """Whether ``stream`` encodes every character (a UTF codec, or a stream of ``str`` without
    an encoding, such as ``io.StringIO``)."""
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return True
    try:
        return codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return False


def _handler(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeEncodeError):
        raise err
    bad = err.object[err.start:err.end]
    return "".join(_escape_char(c) for c in bad), err.end


codecs.register_error(ERRORS, _handler)


def install(*streams: TextIO) -> None:
    """Make each text stream escape what it cannot encode (see the module doc) instead of
    raising or writing invalid bytes. Streams that cannot be reconfigured are left alone."""
    for stream in streams:
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None or getattr(stream, "errors", None) == ERRORS:
            continue
        try:
            reconfigure(errors=ERRORS)
        except (ValueError, OSError, TypeError, AttributeError):
            pass
