"""Render an audit report as SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.

- ``tool.driver.rules``: every audit rule (stable ``id``, ``name``, short and full description,
  ``help``, ``helpUri``, ``defaultConfiguration.level``, and in ``properties`` the tags and
  GitHub code scanning's ``security-severity``), in :data:`tdxpolicy.audit.RULES` order, so
  ``ruleIndex`` is stable across runs.
- ``helpUri``: the rule's section of docs/audit.md (anchor ``rule-<id>``), as a reference
  relative to the root of the tdxpolicy repository (:data:`HELP_URI_BASE`; docs/audit.md says
  why it is relative).
- ``automationDetails.id``: ``tdxpolicy/audit/<category>/``, the run's category for code
  scanning; the CLI derives the category from the inputs named on its command line, so the
  same audit gets the same category on every run and two different audits of one repository
  do not replace each other's alerts.
- one ``result`` per finding: ``physicalLocation`` with the file's URI relative to the working
  directory (``uriBaseId`` ``%SRCROOT%``) and ``region`` ``startLine``/``startColumn`` for
  document findings, ``byteOffset`` for image findings; files of the catalogue embedded in
  tdxpolicy use the base id ``TDXPOLICY_EMBEDDED`` (they are not in the repository);
  JSON paths become ``logicalLocations``; every other place becomes a ``relatedLocation``.
- ``partialFingerprints["tdxpolicy/v1"]``: :func:`tdxpolicy.audit.fingerprint` (rule id,
  normalised file and JSON path, subject and key values; never line numbers), so a finding
  keeps its identity when lines move.

No I/O: returns a dict; the CLI writes it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..audit.findings import Finding, fingerprint
from ..audit.rules import RULES, RuleInfo
from ..audit.run import AuditReport
from ..model import Location
from ..safe_text import os_bytes

__all__ = ["to_sarif", "SARIF_SCHEMA_URI", "FINGERPRINT_KEY", "HELP_URI_BASE", "help_uri",
           "automation_id"]

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "tdxpolicy/v1"
SRCROOT = "%SRCROOT%"
EMBEDDED = "TDXPOLICY_EMBEDDED"
#: Where the rules are documented, relative to the root of the tdxpolicy repository.
HELP_URI_BASE = "docs/audit.md"
_INDEX = {r.id: i for i, r in enumerate(RULES)}


def _artifact(file: str, embedded: frozenset[str]) -> dict[str, Any]:
    path = file.replace("\\", "/")
    # Percent-encoded bytes: a name that is not valid UTF-8 keeps its own bytes (%FF).
    uri = quote(os_bytes(path), safe="/:@-._~")
    out: dict[str, Any] = {"uri": uri}
    if file in embedded:
        out["uriBaseId"] = EMBEDDED
    elif not path.startswith("/"):
        out["uriBaseId"] = SRCROOT
    return out


def _location(loc: Location, embedded: frozenset[str], message: str | None = None,
              ident: int | None = None) -> dict[str, Any]:
    phys: dict[str, Any] = {"artifactLocation": _artifact(loc.file, embedded)}
    region: dict[str, Any] = {}
    if loc.line is not None:
        region["startLine"] = max(1, loc.line)
        if loc.column is not None:
            region["startColumn"] = max(1, loc.column)
    elif loc.offset is not None:
        region["byteOffset"] = loc.offset
    if region:
        phys["region"] = region
    out: dict[str, Any] = {}
    if ident is not None:
        out["id"] = ident
    out["physicalLocation"] = phys
    if loc.path is not None:
        out["logicalLocations"] = [{"fullyQualifiedName": loc.path, "kind": "element"}]
    if message is not None:
        out["message"] = {"text": message}
    return out


def _result(f: Finding, embedded: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": _INDEX[f.rule],
        "level": f.severity.value,
        "message": {"text": f.message},
    }
    if f.primary is not None:
        out["locations"] = [_location(f.primary, embedded)]
    if f.related:
        out["relatedLocations"] = [
            _location(loc, embedded, "also involved", i + 1) for i, loc in enumerate(f.related)
        ]
    out["partialFingerprints"] = {FINGERPRINT_KEY: fingerprint(f)}
    if f.subject:
        out["properties"] = {"subject": f.subject}
    return out


def help_uri(rule_id: str) -> str:
    """The rule's section of docs/audit.md (each rule has an ``<a id="rule-ID">`` anchor)."""
    return f"{HELP_URI_BASE}#rule-{rule_id}"


def automation_id(category: str) -> str:
    """``tdxpolicy/audit/<category>/``: the trailing slash makes all of it the category (code
    scanning reads ``category/run-id``; no run id, so every run of the category replaces the
    previous one's alerts)."""
    return f"tdxpolicy/audit/{category.strip('/')}/"


def _rule(r: RuleInfo) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "shortDescription": {"text": r.short},
        "fullDescription": {"text": r.full},
        "help": {
            "text": f"{r.help}\n\nBasis: {r.basis}",
            "markdown": f"{r.help}\n\n**Basis:** {r.basis}",
        },
        "helpUri": help_uri(r.id),
        "defaultConfiguration": {"level": r.severity.value},
        # `security` makes code scanning treat the rule as a security rule and show
        # `security-severity` (a decimal string) as low/medium/high/critical.
        "properties": {
            "tags": ["tdx", "policy", "security"],
            "security-severity": r.security_severity,
        },
    }


def to_sarif(report: AuditReport, tool_version: str = "0",
             category: str = "default") -> dict[str, Any]:
    """The SARIF 2.1.0 log of one audit run; ``category`` names the run for code scanning
    (``automationDetails.id``)."""
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "tdxpolicy",
                        "version": tool_version,
                        "rules": [_rule(r) for r in RULES],
                    }
                },
                "originalUriBaseIds": {
                    EMBEDDED: {
                        "description": {
                            "text": "The catalogue of Intel releases embedded in the tdxpolicy "
                            "package (tdxpolicy/data/releases)."
                        }
                    }
                },
                "automationDetails": {"id": automation_id(category)},
                "columnKind": "unicodeCodePoints",
                "results": [_result(f, report.embedded) for f in report.findings],
            }
        ],
    }
