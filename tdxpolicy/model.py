"""Pure value types: where things came from, release facts, policy rules, documents.

Every source (policy documents, Intel's mapping JSON, Intel's README table, the MRSEAM table,
images) produces :class:`PolicyDocument` values; :mod:`tdxpolicy.catalogue` merges them into a
:class:`~tdxpolicy.catalogue.Catalogue`. Nothing here reads files, clocks or the host.

A fact that no source gives is *unknown* and is represented by its absence (``None``), never
by a default value (policy-format.md, "Meaning of a missing fact").
"""

from __future__ import annotations

import datetime as _dt
from enum import Enum
from typing import Any, Generic, TypeVar

from ._value import field, value
from .location import Location
from .version import Version, VersionSet

__all__ = [
    "Location",
    "Sourced",
    "Svn",
    "Handoff",
    "StatusKind",
    "Status",
    "FACT_NAMES",
    "ReleaseFacts",
    "UpdateFrom",
    "DenyFrom",
    "RollbackTo",
    "Advisory",
    "DenyTo",
    "ReleaseBlock",
    "SourceKind",
    "DocumentMeta",
    "PolicyDocument",
]

T = TypeVar("T")


@value
class Sourced(Generic[T]):
    """A value with the place that declared it."""

    value: T
    source: Location


@value(order=True)
class Svn:
    """SEAM SVN from the sigstruct (offset 948, u16: low byte minor, high byte major)."""

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    @classmethod
    def from_u16(cls, raw: int) -> Svn:
        return cls(raw >> 8, raw & 0xFF)


@value
class Handoff:
    """Handoff fields of the sigstruct: ``module_hv``, ``min_update_hv``, ``no_downgrade``."""

    module_hv: int
    min_update_hv: int
    no_downgrade: bool = False

    def __str__(self) -> str:
        s = f"module {self.module_hv} min {self.min_update_hv}"
        return s + " no-downgrade" if self.no_downgrade else s


class StatusKind(str, Enum):
    PREVIEW = "preview"  # moves into it warn (e.g. Intel: 2.0 "currently not supported")
    WITHDRAWN = "withdrawn"  # moves into it are denied


@value
class Status:
    kind: StatusKind
    reason: str


# The facts a release block may declare, each at most once per block. The names are those of
# the policy format's statements; extensions are documented in docs/policy-format.md.
FACT_NAMES = (
    "published",  # datetime.date
    "mrseam",  # str: 96 upper-case hex digits, no 0x (Intel's published MRSEAM table)
    "seamhash",  # str: 96 hex digits, SHA-384 read from a published image's sigstruct
    "svn",  # Svn
    "platforms",  # tuple[int, ...]: sigstruct CPUID table (CPUID.1.EAX values)
    "seamldr",  # tuple[Version, ...]: Intel's min_seamldr_versions
    "features0",  # int: TDX_FEATURES0
    "handoff",  # Handoff
    "debug",  # bool (True when declared)
    "status",  # Status
)


@value
class ReleaseFacts:
    """The facts known about one release; ``None`` means unknown."""

    published: Sourced[_dt.date] | None = None
    mrseam: Sourced[str] | None = None
    seamhash: Sourced[str] | None = None
    svn: Sourced[Svn] | None = None
    platforms: Sourced[tuple[int, ...]] | None = None
    seamldr: Sourced[tuple[Version, ...]] | None = None
    features0: Sourced[int] | None = None
    handoff: Sourced[Handoff] | None = None
    debug: Sourced[bool] | None = None
    status: Sourced[Status] | None = None

    def signing(self) -> tuple[bool | None, Location | None]:
        """(debug-signed?, the fact that proves it); (None, None) when nothing proves it.

        The sigstruct's ``module_type`` bit 31 is only known to a source that read the
        release's image: a ``debug`` fact records it set (or, from an image, clear), and a
        ``seamhash`` fact says the image was read, whose debug bit the same source records
        with ``debug`` when set (policy-format.md) — so ``seamhash`` without ``debug``
        proves production-signed. A release known only from a mapping file, README or MRSEAM
        table has neither: unknown, never "production" by default."""
        if self.debug is not None:
            return bool(self.debug.value), self.debug.source
        if self.seamhash is not None:
            return False, self.seamhash.source
        return None, None

    def items(self) -> list[tuple[str, Sourced[Any]]]:
        """The known facts, in :data:`FACT_NAMES` order."""
        out: list[tuple[str, Sourced[Any]]] = []
        for name in FACT_NAMES:
            v = getattr(self, name)
            if v is not None:
                out.append((name, v))
        return out


# --- rules -----------------------------------------------------------------------------------


@value
class UpdateFrom:
    """``update from VERSET``: runtime update into this release permitted from these versions."""

    versions: VersionSet
    source: Location


@value
class DenyFrom:
    """``deny from VERSET STRING``: overrides every ``update from``."""

    versions: VersionSet
    reason: str
    source: Location


@value
class RollbackTo:
    """``rollback to VERSET``: while this release runs, rollback to these is permitted by policy."""

    versions: VersionSet
    source: Location


@value
class Advisory:
    """``advisory WORD STRING``: a caution shown with every move into this release."""

    word: str
    text: str
    source: Location


@value
class DenyTo:
    """Document-level ``deny to VERSET STRING``: site blocklist."""

    versions: VersionSet
    reason: str
    source: Location


@value
class ReleaseBlock:
    """One ``release VERSION { ... }`` block (or the equivalent from another source)."""

    version: Version
    source: Location
    facts: ReleaseFacts = field(default_factory=ReleaseFacts)
    update_from: tuple[UpdateFrom, ...] = ()
    deny_from: tuple[DenyFrom, ...] = ()
    rollback_to: tuple[RollbackTo, ...] = ()
    advisories: tuple[Advisory, ...] = ()


class SourceKind(str, Enum):
    DOCUMENT = "document"  # .tdxpolicy
    MAPPING_JSON = "mapping-json"  # Intel mapping_file.json
    README_TABLE = "readme-table"  # Intel binaries README, TD-preserving limitations table
    MRSEAM_TABLE = "mrseam-table"  # Intel tdx-module README, releases and MRSEAM
    IMAGE = "image"  # a verified TDX module image (tdxpolicy.sources.images)


@value
class DocumentMeta:
    format: Sourced[int] | None = None
    issued: Sourced[_dt.date] | None = None
    expires: Sourced[_dt.date] | None = None
    origin: Sourced[str] | None = None  # the `source STRING` statement


@value
class PolicyDocument:
    """Everything one input file says, before merging."""

    file: str
    kind: SourceKind
    meta: DocumentMeta = field(default_factory=DocumentMeta)
    deny_to: tuple[DenyTo, ...] = ()
    releases: tuple[ReleaseBlock, ...] = ()
    embedded: bool = False  # part of the catalogue shipped inside the package
