"""Untrusted JSON text: what ``json`` leaves out, for every reader of JSON input (Intel's
mapping file, ``--facts`` files, fleet lines).

``json.loads`` keeps the last of duplicated keys without a word, reports positions only for
syntax errors, and refuses an integer of more than ``sys.get_int_max_str_digits()`` digits
(4,300 by default) with a plain ``ValueError`` that carries no position at all. This module
finds the positions: :class:`Positions` maps every JSON path of a valid text to its offset and
lists duplicate keys; :func:`overlong_integer` finds the integer ``json`` refused;
:data:`UNIQUE_KEYS` decodes like ``json.loads`` but raises :class:`DuplicateKeyError` on the
first duplicated key (cheaply enough for the fleet's fast path).

Every expression here is linear in its input: strings are matched with the unrolled loop
``"[^"\\\\]*(?:\\\\.[^"\\\\]*)*"`` (each character has exactly one way to be consumed).
"""

from __future__ import annotations

import bisect
import json
import re
import sys
from typing import Any, Iterable

from ..errors import Problem
from ..model import Location

__all__ = [
    "DuplicateKeyError",
    "UNIQUE_KEYS",
    "Positions",
    "PathT",
    "json_path",
    "overlong_integer",
    "int_digit_limit",
]

PathT = tuple[str | int, ...]


class DuplicateKeyError(ValueError):
    """An object of the text repeats a key (``json`` would keep only the last value)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(key)
            seen.add(key)
    return obj


#: ``UNIQUE_KEYS.decode(text)``: ``json.loads`` that refuses duplicated keys.
UNIQUE_KEYS = json.JSONDecoder(object_pairs_hook=_unique_keys)


def int_digit_limit() -> int:
    """The most digits ``int()`` (and so ``json``) accepts; 0 means no limit."""
    get = getattr(sys, "get_int_max_str_digits", None)
    return int(get()) if get is not None else 0


# A string (skipped) or a number; only whole numbers have a digit limit (float() has none).
_STRING_OR_NUMBER_RE = re.compile(
    r'"[^"\\]*(?:\\.[^"\\]*)*"|-?([0-9]+)(\.[0-9]+)?([eE][-+]?[0-9]+)?'
)


def overlong_integer(text: str) -> tuple[int, int] | None:
    """``(offset, digits)`` of the first integer of ``text`` that ``json`` cannot convert
    (more digits than :func:`int_digit_limit`), or None. Meant for the ``ValueError`` of
    ``json.loads`` that is not a ``JSONDecodeError``: the text before that integer is valid
    JSON, so its strings are whole and cannot hide the number."""
    limit = int_digit_limit()
    if limit <= 0:
        return None
    for m in _STRING_OR_NUMBER_RE.finditer(text):
        digits = m.group(1)
        if digits is not None and m.group(2) is None and m.group(3) is None and len(digits) > limit:
            return m.start(), len(digits)
    return None


# A string (group 1; with group 2 when it is a key), a bracket, or a literal.
_TOKEN_RE = re.compile(r'("[^"\\]*(?:\\.[^"\\]*)*")(\s*:)?|[{}\[\]]|[^\s{}\[\],:"]+')
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def json_path(parts: Iterable[str | int]) -> str:
    """``$.tdx_module_releases[3].version``; keys that are not identifiers in brackets."""
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif _IDENT_RE.fullmatch(p):
            out += f".{p}"
        else:
            out += f"[{json.dumps(p)}]"
    return out


class Positions:
    """Where each value and key of a (valid) JSON text starts, by JSON path.

    ``json`` reports positions only for syntax errors, so a single pass over the tokens maps
    every path to a character offset; it also finds duplicate keys, which ``json`` silently
    collapses (the last one wins) and which would hide a fact. Iterative: any depth is fine.
    Offsets are kept per container (``children[container path][key or index]``), so the
    scan builds one path tuple per object or list, not one per value.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.root: int | None = None
        self.children: dict[PathT, dict[str | int, int]] = {}
        self.keys: dict[PathT, dict[str, int]] = {}
        self.duplicate_keys: list[tuple[PathT, int]] = []
        self._newlines: list[int] | None = None
        self._source_lines: dict[int, str] = {}
        children, keys, dups = self.children, self.keys, self.duplicate_keys
        # One frame per open container: [value offsets, key offsets (None for a list),
        # values so far, current key, container path]. A string followed by ':' is a key,
        # so ',' and ':' need no tokens at all.
        frames: list[list[Any]] = []
        for m in _TOKEN_RE.finditer(text):
            start = m.start()
            c = text[start]
            if c == '"':
                if m.group(2) is not None:  # a key
                    raw = m.group(1)
                    key = raw[1:-1] if "\\" not in raw else json.loads(raw)
                    f = frames[-1]
                    seen = f[1]
                    if key in seen:
                        dups.append((f[4] + (key,), start))
                    else:
                        seen[key] = start
                    f[3] = key
                    continue
            elif c == "}" or c == "]":
                frames.pop()
                continue
            # a value starts here
            if frames:
                f = frames[-1]
                if f[1] is None:
                    slot = f[2]
                    f[2] += 1
                else:
                    slot = f[3]
                vals = f[0]
                if slot not in vals:  # first wins for a duplicated key's value
                    vals[slot] = start
                if c == "{" or c == "[":
                    path = f[4] + (slot,)
                else:
                    continue
            else:
                self.root = start
                path = ()
            if c == "{":
                own: dict[str, int] = {}
                keys[path] = own
                frames.append([children.setdefault(path, {}), own, 0, None, path])
            elif c == "[":
                frames.append([children.setdefault(path, {}), None, 0, None, path])

    def offset(self, path: PathT, *, key: bool = False) -> int | None:
        """Where the value at ``path`` starts (or its key, with ``key``)."""
        if not path:
            return self.root
        table: dict[Any, Any] | None = (self.keys if key else self.children).get(path[:-1])
        return None if table is None else table.get(path[-1])

    def line_col(self, offset: int) -> tuple[int, int]:
        if self._newlines is None:
            self._newlines = [m.start() for m in re.finditer("\n", self.text)]
        i = bisect.bisect_left(self._newlines, offset)
        start = self._newlines[i - 1] + 1 if i else 0
        return i + 1, offset - start + 1

    def source_line(self, line: int) -> str:
        # One string per line, however many problems quote it: slicing anew for each of
        # thousands of problems on one long line would copy that line thousands of times.
        text = self._source_lines.get(line)
        if text is None:
            if self._newlines is None:
                self.line_col(0)
            nl = self._newlines or []
            start = nl[line - 2] + 1 if line >= 2 else 0
            end = nl[line - 1] if line - 1 < len(nl) else len(self.text)
            text = self._source_lines[line] = self.text[start:end]
        return text

    def location(self, file: str, path: PathT, *, key: bool = False) -> Location:
        """``file:line:column ($.path)`` of the value at ``path`` (of its key, with ``key``,
        when it has one); without line and column when the path is not in the text."""
        off = self.offset(path, key=key)
        if off is None and key:
            off = self.offset(path)
        if off is None:
            return Location(file, path=json_path(path))
        line, col = self.line_col(off)
        return Location(file, line, col, path=json_path(path))

    def problem(self, message: str, file: str, path: PathT, *, key: bool = False) -> Problem:
        loc = self.location(file, path, key=key)
        src = self.source_line(loc.line) if loc.line is not None else None
        return Problem(message, loc, src)
