"""Decide for a whole fleet: JSON Lines of host facts in, one line per host out.

docs/cli.md#fleet-contract: exactly one output line per input line, in input order. By default
each line is a *compact row* (``schemas/fleet-row.schema.json``)::

    {"host": "node-1", "line": 1, "from": "1.5.06", "to": "1.5.16", "kind": "upgrade",
     "action": "update", "allowed": true, "failed": [], "unknown": []}

with ``"hops"`` in ``--select`` mode and the input columns named by ``--keep`` at the end.
``action`` is ``update`` (the move is allowed), ``current`` (the host already runs the target,
or with ``--select`` the newest release of its series: not a move, never a failure),
``blocked`` (``failed`` lists the denying check codes, ``unknown`` those of them that lack a
fact) or ``error`` (a malformed line: ``"error": {...}``; the run goes on). ``full=True``
(``--full``) writes today's whole verdict / select document per line instead
(``schemas/fleet.schema.json``). ``host`` is always a string: the input's, else the line number.
Exit 2 at the end if any line was malformed, else 1 if any host is blocked, else 0.

Speed: a fleet of millions of hosts has only a few thousand distinct host *states* (running
version, P-SEAMLDR, CPU packages, remaining updates), and far fewer distinct *answers*. Three
caches, each keyed more coarsely than the one before:

- the *raw* key (the JSON values exactly as written, with the type of the budget so that
  ``true`` never collides with ``1``) -> output entry. Only lines that passed full validation
  are stored, and every component that could make a line invalid (unknown keys, the type of
  ``host``/``interface``) is checked before the cached entry is used, so the fast path
  accepts exactly what :func:`tdxpolicy.codecs.hostfacts.validate_facts_obj` accepts.
- the *exact state* (parsed versions, CPUID values, budget) -> output entry, so ``"0x806f8"``
  and ``"0x806F8"``, or ``3`` and ``3.0``, share one entry.
- the *effect* of the state -> the engine's answer. The budget only matters up to
  ``max_hops`` (a hop needs one update; ``--full`` documents one more: an allowed move's
  reversibility looks one update further), so larger budgets share one decision; compact rows
  carry no messages, so their CPU packages count as a set. A full document must still cite the host's own budget (the
  ``remaining-updates`` message and facts): it is re-cited from
  :func:`tdxpolicy.engine.checks.state_outcome` for the exact count, which is what deciding
  that host alone gives (tests/test_fleet.py checks every line against deciding each host on
  its own).

An output entry is kept *serialized*; each further host costs one ``json.loads``, a few dict
lookups and one byte formatting.

This module reads the stream and writes the output it is handed (the CLI passes stdin/stdout);
it never opens files or prints on its own.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _enc
from json.scanner import make_scanner
from typing import IO, Any, Callable, Iterable, Iterator, Sequence

from ._value import replace
from .catalogue import Catalogue
from .errors import InputError, TdxPolicyError
from .output import dumps
from .hostfacts import HostFacts
from .codecs.hostfacts import (
    ALLOWED_KEYS,
    MAX_FACTS_BYTES,
    decode_json_text,
    facts_from_obj,
    facts_too_large,
)
from .sources.jsontext import UNIQUE_KEYS
from .verdict import MoveOptions, Result, SelectResult, Verdict
from .version import Version

__all__ = [
    "ACTIONS",
    "FORMATS",
    "ROW_KEYS",
    "FleetSummary",
    "FleetDecider",
    "run_fleet",
    "check_keep",
]

ACTIONS = ("update", "current", "blocked", "error")
FORMATS = ("json", "full", "csv", "text")
# The keys of a compact row, in order (``hops`` only with --select; kept columns follow).
ROW_KEYS = ("host", "line", "from", "to", "kind", "action", "allowed", "failed", "unknown")
SUMMARY_TAG = "fleet-summary/1"


def check_keep(keep: Sequence[str]) -> tuple[str, ...]:
    """The ``--keep`` column names, each once; InputError (usage) for a name that is a host
    fact or an output key (copying it would overwrite or shadow the answer)."""
    reserved = set(ALLOWED_KEYS) | set(ROW_KEYS) | {"hops", "error"}
    bad = [k for k in keep if k in reserved or not k]
    if bad:
        raise InputError(
            f"fleet: --keep {bad[0]!r}: not a column that can be copied (it is a host fact or "
            f"an output key: {', '.join(sorted(reserved))})", code="usage")
    return tuple(dict.fromkeys(keep))


def _json_bytes(value: Any) -> bytes:
    """Compact JSON as UTF-8 (the package's one JSON policy, :func:`tdxpolicy.output.dumps`:
    a lone surrogate is \\u-escaped)."""
    return dumps(value, pretty=False).encode("utf-8")


def _csv_field(value: Any) -> str:
    """One CSV field (RFC 4180 quoting); lists as space-separated words, other JSON values
    (objects) as JSON text."""
    if value is None:
        s = ""
    elif value is True or value is False:
        s = "true" if value else "false"
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        s = " ".join(value)
    elif isinstance(value, (dict, list, tuple)):
        s = json.dumps(value, separators=(",", ":"))
    else:
        s = str(value)
    if any(c in s for c in ',"\r\n') or s != s.strip():
        s = '"' + s.replace('"', '""') + '"'
    return s


def _csv_bytes(value: Any) -> bytes:
    return _csv_field(value).encode("utf-8", "backslashreplace")


@dataclass(eq=False)
class _Decision:
    """The engine's answer for one effect state, and the compact row fields it gives."""

    result: Verdict | SelectResult
    budget: int | None  # the budget it was decided with
    row: dict[str, Any]  # from, to, kind, action, allowed, failed, unknown[, hops]
    entry: _Entry | None = None  # its one output entry (all but the full format)


