"""Host facts from JSON: a ``--facts`` file or one line of a ``fleet`` JSON Lines stream.

The shape is ``schemas/host-facts.schema.json``::

    {"module_version": "1.5.06", "seamldr_version": "2.0.00", "cpuid": ["0x806F8"],
     "num_remaining_updates": 12, "host": "optional-name"}

Every fact is optional (a fact not given is *unknown*, cli-contract.md "Host facts"); ``null``
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
from typing import Any

from .json_errors import classic
from ..errors import InputError, Problem
from ..hostfacts import HostFacts
from ..model import Location
from ..version import Version

__all__ = [
    "FACT_KEYS",
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
_CPUID_RE = re.compile(CPUID_PATTERN)

FACT_KEYS = ("module_version", "seamldr_version", "cpuid", "num_remaining_updates")
ALLOWED_KEYS = frozenset(FACT_KEYS + ("host", "interface"))

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


def parse_cpuid_field(value: Any) -> int | None:
    if type(value) is not str:
        return None
    m = _CPUID_RE.search(value)
    if m is None:
        return None
    return int(m.group(1), 16)


def _is_integer(value: Any) -> bool:
    # JSON Schema: an integer is any number with a zero fractional part (5.0 too); not a bool.
    t = type(value)
    return t is int or (t is float and value.is_integer())


def validate_facts_obj(obj: Any) -> list[tuple[str, str]]:
    """Every way ``obj`` breaks the host-facts schema, as ``(json_path, message)`` pairs;
    empty when it is valid."""
    if type(obj) is not dict:
        return [("$", f"expected a JSON object of host facts, got {_show(obj)}")]
    errors: list[tuple[str, str]] = []
    for key in ("module_version", "seamldr_version"):
        v = obj.get(key)
        if v is not None and parse_version_field(v) is None:
            errors.append((f"$.{key}", f"{_EXPECTED_VERSION}, got {_show(v)}"))
    cpuid = obj.get("cpuid")
    if cpuid is not None:
        if type(cpuid) is not list:
            errors.append(("$.cpuid", f"expected a list of hex strings like [\"0x806F8\"], got {_show(cpuid)}"))
        elif not cpuid:
            errors.append(("$.cpuid", "expected at least one CPUID value (one per CPU package), got []"))
        else:
            for i, item in enumerate(cpuid):
                if parse_cpuid_field(item) is None:
                    errors.append((f"$.cpuid[{i}]", f"{_EXPECTED_CPUID}, got {_show(item)}"))
    rem = obj.get("num_remaining_updates")
    if rem is not None and (not _is_integer(rem) or rem < 0):
        errors.append(("$.num_remaining_updates", f"expected a whole number >= 0, got {_show(rem)}"))
    host = obj.get("host", "")
    if type(host) is not str:
        errors.append(("$.host", f"expected a string, got {_show(host)}"))
    if "interface" in obj and type(obj["interface"]) is not dict:
        errors.append(("$.interface", f"expected an object, got {_show(obj['interface'])}"))
    for key in obj:
        if key not in ALLOWED_KEYS:
            errors.append(
                (
                    f"$.{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else f"$[{_show(key)}]",
                    f"unknown key {_show(key)}; expected one of "
                    + ", ".join(sorted(ALLOWED_KEYS)),
                )
            )
    return errors


def _key_line(text: str | None, path: str) -> tuple[int | None, int | None]:
    """Best-effort line/column of the key a JSON path names, for error messages only."""
    if text is None or path == "$":
        return None, None
    key = path[2:].split("[", 1)[0] if path.startswith("$.") else None
    if not key:
        return None, None
    m = re.search(r'"' + re.escape(key) + r'"\s*:', text)
    if m is None:
        return None, None
    line = text.count("\n", 0, m.start()) + 1
    col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
    return line, col


def _line_text(text: str | None, line: int | None) -> str | None:
    if text is None or line is None:
        return None
    lines = text.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else None


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
    errors = validate_facts_obj(obj)
    if errors:
        problems = []
        for path, message in errors:
            if line is not None:
                loc = Location(file, line, None, path)
                src = None
            else:
                ln, col = _key_line(text, path)
                loc = Location(file, ln, col, path)
                src = _line_text(text, ln)
            problems.append(Problem(message, loc, src))
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
        return json.loads(data)
    except json.JSONDecodeError as raw:
        err = classic(raw)
        if line is None:
            loc = Location(file, err.lineno, err.colno)
            src = _line_text(data, err.lineno)
        else:
            loc = Location(file, line, err.colno)
            src = data
        raise InputError.at(f"not valid JSON: {err.msg}", loc, src,
                            code="invalid-host-facts") from None
    except RecursionError:
        raise InputError.at("not valid JSON: nested too deeply", Location(file, line),
                            code="invalid-host-facts") from None
    except ValueError:
        # Python refuses integers of more than sys.get_int_max_str_digits() digits (4300)
        # with a plain ValueError, not a JSONDecodeError: no host fact is ever that long.
        raise InputError.at("not valid host facts: a number has too many digits (expected "
                            "a whole number like 12)", Location(file, line),
                            code="invalid-host-facts") from None


def parse_facts_text(data: str | bytes, file: str) -> HostFacts:
    """Parse a whole host-facts JSON document (``--facts FILE``)."""
    obj = decode_json_text(data, file)
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return facts_from_obj(obj, file, text=text, origin="file")
