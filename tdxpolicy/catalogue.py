"""The merged catalogue: every source's documents folded into one release per version.

Merging follows policy-format.md ("Merging"):

- a fact declared in several places must have the same value everywhere, otherwise a
  :class:`~tdxpolicy.errors.ConflictError` names every location (nothing is half-loaded);
- rules accumulate across documents, each keeping its source;
- the document-level ``deny to`` rules and ``expires`` dates are kept for the engine.

Pure: no I/O. Loading files is :mod:`tdxpolicy.sources`.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Sequence

from ._value import value
from .errors import ConflictError, InvalidArgument, Problem
from .hostfacts import format_cpuid
from .model import (
    FACT_NAMES,
    Advisory,
    DenyFrom,
    DenyTo,
    Location,
    PolicyDocument,
    ReleaseBlock,
    ReleaseFacts,
    RollbackTo,
    Sourced,
    UpdateFrom,
)
from .version import Version

__all__ = ["Release", "Catalogue", "merge", "fact_key", "show_fact", "distinct_versets"]


@value
class Release:
    """One release after merging: facts (first declaration wins, all agree) and all rules."""

    version: Version
    facts: ReleaseFacts
    update_from: tuple[UpdateFrom, ...]
    deny_from: tuple[DenyFrom, ...]
    rollback_to: tuple[RollbackTo, ...]
    advisories: tuple[Advisory, ...]
    declared_at: tuple[Location, ...]  # every block that declared this release

    @property
    def series(self) -> tuple[int, int]:
        return self.version.series

    @property
    def has_update_policy(self) -> bool:
        return bool(self.update_from)


@value
class Catalogue:
    """Releases (sorted oldest first), site blocklist, and the documents they came from."""

    releases: tuple[Release, ...]
    deny_to: tuple[DenyTo, ...]
    documents: tuple[PolicyDocument, ...]

    def __post_init__(self) -> None:
        # A public type the engine trusts (sorted, one release per version): checked when built,
        # once per load. Release and the answer types are built by the library and not checked.
        releases = self.releases
        if type(releases) is not tuple or not all(type(r) is Release for r in releases):
            raise InvalidArgument.expected(
                "Catalogue.releases",
                "a tuple of Release (tdxpolicy.load_catalogue() builds a Catalogue)", releases)
        keys = [r.version.key for r in releases]
        if any(a >= b for a, b in zip(keys, keys[1:])):
            raise InvalidArgument.expected(
                "Catalogue.releases", "releases sorted oldest first, each version once",
                tuple(str(r.version) for r in releases))
        for name in ("deny_to", "documents"):
            if type(getattr(self, name)) is not tuple:
                raise InvalidArgument.expected(f"Catalogue.{name}", "a tuple",
                                               getattr(self, name))
        object.__setattr__(self, "_index", {r.version: r for r in releases})

    def get(self, version: Version) -> Release | None:
        idx: dict[Version, Release] = self.__dict__["_index"]
        return idx.get(version)

    def __contains__(self, version: object) -> bool:
        return isinstance(version, Version) and self.get(version) is not None

    def __iter__(self) -> Iterator[Release]:
        return iter(self.releases)

    def __len__(self) -> int:
        return len(self.releases)

    def series(self, series: tuple[int, int]) -> tuple[Release, ...]:
        return tuple(r for r in self.releases if r.series == series)

    def newest_first(self) -> tuple[Release, ...]:
        return tuple(reversed(self.releases))


def distinct_versets(rules: Iterable[UpdateFrom | DenyFrom | RollbackTo]) -> list[str]:
    """The version sets of ``rules`` as text, each once, in order: the same rule given by
    several sources (the embedded document, Intel's mapping JSON and README) is one policy.
    (``show`` still cites every source: merging keeps them all.)"""
    return list(dict.fromkeys(str(r.versions) for r in rules))


def fact_key(name: str, value: Any) -> Any:
    """The value two declarations of a fact are compared by.

    Lists of platforms and P-SEAMLDR lines are sets in meaning, so their order does not make a
    conflict; hex digests compare case-insensitively.
    """
    if name == "platforms":
        return frozenset(value)
    if name == "seamldr":
        return frozenset(v.key for v in value)
    if name in ("mrseam", "seamhash"):
        return str(value).upper()
    return value


def _merge_facts(
    version: Version, blocks: Sequence[ReleaseBlock], problems: list[Problem]
) -> ReleaseFacts:
    merged: dict[str, Sourced[Any]] = {}
    for name in FACT_NAMES:
        decls: list[Sourced[Any]] = [
            getattr(b.facts, name) for b in blocks if getattr(b.facts, name) is not None
        ]
        if not decls:
            continue
        first = decls[0]
        key = fact_key(name, first.value)
        if any(fact_key(name, d.value) != key for d in decls[1:]):
            shown = ", ".join(f"{show_fact(name, d.value)} at {d.source}" for d in decls)
            problems.append(
                Problem(
                    f"release {version}: fact '{name}' is declared with different values: {shown}",
                    decls[0].source,
                )
            )
            for d in decls[1:]:
                problems.append(Problem(f"conflicting '{name}' for release {version}", d.source))
            continue
        merged[name] = first
    return ReleaseFacts(**merged)


def show_fact(name: str, value: Any) -> str:
    """A fact's value as documents spell it (conflict messages here, audit findings)."""
    if name == "platforms":
        return " ".join(format_cpuid(p) for p in value)
    if name == "seamldr":
        return " ".join(v.text for v in value)
    if name == "features0":
        return format_cpuid(value)  # same 0x-upper-hex spelling as the documents
    if name in ("mrseam", "seamhash", "measurement"):
        return "0x" + str(value).strip().upper().removeprefix("0X")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def merge(documents: Iterable[PolicyDocument]) -> Catalogue:
    """Merge documents into a catalogue; raise :class:`ConflictError` listing every conflict."""
    docs = tuple(documents)
    by_version: dict[Version, list[ReleaseBlock]] = {}
    for doc in docs:
        for block in doc.releases:
            by_version.setdefault(block.version, []).append(block)
    problems: list[Problem] = []
    releases: list[Release] = []
    for version in sorted(by_version):
        blocks = by_version[version]
        facts = _merge_facts(version, blocks, problems)
        releases.append(
            Release(
                # The first declaration's spelling is kept for display.
                version=blocks[0].version,
                facts=facts,
                update_from=tuple(r for b in blocks for r in b.update_from),
                deny_from=tuple(r for b in blocks for r in b.deny_from),
                rollback_to=tuple(r for b in blocks for r in b.rollback_to),
                advisories=tuple(r for b in blocks for r in b.advisories),
                declared_at=tuple(b.source for b in blocks),
            )
        )
    if problems:
        raise ConflictError(problems)
    return Catalogue(
        releases=tuple(releases),
        deny_to=tuple(d for doc in docs for d in doc.deny_to),
        documents=docs,
    )
