"""Verify an image offline, exactly as the kernel and P-SEAMLDR would, one check per rule.

Every rule of docs/domain.md#image-formats (and the P-SEAMLDR source it cites,
``intel/tdx-loader:p-seam-loader/src/.../seamldr_install.c``) is one
:class:`~tdxpolicy.verdict.Check` with a stable lower-case hyphenated code; the message names
the byte offset of the field and what was expected, so that an operator can act on it.
Verification is pure: it takes a decoded :class:`~tdxpolicy.image.reader.Image` and returns
data. "Invalid" is a list of failing checks, never an exception.

Each code of :class:`ImageCheck` is one small function of :data:`CHECKS`, which cites its rule;
:func:`verify` runs the table in order (the kernel's header checks, then P-SEAMLDR's). A check
that does not apply to the image's format (the 0x100 checksum on a 0x200 image, any header
check on a bare sigstruct + module pair) returns None and is not listed.

Why P-SEAMLDR's checks are replayed here: the merged kernel validates only the 0x200 header;
every other check happens after the running module has shut down, and a rejection then kills
every TD (docs/domain.md#parts). The RSA-3072 signature is verified by
:mod:`tdxpolicy.image.rsa`.
"""

from __future__ import annotations

import array
import hashlib
import sys
from enum import Enum
from typing import Any, Callable, Collection, Iterable, Sequence

from .._value import value
from ..generations import Generation, abi, accepting, loader_accepts_multi_page
from ..hostfacts import format_cpuid
from ..model import Location
from ..verdict import Check, Result
from ..version import Version
from .reader import (
    BLOB_SIGNATURE,
    HEADER_SIZE,
    MAX_CPUID_TABLE_SIZE,
    MAX_MODULE_PAGES,
    PAGE_SIZE,
    SIGSTRUCT_SIZE,
    BlobHeader,
    Image,
    ImageFormat,
    TdxImageHeader,
)
from .rsa import rsa_pkcs1v15_sha384_verify

__all__ = [
    "INTEL_KEY_HASH",
    "Kernel",
    "ImageCheck",
    "NON_STRUCTURAL",
    "CHECKS",
    "verify",
    "word_sum",
    "is_valid",
    "failures",
    "structural_failures",
    "rsa_pkcs1v15_sha384_verify",
]

# SHA-384 of the production signing key's modulus bytes as stored (docs/domain.md#image-formats;
# P-SEAMLDR ``intel_key_hash``). The only key trusted unless a caller passes others.
INTEL_KEY_HASH = (
    "c8572f548869a0beca19376b81c2dffc2a23b5a5f71da0b87579b43f408daa1a33bad9c149eb56c634f883737968a34c"
)


# Kernel generations that take images: one row each in tdxpolicy.generations (header formats,
# checksum, sigstruct pages, loader parameter version); docs/kernel-generations.md.
Kernel = Generation


class ImageCheck(str, Enum):
    """Image check codes, in the order :func:`verify` lists them. Stable: add, never rename."""

    HEADER_VERSION = "header-version"
    HEADER_SIGNATURE = "header-signature"
    HEADER_LENGTH = "header-length"
    HEADER_CHECKSUM = "header-checksum"
    HEADER_RESERVED = "header-reserved"
    MODULE_OFFSET = "module-offset"
    SIGSTRUCT_PAGES = "sigstruct-pages"
    MODULE_PAGES = "module-pages"
    KERNEL_FORMAT = "kernel-format"
    SIGSTRUCT_HEADER_TYPE = "sigstruct-header-type"
    SIGSTRUCT_CONSTANTS = "sigstruct-constants"
    SIGSTRUCT_RESERVED = "sigstruct-reserved"
    SIGSTRUCT_PADDING = "sigstruct-padding"
    MODULE_TYPE = "module-type"
    DEBUG = "debug"
    SVN_MAJOR = "svn-major"
    HANDOFF_ORDER = "handoff-order"
    GDT_IDT = "gdt-idt"
    CPUID_TABLE = "cpuid-table"
    SIGNING_KEY = "signing-key"
    SIGNATURE = "signature"
    SEAMHASH = "seamhash"


# Checks that are about trust or the target kernel rather than the image's structure:
# conversion and join may write an image that fails only these.
NON_STRUCTURAL = frozenset(
    {ImageCheck.SIGNING_KEY.value, ImageCheck.KERNEL_FORMAT.value, ImageCheck.DEBUG.value}
)

# Sigstruct constants (seam_sigstruct.h; docs/domain.md#sigstruct).
_HEADER_TYPE = 6
_HEADER_LENGTH = 0xE1
_HEADER_VERSION = 0x10000
_MODULE_VENDOR = 0x8086
_SIZE_DWORDS = 0x200
_KEY_SIZE_DWORDS = 0x60
_MODULUS_SIZE_DWORDS = 0x60
_EXPONENT_SIZE_DWORDS = 1
_RSA_EXPONENT = 0x10001
# P-SEAMLDR: NUM_OF_EXCEPTION_VECTORS * SEAM_MODULE_EXCEPTION_HANDLER_SIZE
_EXCEPTION_TABLE_SIZE = 32 * 16


