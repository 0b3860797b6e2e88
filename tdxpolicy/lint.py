"""Lint: findings about documents that parse but are probably not what their author meant.

Errors that make a document invalid are raised by the parser (:mod:`tdxpolicy.sources.document`)
and conflicts by :func:`tdxpolicy.catalogue.merge`; this module looks for the rest. Each finding
is data (a :class:`Finding` with a location), never an exception. Pure: ``today`` is passed in.

A release block that only declares facts (no rules) is fine: that is how a release Intel gives
no update policy for is written, and it cannot be updated into.
"""

from __future__ import annotations

import datetime as _dt
from enum import Enum
from typing import Any, Iterable, Sequence

from ._value import value
from .model import Location, PolicyDocument, ReleaseBlock
from .version import Span, VersionSet, series_bounds

__all__ = ["Severity", "Finding", "KNOWN_SEAMLDR_SERIES", "lint_documents", "verset_is_empty"]

#: P-SEAMLDR lines Intel has published (mapping_file.json ``min_seamldr_versions``).
KNOWN_SEAMLDR_SERIES = ((1, 5), (2, 0))


class Severity(str, Enum):
    WARNING = "warning"
    ERROR = "error"


@value
class Finding:
    code: str
    severity: Severity
    message: str
    location: Location

    def render(self) -> str:
        return f"{self.location}: {self.severity.value}: {self.message} [{self.code}]"

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "source": self.location.to_json(),
        }


def _admits_between(vs: VersionSet, series: tuple[int, int], first: int, last: int) -> bool:
    """Whether ``vs`` admits some ``series.u`` with ``first <= u <= last`` (exact, from the
    set's interval form: no enumeration, whatever the update numbers)."""
    if last < first:
        return False
    base = series_bounds(*series)[0]
    return bool(vs.span() & Span.of(base + first, base + last))


def verset_is_empty(vs: VersionSet) -> bool:
    """True when no version at all satisfies every clause (O(n log n) in the clauses)."""
    return vs.is_empty


def _lint_versets(b: ReleaseBlock, out: list[Finding]) -> None:
    rules: list[tuple[str, VersionSet, Location]] = []
    rules += [("update from", r.versions, r.source) for r in b.update_from]
    rules += [("deny from", r.versions, r.source) for r in b.deny_from]
    rules += [("rollback to", r.versions, r.source) for r in b.rollback_to]
    for word, vs, loc in rules:
        if verset_is_empty(vs):
            out.append(Finding(
                "verset-empty", Severity.WARNING,
                f"release {b.version}: '{word} {vs}' admits no version at all (clauses joined "
                "by ',' must all hold; write one statement per alternative)",
                loc))


def _lint_block(b: ReleaseBlock, out: list[Finding]) -> None:
    v = b.version
    f = b.facts
    _lint_versets(b, out)
    if f.seamldr is not None:
        for line in f.seamldr.value:
            if line.series not in KNOWN_SEAMLDR_SERIES:
                known = ", ".join(f"{a}.{b_}" for a, b_ in KNOWN_SEAMLDR_SERIES)
                out.append(Finding(
                    "seamldr-unknown-line", Severity.WARNING,
                    f"release {v}: seamldr {line} is not a known P-SEAMLDR line (known: {known})",
                    f.seamldr.source))
    if f.mrseam is not None and f.seamhash is not None and f.mrseam.value != f.seamhash.value:
        out.append(Finding(
            "seamhash-mismatch", Severity.WARNING,
            f"release {v}: seamhash differs from mrseam (at {f.mrseam.source}): the image's "
            "module is not the one Intel's MRSEAM table lists",
            f.seamhash.source))
    if f.platforms is not None:
        vals = f.platforms.value
        if len(set(vals)) != len(vals):
            out.append(Finding("platforms-duplicate", Severity.WARNING,
                               f"release {v}: a platform is listed twice", f.platforms.source))
    for r in b.update_from:
        # docs/domain.md#same-series and #direction: only versions of the same series
        # up to this one (upgrade or reinstall) can update into it; a rule admitting none of
        # them is dead.
        if not verset_is_empty(r.versions) and not _admits_between(
            r.versions, v.series, 0, v.update
        ):
            out.append(Finding(
                "update-rule-dead", Severity.WARNING,
                f"release {v}: 'update from {r.versions}' admits no {v.series_text} version "
                f"up to {v}, so nothing can update into it by this rule",
                r.source))
    for rb in b.rollback_to:
        if not verset_is_empty(rb.versions) and not _admits_between(
            rb.versions, v.series, 0, v.update - 1
        ):
            out.append(Finding(
                "rollback-rule-dead", Severity.WARNING,
                f"release {v}: 'rollback to {rb.versions}' admits no older {v.series_text} "
                "version (a rollback stays in the series and goes down)",
                rb.source))


def lint_documents(docs: Sequence[PolicyDocument], today: _dt.date) -> list[Finding]:
    """Findings for each document, in document order."""
    out: list[Finding] = []
    for doc in docs:
        for d in doc.deny_to:
            if verset_is_empty(d.versions):
                out.append(Finding(
                    "verset-empty", Severity.WARNING,
                    f"'deny to {d.versions}' admits no version at all (clauses joined by ',' "
                    "must all hold; write one statement per alternative)",
                    d.source))
        meta = doc.meta
        if meta.expires is not None and meta.expires.value < today:
            out.append(Finding(
                "expired", Severity.WARNING,
                f"document expired on {meta.expires.value} (today is {today}): every verdict "
                "that uses it warns (policy-fresh); renew it",
                meta.expires.source))
        if meta.expires is None and doc.releases and meta.format is not None:
            out.append(Finding(
                "no-expiry", Severity.WARNING,
                "document has no 'expires' date, so it never goes stale; add 'expires DATE'",
                meta.format.source))
        for b in doc.releases:
            _lint_block(b, out)
    return out
