"""Codec of ``list/1`` (schemas/list.schema.json): every release, newest first, with its
status for the host facts given."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ..catalogue import Catalogue, Release, distinct_versets
from ..verdict import Result, Verdict
from ..version import Version
from .verdict import json_value

if TYPE_CHECKING:  # pragma: no cover
    from ..commands.moves import ReleaseList

__all__ = ["TAG", "LIST_TAG", "release_json", "list_json", "release_list_to_json"]

TAG = LIST_TAG = "list/1"


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
    out: dict[str, Any] = {"tdxpolicy": TAG}
    if verdicts is not None:
        out["from"] = from_version.text if from_version is not None else None
    out["releases"] = [
        release_json(r, verdicts.get(r.version) if verdicts is not None else None)
        for r in catalogue.newest_first()
    ]
    return out


def release_list_to_json(listing: ReleaseList) -> dict[str, Any]:
    """The document of a :class:`~tdxpolicy.commands.moves.ReleaseList` (what ``list``
    prints)."""
    return list_json(listing.catalogue, listing.verdicts, listing.from_version)