@value
class _Subject:
    """What every check looks at: the image and what :func:`verify` was told about its target."""

    image: Image
    kernel: Generation | None  # the generation named by the caller: decides kernel-format
    kernels: tuple[Generation, ...]  # candidates (the named one alone, when named)
    seamldr: Version | None  # the running P-SEAMLDR (sigstruct page rule)
    trusted_key_hashes: Collection[str]


#: One image check: the :class:`Check` of its code, or None when it does not apply.
CheckFn = Callable[[_Subject], Check | None]


def word_sum(data: bytes) -> int:
    """Sum of the little-endian 16-bit words of ``data`` (odd last byte padded with 0),
    mod 2**16: the 0x100 checksum rule (docs/domain.md#image-formats)."""
    if len(data) % 2:
        data = data + b"\x00"
    words = array.array("H")
    words.frombytes(data)
    if sys.byteorder != "little":  # pragma: no cover - every TDX host is little-endian
        words.byteswap()
    return sum(words) & 0xFFFF


def _chk(
    image: Image,
    code: ImageCheck,
    ok: bool | Result,
    message: str,
    offset: int | None = None,
    **facts: Any,
) -> Check:
    result = ok if isinstance(ok, Result) else Result.PASS if ok else Result.FAIL
    if offset is not None:
        message = f"{message} (byte offset {offset:#x})"
    return Check(code.value, result, message, Location(file=image.path, offset=offset), facts)


def _blob_module_offset_ok(image: Image, h: BlobHeader) -> bool:
    """``offset_of_module = 4096 + 4096 N`` with N >= 1, inside the file
    (docs/domain.md#tdx-blob-0x100)."""
    n = h.sigstruct_pages
    return n is not None and n >= 1 and h.offset_of_module <= image.size


def _names(gens: Iterable[Generation]) -> str:
    return ", ".join(g.value for g in gens)


# --- the kernel's header checks (docs/domain.md#image-formats, docs/kernel-generations.md#the-table)


def _header_version(s: _Subject) -> Check | None:
    """``version`` is 0x100 in a ``tdx_blob`` (docs/domain.md#tdx-blob-0x100), 0x200 in a
    ``tdx_image`` (docs/domain.md#tdx-image-0x200)."""
    h = s.image.header
    if isinstance(h, BlobHeader):
        fmt = ImageFormat.TDX_BLOB
    elif isinstance(h, TdxImageHeader):
        fmt = ImageFormat.TDX_IMAGE
    else:
        return None
    ok = h.version == fmt
    return _chk(s.image, ImageCheck.HEADER_VERSION, ok,
                f"header version {h.version:#06x}"
                + ("" if ok else f", expected {fmt.value:#06x} for a {fmt.name.lower()}"),
                0, version=h.version)


def _header_signature(s: _Subject) -> Check | None:
    """``signature`` is ``TDX-BLOB``, at offset 8 of a 0x100 header and 4 of a 0x200 one
    (docs/domain.md#image-formats)."""
    h = s.image.header
    if isinstance(h, BlobHeader):
        offset = 8
    elif isinstance(h, TdxImageHeader):
        offset = 4
    else:
        return None
    ok = h.signature == BLOB_SIGNATURE
    return _chk(s.image, ImageCheck.HEADER_SIGNATURE, ok,
                f"signature {h.signature!r}" + ("" if ok else f", expected {BLOB_SIGNATURE!r}"),
                offset)


def _header_length(s: _Subject) -> Check | None:
    """0x100: ``length`` is the file size (docs/domain.md#tdx-blob-0x100). 0x200: the file is
    exactly ``4096 * (1 + sigstruct pages + module pages)`` (docs/domain.md#tdx-image-0x200)."""
    image, h = s.image, s.image.header
    if isinstance(h, BlobHeader):
        ok = h.length == image.size
        return _chk(image, ImageCheck.HEADER_LENGTH, ok,
                    f"length field {h.length} bytes, file {image.size} bytes"
                    + ("" if ok else ": the length must equal the file size"),
                    16, length=h.length, file_size=image.size)
    if isinstance(h, TdxImageHeader):
        declared = PAGE_SIZE * (1 + h.sigstruct_nr_pages + h.module_nr_pages)
        ok = declared == image.size
        return _chk(image, ImageCheck.HEADER_LENGTH, ok,
                    f"4096 x (1 + {h.sigstruct_nr_pages} + {h.module_nr_pages}) = {declared} "
                    f"bytes, file {image.size} bytes"
                    + ("" if ok else ": the kernel requires them to be equal"),
                    12, declared=declared, file_size=image.size)
    return None


