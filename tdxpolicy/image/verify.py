"""Verify an image offline, exactly as the kernel and P-SEAMLDR would, one check per rule.

Every rule of docs/domain.md#image-formats (and the P-SEAMLDR source it cites,
``intel/tdx-loader:p-seam-loader/src/.../seamldr_install.c``) is one
:class:`~tdxpolicy.verdict.Check` with a stable lower-case hyphenated code; the message names
the byte offset of the field and what was expected, so that an operator can act on it.
Verification is pure: it takes a decoded :class:`~tdxpolicy.image.reader.Image` and returns
data. "Invalid" is a list of failing checks, never an exception.

Why P-SEAMLDR's checks are replayed here: the merged kernel validates only the 0x200 header;
every other check happens after the running module has shut down, and a rejection then kills
every TD (docs/domain.md#parts).

The RSA-3072 signature is verified with plain ``pow()`` and a comparison against the full
expected EMSA-PKCS1-v1_5 encoding (RFC 8017 section 8.2.2, steps 3-4: encode and compare, no
parsing of the decrypted block, so no Bleichenbacher-style leniency). With ``e = 65537`` this
costs well under a millisecond, whereas importing ``cryptography`` costs tens of milliseconds
of start-up; the test-suite uses ``cryptography`` as an independent oracle.
"""

from __future__ import annotations

import array
import hashlib
import hmac
import sys
from enum import Enum
from typing import Any, Collection, Iterable, Sequence

from ..generations import Generation, abi, accepting, loader_accepts_multi_page
from ..model import Location
from ..version import Version
from ..hostfacts import format_cpuid
from ..verdict import Check, Result
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

