"""Codec of ``verdict/1`` (schemas/verdict.schema.json): one move's verdict as JSON.

Also the pieces every move document shares: a check (``check_json``) and a fact value
(``json_value``). Plain ``dict``s out; :func:`tdxpolicy.output.dumps` writes them. Keys are only
ever added, never renamed (docs/cli.md#contract). Additive keys beyond the contract: ``strict``
and ``reversible``/``reversible_reason``, ``facts`` on checks.
"""

from __future__ import annotations

import datetime as _dt
from enum import Enum
from typing import Any, Mapping

from ..model import Handoff, Location, Status, Svn
from ..verdict import Check, Verdict
from ..version import Version, VersionSet

__all__ = ["TAG", "VERDICT_TAG", "json_value", "check_json", "verdict_json", "to_json"]

TAG = VERDICT_TAG = "verdict/1"


def json_value(value: Any) -> Any:
    """A JSON-able form of a fact value (versions as text, CPUIDs as hex, dates ISO)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, Enum):
            return value.value
        return value
    if isinstance(value, Version):
        return value.text
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, (Svn, VersionSet, Handoff)):
        return str(value)
    if isinstance(value, Status):
        return {"kind": value.kind.value, "reason": value.reason}
    if isinstance(value, Location):
        return value.to_json()
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [json_value(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    return str(value)


def check_json(check: Check) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": check.code,
        "result": check.result.value,
        "message": check.message,
    }
    if check.source is not None:
        out["source"] = check.source.to_json()
    out["facts"] = json_value(check.facts) if check.facts else {}
    return out


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """The ``verdict/1`` document of one move."""
    rev = verdict.reversibility
    out: dict[str, Any] = {
        "tdxpolicy": TAG,
        "from": verdict.from_version.text if verdict.from_version is not None else None,
        "to": verdict.to_version.text,
        "kind": verdict.kind.value if verdict.kind is not None else None,
        "allowed": verdict.allowed,
        "strict": verdict.strict,
        "reversible": rev.possible if rev is not None else None,
    }
    if rev is not None:
        out["reversible_reason"] = rev.reason
    out["checks"] = [check_json(c) for c in verdict.checks]
    return out


def to_json(verdict: Verdict) -> dict[str, Any]:
    """The ``verdict/1`` document (the output registry's entry point)."""
    return verdict_json(verdict)