def _header_checksum(s: _Subject) -> Check | None:
    """0x100 only: the 16-bit word sum of the file is 0 (docs/domain.md#tdx-blob-0x100). Only
    v1-v3 (and, not knowing better, Intel's older interface) verify it; v4 dropped the check
    ("Remove checksum verification as it is optional"; docs/kernel-generations.md#the-table).
    A mismatch fails unless every candidate kernel is known to ignore it. The 0x200 checksum
    is not checked by the kernel, so no check is made of it."""
    image, h = s.image, s.image.header
    if not isinstance(h, BlobHeader):
        return None
    total = word_sum(image.data)
    facts = {"checksum": h.checksum, "word_sum": total}
    head = f"16-bit word sum of the file is {total:#06x} with checksum field {h.checksum:#06x}"
    if total == 0:
        return _chk(image, ImageCheck.HEADER_CHECKSUM, True, head, 2, **facts)
    checking = [g for g in s.kernels if abi(g).checksum_verified]
    if s.kernels and not checking:
        return _chk(image, ImageCheck.HEADER_CHECKSUM, Result.WARN,
                    f"{head}; the {_names(s.kernels)} kernel does not verify "
                    "the checksum (the signature and seamhash checks still cover the content)",
                    2, **facts)
    who = _names(checking) if checking else "v1-v3 kernels"
    return _chk(image, ImageCheck.HEADER_CHECKSUM, False,
                f"{head}; expected the sum to be 0 mod 2^16 ({who} refuse it)", 2, **facts)


def _header_reserved(s: _Subject) -> Check | None:
    """Reserved header fields are zero: ``reserved0`` and ``reserved1`` of 0x100
    (docs/domain.md#tdx-blob-0x100), ``reserved`` of 0x200 (docs/domain.md#tdx-image-0x200)."""
    h = s.image.header
    if isinstance(h, BlobHeader):
        bad = 20 if h.reserved0 else h.reserved1_first_nonzero
        good = "reserved0 and reserved1 are zero"
    elif isinstance(h, TdxImageHeader):
        bad = h.reserved_first_nonzero
        good = "reserved bytes are zero"
    else:
        return None
    return _chk(s.image, ImageCheck.HEADER_RESERVED, bad is None,
                good if bad is None else "reserved header bytes must be zero; first non-zero byte",
                20 if bad is None else bad)


def _module_offset(s: _Subject) -> Check | None:
    """0x100 only: ``offset_of_module = 4096 + 4096 N`` with N >= 1 sigstruct pages, inside
    the file (docs/domain.md#tdx-blob-0x100)."""
    image, h = s.image, s.image.header
    if not isinstance(h, BlobHeader):
        return None
    off = h.offset_of_module
    ok = _blob_module_offset_ok(image, h)
    if ok:
        msg = f"offset_of_module {off:#x} = 4096 + {h.sigstruct_pages} x 4096"
    else:
        msg = (
            f"offset_of_module {off:#x} must be 4096 + N x 4096 with N >= 1, page-aligned "
            f"and inside the file ({image.size:#x} bytes)"
        )
    return _chk(image, ImageCheck.MODULE_OFFSET, ok, msg, 4, offset_of_module=off)


def _sigstruct_pages(s: _Subject) -> Check:
    """How many sigstruct pages, and whether the kernel passes them whole and P-SEAMLDR takes
    them: 0x100 by :func:`_multi_page` beyond one page (docs/kernel-generations.md#the-table);
    0x200 exactly one (``sigstruct_nr_pages`` at most 1, and 0 is refused by P-SEAMLDR after
    shutdown, docs/domain.md#tdx-image-0x200); a bare pair's sigstruct file one page at most
    (it becomes the image's single sigstruct page)."""
    image, h = s.image, s.image.header
    code = ImageCheck.SIGSTRUCT_PAGES
    if isinstance(h, BlobHeader):
        n = h.sigstruct_pages
        if not _blob_module_offset_ok(image, h):
            return _chk(image, code, False,
                        "sigstruct pages cannot be located: offset_of_module is invalid", 4)
        if n == 1:
            return _chk(image, code, True, "1 sigstruct page", HEADER_SIZE, pages=1)
        assert n is not None
        return _multi_page(s, n)
    if isinstance(h, TdxImageHeader):
        sp = h.sigstruct_nr_pages
        if sp == 1:
            return _chk(image, code, True, "1 sigstruct page", 12, pages=1)
        if sp == 0:
            return _chk(image, code, False,
                        "0 sigstruct pages: the kernel accepts it but P-SEAMLDR refuses it after "
                        "the running module has shut down (every TD lost)", 12, pages=0)
        return _chk(image, code, False, f"{sp} sigstruct pages; the kernel accepts at most 1",
                    12, pages=sp)
    n = len(image.sigstruct_area)
    ok = SIGSTRUCT_SIZE <= n <= PAGE_SIZE
    return _chk(image, code, ok,
                f"sigstruct file is {n} bytes" + ("" if ok else "; expected 2048 to 4096 bytes"),
                0, sigstruct_bytes=n)


