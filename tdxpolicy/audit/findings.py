"""Findings of ``audit`` and ``lint``, their severities, and what a rule is.

A :class:`Finding` is one thing a rule found: a stable rule id, a severity, a message an
operator can act on, and every place involved (document lines, JSON paths, image byte offsets),
the first being the primary one. Findings are data; renderers (:mod:`tdxpolicy.audit.report`,
:mod:`tdxpolicy.lint`, :mod:`tdxpolicy.render.sarif`, :mod:`tdxpolicy.render.github`) turn them
into text, JSON, SARIF and workflow commands.

``lint`` and ``audit`` share all of it: one :class:`Severity`, one :class:`Finding`, one rule
table (:data:`tdxpolicy.audit.rules.RULES`, each row a :class:`~tdxpolicy.audit.rules.RuleInfo`,
which lives with the context its checks read). ``lint`` runs the rules whose scope is
:attr:`Scope.DOCUMENT`. Rule ids are part of the CLI contract: add, never rename.
"""

from __future__ import annotations

import hashlib
from enum import Enum
from typing import Iterable

from .._value import value
from ..model import Location
from ..safe_text import os_bytes

__all__ = ["Severity", "Finding", "Scope", "FailOn", "fails", "fingerprint",
           "severity_rank"]


class Severity(str, Enum):
    ERROR = "error"  # a move the loader or kernel would break on, or data that cannot be trusted
    WARNING = "warning"  # the data is incomplete or a rule does not do what it says
    NOTE = "note"  # worth knowing, nothing is wrong


_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.NOTE: 2}


def severity_rank(s: Severity) -> int:
    return _RANK[s]


@value
class Finding:
    """One finding. ``locations[0]`` is the primary place; the others are related places.

    ``subject`` names what the finding is about (a release version, an image path, a document);
    ``keys`` are the values that identify the finding across runs (they feed the SARIF
    ``partialFingerprints``; line numbers never do, so moving a line keeps the identity).
    """

    rule: str
    severity: Severity
    message: str
    locations: tuple[Location, ...]
    subject: str = ""
    keys: tuple[str, ...] = ()

    @property
    def primary(self) -> Location | None:
        return self.locations[0] if self.locations else None

    @property
    def related(self) -> tuple[Location, ...]:
        return self.locations[1:]


def fingerprint(f: Finding) -> str:
    """A stable identity: rule id + the primary location's file (normalised) and logical
    anchor (JSON path) + subject + key values. Not line numbers: a finding keeps its identity
    when lines move above it."""
    p = f.primary
    where = ""
    if p is not None:
        where = p.file.replace("\\", "/")
        if p.path is not None:
            where += "#" + p.path
    text = "\x1f".join((f.rule, where, f.subject, *f.keys))
    # os_bytes: a file name that is not valid UTF-8 hashes as its real bytes (UTF-8 text
    # hashes exactly as before), instead of failing to encode.
    return hashlib.sha256(os_bytes(text)).hexdigest()[:32]


class Scope(str, Enum):
    """What a rule reads; ``lint`` is the audit restricted to :attr:`DOCUMENT` rules."""

    DOCUMENT = "document"  # what policy documents say, each on its own or against each other
    CATALOGUE = "catalogue"  # what the sources together permit, lack or imply across releases
    IMAGE = "image"  # module images against the sources


class FailOn(str, Enum):
    """The least severity that makes ``audit``/``lint`` exit 1 (``--fail-on``)."""

    error = "error"
    warning = "warning"
    never = "never"


def fails(findings: Iterable[Finding], fail_on: FailOn) -> bool:
    """Whether some finding is at least as severe as ``fail_on`` (notes never fail)."""
    if fail_on is FailOn.never:
        return False
    worst = _RANK[Severity(fail_on.value)]
    return any(_RANK[f.severity] <= worst for f in findings)
