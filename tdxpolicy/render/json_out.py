"""JSON documents of the CLI contract: ``verdict/1``, ``path/1``, ``select/1``, ``list/1``.

Functions here return plain ``dict``s (or compact strings via :func:`dumps`); they never write.
Shapes are fixed by ``schemas/{verdict,path,select,list}.schema.json`` and
docs/cli.md#contract; keys are only ever added, never renamed. Additive keys beyond the contract:
``strict`` and ``reversible``/``reversible_reason`` on verdicts, ``blocking`` on paths,
``hops`` and ``unknown`` (the unknown subset of ``failed``, as in ``list/1``) on candidates,
``facts`` on checks.
"""

from __future__ import annotations

import datetime as _dt
import json
from enum import Enum
from typing import Any, Callable, Iterable, Mapping

from ..catalogue import Catalogue, Release, distinct_versets
from ..model import Handoff, Location, Status, Svn
from ..verdict import Check, PathResult, Result, SelectResult, Verdict
from ..version import Version, VersionSet

__all__ = [
    "VERDICT_TAG",
    "PATH_TAG",
    "SELECT_TAG",
    "LIST_TAG",
    "json_value",
    "check_json",
    "verdict_json",
    "path_json",
    "select_json",
    "release_json",
    "list_json",
    "write_list_json",
    "dumps",
]

VERDICT_TAG = "verdict/1"
PATH_TAG = "path/1"
SELECT_TAG = "select/1"
LIST_TAG = "list/1"


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
        "tdxpolicy": VERDICT_TAG,
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


def path_json(result: PathResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "tdxpolicy": PATH_TAG,
        "from": result.from_version.text if result.from_version is not None else None,
        "to": result.to_version.text,
        "found": result.found,
        "hops": [verdict_json(v) for v in result.hops] if result.found else [],
    }
    if not result.found:
        out["reason"] = result.reason or "no permitted sequence of moves"
        out["blocking"] = [check_json(c) for c in result.blocking]
    return out


def select_json(result: SelectResult, from_version: Version | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"tdxpolicy": SELECT_TAG}
    if from_version is not None or result.path:
        fv = from_version if from_version is not None else result.path[0].from_version
        out["from"] = fv.text if fv is not None else None
    out["selected"] = result.selected.text if result.selected is not None else None
    out["path"] = [verdict_json(v) for v in result.path]
    out["candidates"] = [
        {
            "version": c.version.text,
            "allowed": c.allowed,
            "failed": list(c.failed),
            "unknown": list(c.unknown),
            "hops": c.hops,
        }
        for c in result.candidates
    ]
    return out


def release_json(release: Release, verdict: Verdict | None = None) -> dict[str, Any]:
    """One row of ``list/1``: identity, lifecycle, update policy, known facts, and (when host
    facts were given) whether this host can move there."""
    f = release.facts
    status = f.status.value if f.status is not None else None
    out: dict[str, Any] = {
        "version": release.version.text,
        "series": release.version.series_text,
        "published": f.published.value.isoformat() if f.published is not None else None,
        "support": status.kind.value if status is not None else "supported",
    }
    if status is not None:
        out["support_reason"] = status.reason
    out["policy"] = {
        "update_from": distinct_versets(release.update_from),
        "deny_from": [
            {"versions": v, "reason": why}
            for v, why in dict.fromkeys((str(r.versions), r.reason) for r in release.deny_from)
        ],
        "rollback_to": distinct_versets(release.rollback_to),
        "advisories": list(dict.fromkeys(a.word for a in release.advisories)),
    }
    out["facts"] = {name: json_value(s.value) for name, s in f.items()}
    if verdict is None:
        out["status"] = None
    else:
        out["status"] = {
            "kind": verdict.kind.value if verdict.kind is not None else None,
            "allowed": verdict.allowed,
            "failed": [c.code for c in verdict.failed],
            "unknown": [c.code for c in verdict.failed if c.result is Result.UNKNOWN],
        }
    return out


def list_json(
    catalogue: Catalogue,
    verdicts: Mapping[Version, Verdict] | None = None,
    from_version: Version | None = None,
) -> dict[str, Any]:
    """``list/1``: every release, newest first."""
    out: dict[str, Any] = {"tdxpolicy": LIST_TAG}
    if verdicts is not None:
        out["from"] = from_version.text if from_version is not None else None
    out["releases"] = [
        release_json(r, verdicts.get(r.version) if verdicts is not None else None)
        for r in catalogue.newest_first()
    ]
    return out


def write_list_json(
    write: Callable[[str], object],
    rows: Iterable[tuple[Release, Verdict | None]],
    from_version: Version | None = None,
    with_status: bool = False,
) -> None:
    """Write ``list/1`` as :func:`list_json` then :func:`dumps` would, plus a final newline,
    one release at a time: ``rows`` (newest first, as from :func:`engine.decide_each`) are
    serialized as they come, so no verdict is kept (docs/performance.md#streamed-list).
    ``with_status`` is ``verdicts is not None`` of :func:`list_json`."""
    head: dict[str, Any] = {"tdxpolicy": LIST_TAG}
    if with_status:
        head["from"] = from_version.text if from_version is not None else None
    # dumps(head) ends with "\n}": the releases array continues the same object.
    write(dumps(head)[:-2] + ',\n  "releases": [')
    sep = "\n    "
    first = True
    for release, verdict in rows:
        write(sep if first else "," + sep)
        first = False
        # One level deeper than a document of its own: every line moves right by 4.
        write(dumps(release_json(release, verdict)).replace("\n", sep))
    write("]\n}\n" if first else "\n  ]\n}\n")


def dumps(doc: Any, *, pretty: bool = True) -> str:
    """Serialize a document: indented for a person at a terminal, compact for JSON Lines."""
    if pretty:
        return json.dumps(doc, indent=2, ensure_ascii=False, default=str)
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=str)
