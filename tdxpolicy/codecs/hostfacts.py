"""Codec of host facts (schemas/host-facts.schema.json): :class:`~tdxpolicy.hostfacts.HostFacts`
to JSON (:func:`to_json`: what ``probe``, ``preflight`` and update records write) and from JSON
(:func:`from_json`: a ``--facts`` file; :func:`facts_from_obj`: one line of a ``fleet`` JSON
Lines stream). The value type itself is :mod:`tdxpolicy.hostfacts`.

The shape is ``schemas/host-facts.schema.json``::

    {"module_version": "1.5.06", "seamldr_version": "2.0.00", "cpuid": ["0x806F8"],
     "num_remaining_updates": 12, "host": "optional-name"}

Every fact is optional (a fact not given is *unknown*, docs/cli.md#host-facts); ``null``
also means unknown, which is what the probe writes for a fact it could not read. ``interface``
(written by ``tdxpolicy probe``) is accepted and ignored here.

The validator is hand-written rather than jsonschema because ``fleet`` runs it once per host
(millions of times) and jsonschema would also put a heavy import on the start-up path. It
agrees with the schema exactly (tests/test_hostfacts_schema.py compares both on generated
objects with Hypothesis), including two of JSON Schema's quirks: ``5.0`` is an ``integer``,
and ``pattern`` uses search semantics where ``$`` also matches before one trailing newline.

This module only turns text into values; reading files is the caller's business so that the
same code serves files, stdin and fleet lines.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem
from ..hostfacts import HostFacts, format_cpuid
from ..hostfacts import parse_cpuid_field as _parse_cpuid_field
from ..model import Location
from ..version import Version
from ..sources.jsontext import UNIQUE_KEYS, DuplicateKeyError, PathT, Positions, json_path, overlong_integer

__all__ = [
    "to_json",
    "from_json",
    "read_facts_file",
    "FACT_KEYS",
    "MAX_FACTS_BYTES",
    "facts_too_large",
    "ALLOWED_KEYS",
    "validate_facts_obj",
    "facts_from_obj",
    "parse_facts_text",
    "parse_version_field",
    "parse_cpuid_field",
]

# The same regular expressions as the schema's "pattern"s (keep in sync). Fields of a version
# have at most 9 digits so that every accepted text is also a valid Version (u32 fields).
VERSION_PATTERN = r"^([0-9]{1,9})\.([0-9]{1,9})\.([0-9]{1,9})$"
CPUID_PATTERN = r"^(?:0[xX])?([0-9a-fA-F]{1,8})$"
_VERSION_RE = re.compile(VERSION_PATTERN)

FACT_KEYS = ("module_version", "seamldr_version", "cpuid", "num_remaining_updates")
ALLOWED_KEYS = frozenset(FACT_KEYS + ("host", "interface"))

#: Host facts (a ``--facts`` file, one fleet line) larger than this are refused unread: a
#: host's facts are a few hundred bytes, and ``--facts /dev/zero`` must not eat the memory.
MAX_FACTS_BYTES = 1024 * 1024

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_EXPECTED_VERSION = "expected a version like 1.5.06"
_EXPECTED_CPUID = "expected a hex CPUID.1.EAX value like 0x806F8"


def _show(value: Any) -> str:
    """A short JSON rendering of a bad value for a message."""
    try:
        s = json.dumps(value)
    except (TypeError, ValueError):
        s = repr(value)
    return s if len(s) <= 40 else s[:37] + "..."


def parse_version_field(value: Any) -> Version | None:
    """The Version of a schema-valid version string, or None when it is not one."""
    if type(value) is not str:
        return None
    m = _VERSION_RE.search(value)
    if m is None:
        return None
    a, b, c = m.groups()
    return Version(int(a), int(b), int(c), m.group(0).rstrip("\n"))


# One spelling of the CPUID rule, in the value module (the CLI parses --cpuid without this
# codec); CPUID_PATTERN above is the schema's form of the same rule.
parse_cpuid_field = _parse_cpuid_field


def _is_integer(value: Any) -> bool:
    # JSON Schema: an integer is any number with a zero fractional part (5.0 too); not a bool.
    t = type(value)
    return t is int or (t is float and value.is_integer())


def validate_facts_obj(obj: Any) -> list[tuple[str, str]]:
    """Every way ``obj`` breaks the host-facts schema, as ``(json_path, message)`` pairs;
    empty when it is valid."""
    return [(shown, message) for shown, message, _ in _violations(obj)]


def _violations(obj: Any) -> list[tuple[str, str, PathT]]:
    """``(json_path, message, path)`` for every way ``obj`` breaks the schema; the path
    tuple finds the offending key in the text."""
    if type(obj) is not dict:
        return [("$", f"expected a JSON object of host facts, got {_show(obj)}", ())]
    errors: list[tuple[str, str, PathT]] = []
    for key in ("module_version", "seamldr_version"):
        v = obj.get(key)
        if v is not None and parse_version_field(v) is None:
            errors.append((f"$.{key}", f"{_EXPECTED_VERSION}, got {_show(v)}", (key,)))
    cpuid = obj.get("cpuid")
    if cpuid is not None:
        if type(cpuid) is not list:
            errors.append(("$.cpuid", f"expected a list of hex strings like [\"0x806F8\"], got {_show(cpuid)}",
                           ("cpuid",)))
        elif not cpuid:
            errors.append(("$.cpuid", "expected at least one CPUID value (one per CPU package), got []",
                           ("cpuid",)))
        else:
            for i, item in enumerate(cpuid):
                if parse_cpuid_field(item) is None:
                    errors.append((f"$.cpuid[{i}]", f"{_EXPECTED_CPUID}, got {_show(item)}",
                                   ("cpuid", i)))
    rem = obj.get("num_remaining_updates")
    if rem is not None and (not _is_integer(rem) or rem < 0):
        errors.append(("$.num_remaining_updates", f"expected a whole number >= 0, got {_show(rem)}",
                       ("num_remaining_updates",)))
    host = obj.get("host", "")
    if type(host) is not str:
        errors.append(("$.host", f"expected a string, got {_show(host)}", ("host",)))
    if "interface" in obj and type(obj["interface"]) is not dict:
        errors.append(("$.interface", f"expected an object, got {_show(obj['interface'])}",
                       ("interface",)))
    for key in obj:
        if key not in ALLOWED_KEYS:
            errors.append(
                (
                    f"$.{key}" if _IDENT_RE.fullmatch(key) else f"$[{_show(key)}]",
                    f"unknown key {_show(key)}; expected one of "
                    + ", ".join(sorted(ALLOWED_KEYS)),
                    (key,),
                )
            )
    return errors


def facts_from_obj(
    obj: Any,
    file: str,
    *,
    line: int | None = None,
    text: str | None = None,
    origin: str = "file",
) -> HostFacts:
    """HostFacts from a decoded JSON value; :class:`InputError` listing every problem (each
    with its JSON path, and the line when known) when it breaks the schema.

    ``line`` is the line of a JSON Lines record; ``text`` the whole document (for a file), used
    to point at the offending key.
    """
    errors = _violations(obj)
    if errors:
        # One pass over the text finds every offending value (20,000 bad CPUID entries used
        # to rescan the whole text once each).
        pos = Positions(text) if text is not None and line is None else None
        problems = []
        for shown, message, path in errors:
            if pos is None:
                problems.append(Problem(message, Location(file, line, None, shown)))
                continue
            # Located at the top-level key the problem is under, as the golden cases in
            # tests/data/move/facts_bad expect ("cpuid" for a bad $.cpuid[3]).
            off = pos.offset(path[:1], key=True) if path else None
            if off is None:
                problems.append(Problem(message, Location(file, None, None, shown)))
                continue
            ln, col = pos.line_col(off)
            problems.append(Problem(message, Location(file, ln, col, shown), pos.source_line(ln)))
        raise InputError(problems, code="invalid-host-facts")
    cpuid = obj.get("cpuid")
    rem = obj.get("num_remaining_updates")
    return HostFacts(
        module_version=parse_version_field(obj.get("module_version")),
        seamldr_version=parse_version_field(obj.get("seamldr_version")),
        cpuid=None if cpuid is None else tuple(parse_cpuid_field(c) or 0 for c in cpuid),
        num_remaining_updates=None if rem is None else int(rem),
        host=obj.get("host"),
        origin=origin,
    )


def decode_json_text(data: str | bytes, file: str, line: int | None = None) -> Any:
    """``json.loads`` with errors as located :class:`InputError`s."""
    if len(data) > MAX_FACTS_BYTES:
        raise facts_too_large(file, line)
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError.at(
                f"not UTF-8 text (byte offset {e.start})",
                Location(file, line),
                code="invalid-host-facts",
            ) from None
    if data.startswith("\ufeff") and (line is None or line == 1):
        # A byte-order mark at the start of the file (editors on Windows write one): RFC 8259
        # lets a parser ignore it, and an operator cannot see it.
        data = data[1:]
    try:
        if data.startswith("\ufeff"):
            # json.loads' own message for a BOM where none is allowed (a later fleet line)
            return json.loads(data)
        return UNIQUE_KEYS.decode(data)
    except json.JSONDecodeError as raw:
        from ..sources.json_errors import classic  # only on bad input (start-up budget)

        err = classic(raw)
        if line is None:
            loc = Location(file, err.lineno, err.colno)
            src = _line_at(data, err.pos)
        else:
            loc = Location(file, line, err.colno)
            src = data
        raise InputError.at(f"not valid JSON: {err.msg}", loc, src,
                            code="invalid-host-facts") from None
    except RecursionError:
        raise InputError.at("not valid JSON: nested too deeply", Location(file, line),
                            code="invalid-host-facts") from None
    except DuplicateKeyError:
        # json keeps the last of duplicated keys: {"module_version": "1.5.16",
        # "module_version": "1.5.06"} would be decided as 1.5.06 while a reader sees 1.5.16.
        pos = Positions(data)
        problems = [
            _text_problem(
                f"duplicate key {_show(path[-1])}: JSON keeps only the last one, which would "
                "hide the first; remove one",
                data, offset, file, line, json_path(path),
            )
            for path, offset in pos.duplicate_keys
        ]
        raise InputError(problems, code="invalid-host-facts") from None
    except ValueError:
        # Python refuses integers of more than sys.get_int_max_str_digits() digits (4,300)
        # with a plain ValueError, not a JSONDecodeError, and without a position.
        found = overlong_integer(data)
        offset, digits = found if found is not None else (0, 0)
        raise InputError(
            [
                _text_problem(
                    f"not valid host facts: number out of range ({digits} digits; expected a "
                    "whole number like 12)",
                    data, offset, file, line, None,
                )
            ],
            code="invalid-host-facts",
        ) from None


def _line_at(text: str, offset: int) -> str:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return text[start : end if end >= 0 else len(text)]


def _text_problem(
    message: str, text: str, offset: int, file: str, line: int | None, path: str | None
) -> Problem:
    """A problem at ``offset`` of ``text``: a whole file (``line`` None), or fleet line
    ``line`` of the file."""
    row = text.count("\n", 0, offset) + 1 if line is None else line
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Problem(message, Location(file, row, col, path), _line_at(text, offset))


def facts_too_large(file: str, line: int | None = None) -> InputError:
    """The error for host facts (a file, or one fleet line) over :data:`MAX_FACTS_BYTES`."""
    what = "the line is" if line is not None else "the file is"
    return InputError.at(
        f"{what} larger than {MAX_FACTS_BYTES // 1024} KiB, the limit for host facts (a "
        "host's facts are a few hundred bytes; is this the right file?)",
        Location(file, line),
        code="invalid-host-facts",
    )


def parse_facts_text(data: str | bytes, file: str) -> HostFacts:
    """Parse a whole host-facts JSON document (``--facts FILE``)."""
    obj = decode_json_text(data, file)
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return facts_from_obj(obj, file, text=text, origin="file")


def read_facts_file(path: Path, flag: str = "--facts") -> HostFacts:
    """Read and validate a host facts file (``-`` reads stdin). At most one byte past
    :data:`MAX_FACTS_BYTES` is read, whatever the file is (stdin, a FIFO, /dev/zero): enough
    to tell that it is too large."""
    name = str(path)
    try:
        if name == "-":
            import sys

            data: bytes = sys.stdin.buffer.read(MAX_FACTS_BYTES + 1)
            name = "<stdin>"
        else:
            with open(path, "rb") as fh:
                data = fh.read(MAX_FACTS_BYTES + 1)
    except OSError as e:
        raise InputError(f"{flag}: cannot read {name}: {e.strerror or e}",
                         code="unreadable") from None
    if len(data) > MAX_FACTS_BYTES:
        raise facts_too_large(name)
    return parse_facts_text(data, name)


def from_json(data: str | bytes, file: str = "<facts>") -> HostFacts:
    """Host facts from a JSON document; located :class:`InputError` when it is not one."""
    return parse_facts_text(data, file)


def to_json(facts: HostFacts) -> dict[str, Any]:
    """Host facts in the contract's JSON form; unknown facts are left out."""
    out: dict[str, Any] = {}
    if facts.module_version is not None:
        out["module_version"] = facts.module_version.text
    if facts.seamldr_version is not None:
        out["seamldr_version"] = facts.seamldr_version.text
    if facts.cpuid is not None:
        out["cpuid"] = [format_cpuid(c) for c in facts.cpuid]
    if facts.num_remaining_updates is not None:
        out["num_remaining_updates"] = facts.num_remaining_updates
    if facts.host is not None:
        out["host"] = facts.host
    return out
