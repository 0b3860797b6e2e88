"""Decide for a whole fleet: JSON Lines of host facts in, one JSON line per host out.

cli-contract.md, "Fleet": exactly one output line per input line, in input order; each is the
verdict (``--to``) or select (``--select``) document with ``"host"`` (from the input, else the
line number) and ``"line"`` added. A malformed line yields ``{"host": ..., "line": N,
"error": {...}}`` and the run continues. Exit 2 at the end if any line was malformed, else 1 if
any host is denied, else 0; a one-line summary is for stderr.

Speed: a fleet of millions of hosts has only a few hundred distinct host *states* (running
version, P-SEAMLDR, CPU packages, remaining updates). The answer depends only on the state, so
it is computed once per state and kept **serialized**; each further host costs one
``json.loads``, a dict lookup and a byte concatenation. Two caches:

- the *raw* key (the JSON values exactly as written, with the type of the budget so that
  ``true`` never collides with ``1``) -> serialized body. Only lines that passed full
  validation are ever stored, and every component that could make a line invalid (unknown keys,
  the type of ``host``/``interface``) is checked before the cached body is used, so the fast
  path accepts exactly what :func:`tdxpolicy.sources.hostfacts.validate_facts_obj` accepts.
- the *state* key (parsed versions, CPUID values, budget) -> body, so ``"0x806f8"`` and
  ``"0x806F8"``, or ``3`` and ``3.0``, share one decision. CPU packages are kept in the order
  given, not sorted or de-duplicated: the ``cpu`` check's message lists them, and a memoized
  answer must be byte-for-byte the answer for that host (tests/test_fleet.py checks this
  against deciding every host on its own).

The budget is part of the state exactly (not clamped): the engine's ``remaining-updates``
message cites the count, and a clamped key would print another host's number. Real fleets
have few distinct budgets, so this costs a handful of extra decisions.

This module reads the stream and writes the output it is handed (the CLI passes stdin/stdout);
it never opens files or prints on its own.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _enc
from typing import IO, Any, Callable, Iterable

from .catalogue import Catalogue
from .errors import TdxPolicyError
from .hostfacts import HostFacts
from .render.json_out import dumps
from .sources.hostfacts import ALLOWED_KEYS, decode_json_text, facts_from_obj
from .verdict import MoveOptions
from .version import Version

__all__ = ["FleetSummary", "FleetDecider", "run_fleet"]


@dataclass
class _Entry:
    tail: bytes  # b',' + body without its braces + b'}\n'
    allowed: bool
    failed: tuple[str, ...]  # failing check codes (verdict) or () (select)
    label: str  # summary bucket: "allowed"/"denied", or "selected 1.5.16"/"none"
    count: int = 0


@dataclass
class FleetSummary:
    hosts: int = 0
    errors: int = 0
    by_result: dict[str, int] = field(default_factory=dict)
    by_check: dict[str, int] = field(default_factory=dict)
    distinct_states: int = 0
    denied: int = 0

    @property
    def exit_code(self) -> int:
        if self.errors:
            return 2
        return 1 if self.denied else 0

    def render(self) -> str:
        parts = [f"fleet: {self.hosts} hosts"]
        parts += [f"{k} {v}" for k, v in sorted(self.by_result.items())]
        if self.errors:
            parts.append(f"malformed {self.errors}")
        s = ", ".join(parts)
        if self.by_check:
            checks = sorted(self.by_check.items(), key=lambda kv: (-kv[1], kv[0]))
            s += "; failing checks: " + ", ".join(f"{k} {v}" for k, v in checks)
        s += f" ({self.distinct_states} distinct host states)"
        return s


class FleetDecider:
    """The per-host work of ``fleet``, with its caches. ``target`` set: verdicts; else select."""

    def __init__(
        self,
        catalogue: Catalogue,
        options: MoveOptions,
        *,
        target: Version | None = None,
        max_hops: int = 1,
        file: str = "<stdin>",
    ) -> None:
        self.catalogue = catalogue
        self.options = options
        self.target = target
        self.max_hops = max_hops
        self.file = file
        self.raw: dict[Any, _Entry] = {}
        self.states: dict[Any, _Entry] = {}
        self.errors = 0

    # -- the slow path: validate fully, decide once per state -----------------------------------

    def _state_entry(self, facts: HostFacts) -> _Entry:
        key = (
            facts.module_version.text if facts.module_version is not None else None,
            facts.seamldr_version.text if facts.seamldr_version is not None else None,
            facts.cpuid,
            facts.num_remaining_updates,
        )
        entry = self.states.get(key)
        if entry is not None:
            return entry
        state = HostFacts(
            module_version=facts.module_version,
            seamldr_version=facts.seamldr_version,
            cpuid=facts.cpuid,
            num_remaining_updates=facts.num_remaining_updates,
            origin="fleet",
        )
        if self.target is not None:
            from .engine import decide
            from .render.json_out import verdict_json

            v = decide(self.catalogue, state, self.target, self.options)
            doc = verdict_json(v)
            allowed = v.allowed
            failed = tuple(dict.fromkeys(c.code for c in v.failed))
            label = "allowed" if allowed else "denied"
        else:
            from .engine import select
            from .render.json_out import select_json

            r = select(self.catalogue, state, self.options, max_hops=self.max_hops)
            doc = select_json(r, state.module_version)
            allowed = r.selected is not None
            failed = ()
            label = f"selected {r.selected}" if allowed else "none selectable"
        body = dumps(doc, pretty=False)
        entry = _Entry(b"," + body[1:].encode("utf-8") + b"\n", allowed, failed, label)
        self.states[key] = entry
        return entry

    def _error_line(self, n: int, obj: Any, err: TdxPolicyError) -> bytes:
        self.errors += 1
        host = obj.get("host") if type(obj) is dict else None
        # The host is echoed exactly as the answered lines echo it (ASCII JSON escapes, so a
        # lone surrogate from a "\ud800" escape in the input comes back the same way); the
        # rest is valid UTF-8 whatever the error text holds (render.safe_text).
        hb = _enc(host).encode("ascii") if type(host) is str else b"%d" % n
        rest = dumps({"line": n, "error": err.to_json()["error"]}, pretty=False)
        return b'{"host":' + hb + b"," + rest[1:].encode("utf-8") + b"\n"

    def slow_line(self, raw: bytes | str, n: int, obj: Any = None, parsed: bool = False) -> bytes:
        """One line the fast path could not answer: full validation, located errors."""
        try:
            if not parsed:
                if not (raw.strip() if isinstance(raw, (bytes, str)) else raw):
                    from .errors import InputError
                    from .model import Location

                    raise InputError.at("empty line; expected a JSON object of host facts",
                                        Location(self.file, n), code="invalid-host-facts")
                obj = decode_json_text(raw, self.file, line=n)
            facts = facts_from_obj(obj, self.file, line=n, origin="fleet")
        except TdxPolicyError as e:
            return self._error_line(n, obj, e)
        entry = self._state_entry(facts)
        cp = obj.get("cpuid")
        rem = obj.get("num_remaining_updates")
        try:
            key = (obj.get("module_version"), obj.get("seamldr_version"),
                   tuple(cp) if type(cp) is list else cp, rem, type(rem))
            self.raw[key] = entry
        except TypeError:  # pragma: no cover - valid facts are always hashable
            pass
        entry.count += 1
        host = facts.host
        hb = _enc(host).encode("ascii") if host is not None else str(n).encode("ascii")
        return b'{"host":' + hb + b',"line":' + str(n).encode("ascii") + entry.tail

    def line(self, raw: bytes | str, n: int) -> bytes:
        """The output line (bytes, with newline) for input line ``n`` (1-based)."""
        return self.lines([raw], start=n)[0]

    # -- the fast path ---------------------------------------------------------------------------

    def lines(self, stream: Iterable[bytes | str], start: int = 1) -> list[bytes]:
        """The output line (bytes, with newline) for each input line, in order."""
        out: list[bytes] = []
        self.run(stream, out.extend, start=start)
        # Output lines hold no raw newline (JSON escapes it), so this splits exactly per line.
        return b"".join(out).splitlines(keepends=True)

    def run(
        self,
        stream: Iterable[bytes | str],
        sink: Callable[[list[bytes]], None],
        *,
        start: int = 1,
        chunk: int = 1024,
    ) -> None:
        """Decide every line of ``stream``; hand the output to ``sink`` as lists of byte
        strings whose concatenation is a run of whole output lines (at most ``chunk`` pieces
        per call). Cached answers are passed as the same bytes object every time, never
        copied: with ``os.writev`` they reach the kernel without being joined."""
        loads = json.loads
        raw_cache = self.raw
        allowed_keys = ALLOWED_KEYS
        enc = _enc
        slow = self.slow_line
        parts: list[bytes] = []
        append = parts.append
        n = start - 1
        for raw in stream:
            n += 1
            try:
                # Decoding here (strict UTF-8) is cheaper than json.loads' own detection on bytes.
                obj = loads(raw.decode() if type(raw) is bytes else raw)
            except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError
                append(slow(raw, n))
            else:
                entry = None
                if type(obj) is dict and obj.keys() <= allowed_keys:
                    cp = obj.get("cpuid")
                    rem = obj.get("num_remaining_updates")
                    try:
                        entry = raw_cache.get(
                            (obj.get("module_version"), obj.get("seamldr_version"),
                             tuple(cp) if type(cp) is list else cp, rem, type(rem))
                        )
                    except TypeError:
                        entry = None
                    if entry is not None:
                        host = obj.get("host")
                        if (host is None or type(host) is str) and (
                            "interface" not in obj or type(obj["interface"]) is dict
                        ):
                            entry.count += 1
                            append(b'{"host":%s,"line":%d' % (
                                enc(host).encode() if host is not None else b"%d" % n, n))
                            append(entry.tail)
                        else:
                            entry = None
                if entry is None:
                    append(slow(raw, n, obj, parsed=True))
            if len(parts) >= chunk:
                sink(parts)
                parts = []
                append = parts.append
        if parts:
            sink(parts)

    def summary(self) -> FleetSummary:
        s = FleetSummary(errors=self.errors, distinct_states=len(self.states))
        for e in self.states.values():
            if not e.count:
                continue
            s.by_result[e.label] = s.by_result.get(e.label, 0) + e.count
            if not e.allowed:
                s.denied += e.count
            for code in e.failed:
                s.by_check[code] = s.by_check.get(code, 0) + e.count
        s.hosts = sum(e.count for e in self.states.values()) + self.errors
        return s


def run_fleet(
    stream: Iterable[bytes],
    out: IO[bytes],
    catalogue: Catalogue,
    options: MoveOptions,
    *,
    target: Version | None = None,
    max_hops: int = 1,
    file: str = "<stdin>",
) -> FleetSummary:
    """Decide every line of ``stream`` and write the results to ``out``.

    When ``out`` has a file descriptor, output goes out with ``os.writev`` in batches of at most 1024
    pieces (cached answers are never copied in user space); otherwise in joined chunks.
    """
    decider = FleetDecider(catalogue, options, target=target, max_hops=max_hops, file=file)
    fd: int | None
    try:
        out.flush()
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None
    if fd is not None and hasattr(os, "writev"):
        writev = os.writev
        write = os.write

        def sink(parts: list[bytes]) -> None:
            done = writev(fd, parts)
            total = sum(map(len, parts))
            if done < total:  # a signal interrupted a pipe write: finish the rest
                rest = memoryview(b"".join(parts))[done:]
                while rest:
                    rest = rest[write(fd, rest):]

        decider.run(stream, sink, chunk=1022)  # a line adds <= 2 pieces; IOV_MAX is 1024
    else:
        joined: list[bytes] = []
        size = 0

        def sink(parts: list[bytes]) -> None:
            nonlocal size
            joined.extend(parts)
            size += len(parts)
            if size >= 16384:
                out.write(b"".join(joined))
                joined.clear()
                size = 0

        decider.run(stream, sink, chunk=1024)
        if joined:
            out.write(b"".join(joined))
        out.flush()
    return decider.summary()
