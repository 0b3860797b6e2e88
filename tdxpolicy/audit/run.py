"""Run the audit: every rule over the documents and images, findings in a stable order.

:func:`run_audit` is the one entry point the CLI calls after loading; it is pure (the caller
passes ``today``). :func:`relativize` rewrites absolute file names under a base directory as
relative paths, so output and fingerprints do not depend on where the repository is checked out.
"""

from __future__ import annotations

import datetime as _dt
from typing import Iterable, Sequence

from .._value import replace, value
from ..model import Location, PolicyDocument
from .findings import Finding, severity_rank
from .images import AuditImage
from .rules import RULES, AuditContext

__all__ = ["AuditReport", "run_audit", "relativize"]


@value
class AuditReport:
    findings: tuple[Finding, ...]
    documents: tuple[str, ...]  # file names of the documents audited
    images: tuple[str, ...]  # paths of the images audited
    embedded: frozenset[str] = frozenset()  # files that belong to the embedded catalogue

    @property
    def clean(self) -> bool:
        return not self.findings

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity.value == severity)


def _sort_key(f: Finding) -> tuple[object, ...]:
    p = f.primary or Location("")
    return (
        p.file,
        p.line if p.line is not None else -1,
        p.column if p.column is not None else -1,
        p.offset if p.offset is not None else -1,
        p.path or "",
        severity_rank(f.severity),
        f.rule,
        f.subject,
        f.keys,
    )


def _user_first(f: Finding, embedded: frozenset[str]) -> Finding:
    """Put the user's own files before the embedded catalogue's: the primary location is then
    one that code scanning can show inline in the user's repository."""
    if not embedded or not f.locations or f.locations[0].file not in embedded:
        return f
    mine = [loc for loc in f.locations if loc.file not in embedded]
    if not mine:
        return f
    return replace(f, locations=tuple(mine + [x for x in f.locations if x.file in embedded]))


def run_audit(
    documents: Sequence[PolicyDocument],
    images: Sequence[AuditImage] = (),
    *,
    today: _dt.date,
    rules: Iterable[str] | None = None,
) -> AuditReport:
    """Every rule (or the named ones) over the inputs; findings sorted by place, then rule."""
    ctx = AuditContext(documents=list(documents), images=list(images), today=today)
    wanted = set(rules) if rules is not None else None
    embedded = frozenset(d.file for d in documents if d.embedded)
    findings: list[Finding] = []
    for rule in RULES:
        if wanted is None or rule.id in wanted:
            findings.extend(_user_first(f, embedded) for f in rule.check(ctx))
    return AuditReport(
        findings=tuple(sorted(findings, key=_sort_key)),
        documents=tuple(d.file for d in documents),
        images=tuple(i.path for i in images),
        embedded=embedded,
    )


def _rel(file: str, base: str) -> str:
    b = base.rstrip("/") + "/"
    return file[len(b):] if file.startswith(b) else file


def relativize(report: AuditReport, base: str) -> AuditReport:
    """File names under ``base`` (an absolute directory) made relative to it."""
    def fix(loc: Location) -> Location:
        return replace(loc, file=_rel(loc.file, base))

    findings = tuple(
        replace(
            f,
            locations=tuple(fix(x) for x in f.locations),
            subject=_rel(f.subject, base),
        )
        for f in report.findings
    )
    return replace(
        report,
        findings=tuple(sorted(findings, key=_sort_key)),
        documents=tuple(_rel(d, base) for d in report.documents),
        images=tuple(_rel(i, base) for i in report.images),
        embedded=frozenset(_rel(e, base) for e in report.embedded),
    )
