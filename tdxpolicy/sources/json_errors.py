"""One reading of ``json``'s syntax errors on every Python the project supports.

Python 3.13 reports a trailing comma as "Illegal trailing comma before end of object/array" at
the comma; earlier releases report the token expected after it, at the closing bracket. Error
messages are part of the contract (exit 2, ``file:line:column``, what was expected), so they
must not change with the interpreter: :func:`classic` maps the new form onto the old one, and
:func:`invalid_json` says it in words at ``file:line:column`` (Intel's mapping file).
"""

from __future__ import annotations

import json

from ..errors import InputError, Problem
from ..model import Location

__all__ = ["classic", "invalid_json"]

_TRAILING_COMMA = {
    "Illegal trailing comma before end of object": "Expecting property name enclosed in double quotes",
    "Illegal trailing comma before end of array": "Expecting value",
}


def classic(e: json.JSONDecodeError) -> json.JSONDecodeError:
    """``e`` as Python 3.11/3.12 word and place it (the same error on any other Python)."""
    msg = _TRAILING_COMMA.get(e.msg)
    if msg is None:
        return e
    doc = e.doc
    pos = e.pos + 1  # past the comma, then past white space, to the closing bracket
    while pos < len(doc) and doc[pos] in " \t\r\n":
        pos += 1
    return json.JSONDecodeError(msg, doc, pos)


# json's syntax-error messages, in words (the position is added by invalid_json).
_JSON_SYNTAX_PHRASES = {
    "Expecting value": "expected a JSON value (an object, list, string, number, true, false or null)",
    "Expecting property name enclosed in double quotes": "expected a key in double quotes",
    "Expecting ':' delimiter": "expected ':' after the key",
    "Expecting ',' delimiter": "expected ',' or a closing bracket",
    "Unterminated string starting at": "unterminated string: expected a closing '\"' on this line",
    "Invalid control character at": (
        "control character inside a string (strings end on the same line; write \\n for a "
        "line break)"
    ),
    "Invalid \\escape": "invalid escape in a string (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)",
    "Invalid \\uXXXX escape": "invalid \\uXXXX escape in a string",
    "Extra data": "unexpected text after the end of the JSON object",
}


def invalid_json(e: json.JSONDecodeError, text: str, file: str) -> InputError:
    """``e`` (raised parsing ``text``) as one located problem: ``invalid JSON: <what was
    expected>`` at ``file:line:column``, with the line quoted."""
    e = classic(e)
    words = _JSON_SYNTAX_PHRASES.get(e.msg, e.msg)
    rest = text[e.pos :]
    if not rest.strip() and e.msg != "Extra data":
        words = f"the JSON ends too early (is the file truncated?): {words}"
    elif e.msg == "Expecting property name enclosed in double quotes":
        before = text[: e.pos].rstrip()
        if before.endswith(","):
            words += " (JSON does not allow a comma before '}')"
    elif e.msg == "Expecting value":
        before = text[: e.pos].rstrip()
        if before.endswith(",") and rest.lstrip().startswith("]"):
            words += " (JSON does not allow a comma before ']')"
    lines = text.split("\n")
    src = lines[e.lineno - 1] if e.lineno - 1 < len(lines) else None
    return InputError(
        [Problem(f"invalid JSON: {words}", Location(file, e.lineno, e.colno), src)]
    )
