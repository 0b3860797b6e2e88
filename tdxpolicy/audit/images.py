"""What the audit needs to know about one image file, independent of how it was read.

The CLI reads each image with :mod:`tdxpolicy.image` (``read_image`` and ``verify``) and turns
the result into an :class:`AuditImage` with :func:`from_image`; the rules only see this record,
so they stay pure and are tested on images described directly. Every fact carries a
:class:`~tdxpolicy.model.Location` with the byte offset it was read from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from .._value import value
from ..image.identity import name_version
from ..model import Location, ReleaseFacts, Sourced
from ..verdict import Check, Result

if TYPE_CHECKING:  # pragma: no cover
    from ..image.reader import Image

__all__ = ["ImageFailure", "AuditImage", "name_version", "from_image", "unreadable_image"]


@value
class ImageFailure:
    """One failed verification check of an image."""

    code: str
    message: str
    location: Location


@value
class AuditImage:
    """An image as the audit sees it.

    ``facts`` holds what the sigstruct says (``seamhash``, ``svn``, ``platforms``, ``handoff``,
    ``debug``), each located by byte offset; ``failures`` the verification checks that failed;
    ``parsed`` is false when the file could not even be read as an image (then ``facts`` is
    empty and ``failures`` says why).
    """

    path: str
    facts: ReleaseFacts = ReleaseFacts()
    failures: tuple[ImageFailure, ...] = ()
    parsed: bool = True


def unreadable_image(path: str, message: str, location: Location | None = None) -> AuditImage:
    """An image file that is not an image at all (header does not parse)."""
    return AuditImage(
        path=path,
        failures=(ImageFailure("image-format", message, location or Location(path, offset=0)),),
        parsed=False,
    )


# --- adapter from tdxpolicy.image ------------------------------------------------------------


def from_image(image: Image, checks: Iterable[Check]) -> AuditImage:
    """An :class:`AuditImage` from a decoded image and its verification checks: the sigstruct
    facts located by absolute byte offset (docs/domain.md#image-formats) and the failed checks."""
    sig = image.sigstruct
    path = image.path

    def loc(field_name: str) -> Location:
        return Location(path, offset=sig.at(field_name))

    facts = ReleaseFacts(
        seamhash=Sourced(sig.seamhash_hex, loc("seamhash")),
        svn=Sourced(sig.svn, loc("seamsvn")),
        platforms=Sourced(tuple(sig.cpuid_table), loc("cpuid_table")),
        handoff=Sourced(sig.handoff, loc("module_hv")),
        debug=Sourced(sig.debug, loc("module_type")),
    )
    failures = tuple(
        ImageFailure(
            str(c.code),
            c.message,
            c.source if c.source is not None else Location(path, offset=0),
        )
        for c in checks
        if c.result is Result.FAIL
    )
    return AuditImage(path=path, facts=facts, failures=failures)
