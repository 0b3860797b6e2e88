"""PolicyDocument <-> JSON, for the precompiled embedded catalogue and ``show --format json``.

The JSON form is described by ``schemas/catalogue.schema.json`` (``catalogue/1``). Every fact
and rule keeps its source location. Version sets are stored as their text (``">= 1.5.01,
!= 1.5.14"``) and read back with :func:`tdxpolicy.version.parse_version_set`, so the JSON is
as readable as the documents.

Standard library only (``json``, ``datetime``): loading the precompiled catalogue must not
import lark or jsonschema (CLI start-up budget, common brief).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from .catalogue import Release
from .hostfacts import format_cpuid
from .model import (
    Advisory,
    DenyFrom,
    DenyTo,
    DocumentMeta,
    Handoff,
    Location,
    PolicyDocument,
    ReleaseBlock,
    ReleaseFacts,
    RollbackTo,
    SourceKind,
    Sourced,
    Status,
    StatusKind,
    Svn,
    UpdateFrom,
)
from .version import parse_version, parse_version_set

__all__ = [
    "CATALOGUE_TAG",
    "fact_value_to_json",
    "fact_value_from_json",
    "document_to_json",
    "document_from_json",
    "release_to_json",
]

CATALOGUE_TAG = "catalogue/1"


def _hex(v: int) -> str:
    return f"0x{v:X}"


def fact_value_to_json(name: str, value: Any) -> Any:
    if name == "published":
        return value.isoformat()
    if name in ("mrseam", "seamhash"):
        return "0x" + str(value)
    if name == "svn":
        return str(value)
    if name == "platforms":
        return [format_cpuid(p) for p in value]
    if name == "seamldr":
        return [v.text for v in value]
    if name == "features0":
        return _hex(value)
    if name == "handoff":
        return {"module": value.module_hv, "min": value.min_update_hv, "no_downgrade": value.no_downgrade}
    if name == "debug":
        return bool(value)
    if name == "status":
        return {"kind": value.kind.value, "reason": value.reason}
    raise ValueError(f"unknown fact {name!r}")


def fact_value_from_json(name: str, value: Any) -> Any:
    if name == "published":
        return _dt.date.fromisoformat(value)
    if name in ("mrseam", "seamhash"):
        return str(value)[2:].upper()
    if name == "svn":
        major, minor = str(value).split(".")
        return Svn(int(major), int(minor))
    if name == "platforms":
        return tuple(int(p, 16) for p in value)
    if name == "seamldr":
        return tuple(parse_version(v) for v in value)
    if name == "features0":
        return int(value, 16)
    if name == "handoff":
        return Handoff(int(value["module"]), int(value["min"]), bool(value["no_downgrade"]))
    if name == "debug":
        return bool(value)
    if name == "status":
        return Status(StatusKind(value["kind"]), str(value["reason"]))
    raise ValueError(f"unknown fact {name!r}")


def _facts_to_json(facts: ReleaseFacts) -> dict[str, Any]:
    return {
        name: {"value": fact_value_to_json(name, s.value), "source": s.source.to_json()}
        for name, s in facts.items()
    }


def _facts_from_json(d: dict[str, Any]) -> ReleaseFacts:
    return ReleaseFacts(
        **{
            name: Sourced(fact_value_from_json(name, f["value"]), Location.from_json(f["source"]))
            for name, f in d.items()
        }
    )


def _rules_to_json(
    update_from: tuple[UpdateFrom, ...],
    deny_from: tuple[DenyFrom, ...],
    rollback_to: tuple[RollbackTo, ...],
    advisories: tuple[Advisory, ...],
) -> dict[str, Any]:
    return {
        "update_from": [{"versions": str(r.versions), "source": r.source.to_json()} for r in update_from],
        "deny_from": [
            {"versions": str(r.versions), "reason": r.reason, "source": r.source.to_json()}
            for r in deny_from
        ],
        "rollback_to": [{"versions": str(r.versions), "source": r.source.to_json()} for r in rollback_to],
        "advisories": [
            {"word": r.word, "text": r.text, "source": r.source.to_json()} for r in advisories
        ],
    }


def _block_to_json(b: ReleaseBlock) -> dict[str, Any]:
    out: dict[str, Any] = {
        "version": b.version.text,
        "source": b.source.to_json(),
        "facts": _facts_to_json(b.facts),
    }
    out.update(_rules_to_json(b.update_from, b.deny_from, b.rollback_to, b.advisories))
    return out


def _block_from_json(d: dict[str, Any]) -> ReleaseBlock:
    L = Location.from_json
    return ReleaseBlock(
        version=parse_version(d["version"]),
        source=L(d["source"]),
        facts=_facts_from_json(d["facts"]),
        update_from=tuple(
            UpdateFrom(parse_version_set(r["versions"]), L(r["source"])) for r in d["update_from"]
        ),
        deny_from=tuple(
            DenyFrom(parse_version_set(r["versions"]), r["reason"], L(r["source"]))
            for r in d["deny_from"]
        ),
        rollback_to=tuple(
            RollbackTo(parse_version_set(r["versions"]), L(r["source"])) for r in d["rollback_to"]
        ),
        advisories=tuple(Advisory(r["word"], r["text"], L(r["source"])) for r in d["advisories"]),
    )


def _sourced_meta(value: Any, s: Sourced[Any] | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {"value": value, "source": s.source.to_json()}


def document_to_json(doc: PolicyDocument) -> dict[str, Any]:
    m = doc.meta
    meta: dict[str, Any] = {}
    if m.format is not None:
        meta["format"] = _sourced_meta(m.format.value, m.format)
    if m.issued is not None:
        meta["issued"] = _sourced_meta(m.issued.value.isoformat(), m.issued)
    if m.expires is not None:
        meta["expires"] = _sourced_meta(m.expires.value.isoformat(), m.expires)
    if m.origin is not None:
        meta["source"] = _sourced_meta(m.origin.value, m.origin)
    return {
        "file": doc.file,
        "kind": doc.kind.value,
        "embedded": doc.embedded,
        "meta": meta,
        "deny_to": [
            {"versions": str(r.versions), "reason": r.reason, "source": r.source.to_json()}
            for r in doc.deny_to
        ],
        "releases": [_block_to_json(b) for b in doc.releases],
    }


def document_from_json(d: dict[str, Any]) -> PolicyDocument:
    L = Location.from_json
    m = d["meta"]

    def meta(key: str, conv: Any) -> Sourced[Any] | None:
        if key not in m:
            return None
        return Sourced(conv(m[key]["value"]), L(m[key]["source"]))

    return PolicyDocument(
        file=d["file"],
        kind=SourceKind(d["kind"]),
        meta=DocumentMeta(
            format=meta("format", int),
            issued=meta("issued", _dt.date.fromisoformat),
            expires=meta("expires", _dt.date.fromisoformat),
            origin=meta("source", str),
        ),
        deny_to=tuple(
            DenyTo(parse_version_set(r["versions"]), r["reason"], L(r["source"]))
            for r in d["deny_to"]
        ),
        releases=tuple(_block_from_json(b) for b in d["releases"]),
        embedded=bool(d["embedded"]),
    )


def release_to_json(release: Release) -> dict[str, Any]:
    """A merged release (``show --format json``): facts and rules, each with its source."""
    out: dict[str, Any] = {
        "version": release.version.text,
        "series": release.version.series_text,
        "declared_at": [loc.to_json() for loc in release.declared_at],
        "facts": _facts_to_json(release.facts),
    }
    out.update(
        _rules_to_json(release.update_from, release.deny_from, release.rollback_to, release.advisories)
    )
    return out