def _multi_page(s: _Subject, n: int) -> Check:
    """A 0x100 sigstruct of more than one page (docs/kernel-generations.md): v1-v3 pass one
    page; v4-v8 pass up to 4 (more are silently clamped), v5-v8 with loader parameter
    version 1, which P-SEAMLDR 1.5 refuses with EBADPARAM after the running module has shut
    down. No source says any P-SEAMLDR accepts it, so it is refused unless one does."""
    image, seamldr = s.image, s.seamldr
    pool = [g for g in s.kernels if "0x100" in abi(g).formats] or list(accepting("0x100"))
    one_page = [g for g in pool if abi(g).multi_page_params_version is None]
    clamped = [g for g in pool if abi(g).multi_page_params_version is not None
               and n > abi(g).max_sigstruct_pages]
    whole = [g for g in pool if g not in one_page and g not in clamped]
    reasons: list[str] = []
    if one_page:
        reasons.append(f"{_names(one_page)} pass only the first page to P-SEAMLDR")
    if clamped:
        most = min(abi(g).max_sigstruct_pages for g in clamped)
        reasons.append(f"{_names(clamped)} silently pass only the first {most} of the {n} pages")
    accepts = loader_accepts_multi_page(seamldr)
    if (whole or clamped) and accepts is not True:
        who = _names(whole + clamped)
        if accepts is False:
            reasons.append(f"{who} pass them with loader parameter version 1, which P-SEAMLDR "
                           f"{seamldr} refuses (EBADPARAM) after the running module has shut "
                           "down: every TD lost")
        else:
            unknown = ("the running P-SEAMLDR is unknown" if seamldr is None
                       else f"no published source says P-SEAMLDR {seamldr} accepts it")
            reasons.append(f"{who} pass them with loader parameter version 1, which P-SEAMLDR "
                           "1.5 refuses (EBADPARAM) after the running module has shut down; "
                           f"{unknown}")
    facts: dict[str, Any] = {"pages": n, "kernels": [g.value for g in pool],
                             "seamldr": None if seamldr is None else seamldr.text}
    if reasons:
        return _chk(image, ImageCheck.SIGSTRUCT_PAGES, False,
                    f"{n} sigstruct pages: " + "; ".join(reasons), HEADER_SIZE, **facts)
    return _chk(image, ImageCheck.SIGSTRUCT_PAGES, True,
                f"{n} sigstruct pages: passed whole by {_names(pool)} and "
                f"accepted by P-SEAMLDR {seamldr}", HEADER_SIZE, **facts)


def _module_pages(s: _Subject) -> Check:
    """Module pages: non-empty, whole pages, at most 496 (kernel SEAMLDR_MAX_NR_MODULE_PAGES,
    P-SEAMLDR SEAMLDR_PARAMS_MIN/MAX_MODULE_PAGES); zero pages is refused by P-SEAMLDR after
    shutdown, so it is refused here (docs/domain.md#tdx-image-0x200)."""
    image, h = s.image, s.image.header
    if isinstance(h, TdxImageHeader):
        if h.module_nr_pages == 0:
            return _chk(image, ImageCheck.MODULE_PAGES, False,
                        "0 module pages: the kernel accepts it but P-SEAMLDR refuses it after the "
                        "running module has shut down (every TD lost)", 16, pages=0)
        ok = h.module_nr_pages <= MAX_MODULE_PAGES
        return _chk(image, ImageCheck.MODULE_PAGES, ok,
                    f"{h.module_nr_pages} module pages"
                    + ("" if ok else f"; the kernel accepts at most {MAX_MODULE_PAGES}"),
                    16, pages=h.module_nr_pages)
    if isinstance(h, BlobHeader):
        if not _blob_module_offset_ok(image, h):
            return _chk(image, ImageCheck.MODULE_PAGES, False, "module pages cannot be located", 4)
        return _module_pages_of(image, image.size - h.offset_of_module, h.offset_of_module)
    return _module_pages_of(image, len(image.module), 0)


def _module_pages_of(image: Image, module_len: int, offset: int) -> Check:
    """A module of ``module_len`` bytes (0x100, or a bare pair's module file)."""
    pages, rest = divmod(module_len, PAGE_SIZE)
    if rest:
        return _chk(image, ImageCheck.MODULE_PAGES, False,
                    f"module is {module_len} bytes, not a whole number of 4096-byte pages",
                    offset, module_bytes=module_len)
    ok = 1 <= pages <= MAX_MODULE_PAGES
    return _chk(image, ImageCheck.MODULE_PAGES, ok,
                f"{pages} module pages" + ("" if ok else f"; expected 1 to {MAX_MODULE_PAGES}"),
                offset, pages=pages)