__all__ = [
    "INTEL_KEY_HASH",
    "Kernel",
    "ImageCheck",
    "NON_STRUCTURAL",
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
    """Image check codes. Stable: add, never rename."""

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

# Sigstruct constants (seam_sigstruct.h; docs/domain.md#image-formats).
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

# DER DigestInfo prefix for SHA-384 (RFC 8017 section 9.2, note 1).
_SHA384_DIGEST_INFO = bytes.fromhex("3041300d060960864801650304020205000430")
_RSA_BYTES = 384


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


def rsa_pkcs1v15_sha384_verify(
    modulus_le: bytes, exponent: int, signature_le: bytes, message: bytes
) -> bool:
    """RSA PKCS#1 v1.5 verification with SHA-384, key and signature stored little-endian."""
    n = int.from_bytes(modulus_le, "little")
    s = int.from_bytes(signature_le, "little")
    if n < 3 or s >= n or exponent < 1:
        return False
    k = max(_RSA_BYTES, (n.bit_length() + 7) // 8)
    em = pow(s, exponent, n).to_bytes(k, "big")
    t = _SHA384_DIGEST_INFO + hashlib.sha384(message).digest()
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(em, expected)


def _loc(image: Image, offset: int | None) -> Location:
    return Location(file=image.path, offset=offset)


def _chk(
    image: Image,
    code: ImageCheck,
    ok: bool | Result,
    message: str,
    offset: int | None = None,
    **facts: Any,
) -> Check:
    if isinstance(ok, Result):
        result = ok
    else:
        result = Result.PASS if ok else Result.FAIL
    if offset is not None:
        message = f"{message} (byte offset {offset:#x})"
    return Check(code.value, result, message, _loc(image, offset), facts)


# --- header checks ----------------------------------------------------------------------------


def _header_version_check(image: Image, version: int, fmt: ImageFormat) -> Check:
    ok = version == fmt
    return _chk(
        image,
        ImageCheck.HEADER_VERSION,
        ok,
        f"header version {version:#06x}"
        + ("" if ok else f", expected {fmt.value:#06x} for a {fmt.name.lower()}"),
        0,
        version=version,
    )


def _header_signature_check(image: Image, signature: bytes, offset: int) -> Check:
    ok = signature == BLOB_SIGNATURE
    return _chk(
        image,
        ImageCheck.HEADER_SIGNATURE,
        ok,
        f"signature {signature!r}" + ("" if ok else f", expected {BLOB_SIGNATURE!r}"),
        offset,
    )


def _checksum_check(image: Image, h: BlobHeader, kernels: Sequence[Generation]) -> Check:
    """The 16-bit word sum of the file is 0. Only v1-v3 (and, not knowing better, Intel's older
    interface) verify it; v4 dropped the check ("Remove checksum verification as it is
    optional"). A mismatch fails unless every candidate kernel is known to ignore it."""
    total = word_sum(image.data)
    facts = {"checksum": h.checksum, "word_sum": total}
    head = f"16-bit word sum of the file is {total:#06x} with checksum field {h.checksum:#06x}"
    if total == 0:
        return _chk(image, ImageCheck.HEADER_CHECKSUM, True, head, 2, **facts)
    checking = [g for g in kernels if abi(g).checksum_verified]
    if kernels and not checking:
        return _chk(image, ImageCheck.HEADER_CHECKSUM, Result.WARN,
                    f"{head}; the {', '.join(g.value for g in kernels)} kernel does not verify "
                    "the checksum (the signature and seamhash checks still cover the content)",
                    2, **facts)
    who = ", ".join(g.value for g in checking) if checking else "v1-v3 kernels"
    return _chk(image, ImageCheck.HEADER_CHECKSUM, False,
                f"{head}; expected the sum to be 0 mod 2^16 ({who} refuse it)", 2, **facts)


def _multi_page_check(image: Image, n: int, kernels: Sequence[Generation],
                      seamldr: Version | None) -> Check:
    """A 0x100 sigstruct of more than one page (docs/kernel-generations.md): v1-v3 pass one
    page; v4-v8 pass up to 4 (more are silently clamped), v5-v8 with loader parameter
    version 1, which P-SEAMLDR 1.5 refuses with EBADPARAM after the running module has shut
    down. No source says any P-SEAMLDR accepts it, so it is refused unless one does."""
    pool = [g for g in kernels if "0x100" in abi(g).formats] or list(accepting("0x100"))

    def names(gens: list[Generation]) -> str:
        return ", ".join(g.value for g in gens)

    one_page = [g for g in pool if abi(g).multi_page_params_version is None]
    clamped = [g for g in pool if abi(g).multi_page_params_version is not None
               and n > abi(g).max_sigstruct_pages]
    whole = [g for g in pool if g not in one_page and g not in clamped]
    reasons: list[str] = []
    if one_page:
        reasons.append(f"{names(one_page)} pass only the first page to P-SEAMLDR")
    if clamped:
        most = min(abi(g).max_sigstruct_pages for g in clamped)
        reasons.append(f"{names(clamped)} silently pass only the first {most} of the {n} pages")
    accepts = loader_accepts_multi_page(seamldr)
    if (whole or clamped) and accepts is not True:
        who = names(whole + clamped)
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
                f"{n} sigstruct pages: passed whole by {', '.join(g.value for g in pool)} and "
                f"accepted by P-SEAMLDR {seamldr}", HEADER_SIZE, **facts)


def _blob_header_checks(image: Image, h: BlobHeader, kernels: Sequence[Generation] = (),
                        seamldr: Version | None = None) -> list[Check]:
    """0x100 ``tdx_blob`` (intel/blob_structure.txt; docs/domain.md#image-formats)."""
    out = [
        _header_version_check(image, h.version, ImageFormat.TDX_BLOB),
        _header_signature_check(image, h.signature, 8),
    ]
    out.append(
        _chk(
            image,
            ImageCheck.HEADER_LENGTH,
            h.length == image.size,
            f"length field {h.length} bytes, file {image.size} bytes"
            + ("" if h.length == image.size else ": the length must equal the file size"),
            16,
            length=h.length,
            file_size=image.size,
        )
    )
    out.append(_checksum_check(image, h, kernels))
    bad = 20 if h.reserved0 else h.reserved1_first_nonzero
    out.append(
        _chk(
            image,
            ImageCheck.HEADER_RESERVED,
            bad is None,
            "reserved0 and reserved1 are zero"
            if bad is None
            else "reserved header bytes must be zero; first non-zero byte",
            20 if bad is None else bad,
        )
    )
    off = h.offset_of_module
    n = h.sigstruct_pages
    offset_ok = n is not None and n >= 1 and off <= image.size
    if offset_ok:
        msg = f"offset_of_module {off:#x} = 4096 + {n} x 4096"
    else:
        msg = (
            f"offset_of_module {off:#x} must be 4096 + N x 4096 with N >= 1, page-aligned "
            f"and inside the file ({image.size:#x} bytes)"
        )
    out.append(_chk(image, ImageCheck.MODULE_OFFSET, offset_ok, msg, 4, offset_of_module=off))
    if not offset_ok:
        out.append(
            _chk(
                image,
                ImageCheck.SIGSTRUCT_PAGES,
                False,
                "sigstruct pages cannot be located: offset_of_module is invalid",
                4,
            )
        )
    elif n == 1:
        out.append(
            _chk(image, ImageCheck.SIGSTRUCT_PAGES, True, "1 sigstruct page", HEADER_SIZE, pages=1)
        )
    else:
        assert n is not None
        out.append(_multi_page_check(image, n, kernels, seamldr))
    out.append(_module_pages_check(image, image.size - off if offset_ok else None, off if offset_ok else 4))
    return out


def _module_pages_check(image: Image, module_len: int | None, offset: int) -> Check:
    """Module pages: non-empty, whole pages, at most 496 (kernel SEAMLDR_MAX_NR_MODULE_PAGES,
    P-SEAMLDR SEAMLDR_PARAMS_MIN/MAX_MODULE_PAGES); zero pages is refused by P-SEAMLDR after
    shutdown, so it is refused here (docs/domain.md#image-formats)."""
    if module_len is None:
        return _chk(image, ImageCheck.MODULE_PAGES, False, "module pages cannot be located", offset)
    pages, rest = divmod(module_len, PAGE_SIZE)
    if rest:
        return _chk(
            image,
            ImageCheck.MODULE_PAGES,
            False,
            f"module is {module_len} bytes, not a whole number of 4096-byte pages",
            offset,
            module_bytes=module_len,
        )
    ok = 1 <= pages <= MAX_MODULE_PAGES
    return _chk(
        image,
        ImageCheck.MODULE_PAGES,
        ok,
        f"{pages} module pages" + ("" if ok else f"; expected 1 to {MAX_MODULE_PAGES}"),
        offset,
        pages=pages,
    )


def _image_header_checks(image: Image, h: TdxImageHeader) -> list[Check]:
    """0x200 ``tdx_image`` (merged kernel seamldr.c; docs/domain.md#image-formats). The checksum is
    not checked by the kernel, so no check is made of it."""
    out = [
        _header_version_check(image, h.version, ImageFormat.TDX_IMAGE),
        _header_signature_check(image, h.signature, 4),
    ]
    declared = PAGE_SIZE * (1 + h.sigstruct_nr_pages + h.module_nr_pages)
    out.append(
        _chk(
            image,
            ImageCheck.HEADER_LENGTH,
            declared == image.size,
            f"4096 x (1 + {h.sigstruct_nr_pages} + {h.module_nr_pages}) = {declared} bytes, "
            f"file {image.size} bytes"
            + ("" if declared == image.size else ": the kernel requires them to be equal"),
            12,
            declared=declared,
            file_size=image.size,
        )
    )
    bad = h.reserved_first_nonzero
    out.append(
        _chk(
            image,
            ImageCheck.HEADER_RESERVED,
            bad is None,
            "reserved bytes are zero" if bad is None else "reserved header bytes must be zero; "
            "first non-zero byte",
            20 if bad is None else bad,
        )
    )
    sp = h.sigstruct_nr_pages
    if sp == 1:
        out.append(_chk(image, ImageCheck.SIGSTRUCT_PAGES, True, "1 sigstruct page", 12, pages=1))
    elif sp == 0:
        out.append(
            _chk(
                image,
                ImageCheck.SIGSTRUCT_PAGES,
                False,
                "0 sigstruct pages: the kernel accepts it but P-SEAMLDR refuses it after the "
                "running module has shut down (every TD lost)",
                12,
                pages=0,
            )
        )
    else:
        out.append(
            _chk(
                image,
                ImageCheck.SIGSTRUCT_PAGES,
                False,
                f"{sp} sigstruct pages; the kernel accepts at most 1",
                12,
                pages=sp,
            )
        )
    if h.module_nr_pages == 0:
        out.append(
            _chk(
                image,
                ImageCheck.MODULE_PAGES,
                False,
                "0 module pages: the kernel accepts it but P-SEAMLDR refuses it after the "
                "running module has shut down (every TD lost)",
                16,
                pages=0,
            )
        )
    else:
        ok = h.module_nr_pages <= MAX_MODULE_PAGES
        out.append(
            _chk(
                image,
                ImageCheck.MODULE_PAGES,
                ok,
                f"{h.module_nr_pages} module pages"
                + ("" if ok else f"; the kernel accepts at most {MAX_MODULE_PAGES}"),
                16,
                pages=h.module_nr_pages,
            )
        )
    return out


def _kernel_check(image: Image, kernel: Generation | None) -> Check:
    """Which kernel generations accept the header (docs/kernel-generations.md; docs/cli.md
    "Images"): without ``kernel`` the acceptance is reported but does not fail."""
    fmt = image.format
    if fmt is None:
        return _chk(
            image,
            ImageCheck.KERNEL_FORMAT,
            Result.WARN,
            "a bare sigstruct + module pair cannot be uploaded; join it into an image with "
            "'tdxpolicy image join'",
        )
    takers = accepting(fmt.label)
    names = ", ".join(g.value for g in takers)
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
    ok = kernel in takers
    return _chk(
        image,
        ImageCheck.KERNEL_FORMAT,
        ok,
        f"{what} (kernel: {kernel.value})",
        0,
        kernel=kernel.value,
        **facts,
    )


# --- sigstruct checks -------------------------------------------------------------------------


def _sigstruct_checks(
    image: Image, trusted_key_hashes: Collection[str]
) -> list[Check]:
    """P-SEAMLDR ``check_seam_sigstruct`` and ``verify_manifest`` (docs/domain.md#sigstruct-checks).
    All
    are EBADSIG unless noted."""
    s = image.sigstruct
    out: list[Check] = []

    # header_type / header_length / header_version
    bad_head = [
        (name, value, want)
        for name, value, want in (
            ("header_type", s.header_type, _HEADER_TYPE),
            ("header_length", s.header_length, _HEADER_LENGTH),
            ("header_version", s.header_version, _HEADER_VERSION),
        )
        if value != want
    ]
    if bad_head:
        name, value, want = bad_head[0]
        out.append(
            _chk(
                image,
                ImageCheck.SIGSTRUCT_HEADER_TYPE,
                False,
                "; ".join(f"sigstruct {n} is {v:#x}, expected {w:#x}" for n, v, w in bad_head),
                s.at(name),
            )
        )
    else:
        out.append(
            _chk(
                image,
                ImageCheck.SIGSTRUCT_HEADER_TYPE,
                True,
                "header type 6, length 0xe1, version 0x10000",
                s.at("header_type"),
            )
        )

    constants = (
        ("module_vendor", s.module_vendor, _MODULE_VENDOR),
        ("size", s.size, _SIZE_DWORDS),
        ("key_size", s.key_size, _KEY_SIZE_DWORDS),
        ("modulus_size", s.modulus_size, _MODULUS_SIZE_DWORDS),
        ("exponent_size", s.exponent_size, _EXPONENT_SIZE_DWORDS),
        ("exponent", s.exponent, _RSA_EXPONENT),
        ("attributes", s.attributes, 0),
    )
    bad_const = [(n, v, w) for n, v, w in constants if v != w]
    if bad_const:
        out.append(
            _chk(
                image,
                ImageCheck.SIGSTRUCT_CONSTANTS,
                False,
                "; ".join(f"sigstruct {n} is {v:#x}, expected {w:#x}" for n, v, w in bad_const),
                s.at(bad_const[0][0]),
            )
        )
    else:
        out.append(
            _chk(
                image,
                ImageCheck.SIGSTRUCT_CONSTANTS,
                True,
                "vendor 0x8086, size 0x200, key/modulus 0x60, exponent 0x10001, attributes 0",
                s.at("module_vendor"),
            )
        )

    # Reserved fields zero. reserved3[0:8] carries the module version in published 2.0.x
    # sigstructs (see reader.MODULE_VERSION_FIELD), so only reserved3[8:24] is required zero.
    reserved = (
        ("reserved0", s.reserved0, s.at("reserved0")),
        ("reserved1", s.reserved1, s.at("reserved1")),
        ("reserved2", bytes([s.reserved2]), s.at("reserved2")),
        ("reserved3[8:24]", s.reserved3[8:], s.at("reserved3") + 8),
    )
    bad_res = []
    for name, buf, at in reserved:
        stripped = buf.lstrip(b"\x00")
        if stripped:
            bad_res.append((name, at + len(buf) - len(stripped)))
    mv0 = s.module_version
    if mv0 is not None and mv0[0] < 2:
        # Only 2.x sigstructs carry a version there, and only 2.x P-SEAMLDRs load them (their
        # min_seamldr_versions); a 1.x module may be loaded by a 1.5 P-SEAMLDR, which requires
        # all of reserved3 to be zero (tdx-loader-1.5.02 seam_sigstruct checks) [D].
        raw3 = s.reserved3[0:8]
        pos = len([b for b in bad_res if not b[0].startswith("reserved3")])
        bad_res.insert(pos, (f"reserved3[0:8] (decodes as {mv0[0]}.{mv0[1]}.{mv0[2]:02d}, but "
                           "only 2.x sigstructs carry a version there)",
                           s.at("reserved3") + len(raw3) - len(raw3.lstrip(b"\x00"))))
    if bad_res:
        out.append(
            _chk(
                image,
                ImageCheck.SIGSTRUCT_RESERVED,
                False,
                f"sigstruct {bad_res[0][0]} must be zero; first non-zero byte",
                bad_res[0][1],
            )
        )
    else:
        mv = s.module_version
        extra = "" if mv is None else f" (reserved3[0:8] carries module version {mv[0]}.{mv[1]}.{mv[2]:02d})"
        out.append(
            _chk(
                image,
                ImageCheck.SIGSTRUCT_RESERVED,
                True,
                "reserved fields are zero" + extra,
                s.at("reserved0"),
            )
        )

    # Sigstruct pages beyond the 2048 bytes are zero padding (blob_structure.txt). In one page
    # the loader reads only 2048 bytes, so non-zero padding there is suspicious but not fatal.
    # Beyond the first page the bytes belong to what a multi-page loader would read as part of
    # a larger sigstruct whose layout is not published: they cannot be verified, so they fail.
    pad = image.sigstruct_area[SIGSTRUCT_SIZE:]
    pad_nz = pad.lstrip(b"\x00")
    beyond = image.sigstruct_area[PAGE_SIZE:]
    beyond_nz = beyond.lstrip(b"\x00")
    if beyond_nz:
        at = s.offset + PAGE_SIZE + len(beyond) - len(beyond_nz)
        out.append(
            _chk(
                image,
                ImageCheck.SIGSTRUCT_PADDING,
                False,
                f"the sigstruct area is {len(image.sigstruct_area)} bytes and holds data after "
                "its first page: no published layout says what a larger sigstruct contains, so "
                "it cannot be verified; first non-zero byte",
                at,
            )
        )
    elif pad_nz:
        at = s.offset + SIGSTRUCT_SIZE + len(pad) - len(pad_nz)
        out.append(
            _chk(
                image,
                ImageCheck.SIGSTRUCT_PADDING,
                Result.WARN,
                "the sigstruct page's padding after 2048 bytes should be zero; first non-zero byte",
                at,
            )
        )

    out.append(
        _chk(
            image,
            ImageCheck.MODULE_TYPE,
            s.module_type_reserved == 0,
            f"module_type {s.module_type:#010x}"
            + ("" if s.module_type_reserved == 0 else ": bits 30:0 must be zero"),
            s.at("module_type"),
        )
    )
    # Rule `debug` (docs/domain.md#debug): refused unless the platform is debug-unlocked.
    out.append(
        _chk(
            image,
            ImageCheck.DEBUG,
            Result.WARN if s.debug else Result.PASS,
            "debug-signed (module_type bit 31): P-SEAMLDR refuses it unless the platform is "
            "debug-unlocked"
            if s.debug
            else "production-signed (module_type bit 31 clear)",
            s.at("module_type"),
            debug=s.debug,
        )
    )
    # P-SEAMLDR: "Prevent loading a TDX module with a major version of 0" (EUNSUPPORTED).
    out.append(
        _chk(
            image,
            ImageCheck.SVN_MAJOR,
            s.svn.major != 0,
            f"SEAM SVN {s.svn}" + ("" if s.svn.major else ": major SVN 0 is refused (EUNSUPPORTED)"),
            s.at("seamsvn"),
            svn=str(s.svn),
        )
    )
    out.append(
        _chk(
            image,
            ImageCheck.HANDOFF_ORDER,
            s.min_update_hv <= s.module_hv,
            f"min_update_hv {s.min_update_hv} <= module_hv {s.module_hv}"
            if s.min_update_hv <= s.module_hv
            else f"min_update_hv {s.min_update_hv} is larger than module_hv {s.module_hv}",
            s.at("min_update_hv"),
            module_hv=s.module_hv,
            min_update_hv=s.min_update_hv,
        )
    )
    out.append(_gdt_idt_check(image))
    out.append(_cpuid_check(image))

    # Signing key: SHA-384 of the modulus bytes as stored.
    key_hash = hashlib.sha384(s.modulus).hexdigest()
    trusted = {h.lower().removeprefix("0x") for h in trusted_key_hashes}
    if key_hash in trusted:
        who = "Intel's production key" if key_hash == INTEL_KEY_HASH else "a key trusted by the caller"
        out.append(
            _chk(
                image,
                ImageCheck.SIGNING_KEY,
                True,
                f"signed with {who} (modulus SHA-384 {key_hash[:16]}...)",
                s.at("modulus"),
                key_hash=key_hash,
            )
        )
    else:
        out.append(
            _chk(
                image,
                ImageCheck.SIGNING_KEY,
                False,
                f"modulus SHA-384 is {key_hash}, not Intel's production key hash "
                f"{INTEL_KEY_HASH}: P-SEAMLDR refuses the image (EBADSIG)",
                s.at("modulus"),
                key_hash=key_hash,
            )
        )

    sig_ok = rsa_pkcs1v15_sha384_verify(s.modulus, s.exponent, s.signature, s.signed_bytes)
    out.append(
        _chk(
            image,
            ImageCheck.SIGNATURE,
            sig_ok,
            "RSA-3072 PKCS#1 v1.5 SHA-384 signature over sigstruct[0:128] + sigstruct[900:2048] "
            + ("verifies" if sig_ok else "does NOT verify (EBADSIG)"),
            s.at("signature"),
        )
    )
    out.append(_seamhash_check(image))
    return out


def _gdt_idt_check(image: Image) -> Check:
    """``gdt_idt_offset`` 4 KiB-aligned; zero iff ``fault_wrapper_offset`` is zero; both inside
    the module (P-SEAMLDR ``check_seam_sigstruct`` and ``verify_manifest``)."""
    s = image.sigstruct
    g, f = s.gdt_idt_offset, s.fault_wrapper_offset
    size = len(image.module)
    facts = {"gdt_idt_offset": g, "fault_wrapper_offset": f}
    if g % PAGE_SIZE:
        return _chk(image, ImageCheck.GDT_IDT, False, f"gdt_idt_offset {g:#x} is not 4 KiB-aligned",
                    s.at("gdt_idt_offset"), **facts)
    if (g == 0) != (f == 0):
        return _chk(
            image,
            ImageCheck.GDT_IDT,
            False,
            f"gdt_idt_offset {g:#x} and fault_wrapper_offset {f:#x}: both must be zero or both "
            f"non-zero",
            s.at("gdt_idt_offset" if g else "fault_wrapper_offset"),
            **facts,
        )
    if g and g > size - PAGE_SIZE:
        return _chk(image, ImageCheck.GDT_IDT, False,
                    f"gdt_idt_offset {g:#x} does not fit in the {size:#x}-byte module",
                    s.at("gdt_idt_offset"), **facts)
    if f and f > size - _EXCEPTION_TABLE_SIZE:
        return _chk(image, ImageCheck.GDT_IDT, False,
                    f"fault_wrapper_offset {f:#x} does not fit in the {size:#x}-byte module",
                    s.at("fault_wrapper_offset"), **facts)
    return _chk(image, ImageCheck.GDT_IDT, True,
                f"gdt_idt_offset {g:#x}, fault_wrapper_offset {f:#x}", s.at("gdt_idt_offset"), **facts)


def _cpuid_check(image: Image) -> Check:
    """``cpuid_table_size <= 255``; a production module must list CPUs
    (docs/domain.md#sigstruct-checks)."""
    s = image.sigstruct
    n = s.cpuid_table_size
    if n > MAX_CPUID_TABLE_SIZE:
        return _chk(image, ImageCheck.CPUID_TABLE, False,
                    f"cpuid_table_size {n} exceeds {MAX_CPUID_TABLE_SIZE}", s.at("cpuid_table_size"),
                    size=n)
    if n == 0 and not s.debug:
        return _chk(image, ImageCheck.CPUID_TABLE, False,
                    "a production-signed module must have a non-empty CPUID table",
                    s.at("cpuid_table_size"), size=0)
    table = [format_cpuid(x) for x in s.cpuid_table]
    shown = " ".join(table) or "(empty: any CPU)"
    return _chk(image, ImageCheck.CPUID_TABLE, True, f"CPUID table: {shown}", s.at("cpuid_table"),
                size=n, table=table)


def _seamhash_check(image: Image) -> Check:
    """SHA-384 of the module pages equals ``seamhash`` (P-SEAMLDR: EBADHASH)."""
    s = image.sigstruct
    if not image.module:
        return _chk(image, ImageCheck.SEAMHASH, False,
                    "no module pages to hash: the image has no module", s.at("seamhash"))
    got = hashlib.sha384(image.module).hexdigest().upper()
    ok = got == s.seamhash_hex
    return _chk(
        image,
        ImageCheck.SEAMHASH,
        ok,
        f"SHA-384 of the module pages is {got[:16]}...; "
        + ("matches seamhash" if ok else f"seamhash says {s.seamhash_hex[:16]}... (EBADHASH)"),
        s.at("seamhash"),
        module_sha384=got,
        seamhash=s.seamhash_hex,
    )


def _pair_checks(image: Image) -> list[Check]:
    """A bare pair has no header: the sigstruct file must be one page at most (it becomes the
    image's single sigstruct page), the module whole pages."""
    out: list[Check] = []
    n = len(image.sigstruct_area)
    ok = SIGSTRUCT_SIZE <= n <= PAGE_SIZE
    out.append(
        _chk(image, ImageCheck.SIGSTRUCT_PAGES, ok,
             f"sigstruct file is {n} bytes" + ("" if ok else "; expected 2048 to 4096 bytes"),
             0, sigstruct_bytes=n)
    )
    out.append(_module_pages_check(image, len(image.module), 0))
    return out


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
    pool: tuple[Generation, ...] = (k,) if k is not None else tuple(kernels or ())
    out: list[Check] = []
    h = image.header
    if isinstance(h, BlobHeader):
        out.extend(_blob_header_checks(image, h, pool, seamldr))
    elif isinstance(h, TdxImageHeader):
        out.extend(_image_header_checks(image, h))
    else:
        out.extend(_pair_checks(image))
    out.append(_kernel_check(image, k))
    out.extend(_sigstruct_checks(image, trusted_key_hashes))
    return out


def failures(checks: Iterable[Check]) -> list[Check]:
    return [c for c in checks if c.result is Result.FAIL]


def is_valid(checks: Iterable[Check]) -> bool:
    return not failures(checks)


def structural_failures(checks: Iterable[Check]) -> list[Check]:
    """Failures other than trust (signing key), debug and the target kernel generation."""
    return [c for c in failures(checks) if c.code not in NON_STRUCTURAL]