@dataclass(eq=False)
class _Entry:
    """One serialized answer: what follows ``host`` and ``line`` in the output line."""

    body: bytes | None  # None: nothing to print for this host (text format, update/current)
    decision: _Decision
    count: int = 0


@dataclass
class FleetSummary:
    hosts: int = 0
    errors: int = 0
    by_action: dict[str, int] = field(default_factory=dict)
    by_check: dict[str, int] = field(default_factory=dict)
    by_unknown: dict[str, int] = field(default_factory=dict)
    updates_to: dict[str, int] = field(default_factory=dict)
    distinct_states: int = 0
    mode: str = "to"
    target: str | None = None
    interrupted: bool = False  # Ctrl-C: only the lines before it were decided
    output_closed: bool = False  # the reader went away (`| head`): the run stopped there
    stopped_at: int | None = None  # an over-long line ended the run (the rest was not read)

    @property
    def blocked(self) -> int:
        return self.by_action.get("blocked", 0)

    @property
    def denied(self) -> int:  # the name before 0.2
        return self.blocked

    @property
    def exit_code(self) -> int:
        if self.errors:
            return 2
        return 1 if self.blocked else 0

    def render(self) -> str:
        parts = [f"fleet: {self.hosts} hosts"]
        for a in ACTIONS:
            n = self.by_action.get(a, 0)
            if a == "update" and self.mode == "select" and self.updates_to:
                to = sorted(self.updates_to.items(), key=lambda kv: (-kv[1], kv[0]))
                parts.append(f"update {n} (" + ", ".join(f"to {k} {v}" for k, v in to) + ")")
            else:
                parts.append(f"{a} {n}")
        s = ", ".join(parts)
        if self.by_check:
            checks = sorted(self.by_check.items(), key=lambda kv: (-kv[1], kv[0]))
            s += "; failing checks: " + ", ".join(f"{k} {v}" for k, v in checks)
        s += f" ({self.distinct_states} distinct host states)"
        if self.interrupted:
            s += "; interrupted: only the lines before were decided"
        if self.output_closed:
            s += "; output closed: stopped there"
        if self.stopped_at is not None:
            s += (f"; stopped at line {self.stopped_at}: longer than "
                  f"{MAX_FACTS_BYTES // 1024} KiB, the rest of the input was not read")
        return s

    def to_json(self) -> dict[str, Any]:
        """``schemas/fleet-summary.schema.json``."""
        return {
            "tdxpolicy": SUMMARY_TAG,
            "mode": self.mode,
            "target": self.target,
            "hosts": self.hosts,
            "actions": {a: self.by_action.get(a, 0) for a in ACTIONS},
            "updates_to": dict(sorted(self.updates_to.items())),
            "failing_checks": dict(sorted(self.by_check.items())),
            "unknown_checks": dict(sorted(self.by_unknown.items())),
            "distinct_states": self.distinct_states,
            "complete": not (self.interrupted or self.output_closed
                             or self.stopped_at is not None),
            "interrupted": self.interrupted,
            "output_closed": self.output_closed,
            "stopped_at": self.stopped_at,
            "exit_code": self.exit_code,
        }


