"""TDX module images: read, verify, identify, convert, and feed decisions.

- :mod:`.reader` decodes 0x100 ``tdx_blob``, 0x200 ``tdx_image`` and bare sigstruct + module
  pairs (every field; bounds-checked; located :class:`~tdxpolicy.errors.InputError`).
- :mod:`.verify` replays the kernel's header checks and P-SEAMLDR's sigstruct, key, signature
  and hash checks, one :class:`~tdxpolicy.verdict.Check` per rule.
- :mod:`.identity` says which release an image is (seamhash vs the catalogue's MRSEAM).
- :mod:`.convert` rewrites headers and joins modules with sigstructs, verified both ways.
- :func:`image_move_checks` gives ``can-upgrade``/``path``/``select --image`` their checks.

Nothing here imports ``cryptography`` (signatures are verified with ``pow()``) or any other
heavy library, so the CLI may import this package at start-up cost close to nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Collection, Sequence

from ..generations import Generation
from ..model import Location, ReleaseFacts, Sourced
from ..hostfacts import format_cpuid
from ..verdict import Check, Result
from ..version import Version
from .identity import Identity, identify, identity_checks, name_version
from .reader import (
    Image,
    ImageFormat,
    Sigstruct,
    load_image,
    load_pair,
    read_image,
    read_pair,
    read_sigstruct,
)
from .verify import INTEL_KEY_HASH, ImageCheck, Kernel, failures, is_valid, verify

if TYPE_CHECKING:
    from ..catalogue import Catalogue

__all__ = [
    "Image",
    "ImageFormat",
    "Sigstruct",
    "Identity",
    "ImageCheck",
    "Kernel",
    "INTEL_KEY_HASH",
    "read_image",
    "read_pair",
    "read_sigstruct",
    "load_image",
    "load_pair",
    "verify",
    "is_valid",
    "failures",
    "identify",
    "identity_checks",
    "name_version",
    "image_release_facts",
    "image_move_checks",
    "with_image_facts",
]


def image_release_facts(image: Image) -> ReleaseFacts:
    """The release facts the image itself proves, each located at its sigstruct byte offset
    (for callers that want to use an image's facts where the catalogue has none)."""
    s = image.sigstruct

    def at(name: str) -> Location:
        return Location(file=image.path, offset=s.at(name))

    return ReleaseFacts(
        seamhash=Sourced(s.seamhash_hex, at("seamhash")),
        svn=Sourced(s.svn, at("seamsvn")),
        platforms=Sourced(s.cpuid_table, at("cpuid_table")),
        handoff=Sourced(s.handoff, at("module_hv")),
        # module_type bit 31 either way: the image proves production-signed as well as debug
        debug=Sourced(s.debug, at("module_type")),
    )


def with_image_facts(catalogue: Catalogue, image: Image, version: Version) -> Catalogue:
    """The catalogue with the image's own facts filled in for ``version`` where no policy
    source declares them (docs/cli.md, "Images": the image's SVN, CPUID table, handoff
    and debug bit are used), each cited at its sigstruct byte offset.

    Only for the release the image was identified as (its seamhash): an image never lends
    facts to another release. Facts the catalogue declares are kept as they are; where they
    disagree with the image, ``image-catalogue`` (computed on the catalogue as given) denies.
    """
    from dataclasses import replace

    from ..catalogue import Catalogue as _Catalogue

    release = catalogue.get(version)
    if release is None:
        return catalogue
    own = image_release_facts(image)
    missing = {name: fact for name, fact in own.items()
               if getattr(release.facts, name) is None}
    if not missing:
        return catalogue
    filled = replace(release, facts=replace(release.facts, **missing))
    return _Catalogue(
        releases=tuple(filled if r.version == version else r for r in catalogue.releases),
        deny_to=catalogue.deny_to,
        documents=catalogue.documents,
    )


def _platforms(values: Collection[int]) -> str:
    return " ".join(format_cpuid(v) for v in sorted(values)) or "(none)"


def _validity_check(image: Image, checks: list[Check]) -> Check:
    """All verification checks collapsed into one ``image-valid`` (worst result wins)."""
    failed = failures(checks)
    warned = [c for c in checks if c.result is Result.WARN]
    facts: dict[str, Any] = {
        "failed": [c.code for c in failed],
        "warnings": [c.code for c in warned],
        "checks": len(checks),
    }
    loc = Location(file=image.path)
    if failed:
        detail = "; ".join(f"{c.code}: {c.message}" for c in failed)
        return Check("image-valid", Result.FAIL,
                     f"image {image.path} would be refused: {detail}", failed[0].source or loc, facts)
    if warned:
        detail = "; ".join(f"{c.code}: {c.message}" for c in warned)
        return Check("image-valid", Result.WARN,
                     f"image {image.path} verifies ({len(checks)} checks) with warnings: {detail}",
                     loc, facts)
    return Check("image-valid", Result.PASS,
                 f"image {image.path} verifies ({len(checks)} checks)", loc, facts)


def _identity_check(image: Image, ident: Identity, target: Version | None) -> Check:
    facts: dict[str, Any] = {"seamhash": ident.seamhash,
                             "version": None if ident.version is None else ident.version.text,
                             "by": ident.by}
    if ident.version is None:
        # Fail closed (docs/domain.md#unknown-running-version): without an identity the image's SVN,
        # handoff and
        # CPU facts cannot be tied to any release's policy.
        return Check("image-identity", Result.UNKNOWN,
                     f"no policy source knows seamhash {ident.seamhash} of {image.path}: "
                     "the image's release is unknown", Location(file=image.path,
                                                                 offset=image.sigstruct.at("seamhash")),
                     facts)
    if target is not None:
        facts["target"] = target.text
        if ident.version != target:
            return Check("image-identity", Result.FAIL,
                         f"image {image.path} is {ident.version} (by {ident.by}), but the target "
                         f"is {target}", ident.source, facts)
    if ident.others:
        return Check("image-identity", Result.FAIL,
                     f"seamhash {ident.seamhash[:16]}... is claimed by several releases: "
                     f"{', '.join(v.text for v in (ident.version, *ident.others))}",
                     ident.source, facts)
    return Check("image-identity", Result.PASS,
                 f"image {image.path} is {ident.version} (by {ident.by})", ident.source, facts)


def _catalogue_check(image: Image, ident: Identity, catalogue: Catalogue | None) -> Check:
    """The image's SVN, CPUID table, handoff fields and debug bit against the catalogue's
    facts for its release: a disagreement means one of them is wrong, and the engine decides
    from the catalogue, so the move is denied."""
    loc = Location(file=image.path)
    release = None if ident.version is None or catalogue is None else catalogue.get(ident.version)
    if release is None:
        return Check("image-catalogue", Result.UNKNOWN,
                     "the image's release is unknown: its facts cannot be compared with the "
                     "catalogue", loc)
    s = image.sigstruct
    f = release.facts
    disagree: list[tuple[str, Location]] = []
    agreed: list[str] = []
    missing: list[str] = []

    def here(name: str) -> str:
        return f"byte offset {s.at(name):#x}"

    if f.svn is None:
        missing.append("svn")
    elif f.svn.value != s.svn:
        disagree.append((f"svn: image {s.svn} ({here('seamsvn')}) vs catalogue {f.svn.value} "
                         f"({f.svn.source})", f.svn.source))
    else:
        agreed.append("svn")
    if f.platforms is None:
        missing.append("platforms")
    elif frozenset(f.platforms.value) != frozenset(s.cpuid_table):
        disagree.append((f"CPUID table: image {_platforms(s.cpuid_table)} ({here('cpuid_table')}) "
                         f"vs catalogue {_platforms(f.platforms.value)} ({f.platforms.source})",
                         f.platforms.source))
    else:
        agreed.append("platforms")
    if f.handoff is None:
        missing.append("handoff")
    elif f.handoff.value != s.handoff:
        disagree.append((f"handoff: image {s.handoff} ({here('module_hv')}) vs catalogue "
                         f"{f.handoff.value} ({f.handoff.source})", f.handoff.source))
    else:
        agreed.append("handoff")
    cat_debug, cat_debug_source = f.signing()
    if cat_debug is None:
        missing.append("debug")
    elif cat_debug != s.debug:
        where = cat_debug_source or release.declared_at[0]
        disagree.append((
            f"debug: image is {'debug' if s.debug else 'production'}-signed ({here('module_type')}) "
            f"vs catalogue {'debug' if cat_debug else 'production'} ({where})", where))
    else:
        agreed.append("debug")
    facts: dict[str, Any] = {"version": release.version.text, "agreed": agreed, "missing": missing}
    if disagree:
        return Check("image-catalogue", Result.FAIL,
                     f"image {image.path} disagrees with the catalogue's {release.version}: "
                     + "; ".join(m for m, _ in disagree), disagree[0][1], facts)
    note = f" (catalogue has no {', '.join(missing)})" if missing else ""
    return Check("image-catalogue", Result.PASS,
                 f"image agrees with the catalogue's {release.version} on "
                 f"{', '.join(agreed)}{note}", release.declared_at[0], facts)


def image_move_checks(
    data: bytes | Image,
    path: str,
    catalogue: Catalogue | None,
    target: Version | None,
    *,
    trusted_key_hashes: Collection[str] = (INTEL_KEY_HASH,),
    kernels: Sequence[Generation] | None = None,
    seamldr: Version | None = None,
    named: Version | None = None,
) -> tuple[Version | None, tuple[Check, ...]]:
    """Checks an image adds to a move decision (``can-upgrade``/``path``/``select --image``).

    Returns the identified version (``None`` when unknown) and ``image-valid``,
    ``image-identity``, the identity cross-checks (``image-name``, ``module-version``) and
    ``image-catalogue``. Raises :class:`~tdxpolicy.errors.InputError` only when the file is not
    an image at all. The kernel generation is an unknown host fact here, so the header format
    is reported (a 0x100 image warns) but does not fail. ``kernels`` (candidate generations of
    a probed host) and ``seamldr`` (the running P-SEAMLDR) sharpen the checksum and sigstruct
    page rules; without them the strictest answer is taken. ``named`` is the version the
    operator gave with ``--to`` (None without it): a file name or sigstruct version field that
    disagrees with the image's hash fails unless ``named`` is the identified release.
    """
    image = data if isinstance(data, Image) else read_image(data, path)
    checks = verify(image, trusted_key_hashes=trusted_key_hashes, kernels=kernels,
                    seamldr=seamldr)
    ident = identify(image.sigstruct.seamhash_hex, catalogue)
    out = [_validity_check(image, checks), _identity_check(image, ident, target)]
    out.extend(identity_checks(image, ident, for_move=True, named=named))
    out.append(_catalogue_check(image, ident, catalogue))
    return ident.version, tuple(out)
