"""Render an audit report as text or as the ``audit/1`` JSON document. No I/O.

Text: one finding per line, ``file:line:col: severity rule: message`` (image findings show the
byte offset instead of line and column), related places after the message, then a summary.
JSON: ``{"tdxpolicy": "audit/1", "findings": [...], "summary": {...}}``, validated by
``schemas/audit.schema.json``.
"""

from __future__ import annotations

from typing import Any

from ..model import Location
from .findings import Finding, fingerprint
from .run import AuditReport

__all__ = ["to_json", "to_text", "where"]


def where(loc: Location) -> str:
    """``file:line:col``; ``file:@0x3b4`` for byte offsets; ``file ($.json.path)`` when only a
    JSON path is known (JSON output and SARIF always carry the path too)."""
    s = loc.file
    if loc.line is not None:
        s += f":{loc.line}"
        if loc.column is not None:
            s += f":{loc.column}"
    elif loc.offset is not None:
        s += f":@{loc.offset:#x}"
    elif loc.path is not None:
        s += f" ({loc.path})"
    return s


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "severity": f.severity.value,
        "message": f.message,
        "subject": f.subject,
        "locations": [loc.to_json() for loc in f.locations],
        "fingerprint": fingerprint(f),
    }


def _summary(report: AuditReport) -> dict[str, int]:
    return {
        "findings": len(report.findings),
        "error": report.count("error"),
        "warning": report.count("warning"),
        "note": report.count("note"),
        "documents": len(report.documents),
        "images": len(report.images),
    }


def to_json(report: AuditReport) -> dict[str, Any]:
    return {
        "tdxpolicy": "audit/1",
        "findings": [_finding_json(f) for f in report.findings],
        "summary": _summary(report),
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def to_text(report: AuditReport) -> str:
    lines = []
    for f in report.findings:
        head = where(f.primary) if f.primary is not None else f.subject or "-"
        line = f"{head}: {f.severity.value} {f.rule}: {f.message}"
        lines.append(line)
    s = _summary(report)
    inputs = f"{_plural(s['documents'], 'document')}, {_plural(s['images'], 'image')}"
    if not report.findings:
        lines.append(f"no findings ({inputs} audited)")
    else:
        lines.append(
            f"{_plural(s['findings'], 'finding')}: {_plural(s['error'], 'error')}, "
            f"{_plural(s['warning'], 'warning')}, {_plural(s['note'], 'note')} "
            f"({inputs} audited)"
        )
    return "\n".join(lines) + "\n"