def _kernel_format(s: _Subject) -> Check:
    """Which kernel generations accept the header (docs/kernel-generations.md#the-table;
    docs/cli.md "Images"): without a named ``kernel`` the acceptance is reported but does not
    fail."""
    image, kernel = s.image, s.kernel
    fmt = image.format
    if fmt is None:
        return _chk(image, ImageCheck.KERNEL_FORMAT, Result.WARN,
                    "a bare sigstruct + module pair cannot be uploaded; join it into an image "
                    "with 'tdxpolicy image join'")
    takers = accepting(fmt.label)
    names = _names(takers)
    if fmt is ImageFormat.TDX_IMAGE:
        what = (f"0x200 tdx_image: accepted by {names}; refused (before shutdown, harmlessly) "
                "by older kernels")
    else:
        what = (
            f"0x100 tdx_blob: accepted only by {names}; the v9-v10 and merged kernels refuse "
            "it (before shutdown, harmlessly); 'tdxpolicy image convert' rewrites it as 0x200"
        )
    # "accepted_by" keeps its first meaning (merged / legacy); the full list is "generations".
    facts = {"format": fmt.label,
             "accepted_by": "merged" if fmt is ImageFormat.TDX_IMAGE else "legacy",
             "generations": [g.value for g in takers]}
    if kernel is None:
        result = Result.PASS if fmt is ImageFormat.TDX_IMAGE else Result.WARN
        return _chk(image, ImageCheck.KERNEL_FORMAT, result, what, 0, kernel=None, **facts)
    return _chk(image, ImageCheck.KERNEL_FORMAT, kernel in takers,
                f"{what} (kernel: {kernel.value})", 0, kernel=kernel.value, **facts)


# --- P-SEAMLDR's sigstruct checks (docs/domain.md#sigstruct-checks; all EBADSIG unless noted) --


def _sigstruct_header_type(s: _Subject) -> Check:
    """``header_type`` 6, ``header_length`` 0xE1, ``header_version`` 0x10000
    (docs/domain.md#sigstruct)."""
    image, sig = s.image, s.image.sigstruct
    bad = [
        (name, got, want)
        for name, got, want in (
            ("header_type", sig.header_type, _HEADER_TYPE),
            ("header_length", sig.header_length, _HEADER_LENGTH),
            ("header_version", sig.header_version, _HEADER_VERSION),
        )
        if got != want
    ]
    if bad:
        return _chk(image, ImageCheck.SIGSTRUCT_HEADER_TYPE, False,
                    "; ".join(f"sigstruct {n} is {v:#x}, expected {w:#x}" for n, v, w in bad),
                    sig.at(bad[0][0]))
    return _chk(image, ImageCheck.SIGSTRUCT_HEADER_TYPE, True,
                "header type 6, length 0xe1, version 0x10000", sig.at("header_type"))


def _sigstruct_constants(s: _Subject) -> Check:
    """The fixed fields hold the values of docs/domain.md#sigstruct: vendor, sizes, exponent,
    attributes."""
    image, sig = s.image, s.image.sigstruct
    constants = (
        ("module_vendor", sig.module_vendor, _MODULE_VENDOR),
        ("size", sig.size, _SIZE_DWORDS),
        ("key_size", sig.key_size, _KEY_SIZE_DWORDS),
        ("modulus_size", sig.modulus_size, _MODULUS_SIZE_DWORDS),
        ("exponent_size", sig.exponent_size, _EXPONENT_SIZE_DWORDS),
        ("exponent", sig.exponent, _RSA_EXPONENT),
        ("attributes", sig.attributes, 0),
    )
    bad = [(n, v, w) for n, v, w in constants if v != w]
    if bad:
        return _chk(image, ImageCheck.SIGSTRUCT_CONSTANTS, False,
                    "; ".join(f"sigstruct {n} is {v:#x}, expected {w:#x}" for n, v, w in bad),
                    sig.at(bad[0][0]))
    return _chk(image, ImageCheck.SIGSTRUCT_CONSTANTS, True,
                "vendor 0x8086, size 0x200, key/modulus 0x60, exponent 0x10001, attributes 0",
                sig.at("module_vendor"))


