"""JUnit XML for CI systems: one test case per check, so a denied move shows as failed tests.

The shape is the one CI servers read (Jenkins, GitLab, GitHub test reporters; the Apache Ant
JUnit schema and Jenkins' description of it): a ``<testsuites>`` root with ``name``, ``tests``,
``failures``, ``errors`` and ``time``; one ``<testsuite>`` per move (``can-upgrade``,
``preflight``) or per host (``fleet``) with ``name``, ``tests``, ``failures``, ``errors``,
``skipped``, ``time``, optional ``timestamp`` and ``hostname`` and a ``<properties>`` list; one
``<testcase name=... classname=... time=...>`` per check.

How a check's result maps (docs/exporters.md#junit):

- ``pass``: a plain test case.
- ``fail``: ``<failure message=... type="fail">`` with the check's message, the document line
  that decided it and the facts it used.
- ``unknown``: ``<error message=... type="unknown">``: the check could not be decided because a
  fact is missing, which denies like a failure (fail closed) but is a different fix (give
  the fact), so CI shows it apart.
- ``warn``: passes, with the warning in ``<system-out>``; under ``--strict`` a warning denies,
  and is then a ``<failure type="warn">``.

Checks take no measurable time, so every ``time`` is ``0``. Text that XML 1.0 cannot carry
(control characters other than tab, line feed and carriage return; lone surrogates; U+FFFE and
U+FFFF) is written as a visible ``\\xNN`` / ``\\uNNNN`` escape: a hostile host name or message
never makes the report unreadable. Escaping of ``<``, ``&`` and quotes is ElementTree's.

No I/O: returns the text.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ..errors import InvalidArgument
from ..verdict import Check, Result, Verdict, denies

if TYPE_CHECKING:
    from ..host.preflight import Preflight

__all__ = ["junit_verdicts", "junit_preflight", "junit_fleet", "xml_safe", "case_names"]

# Characters XML 1.0 does not allow (its `Char` production), plus U+FFFE/U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escape_char(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 cannot hold written as a visible escape."""
    return _NOT_XML.sub(_escape_char, text)


def _el(parent: ET.Element, tag: str, attrs: Mapping[str, str | int],
        text: str | None = None) -> ET.Element:
    clean = {k: xml_safe(str(v)) for k, v in attrs.items()}
    el = ET.SubElement(parent, tag, clean)
    if text is not None:
        el.text = xml_safe(text)
    return el


def _stamp(when: _dt.datetime | None) -> str | None:
    if when is None:
        return None
    if type(when) is not _dt.datetime or when.utcoffset() is None:
        raise InvalidArgument.expected("timestamp", "None or a timezone-aware datetime", when)
    return when.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


class _Suite:
    """One ``<testsuite>`` being filled: counts kept as cases are added."""

    def __init__(self, root: ET.Element, name: str, classname: str, hostname: str | None,
                 timestamp: str | None, properties: Sequence[tuple[str, str]]) -> None:
        attrs: dict[str, str | int] = {"name": name}
        if timestamp is not None:
            attrs["timestamp"] = timestamp
        if hostname is not None:
            attrs["hostname"] = hostname
        self.el = _el(root, "testsuite", attrs)
        self.classname = classname
        if properties:
            props = _el(self.el, "properties", {})
            for k, v in properties:
                _el(props, "property", {"name": k, "value": v})
        self.tests = self.failures = self.errors = 0

    def case(self, name: str, *, failure: tuple[str, str, str] | None = None,
             error: tuple[str, str, str] | None = None, out: str | None = None) -> None:
        """A test case; ``failure``/``error`` are (type, message, details)."""
        case = _el(self.el, "testcase", {"name": name, "classname": self.classname, "time": "0"})
        self.tests += 1
        if failure is not None:
            kind, message, details = failure
            _el(case, "failure", {"message": message, "type": kind}, details)
            self.failures += 1
        elif error is not None:
            kind, message, details = error
            _el(case, "error", {"message": message, "type": kind}, details)
            self.errors += 1
        if out:
            _el(case, "system-out", {}, out)

    def close(self) -> None:
        # The counts are known only once every case is in.
        for k, v in (("tests", self.tests), ("failures", self.failures),
                     ("errors", self.errors), ("skipped", 0), ("time", "0")):
            self.el.set(k, str(v))


