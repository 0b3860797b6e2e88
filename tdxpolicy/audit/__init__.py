"""Audit: Intel's release data, policy documents and images checked against each other.

Pure: documents (before merging) and images in, :class:`Finding` records out. The CLI
(``tdxpolicy audit``) loads the inputs and renders the report (text, JSON, SARIF, GitHub
workflow commands). ``tdxpolicy lint`` is this audit restricted to the document rules
(:data:`DOCUMENT_RULE_IDS`, :mod:`tdxpolicy.lint`).
"""

from __future__ import annotations

from .findings import FailOn, Finding, Scope, Severity, fails, fingerprint
from .images import AuditImage, ImageFailure, from_image, name_version, unreadable_image
from .rules import DOCUMENT_RULE_IDS, RULE_IDS, RULES, RuleInfo, rule_info
from .run import AuditReport, relativize, run_audit

__all__ = [
    "RULES",
    "RULE_IDS",
    "DOCUMENT_RULE_IDS",
    "Scope",
    "FailOn",
    "fails",
    "Finding",
    "RuleInfo",
    "Severity",
    "fingerprint",
    "rule_info",
    "AuditImage",
    "ImageFailure",
    "from_image",
    "name_version",
    "unreadable_image",
    "AuditReport",
    "run_audit",
    "relativize",
]