def _sigstruct_reserved(s: _Subject) -> Check:
    """Reserved fields are zero (docs/domain.md#sigstruct-checks). ``reserved3[0:8]`` carries
    the module version in published 2.0.x sigstructs (see reader.MODULE_VERSION_FIELD), so only
    ``reserved3[8:24]`` is required zero of a 2.x sigstruct."""
    image, sig = s.image, s.image.sigstruct
    reserved = (
        ("reserved0", sig.reserved0, sig.at("reserved0")),
        ("reserved1", sig.reserved1, sig.at("reserved1")),
        ("reserved2", bytes([sig.reserved2]), sig.at("reserved2")),
        ("reserved3[8:24]", sig.reserved3[8:], sig.at("reserved3") + 8),
    )
    bad: list[tuple[str, int]] = []
    for name, buf, at in reserved:
        stripped = buf.lstrip(b"\x00")
        if stripped:
            bad.append((name, at + len(buf) - len(stripped)))
    mv = sig.module_version
    if mv is not None and mv[0] < 2:
        # Only 2.x sigstructs carry a version there, and only 2.x P-SEAMLDRs load them (their
        # min_seamldr_versions); a 1.x module may be loaded by a 1.5 P-SEAMLDR, which requires
        # all of reserved3 to be zero (tdx-loader-1.5.02 seam_sigstruct checks) [D].
        raw3 = sig.reserved3[0:8]
        pos = len([b for b in bad if not b[0].startswith("reserved3")])
        bad.insert(pos, (f"reserved3[0:8] (decodes as {mv[0]}.{mv[1]}.{mv[2]:02d}, but "
                         "only 2.x sigstructs carry a version there)",
                         sig.at("reserved3") + len(raw3) - len(raw3.lstrip(b"\x00"))))
    if bad:
        return _chk(image, ImageCheck.SIGSTRUCT_RESERVED, False,
                    f"sigstruct {bad[0][0]} must be zero; first non-zero byte", bad[0][1])
    extra = ("" if mv is None
             else f" (reserved3[0:8] carries module version {mv[0]}.{mv[1]}.{mv[2]:02d})")
    return _chk(image, ImageCheck.SIGSTRUCT_RESERVED, True, "reserved fields are zero" + extra,
                sig.at("reserved0"))


def _sigstruct_padding(s: _Subject) -> Check | None:
    """Sigstruct pages beyond the 2048 bytes are zero padding (blob_structure.txt,
    docs/domain.md#tdx-blob-0x100). In one page the loader reads only 2048 bytes, so non-zero
    padding there is suspicious but not fatal (warn). Beyond the first page the bytes belong to
    what a multi-page loader would read as part of a larger sigstruct whose layout is not
    published: they cannot be verified, so they fail. All zero: no check is listed."""
    image, sig = s.image, s.image.sigstruct
    pad = image.sigstruct_area[SIGSTRUCT_SIZE:]
    pad_nz = pad.lstrip(b"\x00")
    beyond = image.sigstruct_area[PAGE_SIZE:]
    beyond_nz = beyond.lstrip(b"\x00")
    if beyond_nz:
        return _chk(image, ImageCheck.SIGSTRUCT_PADDING, False,
                    f"the sigstruct area is {len(image.sigstruct_area)} bytes and holds data "
                    "after its first page: no published layout says what a larger sigstruct "
                    "contains, so it cannot be verified; first non-zero byte",
                    sig.offset + PAGE_SIZE + len(beyond) - len(beyond_nz))
    if pad_nz:
        return _chk(image, ImageCheck.SIGSTRUCT_PADDING, Result.WARN,
                    "the sigstruct page's padding after 2048 bytes should be zero; first "
                    "non-zero byte", sig.offset + SIGSTRUCT_SIZE + len(pad) - len(pad_nz))
    return None


def _module_type(s: _Subject) -> Check:
    """``module_type`` bits 30:0 are zero (docs/domain.md#sigstruct)."""
    image, sig = s.image, s.image.sigstruct
    ok = sig.module_type_reserved == 0
    return _chk(image, ImageCheck.MODULE_TYPE, ok,
                f"module_type {sig.module_type:#010x}" + ("" if ok else ": bits 30:0 must be zero"),
                sig.at("module_type"))


def _debug(s: _Subject) -> Check:
    """Rule ``debug`` (docs/domain.md#debug): a debug-signed module (``module_type`` bit 31) is
    refused unless the platform is debug-unlocked; a warning here, decided by the move."""
    image, sig = s.image, s.image.sigstruct
    return _chk(image, ImageCheck.DEBUG, Result.WARN if sig.debug else Result.PASS,
                "debug-signed (module_type bit 31): P-SEAMLDR refuses it unless the platform is "
                "debug-unlocked" if sig.debug else "production-signed (module_type bit 31 clear)",
                sig.at("module_type"), debug=sig.debug)


def _svn_major(s: _Subject) -> Check:
    """P-SEAMLDR: "Prevent loading a TDX module with a major version of 0" (EUNSUPPORTED;
    docs/domain.md#svn)."""
    image, sig = s.image, s.image.sigstruct
    return _chk(image, ImageCheck.SVN_MAJOR, sig.svn.major != 0,
                f"SEAM SVN {sig.svn}"
                + ("" if sig.svn.major else ": major SVN 0 is refused (EUNSUPPORTED)"),
                sig.at("seamsvn"), svn=str(sig.svn))