def _codes(verdict: Verdict) -> tuple[list[str], list[str]]:
    failed = verdict.failed
    return (list(dict.fromkeys(c.code for c in failed)),
            list(dict.fromkeys(c.code for c in failed if c.result is Result.UNKNOWN)))


# Checks whose denial lies with the target release (or the site's policy for it), not with
# the host: no host in the same place could move there, so it does not make a host "blocked".
RELEASE_SIDE = frozenset({"target-known", "debug", "support-status", "policy-deny"})


def _release_side(verdict: Verdict, every_fact: bool) -> bool:
    """Whether a denied move is denied for the release's sake: a release-side check fails, or
    a check is unknown although the host gave every fact (the catalogue lacks one)."""
    failed = verdict.failed
    return any(c.code in RELEASE_SIDE for c in failed) or (
        every_fact and any(c.result is Result.UNKNOWN for c in failed))


class _BoundedLines:
    """The lines of a stream, none longer than ``limit`` (without its newline).

    A file object is read with ``readline(limit + 1)``, so that a stream without newlines
    (``fleet /dev/zero``, a binary file, a runaway producer) costs at most ``limit`` bytes of
    memory, never the whole stream. The first over-long line ends the iteration and is
    recorded in ``overlong``: where the next line would start cannot be known without reading
    on, possibly forever."""

    def __init__(self, stream: Iterable[bytes | str], limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self.overlong = False

    def __iter__(self) -> Iterator[bytes | str]:
        limit = self.limit
        readline = getattr(self.stream, "readline", None)
        if readline is not None:
            while True:
                line = readline(limit + 1)
                if not line:
                    return
                if len(line) > limit and line[-1:] not in (b"\n", "\n"):
                    self.overlong = True
                    return
                yield line
        for line in self.stream:  # an iterable of lines already in memory (tests, the API)
            if len(line) > limit and not (len(line) == limit + 1 and line[-1:] in (b"\n", "\n")):
                self.overlong = True
                return
            yield line


class FleetDecider:
    """The per-host work of ``fleet``, with its caches. ``target`` set: one move per host;
    else select. ``fmt``: ``json`` (compact rows), ``full`` (verdict/select documents),
    ``csv`` (rows without the header) or ``text`` (blocked and malformed hosts only).
    ``keep``: input columns copied to every output line (and accepted on input)."""

    def __init__(
        self,
        catalogue: Catalogue,
        options: MoveOptions,
        *,
        target: Version | None = None,
        max_hops: int = 1,
        file: str = "<stdin>",
        fmt: str = "json",
        keep: Sequence[str] = (),
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
        self.catalogue = catalogue
        self.options = options
        self.target = target
        self.max_hops = max_hops
        self.file = file
        self.fmt = fmt
        self.keep = check_keep(keep)
        self.allowed_keys = ALLOWED_KEYS | frozenset(self.keep)
        self.errors = 0
        self.stopped_at: int | None = None  # the over-long line that ended the run early
        self._reset_caches()

    def _reset_caches(self) -> None:
        self.raw: dict[Any, _Entry] = {}
        self.states: dict[Any, _Entry] = {}
        self.decisions: dict[Any, _Decision] = {}

    # Deciders travel to worker processes (Spark, Dask, multiprocessing): the caches stay
    # behind (they are rebuilt on first use there), the catalogue and options go along.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in ("raw", "states", "decisions"):
            state[name] = {}
        state["errors"] = 0
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    # -- the line templates --------------------------------------------------------------------

    @property
    def template(self) -> bytes:
        """``template % (host, line, body, kept)`` is one output line."""
        if self.fmt == "csv":
            return b"%s,%d%s%s\n"
        if self.fmt == "text":
            return b"%s %7d%s%s\n"
        return b'{"host":%s,"line":%d%s%s}\n'

    def encode_host(self, host: str) -> bytes:
        if self.fmt == "csv":
            return _csv_bytes(host)
        if self.fmt == "text":
            return host.encode("utf-8", "backslashreplace").ljust(30)
        return _enc(host).encode("ascii")

    def kept(self, obj: Any) -> bytes:
        if not self.keep:
            return b""
        get = obj.get if type(obj) is dict else (lambda _k: None)
        if self.fmt == "csv":
            return b"".join(b"," + _csv_bytes(get(k)) for k in self.keep)
        if self.fmt == "text":
            return b""
        return b"".join(b"," + _json_bytes(k) + b":" + _json_bytes(get(k)) for k in self.keep)

    def _kept_fn(self) -> Callable[[Any], bytes] | None:
        """``kept(obj)`` for the fast path (None when nothing is kept): the JSON key prefixes
        are made once and string values (the usual inventory column) escaped directly."""
        if not self.keep or self.fmt not in ("json", "full"):
            return self.kept if self.keep else None
        prefixes = [(k, b"," + _json_bytes(k) + b":") for k in self.keep]
        enc = _enc

        def kept(obj: Any) -> bytes:
            out = b""
            for k, prefix in prefixes:
                v = obj.get(k)
                out += prefix + (enc(v).encode("ascii") if type(v) is str else _json_bytes(v))
            return out

        return kept

    def csv_header(self) -> bytes:
        cols = list(ROW_KEYS) + (["hops"] if self.target is None else []) + ["error"]
        return (",".join(_csv_field(c) for c in [*cols, *self.keep]) + "\n").encode("utf-8")

    def text_header(self) -> bytes:
        return (f"{'HOST':<30} {'LINE':>7}  {'FROM':<8} {'TO':<8} {'ACTION':<8} WHY\n").encode()

    # -- the slow path: validate fully, decide once per effect state ----------------------------

    def _decide(self, facts: HostFacts) -> _Decision:
        budget = facts.num_remaining_updates
        # A path of at most max_hops hops needs that many updates; a full document also says
        # whether the move back is possible afterwards, which needs one more.
        clamp = self.max_hops + 1 if self.fmt == "full" else self.max_hops
        cpuid = facts.cpuid
        if cpuid is not None and self.fmt != "full":
            cpuid = tuple(sorted(set(cpuid)))  # the cpu check's answer depends on the set only
        key = (
            facts.module_version.text if facts.module_version is not None else None,
            facts.seamldr_version.text if facts.seamldr_version is not None else None,
            cpuid,
            budget if budget is None or budget < clamp else clamp,
        )
        decision = self.decisions.get(key)
        if decision is not None:
            return decision
        state = HostFacts(
            module_version=facts.module_version,
            seamldr_version=facts.seamldr_version,
            cpuid=facts.cpuid,
            num_remaining_updates=budget,
            origin="fleet",
        )
        running = state.module_version
        row: dict[str, Any] = {"from": running.text if running is not None else None}
        result: Verdict | SelectResult
        if self.target is not None:
            from .engine import decide
            from .verdict import MoveKind

            v = decide(self.catalogue, state, self.target, self.options)
            result = v
            current = v.kind is MoveKind.REINSTALL
            failed, unknown = ([], []) if current else _codes(v)
            row.update(to=self.target.text, kind=v.kind.value if v.kind is not None else None,
                       action="current" if current else "update" if v.allowed else "blocked",
                       allowed=v.allowed and not current, failed=failed, unknown=unknown)
        else:
            from .engine import select

            r = select(self.catalogue, state, self.options, max_hops=self.max_hops)
            result = r
            row.update(self._select_row(state, r))
        decision = _Decision(result, budget, row)
        self.decisions[key] = decision
        return decision

    def _select_row(self, state: HostFacts, r: SelectResult) -> dict[str, Any]:
        from .engine import decide
        from .engine.checks import move_kind

        running = state.module_version
        if r.selected is not None:
            kind = move_kind(running, r.selected)
            return {"to": r.selected.text, "kind": kind.value if kind is not None else None,
                    "action": "update", "allowed": True, "failed": [], "unknown": [],
                    "hops": len(r.path)}
        known = running is not None and self.catalogue.get(running) is not None
        newest = self.catalogue.newest_first()
        judged: tuple[Version, Verdict] | None = None
        if known:
            assert running is not None
            newer = [x.version for x in newest
                     if x.series == running.series and x.version.key > running.key]
            every_fact = None not in (state.seamldr_version, state.cpuid,
                                      state.num_remaining_updates)
            for version in newer:
                v = decide(self.catalogue, state, version, self.options)
                if not _release_side(v, every_fact):
                    judged = (version, v)  # the newest release this host is kept from
                    break
            if judged is None:
                # Nothing newer in its series that any host in its place could move to: the
                # host is up to date, which is no failure.
                return {"to": running.text, "kind": "reinstall", "action": "current",
                        "allowed": False, "failed": [], "unknown": [], "hops": 0}
        elif newest:
            # The running release is unknown (or not given): judged against the newest one.
            version = newest[0].version
            judged = (version, decide(self.catalogue, state, version, self.options))
        if judged is None:  # an empty catalogue
            return {"to": None, "kind": None, "action": "blocked", "allowed": False,
                    "failed": [], "unknown": [], "hops": None}
        version, v = judged
        failed, unknown = _codes(v)
        return {"to": version.text, "kind": v.kind.value if v.kind is not None else None,
                "action": "blocked", "allowed": False, "failed": failed, "unknown": unknown,
                "hops": None}

    def _recite(self, decision: _Decision, budget: int | None) -> Verdict | SelectResult:
        """The decision as deciding a host with exactly ``budget`` gives it: only the
        ``remaining-updates`` checks cite the count (one fewer per hop)."""
        result = decision.result
        if budget == decision.budget or budget is None:
            return result
        from .engine.checks import _check, state_outcome

        def at(v: Verdict, remaining: int) -> Verdict:
            checks = tuple(
                _check(c.code, state_outcome(remaining, self.options))
                if c.code == "remaining-updates" else c
                for c in v.checks)
            return replace(v, checks=checks)

        if isinstance(result, Verdict):
            return at(result, budget)
        return replace(result, path=tuple(at(v, budget - k) for k, v in enumerate(result.path)))

    def _body(self, decision: _Decision, facts: HostFacts) -> bytes | None:
        row = decision.row
        if self.fmt == "full":
            from .codecs.select import select_json
            from .codecs.verdict import verdict_json

            result = self._recite(decision, facts.num_remaining_updates)
            if isinstance(result, Verdict):
                doc = verdict_json(result)
            else:
                doc = select_json(result, facts.module_version)
            body = _json_bytes({"action": row["action"], **doc})
            return b"," + body[1:-1]
        if self.fmt == "json":
            return b"," + _json_bytes(row)[1:-1]
        if self.fmt == "csv":
            vals = [row[k] for k in ROW_KEYS[2:]]
            if self.target is None:
                vals.append(row["hops"])
            vals.append(None)  # error
            return b"".join(b"," + _csv_bytes(v) for v in vals)
        # text: only what needs a person's attention
        if row["action"] != "blocked":
            return None
        why = ", ".join(f"{c} (unknown)" if c in row["unknown"] else c for c in row["failed"])
        return ("  %-8s %-8s %-8s %s" % (row["from"] or "-", row["to"] or "-", "blocked",
                                         why or "no permitted path")).encode("utf-8")

    def _entry(self, facts: HostFacts) -> _Entry:
        key = (
            facts.module_version.text if facts.module_version is not None else None,
            facts.seamldr_version.text if facts.seamldr_version is not None else None,
            facts.cpuid,
            facts.num_remaining_updates,
        )
        entry = self.states.get(key)
        if entry is None:
            decision = self._decide(facts)
            if self.fmt == "full":
                entry = _Entry(self._body(decision, facts), decision)
            else:
                # One entry per decision: every state with this effect prints the same.
                entry = decision.entry
                if entry is None:
                    entry = decision.entry = _Entry(self._body(decision, facts), decision)
            self.states[key] = entry
        return entry

    def error_body(self, err: TdxPolicyError) -> bytes:
        error = err.to_json()["error"]
        if self.fmt == "full":
            return b',"error":' + _json_bytes(error)
        if self.fmt == "json":
            hops = b',"hops":null' if self.target is None else b""
            return (b',"from":null,"to":null,"kind":null,"action":"error","allowed":false,'
                    b'"failed":[],"unknown":[]' + hops + b',"error":' + _json_bytes(error))
        if self.fmt == "csv":
            empty: list[Any] = [None, None, None, "error", False, [], []] + (
                [None] if self.target is None else [])
            return b"".join(b"," + _csv_bytes(v) for v in [*empty, error["message"]])
        return ("  %-8s %-8s %-8s %s" % ("-", "-", "error", error["message"])).encode(
            "utf-8", "backslashreplace")

    def _error_line(self, n: int, obj: Any, err: TdxPolicyError) -> bytes:
        self.errors += 1
        host = obj.get("host") if type(obj) is dict else None
        if type(host) is not str:
            host = str(n)
        return self.template % (self.encode_host(host), n, self.error_body(err), self.kept(obj))

    def _facts_obj(self, obj: Any) -> Any:
        if self.keep and type(obj) is dict:
            return {k: v for k, v in obj.items() if k not in self.keep}
        return obj

    def slow_line(self, raw: bytes | str, n: int, obj: Any = None, parsed: bool = False) -> bytes:
        """One line the fast path could not answer: full validation, located errors."""
        entry, host, obj = self.slow_entry(raw, n, obj, parsed)
        if entry is None:
            assert isinstance(host, TdxPolicyError)
            return self._error_line(n, obj, host)
        entry.count += 1
        if entry.body is None:
            return b""
        return self.template % (self.encode_host(host), n, entry.body, self.kept(obj))

    def slow_entry(self, raw: bytes | str | None, n: int, obj: Any = None,
                   parsed: bool = False) -> tuple[_Entry | None, Any, Any]:
        """(entry, host name, obj) for one line, or (None, the error, obj) when it is
        malformed. Does not count the host."""
        try:
            if not parsed and not isinstance(raw, (str, bytes)):
                obj, parsed = raw, True  # not a line: facts_from_obj says what it is
            if not parsed:
                assert raw is not None
                if not raw.strip():
                    from .model import Location

                    raise InputError.at("empty line; expected a JSON object of host facts",
                                        Location(self.file, n), code="invalid-host-facts")
                obj = decode_json_text(raw, self.file, line=n)
            facts = facts_from_obj(self._facts_obj(obj), self.file, line=n, origin="fleet")
        except TdxPolicyError as e:
            return None, e, obj
        entry = self._entry(facts)
        cp = obj.get("cpuid")
        rem = obj.get("num_remaining_updates")
        try:
            key = (obj.get("module_version"), obj.get("seamldr_version"),
                   tuple(cp) if type(cp) is list else cp, rem, type(rem))
            self.raw[key] = entry
        except TypeError:  # pragma: no cover - valid facts are always hashable
            pass
        return entry, facts.host if facts.host is not None else str(n), obj

    def cached(self, obj: Any) -> _Entry | None:
        """The entry the fast path would use for a decoded line (None: take the slow path)."""
        if type(obj) is not dict or not obj.keys() <= self.allowed_keys:
            return None
        cp = obj.get("cpuid")
        rem = obj.get("num_remaining_updates")
        try:
            entry = self.raw.get((obj.get("module_version"), obj.get("seamldr_version"),
                                  tuple(cp) if type(cp) is list else cp, rem, type(rem)))
        except TypeError:
            return None
        host = obj.get("host")
        if entry is None or not (host is None or type(host) is str) or (
                "interface" in obj and type(obj["interface"]) is not dict):
            return None
        return entry

    def line(self, raw: bytes | str, n: int) -> bytes:
        """The output line (bytes, with newline) for input line ``n`` (1-based)."""
        return self.lines([raw], start=n)[0]

    # -- the fast path ---------------------------------------------------------------------------

    def lines(self, stream: Iterable[bytes | str], start: int = 1) -> list[bytes]:
        """The output line (bytes, with newline) for each input line, in order."""
        out: list[bytes] = []
        self.run(stream, out.extend, start=start)
        return [x for x in out if x]

    def run(
        self,
        stream: Iterable[bytes | str],
        sink: Callable[[list[bytes]], None],
        *,
        start: int = 1,
        chunk: int = 1024,
    ) -> None:
        """Decide every line of ``stream``; hand the output to ``sink`` as lists of whole
        output lines (at most ``chunk`` per call; ``chunk=1``: every line as soon as it is
        decided). On Ctrl-C the lines decided so far are handed over before it propagates."""
        # The JSON scanner itself: json.loads minus its wrappers (about half its time per
        # line here). A line it does not take whole (leading blanks, a byte-order mark,
        # anything malformed) goes through json.loads on the slow path, with located errors.
        # UNIQUE_KEYS: a duplicated key raises here (a ValueError) and the slow path locates it.
        scan: Callable[[str, int], tuple[Any, int]] = make_scanner(UNIQUE_KEYS)  # type: ignore[arg-type]
        raw_cache = self.raw
        allowed_keys = self.allowed_keys
        enc = _enc if self.fmt in ("json", "full") else self.encode_host
        json_host = enc is _enc
        template = self.template
        kept = self._kept_fn()
        slow = self.slow_line
        parts: list[bytes] = []
        append = parts.append
        n = start - 1
        reader = _BoundedLines(stream, MAX_FACTS_BYTES)
        try:
            for raw in reader:
                n += 1
                try:
                    # Decoding here (strict UTF-8) is cheaper than json.loads' own detection.
                    text: str = raw.decode() if type(raw) is bytes else raw  # type: ignore[assignment]
                    try:
                        obj, end = scan(text, 0)
                    except StopIteration:
                        raise ValueError from None
                    rest = len(text) - end
                    if rest and not (rest == 1 and text[end] == "\n") and \
                            text[end:].strip(" \t\n\r"):
                        raise ValueError
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
                                body = entry.body
                                if body is not None:
                                    if host is None:
                                        host = str(n)
                                    append(template % (
                                        enc(host).encode("ascii") if json_host  # type: ignore[union-attr]
                                        else enc(host),
                                        n, body, kept(obj) if kept is not None else b""))
                                entry.count += 1
                            else:
                                entry = None
                    if entry is None:
                        append(slow(raw, n, obj, parsed=True))
                if len(parts) >= chunk:
                    sink(parts)
                    parts = []
                    append = parts.append
        except KeyboardInterrupt:
            if parts:
                sink(parts)
            raise
        if reader.overlong:
            n += 1
            self.stopped_at = n
            append(self._error_line(n, None, facts_too_large(self.file, n)))
        if parts:
            sink(parts)

    # -- rows for the Python batch API ----------------------------------------------------------

    def rows(self, items: Iterable[Any], start: int = 1) -> Iterator[dict[str, Any]]:
        """One plain dict of scalars per item (a dict of host facts, or a JSON line as str or
        bytes): the compact row with ``failed``/``unknown`` as space-separated codes, ``hops``
        (None with a target) and ``error`` (the message, or None) always present, then the
        kept columns."""
        n = start - 1
        cache: dict[int, dict[str, Any]] = {}
        for item in items:
            n += 1
            obj = item
            if not isinstance(item, dict):
                try:
                    obj = UNIQUE_KEYS.decode(item.decode() if type(item) is bytes else item)
                except (ValueError, RecursionError, AttributeError, TypeError):
                    obj = None
            entry = self.cached(obj) if obj is not None else None
            if entry is not None:
                h = obj.get("host")
                host = h if h is not None else str(n)
            elif obj is not None:
                entry, host, obj = self.slow_entry(None, n, obj, parsed=True)
            else:
                entry, host, obj = self.slow_entry(item, n)
            kept = {k: (obj.get(k) if type(obj) is dict else None) for k in self.keep}
            if entry is None:
                self.errors += 1
                h = obj.get("host") if type(obj) is dict else None
                yield {"host": h if type(h) is str else str(n), "line": n, "from": None,
                       "to": None, "kind": None, "action": "error", "allowed": False,
                       "failed": "", "unknown": "", "hops": None,
                       "error": host.message if isinstance(host, TdxPolicyError) else str(host),
                       **kept}
                continue
            entry.count += 1
            d = entry.decision
            scalars = cache.get(id(d))
            if scalars is None:
                r = d.row
                scalars = {"from": r["from"], "to": r["to"], "kind": r["kind"],
                           "action": r["action"], "allowed": r["allowed"],
                           "failed": " ".join(r["failed"]), "unknown": " ".join(r["unknown"]),
                           "hops": r.get("hops"), "error": None}
                cache[id(d)] = scalars
            yield {"host": host, "line": n, **scalars, **kept}

    def summary(self) -> FleetSummary:
        s = FleetSummary(errors=self.errors, distinct_states=len(self.decisions),
                         mode="to" if self.target is not None else "select",
                         target=self.target.text if self.target is not None else None,
                         stopped_at=self.stopped_at)
        # In compact formats several states share one entry: count each entry once.
        for e in {id(e): e for e in self.states.values()}.values():
            if not e.count:
                continue
            row = e.decision.row
            a = row["action"]
            s.by_action[a] = s.by_action.get(a, 0) + e.count
            if a == "update" and self.target is None:
                s.updates_to[row["to"]] = s.updates_to.get(row["to"], 0) + e.count
            for code in row["failed"]:
                s.by_check[code] = s.by_check.get(code, 0) + e.count
            for code in row["unknown"]:
                s.by_unknown[code] = s.by_unknown.get(code, 0) + e.count
        if self.errors:
            s.by_action["error"] = self.errors
        s.hosts = sum(s.by_action.values())
        return s


def _is_regular(f: Any) -> bool:
    import stat

    try:
        return stat.S_ISREG(os.fstat(f.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return False


def streaming_input(stream: Any) -> bool:
    """Whether output should follow input line by line: the input is a pipe, socket or
    terminal (a filter in a pipeline), not a regular file."""
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return not _is_regular(stream)


def run_fleet(
    stream: Iterable[bytes],
    out: IO[bytes],
    catalogue: Catalogue,
    options: MoveOptions,
    *,
    target: Version | None = None,
    max_hops: int = 1,
    file: str = "<stdin>",
    fmt: str = "json",
    keep: Sequence[str] = (),
    line_by_line: bool = False,
    header: bool = True,
) -> FleetSummary:
    """Decide every line of ``stream`` and write the results to ``out``.

    ``line_by_line``: write (and flush) each line as soon as it is decided (a streaming
    filter); otherwise in batches. A reader that goes away (``BrokenPipeError``) ends the
    run quietly (``summary.output_closed``); Ctrl-C too (``summary.interrupted``), after the
    lines decided so far are written. The summary covers exactly the lines decided.
    """
    decider = FleetDecider(catalogue, options, target=target, max_hops=max_hops, file=file,
                           fmt=fmt, keep=keep)
    fd: int | None
    try:
        out.flush()
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None
    chunk = 1 if line_by_line else 1024
    sink: Callable[[list[bytes]], None]
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
    else:
        def sink(parts: list[bytes]) -> None:
            out.write(b"".join(parts))
            if line_by_line:
                out.flush()

    summary_flags: dict[str, bool] = {}
    pending_header = [b""]
    if header and fmt in ("csv", "text"):
        # Written with the first output, so that an input that cannot be read at all (exit 2)
        # leaves stdout empty.
        pending_header[0] = decider.csv_header() if fmt == "csv" else decider.text_header()
        write_parts = sink

        def sink(parts: list[bytes]) -> None:
            if pending_header[0]:
                parts = [pending_header[0], *parts]
                pending_header[0] = b""
            write_parts(parts)
    try:
        decider.run(stream, sink, chunk=chunk)
        if pending_header[0]:
            sink([])
        if fd is None:
            out.flush()
    except BrokenPipeError:
        summary_flags["output_closed"] = True
    except KeyboardInterrupt:
        summary_flags["interrupted"] = True
    summary = decider.summary()
    summary.interrupted = summary_flags.get("interrupted", False)
    summary.output_closed = summary_flags.get("output_closed", False)
    if fmt == "text" and not summary.output_closed:
        try:
            text = render_summary_table(summary).encode("utf-8")
            if fd is not None:
                write_all(fd, text)
            else:
                out.write(text)
                out.flush()
        except BrokenPipeError:
            summary.output_closed = True
    return summary


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def summary_text(summary: FleetSummary, style: Any = None) -> str:
    """The one-line summary ``fleet`` writes to stderr (output registry: ``text``)."""
    return summary.render() + "\n"


def summary_json(summary: FleetSummary) -> dict[str, Any]:
    """``fleet-summary/1`` (output registry: ``json``, written as one line)."""
    return summary.to_json()


def render_summary_table(s: FleetSummary) -> str:
    """The ``--format text`` summary: a small table after the blocked hosts."""
    rows: list[tuple[str, str]] = [("hosts", str(s.hosts))]
    for a in ACTIONS:
        rows.append((a, str(s.by_action.get(a, 0))))
        if a == "update":
            for v, count in sorted(s.updates_to.items(), key=lambda kv: (-kv[1], kv[0])):
                rows.append((f"  to {v}", str(count)))
    if s.by_check:
        rows.append(("failing checks", ""))
        for code, count in sorted(s.by_check.items(), key=lambda kv: (-kv[1], kv[0])):
            extra = f" ({s.by_unknown[code]} unknown)" if s.by_unknown.get(code) else ""
            rows.append((f"  {code}", f"{count}{extra}"))
    rows.append(("distinct host states", str(s.distinct_states)))
    width = max(len(k) for k, _ in rows)
    lines = ["", "SUMMARY"] + [f"{k:<{width}}  {v}".rstrip() for k, v in rows]
    if s.interrupted:
        lines.append("interrupted: only the lines before were decided")
    return "\n".join(lines) + "\n"
