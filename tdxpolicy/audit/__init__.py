"""Audit: Intel's release data, policy documents and images checked against each other.

Pure: documents (before merging) and images in, :class:`Finding` records out. The CLI
(``tdxpolicy audit``) loads the inputs and renders the report (text, JSON, SARIF).
"""

from __future__ import annotations

from .findings import RULE_IDS, RULES, Finding, RuleInfo, Severity, fingerprint, rule_info
from .images import AuditImage, ImageFailure, from_image, name_version, unreadable_image
from .run import AuditReport, relativize, run_audit

__all__ = [
    "RULES",
    "RULE_IDS",
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
