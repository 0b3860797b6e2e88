"""One reading of ``json``'s syntax errors on every Python the project supports.

Python 3.13 reports a trailing comma as "Illegal trailing comma before end of object/array" at
the comma; earlier releases report the token expected after it, at the closing bracket. Error
messages are part of the contract (exit 2, ``file:line:column``, what was expected), so they
must not change with the interpreter: :func:`classic` maps the new form onto the old one.
"""

from __future__ import annotations

import json

__all__ = ["classic"]

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
