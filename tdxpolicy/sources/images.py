"""Module images as policy sources: each image is verified and contributes the facts it proves.

``--policy`` accepts TDX module images (``*.blob`` in a directory such as the ``joined_files/``
of Intel's binaries repository, or any file named explicitly whose header is an image's). An
image is a source only once it passes every check ``tdxpolicy image verify`` makes without a
kernel (docs/images.md): a failing image is an error that names each failed check, never a
source. Its facts, each located at the sigstruct byte offset it was read from:

- the release it is: by identity (its seamhash against the MRSEAM and seamhash facts of the
  other sources, :func:`tdxpolicy.image.identify`); failing that, the version field a 2.0.x
  sigstruct carries. A file name is never evidence of a version: when neither gives one the
  image is refused, with the advice to add Intel's MRSEAM table; and a name that claims
  another version than the identity is refused too (an image that lies about its name);
- ``seamhash``, ``svn``, ``platforms`` (the CPUID table), ``handoff``, ``debug`` (when
  debug-signed) and ``published`` (the sigstruct date).

The facts merge with the other sources under the usual rules: an image that disagrees with a
document is a located conflict (:func:`tdxpolicy.catalogue.merge`). Pure but for reading the
files it is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Collection

from ..errors import InputError, Problem
from ..model import (
    DocumentMeta,
    Location,
    PolicyDocument,
    ReleaseBlock,
    ReleaseFacts,
    SourceKind,
    Sourced,
)
from ..version import Version

if TYPE_CHECKING:  # pragma: no cover
    from ..catalogue import Catalogue

__all__ = ["IMAGE_SUFFIXES", "looks_like_image", "image_document"]

#: Files a directory walk considers as images (Intel's joined_files/ holds *.blob).
IMAGE_SUFFIXES = (".blob",)
_BLOB_SIGNATURE = b"TDX-BLOB"


def looks_like_image(head: bytes) -> bool:
    """An image header: version 0x100 with 'TDX-BLOB' at offset 8, or 0x200 at offset 4."""
    if len(head) < 16:
        return False
    version = int.from_bytes(head[0:2], "little")
    return ((version == 0x100 and head[8:16] == _BLOB_SIGNATURE)
            or (version == 0x200 and head[4:12] == _BLOB_SIGNATURE))


def image_document(path: Path, catalogue: Catalogue | None, *,
                   trusted_key_hashes: Collection[str] | None = None) -> PolicyDocument:
    """One verified image as a one-release :class:`PolicyDocument`; :class:`InputError` when
    it is not a valid image or its release cannot be told from evidence. ``trusted_key_hashes``
    are signing keys accepted besides Intel's production key."""
    from ..image import (
        INTEL_KEY_HASH,
        failures,
        identify,
        image_release_facts,
        load_image,
        name_version,
        verify,
    )

    name = str(path)
    image = load_image(path)
    # Intel's production key always; further keys only through the API (tests sign synthetic
    # releases with their own key: P-SEAMLDR on a real host accepts Intel's alone).
    keys = (INTEL_KEY_HASH, *(trusted_key_hashes or ()))
    failed = failures(verify(image, trusted_key_hashes=keys))
    if failed:
        problems = [Problem(f"image check {c.code} failed: {c.message}",
                            c.source or Location(name)) for c in failed]
        problems.insert(0, Problem(
            f"{name} is not used as a policy source: {len(failed)} image check(s) failed "
            "(tdxpolicy image verify shows every check)", Location(name)))
        raise InputError(problems, code="image-invalid")
    s = image.sigstruct
    ident = identify(s.seamhash_hex, catalogue)
    version: Version | None = ident.version
    provenance = ident.source
    if version is None and s.module_version is not None:
        major, minor, update = s.module_version[:3]
        version = Version(major, minor, update)
        provenance = Location(name, offset=s.at("reserved3"))
    if version is None:
        raise InputError.at(
            f"cannot tell which release this image is: no source gives its MRSEAM "
            f"(seamhash 0x{s.seamhash_hex[:16]}...) and its sigstruct carries no version; "
            "add Intel's MRSEAM release table (the tdx-module README) as a --policy source",
            Location(name), code="unidentified-image")
    claimed = name_version(name)
    if claimed is not None and claimed != version:
        raise InputError.at(
            f"the file name says {claimed} but the image is {version} (seamhash matched at "
            f"{provenance}): an image whose name lies is not used as a source",
            Location(name), code="image-name-mismatch")
    facts = image_release_facts(image)
    if s.date is not None:
        facts = ReleaseFacts(**{**{n: getattr(facts, n) for n in (
            "mrseam", "seamhash", "svn", "platforms", "seamldr", "features0", "handoff",
            "debug", "status")}, "published": Sourced(s.date, Location(name, offset=s.at("date")))})
    block = ReleaseBlock(version=version, source=Location(name), facts=facts)
    return PolicyDocument(file=name, kind=SourceKind.IMAGE, meta=DocumentMeta(),
                          releases=(block,))