def _handoff_order(s: _Subject) -> Check:
    """``min_update_hv <= module_hv`` (docs/domain.md#sigstruct-checks)."""
    image, sig = s.image, s.image.sigstruct
    ok = sig.min_update_hv <= sig.module_hv
    return _chk(image, ImageCheck.HANDOFF_ORDER, ok,
                f"min_update_hv {sig.min_update_hv} <= module_hv {sig.module_hv}" if ok
                else f"min_update_hv {sig.min_update_hv} is larger than module_hv {sig.module_hv}",
                sig.at("min_update_hv"), module_hv=sig.module_hv, min_update_hv=sig.min_update_hv)


def _gdt_idt(s: _Subject) -> Check:
    """``gdt_idt_offset`` 4 KiB-aligned; zero iff ``fault_wrapper_offset`` is zero; both inside
    the module (P-SEAMLDR ``check_seam_sigstruct`` and ``verify_manifest``;
    docs/domain.md#sigstruct-checks)."""
    image, sig = s.image, s.image.sigstruct
    g, f = sig.gdt_idt_offset, sig.fault_wrapper_offset
    size = len(image.module)
    facts = {"gdt_idt_offset": g, "fault_wrapper_offset": f}
    code = ImageCheck.GDT_IDT
    if g % PAGE_SIZE:
        return _chk(image, code, False, f"gdt_idt_offset {g:#x} is not 4 KiB-aligned",
                    sig.at("gdt_idt_offset"), **facts)
    if (g == 0) != (f == 0):
        return _chk(image, code, False,
                    f"gdt_idt_offset {g:#x} and fault_wrapper_offset {f:#x}: both must be zero "
                    "or both non-zero",
                    sig.at("gdt_idt_offset" if g else "fault_wrapper_offset"), **facts)
    if g and g > size - PAGE_SIZE:
        return _chk(image, code, False,
                    f"gdt_idt_offset {g:#x} does not fit in the {size:#x}-byte module",
                    sig.at("gdt_idt_offset"), **facts)
    if f and f > size - _EXCEPTION_TABLE_SIZE:
        return _chk(image, code, False,
                    f"fault_wrapper_offset {f:#x} does not fit in the {size:#x}-byte module",
                    sig.at("fault_wrapper_offset"), **facts)
    return _chk(image, code, True, f"gdt_idt_offset {g:#x}, fault_wrapper_offset {f:#x}",
                sig.at("gdt_idt_offset"), **facts)


def _cpuid_table(s: _Subject) -> Check:
    """``cpuid_table_size <= 255``; a production module must list CPUs
    (docs/domain.md#sigstruct-checks)."""
    image, sig = s.image, s.image.sigstruct
    n = sig.cpuid_table_size
    if n > MAX_CPUID_TABLE_SIZE:
        return _chk(image, ImageCheck.CPUID_TABLE, False,
                    f"cpuid_table_size {n} exceeds {MAX_CPUID_TABLE_SIZE}",
                    sig.at("cpuid_table_size"), size=n)
    if n == 0 and not sig.debug:
        return _chk(image, ImageCheck.CPUID_TABLE, False,
                    "a production-signed module must have a non-empty CPUID table",
                    sig.at("cpuid_table_size"), size=0)
    table = [format_cpuid(x) for x in sig.cpuid_table]
    shown = " ".join(table) or "(empty: any CPU)"
    return _chk(image, ImageCheck.CPUID_TABLE, True, f"CPUID table: {shown}", sig.at("cpuid_table"),
                size=n, table=table)


def _signing_key(s: _Subject) -> Check:
    """The SHA-384 of the modulus bytes as stored is Intel's production key hash
    (``intel_key_hash.h``; docs/domain.md#sigstruct-checks), or a hash the caller trusts."""
    image, sig = s.image, s.image.sigstruct
    key_hash = hashlib.sha384(sig.modulus).hexdigest()
    trusted = {h.lower().removeprefix("0x") for h in s.trusted_key_hashes}
    if key_hash in trusted:
        who = ("Intel's production key" if key_hash == INTEL_KEY_HASH
               else "a key trusted by the caller")
        return _chk(image, ImageCheck.SIGNING_KEY, True,
                    f"signed with {who} (modulus SHA-384 {key_hash[:16]}...)",
                    sig.at("modulus"), key_hash=key_hash)
    return _chk(image, ImageCheck.SIGNING_KEY, False,
                f"modulus SHA-384 is {key_hash}, not Intel's production key hash "
                f"{INTEL_KEY_HASH}: P-SEAMLDR refuses the image (EBADSIG)",
                sig.at("modulus"), key_hash=key_hash)


