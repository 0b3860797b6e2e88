"""Codec of ``list/1`` (schemas/list.schema.json): every release, newest first, with its
status for the host facts given."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Protocol

from ..catalogue import Catalogue, Release, distinct_versets
from ..verdict import Result, Verdict
from ..version import Version
from .verdict import json_value

__all__ = ["TAG", "LIST_TAG", "release_json", "list_json", "write_list_json",
           "release_list_to_json"]

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


def write_list_json(
    write: Callable[[str], object],
    rows: Iterable[tuple[Release, Verdict | None]],
    from_version: Version | None = None,
    with_status: bool = False,
) -> None:
    """Write ``list/1`` as :func:`list_json` then ``output.dumps`` would, plus a final
    newline, one release at a time: ``rows`` (newest first, as from
    :func:`tdxpolicy.engine.decide_each`) are serialized as they come, so no verdict is kept
    (docs/performance.md#streamed-list). ``with_status`` is ``verdicts is not None`` of
    :func:`list_json`."""
    from ..output import dumps

    head: dict[str, Any] = {"tdxpolicy": TAG}
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


class Listed(Protocol):
    """What this codec reads of ``list``'s answer (:class:`tdxpolicy.commands.moves.ReleaseList`,
    a layer above the codecs, which therefore do not import it)."""

    @property
    def rows(self) -> Iterable[tuple[Release, Verdict | None]]: ...

    @property
    def from_version(self) -> Version | None: ...

    @property
    def with_status(self) -> bool: ...


def release_list_to_json(listing: Listed, write: Callable[[str], object],
                         style: Any = None) -> None:
    """What ``list --format json`` prints, streamed (:func:`write_list_json`)."""
    write_list_json(write, listing.rows, listing.from_version, listing.with_status)
