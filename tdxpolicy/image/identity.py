"""Which release an image is: its seamhash against the catalogue's MRSEAM and seamhash facts.

The sigstruct's ``seamhash`` is SHA-384 of the module pages, i.e. the MRSEAM value Intel
publishes per release (docs/domain.md#image-formats). A hash that no source knows is reported as
unknown (``version is None``), never guessed from the file name: the name is only
cross-checked. Outside a move (``image verify``) a mismatch warns; in a move (``can-upgrade``,
``path``, ``select``, ``preflight``, ``update`` with ``--image``) an image whose name says one
release and whose hash another is denied unless the operator named the identified release
with ``--to`` (issue 10 item 7). Pure: takes a catalogue, returns data.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import TYPE_CHECKING

from .._value import value
from ..model import Location
from ..verdict import Check, Result
from ..version import Version
from .reader import Image

if TYPE_CHECKING:
    from ..catalogue import Catalogue

__all__ = ["Identity", "identify", "name_version", "identity_checks"]

_NAME_VERSION = re.compile(r"(?<![0-9.])([0-9]{1,4})\.([0-9]{1,4})\.([0-9]{1,4})(?![0-9])")


@value
class Identity:
    """``version`` is ``None`` when no source knows ``seamhash``. ``by`` names the fact that
    matched (``"mrseam"``: Intel's MRSEAM table; ``"seamhash"``: a published image's
    sigstruct); ``source`` is where that fact was declared."""

    seamhash: str
    version: Version | None = None
    by: str | None = None
    source: Location | None = None
    others: tuple[Version, ...] = ()  # further releases claiming the same hash (a bad source)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "version": None if self.version is None else self.version.text,
            "by": self.by,
            "seamhash": self.seamhash,
        }
        if self.source is not None:
            out["source"] = self.source.to_json()
        if self.others:
            out["others"] = [v.text for v in self.others]
        return out


def _norm(h: str) -> str:
    h = h.strip()
    if h[:2].lower() == "0x":
        h = h[2:]
    return h.upper()


def identify(seamhash_hex: str, catalogue: Catalogue | None) -> Identity:
    """Match a seamhash (hex, any case, optional ``0x``) against every release's ``mrseam``
    (preferred: Intel's published table) and ``seamhash`` facts."""
    want = _norm(seamhash_hex)
    if catalogue is None:
        return Identity(want)
    matches: list[tuple[Version, str, Location]] = []
    for release in catalogue:
        for name in ("mrseam", "seamhash"):
            fact = getattr(release.facts, name)
            if fact is not None and _norm(str(fact.value)) == want:
                matches.append((release.version, name, fact.source))
                break
    if not matches:
        return Identity(want)
    version, by, source = matches[0]
    return Identity(want, version, by, source, tuple(v for v, _, _ in matches[1:]))


def name_version(path: str) -> Version | None:
    """The version a file name claims (``tdx_module_1.5.16.blob`` -> 1.5.16), if any."""
    found = _NAME_VERSION.findall(PurePath(path).name)
    if len(found) != 1:
        return None
    major, minor, update = (int(x) for x in found[0])
    text = ".".join(found[0])
    return Version(major, minor, update, text)


def identity_checks(image: Image, identity: Identity, *, for_move: bool = False,
                    named: Version | None = None) -> list[Check]:
    """Cross-checks of the identity: the file name (``image-name``) and, when the sigstruct
    carries one (published 2.0.x), the module version inside it (``module-version``).

    The hash decides which release the image is. A name that says another release warns when
    the image is only inspected; ``for_move`` makes it fail (the operator may be about to
    install something else than they think) unless ``named`` — the version the operator gave
    with ``--to`` — is the identified release, which shows they know what the image is."""
    out: list[Check] = []
    loc = Location(file=image.path)
    claimed = name_version(image.path)
    ident = identity.version
    confirmed = ident is not None and named is not None and named == ident
    mismatch = Result.FAIL if for_move and not confirmed else Result.WARN

    def why() -> str:
        if not for_move:
            return ""
        if confirmed:
            return f" (accepted: --to names {ident})"
        return (f": the image may not be what its name says; give --to {ident} if it is the "
                "release you mean to install")
    if claimed is not None:
        if ident is None:
            out.append(Check("image-name", Result.WARN,
                             f"file name says {claimed} but no source knows seamhash "
                             f"{identity.seamhash[:16]}...", loc, {"name_version": claimed.text}))
        elif claimed != ident:
            out.append(Check("image-name", mismatch,
                             f"file name says {claimed} but the seamhash identifies "
                             f"{ident}{why()}", loc,
                             {"name_version": claimed.text, "version": ident.text,
                              "to": None if named is None else named.text}))
        else:
            out.append(Check("image-name", Result.PASS, f"file name agrees: {ident}", loc,
                             {"name_version": claimed.text, "version": ident.text}))
    mv = image.sigstruct.module_version
    if mv is not None:
        inner = Version(mv[0], mv[1], mv[2])
        where = Location(file=image.path, offset=image.sigstruct.at("reserved3"))
        if ident is not None and inner != ident:
            out.append(Check("module-version", mismatch,
                             f"the sigstruct's own version field says {inner} but the seamhash "
                             f"identifies {ident} (byte offset {where.offset:#x}){why()}", where,
                             {"sigstruct_version": inner.text, "version": ident.text,
                              "to": None if named is None else named.text}))
        else:
            out.append(Check("module-version", Result.PASS,
                             f"the sigstruct's own version field says {inner} "
                             f"(byte offset {where.offset:#x})", where,
                             {"sigstruct_version": inner.text}))
    return out