def case_names(codes: Sequence[str]) -> list[str]:
    """Test case names: the check codes, a repeated one numbered from its second time on
    (``policy-fresh``, ``policy-fresh[2]``: one check per policy document), so every case of a
    suite has its own name and the first keeps the bare code across runs."""
    seen: dict[str, int] = {}
    out = []
    for code in codes:
        n = seen[code] = seen.get(code, 0) + 1
        out.append(code if n == 1 else f"{code}[{n}]")
    return out


def _details(check: Check) -> str:
    lines = [f"{check.code}: {check.result.value}: {check.message}"]
    src = check.source
    if src is not None:
        where = src.file + (f":{src.line}" if src.line is not None else "")
        lines.append(f"decided by {where}")
    if check.facts:
        lines.append("facts: " + json.dumps(dict(check.facts), sort_keys=True, default=str))
    return "\n".join(lines)


def _verdict_suite(root: ET.Element, v: Verdict, prefix: str, hostname: str | None,
                   stamp: str | None) -> _Suite:
    running = v.from_version.text if v.from_version is not None else "unknown"
    kind = v.kind.value if v.kind is not None else "unknown"
    name = f"{prefix}{running} -> {v.to_version.text} ({kind})"
    suite = _Suite(root, name, f"tdxpolicy.{kind}", hostname, stamp, (
        ("from", running), ("to", v.to_version.text), ("kind", kind),
        ("allowed", "true" if v.allowed else "false"), ("strict", "true" if v.strict else "false"),
    ))
    for c, case_name in zip(v.checks, case_names([c.code for c in v.checks])):
        details = _details(c)
        if c.result is Result.UNKNOWN:
            suite.case(case_name, error=("unknown", c.message, details))
        elif denies(c.result, v.strict):  # fail; warn under --strict
            suite.case(case_name, failure=(c.result.value, c.message, details))
        elif c.result is Result.WARN:
            suite.case(case_name, out=details)
        else:
            suite.case(case_name)
    suite.close()
    return suite


