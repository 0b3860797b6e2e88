"""Lint: the audit restricted to the document rules.

Errors that make a document invalid are raised by the parser (:mod:`tdxpolicy.sources.document`);
this module looks for the rest: documents that parse but are probably not what their author
meant, and facts that conflict with another source. It has no rules of its own: ``lint`` runs
:func:`tdxpolicy.audit.run_audit` with the rules of scope ``document``
(:data:`tdxpolicy.audit.DOCUMENT_RULE_IDS`) and keeps the findings that involve a linted
document, so the embedded catalogue (``base``) is compared with but never itself reported on.
Each finding is data (a :class:`~tdxpolicy.audit.Finding`), never an exception. Pure: ``today``
is passed in.

A release block that only declares facts (no rules) is fine: that is how a release Intel gives
no update policy for is written, and it cannot be updated into.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Sequence

from .audit.findings import Finding, Severity
from .audit.rules import DOCUMENT_RULE_IDS, KNOWN_SEAMLDR_SERIES
from .audit.run import run_audit
from .model import PolicyDocument
from .version import VersionSet

__all__ = [
    "Severity",
    "Finding",
    "KNOWN_SEAMLDR_SERIES",
    "lint_documents",
    "lint_line",
    "lint_finding_json",
    "verset_is_empty",
]


def verset_is_empty(vs: VersionSet) -> bool:
    """True when no version at all satisfies every clause (O(n log n) in the clauses)."""
    return vs.is_empty


def lint_documents(
    docs: Sequence[PolicyDocument],
    today: _dt.date,
    base: Sequence[PolicyDocument] = (),
) -> list[Finding]:
    """The document rules over ``base`` + ``docs``; the findings that involve one of ``docs``,
    sorted by place (file, line, column), as the audit sorts them."""
    report = run_audit([*base, *docs], today=today, rules=DOCUMENT_RULE_IDS)
    if not base:
        return list(report.findings)
    mine = {d.file for d in docs}
    return [f for f in report.findings if any(loc.file in mine for loc in f.locations)]


def lint_line(f: Finding) -> str:
    """``file:line:col: severity: message [rule]`` (the ``lint`` text format)."""
    where = str(f.primary) if f.primary is not None else f.subject or "-"
    return f"{where}: {f.severity.value}: {f.message} [{f.rule}]"


def lint_finding_json(f: Finding) -> dict[str, Any]:
    """One finding of ``lint/1`` (schemas/catalogue.schema.json ``$defs/lint``): the rule id as
    ``code``, the primary place as ``source``."""
    out: dict[str, Any] = {"code": f.rule, "severity": f.severity.value, "message": f.message}
    if f.primary is not None:
        out["source"] = f.primary.to_json()
    return out