def _signature(s: _Subject) -> Check:
    """The RSA-3072 PKCS#1 v1.5 SHA-384 signature verifies over ``sigstruct[0:128]`` +
    ``sigstruct[900:2048]`` (docs/domain.md#sigstruct-checks; :mod:`tdxpolicy.image.rsa`)."""
    image, sig = s.image, s.image.sigstruct
    ok = rsa_pkcs1v15_sha384_verify(sig.modulus, sig.exponent, sig.signature, sig.signed_bytes)
    return _chk(image, ImageCheck.SIGNATURE, ok,
                "RSA-3072 PKCS#1 v1.5 SHA-384 signature over sigstruct[0:128] + "
                "sigstruct[900:2048] " + ("verifies" if ok else "does NOT verify (EBADSIG)"),
                sig.at("signature"))


def _seamhash(s: _Subject) -> Check:
    """SHA-384 of the module pages equals ``seamhash`` (P-SEAMLDR: EBADHASH;
    docs/domain.md#sigstruct-checks)."""
    image, sig = s.image, s.image.sigstruct
    if not image.module:
        return _chk(image, ImageCheck.SEAMHASH, False,
                    "no module pages to hash: the image has no module", sig.at("seamhash"))
    got = hashlib.sha384(image.module).hexdigest().upper()
    ok = got == sig.seamhash_hex
    return _chk(image, ImageCheck.SEAMHASH, ok,
                f"SHA-384 of the module pages is {got[:16]}...; "
                + ("matches seamhash" if ok else f"seamhash says {sig.seamhash_hex[:16]}... (EBADHASH)"),
                sig.at("seamhash"), module_sha384=got, seamhash=sig.seamhash_hex)


#: Every image check, in the order :func:`verify` lists them: the kernel's (header, format),
#: then P-SEAMLDR's (sigstruct, key, signature, hash). One function per :class:`ImageCheck`.
CHECKS: tuple[tuple[ImageCheck, CheckFn], ...] = (
    (ImageCheck.HEADER_VERSION, _header_version),
    (ImageCheck.HEADER_SIGNATURE, _header_signature),
    (ImageCheck.HEADER_LENGTH, _header_length),
    (ImageCheck.HEADER_CHECKSUM, _header_checksum),
    (ImageCheck.HEADER_RESERVED, _header_reserved),
    (ImageCheck.MODULE_OFFSET, _module_offset),
    (ImageCheck.SIGSTRUCT_PAGES, _sigstruct_pages),
    (ImageCheck.MODULE_PAGES, _module_pages),
    (ImageCheck.KERNEL_FORMAT, _kernel_format),
    (ImageCheck.SIGSTRUCT_HEADER_TYPE, _sigstruct_header_type),
    (ImageCheck.SIGSTRUCT_CONSTANTS, _sigstruct_constants),
    (ImageCheck.SIGSTRUCT_RESERVED, _sigstruct_reserved),
    (ImageCheck.SIGSTRUCT_PADDING, _sigstruct_padding),
    (ImageCheck.MODULE_TYPE, _module_type),
    (ImageCheck.DEBUG, _debug),
    (ImageCheck.SVN_MAJOR, _svn_major),
    (ImageCheck.HANDOFF_ORDER, _handoff_order),
    (ImageCheck.GDT_IDT, _gdt_idt),
    (ImageCheck.CPUID_TABLE, _cpuid_table),
    (ImageCheck.SIGNING_KEY, _signing_key),
    (ImageCheck.SIGNATURE, _signature),
    (ImageCheck.SEAMHASH, _seamhash),
)


def verify(
    image: Image,
    *,
    kernel: Generation | str | None = None,
    trusted_key_hashes: Collection[str] = (INTEL_KEY_HASH,),
    kernels: Sequence[Generation] | None = None,
    seamldr: Version | None = None,
) -> list[Check]:
    """Every check the kernel and P-SEAMLDR make, in that order. ``trusted_key_hashes`` are
    SHA-384 digests (hex) of moduli; only Intel's production key is trusted by default.

    ``kernel`` is the generation the image is meant for (``image verify --kernel``): it decides
    ``kernel-format`` too. ``kernels`` are candidate generations when the caller cannot name
    one (a probed host whose layout several share): they decide the checksum and sigstruct
    page rules, strictest first, but not ``kernel-format``. ``seamldr`` is the running
    P-SEAMLDR, for the sigstruct page rule."""
    k = Generation(kernel) if isinstance(kernel, str) else kernel
    subject = _Subject(
        image=image,
        kernel=k,
        kernels=(k,) if k is not None else tuple(kernels or ()),
        seamldr=seamldr,
        trusted_key_hashes=trusted_key_hashes,
    )
    out: list[Check] = []
    for _, check in CHECKS:
        found = check(subject)
        if found is not None:
            out.append(found)
    return out


def failures(checks: Iterable[Check]) -> list[Check]:
    return [c for c in checks if c.result is Result.FAIL]


def is_valid(checks: Iterable[Check]) -> bool:
    return not failures(checks)


def structural_failures(checks: Iterable[Check]) -> list[Check]:
    """Failures other than trust (signing key), debug and the target kernel generation."""
    return [c for c in failures(checks) if c.code not in NON_STRUCTURAL]