def _document(name: str, suites: Sequence[_Suite], root: ET.Element) -> str:
    root.set("name", xml_safe(name))
    root.set("tests", str(sum(s.tests for s in suites)))
    root.set("failures", str(sum(s.failures for s in suites)))
    root.set("errors", str(sum(s.errors for s in suites)))
    root.set("time", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(
        root, encoding="unicode") + "\n"


def junit_verdicts(
    verdicts: Sequence[Verdict],
    *,
    name: str = "tdxpolicy",
    hostname: str | None = None,
    timestamp: _dt.datetime | None = None,
) -> str:
    """One test suite per verdict (``can-upgrade``: one; ``path``: one per hop), one test case
    per check. ``hostname``: the host the facts came from (``facts.host``), when known."""
    root = ET.Element("testsuites")
    stamp = _stamp(timestamp)
    suites = [_verdict_suite(root, v, "", hostname, stamp) for v in verdicts]
    return _document(name, suites, root)


def junit_preflight(
    preflight: Preflight,
    *,
    name: str = "tdxpolicy preflight",
    timestamp: _dt.datetime | None = None,
) -> str:
    """``preflight``: one suite with every check of the decision, the image and the host
    (``preflight.verdict`` already holds all three), ``hostname`` from the probe."""
    root = ET.Element("testsuites")
    suite = _verdict_suite(root, preflight.verdict, "preflight ", preflight.probe.facts.host,
                           _stamp(timestamp))
    return _document(name, [suite], root)


def _codes(value: Any) -> list[str]:
    """``failed``/``unknown`` of a fleet row: a list (JSON lines) or a space-separated string
    (the Python batch rows, tdxpolicy.batch)."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [str(c) for c in value]
    return []


def _check_from_json(doc: Mapping[str, Any]) -> Check | None:
    try:
        return Check(str(doc["code"]), Result(doc["result"]), str(doc.get("message", "")))
    except (KeyError, ValueError, TypeError):
        return None


def junit_fleet(
    rows: Iterable[Mapping[str, Any]],
    *,
    name: str = "tdxpolicy fleet",
    timestamp: _dt.datetime | None = None,
) -> str:
    """One test suite per host (``fleet``), in input order.

    ``rows`` are fleet lines as dicts: compact rows (``schemas/fleet-row.schema.json``, or the
    rows of :func:`tdxpolicy.decide_many`, whose ``failed``/``unknown`` are space-separated),
    or ``--full`` verdict documents (with ``checks``). A full document gives one case per
    check, as :func:`junit_verdicts`. A compact row names only the checks that deny: one
    case per code in ``failed`` (``<error>`` when the code is also in ``unknown``, else
    ``<failure>``); a host with none of them has one case ``decision``, which passes for
    ``update`` and ``current`` and fails for a ``blocked`` host with no permitted path. A
    malformed input line (``action`` ``error``) is one ``<error type="invalid-input">``."""
    root = ET.Element("testsuites")
    stamp = _stamp(timestamp)
    suites: list[_Suite] = []
    for row in rows:
        host = str(row.get("host", ""))
        line = row.get("line")
        action = str(row.get("action", ""))
        running = row.get("from") or "unknown"
        target = row.get("to") or "unknown"
        kind = row.get("kind") or "unknown"
        props = [("line", str(line)), ("action", action), ("from", str(running)),
                 ("to", str(target)), ("kind", str(kind))]
        suite = _Suite(root, host, f"tdxpolicy.fleet.{action or 'unknown'}", host, stamp, props)
        suites.append(suite)
        err = row.get("error")
        if action == "error" or err:
            message = err.get("message") if isinstance(err, Mapping) else err
            suite.case("facts", error=("invalid-input", str(message or "malformed line"),
                                       f"line {line}: {message}"))
            suite.close()
            continue
        checks = row.get("checks")
        if isinstance(checks, list):
            strict = bool(row.get("strict", False))
            parsed = [_check_from_json(doc) if isinstance(doc, Mapping) else None
                      for doc in checks]
            names = case_names([c.code if c is not None else "check" for c in parsed])
            for c, case_name, doc in zip(parsed, names, checks):
                if c is None:
                    suite.case(case_name, error=("invalid-input", "a check without code/result",
                                                 str(doc)))
                elif c.result is Result.UNKNOWN:
                    suite.case(case_name, error=("unknown", c.message, c.message))
                elif denies(c.result, strict):
                    suite.case(case_name, failure=(c.result.value, c.message, c.message))
                elif c.result is Result.WARN:
                    suite.case(case_name, out=c.message)
                else:
                    suite.case(case_name)
            suite.close()
            continue
        failed, unknown = _codes(row.get("failed")), set(_codes(row.get("unknown")))
        move = f"{running} -> {target}"
        for code in failed:
            if code in unknown:
                suite.case(code, error=("unknown", f"{code}: a fact is unknown ({move})",
                                        f"check {code} is unknown for {move}"))
            else:
                suite.case(code, failure=("fail", f"{code} denies {move}",
                                          f"check {code} denies {move}"))
        if not failed:
            if action in ("update", "current"):
                suite.case("decision", out=f"{action}: {move}")
            else:
                suite.case("decision", failure=("fail", f"{action}: no permitted move",
                                                f"{action}: {move}"))
        suite.close()
    return _document(name, suites, root)
