"""Read TDX module images: 0x100 ``tdx_blob``, 0x200 ``tdx_image`` and bare sigstruct + module.

Modelled on pypa/packaging ``_elffile.py``: explicit little-endian :mod:`struct` formats,
IntEnums for closed sets, and no field read without a bounds check. Every short read becomes an
:class:`~tdxpolicy.errors.InputError` located at the byte offset where the field was expected,
never a ``struct.error`` or ``IndexError``.

The reader is deliberately *lenient about values* and *strict about bounds*: a header whose
version, signature, page counts, lengths or reserved bytes are wrong is still decoded, so that
:mod:`tdxpolicy.image.verify` can report exactly which rule it breaks (each with its own check
code). Only a file whose structure cannot be located at all (too short for the header and a
sigstruct, neither header layout recognisable, too large) is refused here.

Layouts: docs/domain.md#image-formats and ``intel/blob_structure.txt``; sigstruct field offsets from
``intel/tdx-loader:p-seam-loader/include/seam_sigstruct.h``.
"""

from __future__ import annotations

import datetime as _dt
import os
import stat
import struct
from enum import IntEnum
from pathlib import Path
from typing import Any, Union

from .._value import field, value
from ..errors import InputError
from ..model import Handoff, Location, Svn

__all__ = [
    "PAGE_SIZE",
    "SIGSTRUCT_SIZE",
    "HEADER_SIZE",
    "MAX_IMAGE_BYTES",
    "MAX_MODULE_PAGES",
    "MAX_CPUID_TABLE_SIZE",
    "BLOB_SIGNATURE",
    "ImageFormat",
    "BlobHeader",
    "TdxImageHeader",
    "Header",
    "Sigstruct",
    "Image",
    "SIGSTRUCT_FIELDS",
    "BLOB_HEADER_FIELDS",
    "IMAGE_HEADER_FIELDS",
    "read_image",
    "read_sigstruct",
    "read_pair",
    "read_file_limited",
    "load_image",
    "load_pair",
    "decode_bcd_date",
]

PAGE_SIZE = 4096
HEADER_SIZE = 4096
SIGSTRUCT_SIZE = 2048
# A real image is well under 1 MiB (496 module pages at most, docs/domain.md#image-formats);
# anything
# this big is not an image and is refused before it is read whole.
MAX_IMAGE_BYTES = 64 * 1024 * 1024
MAX_MODULE_PAGES = 496  # kernel SEAMLDR_MAX_NR_MODULE_PAGES, P-SEAMLDR ..._MAX_MODULE_PAGES_V0
MAX_CPUID_TABLE_SIZE = 255  # SEAM_SIGSTRUCT_MAX_CPUID_TABLE_SIZE
BLOB_SIGNATURE = b"TDX-BLOB"


class ImageFormat(IntEnum):
    """The header ``version`` word (docs/domain.md#image-formats)."""

    TDX_BLOB = 0x100  # what Intel publishes; kernels v1-v8 (docs/kernel-generations.md)
    TDX_IMAGE = 0x200  # the only format the merged kernel accepts

    @property
    def label(self) -> str:
        return f"{self.value:#05x}"


# --- struct formats (all little-endian, explicit) ---------------------------------------------

# 0x100: u16 version; u16 checksum; u32 offset_of_module; u8 signature[8]; u32 length;
#        u32 reserved0; u64 reserved1[509]  -> 24 + 4072 = 4096 bytes
_BLOB_HEAD = struct.Struct("<HHI8sII")
# 0x200: u16 version; u16 checksum; u8 signature[8]; u32 sigstruct_nr_pages;
#        u32 module_nr_pages; u8 reserved[4076] -> 20 + 4076 = 4096 bytes
_IMAGE_HEAD = struct.Struct("<HH8sII")
_U16 = struct.Struct("<H")

# Sigstruct: header part (offsets 0..40), then key material, then the body from 948 to 1028.
_SIG_HEAD = struct.Struct("<10I")
_SIG_BODY = struct.Struct("<HQIBBHHHHHHH6sHHBBHII24sI")
_U32 = struct.Struct("<I")
assert _BLOB_HEAD.size == 24 and _IMAGE_HEAD.size == 20
assert _SIG_HEAD.size == 40 and 948 + _SIG_BODY.size == 1028

# name -> (offset, size) inside the 2048-byte sigstruct (seam_sigstruct.h; docs/domain.md#sigstruct)
SIGSTRUCT_FIELDS: dict[str, tuple[int, int]] = {
    "header_type": (0, 4),
    "header_length": (4, 4),
    "header_version": (8, 4),
    "module_type": (12, 4),
    "module_vendor": (16, 4),
    "date": (20, 4),
    "size": (24, 4),
    "key_size": (28, 4),
    "modulus_size": (32, 4),
    "exponent_size": (36, 4),
    "reserved0": (40, 88),
    "modulus": (128, 384),
    "exponent": (512, 4),
    "signature": (516, 384),
    "seamhash": (900, 48),
    "seamsvn": (948, 2),
    "attributes": (950, 8),
    "rip_offset": (958, 4),
    "num_stack_pages": (962, 1),
    "num_tls_pages": (963, 1),
    "num_keyhole_pages": (964, 2),
    "num_global_data_pages": (966, 2),
    "max_tdmrs": (968, 2),
    "max_rsvd_per_tdmr": (970, 2),
    "pamt_entry_size_4k": (972, 2),
    "pamt_entry_size_2m": (974, 2),
    "pamt_entry_size_1g": (976, 2),
    "reserved1": (978, 6),
    "module_hv": (984, 2),
    "min_update_hv": (986, 2),
    "no_downgrade": (988, 1),
    "reserved2": (989, 1),
    "num_handoff_pages": (990, 2),
    "gdt_idt_offset": (992, 4),
    "fault_wrapper_offset": (996, 4),
    "reserved3": (1000, 24),
    "cpuid_table_size": (1024, 4),
    "cpuid_table": (1028, 1020),
}

BLOB_HEADER_FIELDS: dict[str, tuple[int, int]] = {
    "version": (0, 2),
    "checksum": (2, 2),
    "offset_of_module": (4, 4),
    "signature": (8, 8),
    "length": (16, 4),
    "reserved0": (20, 4),
    "reserved1": (24, 4072),
}

IMAGE_HEADER_FIELDS: dict[str, tuple[int, int]] = {
    "version": (0, 2),
    "checksum": (2, 2),
    "signature": (4, 8),
    "sigstruct_nr_pages": (12, 4),
    "module_nr_pages": (16, 4),
    "reserved": (20, 4076),
}

# The first 8 bytes of reserved3: zero in every published 1.5.x sigstruct, but the published
# 2.0.x sigstructs carry the module's own version there (u16 update, u8 minor, u8 major,
# u16 build number, u16 a further build word), e.g. 2.0.08 -> 08 00 | 00 | 02 | 0x0372 | 0.
# Those images load on 2.0 P-SEAMLDRs, so newer loaders cannot require these bytes to be zero.
# [D] read from the published images; the field names are ours [I].
MODULE_VERSION_FIELD = (1000, 8)
_MODULE_VERSION = struct.Struct("<HBBHH")


def _where(path: str, offset: int) -> Location:
    return Location(file=path, offset=offset)


def _unpack(
    fmt: struct.Struct, data: bytes, offset: int, path: str, what: str, base: int = 0
) -> tuple[Any, ...]:
    """Bounds-checked ``unpack_from``; ``base`` is added to offsets shown to the user."""
    end = offset + fmt.size
    if offset < 0 or end > len(data):
        raise InputError.at(
            f"expected {what} ({fmt.size} bytes) at byte offset {base + offset:#x}, "
            f"but the data ends at byte offset {base + len(data):#x}",
            _where(path, base + offset),
            code="truncated-image",
        )
    try:
        return fmt.unpack_from(data, offset)
    except struct.error as e:  # pragma: no cover - guarded by the bounds check above
        raise InputError.at(f"cannot decode {what}: {e}", _where(path, base + offset)) from None


def decode_bcd_date(raw: int) -> _dt.date | None:
    """``yyyymmdd`` packed BCD (0x20250325 -> 2025-03-25); ``None`` when not a valid date."""
    digits = f"{raw:08x}"
    if not digits.isdigit():
        return None
    try:
        return _dt.date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def _first_nonzero(buf: bytes) -> int | None:
    """Index of the first non-zero byte, or ``None`` (fast path: ``bytes.strip``)."""
    stripped = buf.lstrip(b"\x00")
    if not stripped:
        return None
    return len(buf) - len(stripped)


# --- headers ----------------------------------------------------------------------------------


@value
class BlobHeader:
    """0x100 ``tdx_blob`` header (``intel/blob_structure.txt``)."""

    version: int
    checksum: int
    offset_of_module: int
    signature: bytes
    length: int
    reserved0: int
    reserved1_first_nonzero: int | None  # absolute byte offset of the first non-zero byte

    @property
    def sigstruct_pages(self) -> int | None:
        """N from ``offset_of_module = 4096 + N*4096``, when the offset is page-aligned."""
        if self.offset_of_module < HEADER_SIZE or self.offset_of_module % PAGE_SIZE:
            return None
        return (self.offset_of_module - HEADER_SIZE) // PAGE_SIZE


@value
class TdxImageHeader:
    """0x200 ``tdx_image`` header (docs/domain.md#image-formats)."""

    version: int
    checksum: int
    signature: bytes
    sigstruct_nr_pages: int
    module_nr_pages: int
    reserved_first_nonzero: int | None  # absolute byte offset of the first non-zero byte


Header = Union[BlobHeader, TdxImageHeader]


# --- sigstruct --------------------------------------------------------------------------------


@value
class Sigstruct:
    """Every field of the 2048-byte SEAM sigstruct, decoded; ``raw`` keeps the bytes.

    ``offset`` is where the sigstruct starts in its file, so that checks can report absolute
    byte offsets (``offset + SIGSTRUCT_FIELDS[name][0]``).
    """

    offset: int
    header_type: int
    header_length: int
    header_version: int
    module_type: int
    module_vendor: int
    date_raw: int
    size: int
    key_size: int
    modulus_size: int
    exponent_size: int
    reserved0: bytes
    modulus: bytes  # 384 bytes, stored little-endian
    exponent: int
    signature: bytes  # 384 bytes, stored little-endian
    seamhash: bytes  # 48 bytes
    seamsvn_raw: int
    attributes: int
    rip_offset: int
    num_stack_pages: int
    num_tls_pages: int
    num_keyhole_pages: int
    num_global_data_pages: int
    max_tdmrs: int
    max_rsvd_per_tdmr: int
    pamt_entry_size_4k: int
    pamt_entry_size_2m: int
    pamt_entry_size_1g: int
    reserved1: bytes
    module_hv: int
    min_update_hv: int
    no_downgrade_raw: int
    reserved2: int
    num_handoff_pages: int
    gdt_idt_offset: int
    fault_wrapper_offset: int
    reserved3: bytes
    cpuid_table_size: int
    cpuid_table_raw: tuple[int, ...]  # all 255 slots
    raw: bytes = field(repr=False)

    # -- decoded views --
    @property
    def debug(self) -> bool:
        """``module_type`` bit 31: debug-signed (docs/domain.md#debug)."""
        return bool(self.module_type >> 31)

    @property
    def module_type_reserved(self) -> int:
        return self.module_type & 0x7FFF_FFFF

    @property
    def date(self) -> _dt.date | None:
        return decode_bcd_date(self.date_raw)

    @property
    def svn(self) -> Svn:
        return Svn.from_u16(self.seamsvn_raw)

    @property
    def no_downgrade(self) -> bool:
        return self.no_downgrade_raw != 0

    @property
    def handoff(self) -> Handoff:
        return Handoff(self.module_hv, self.min_update_hv, self.no_downgrade)

    @property
    def cpuid_table(self) -> tuple[int, ...]:
        """The used entries (``cpuid_table_size`` of them, at most 255)."""
        return self.cpuid_table_raw[: min(self.cpuid_table_size, MAX_CPUID_TABLE_SIZE)]

    @property
    def seamhash_hex(self) -> str:
        """Upper-case hex, no ``0x``: the spelling of Intel's MRSEAM table."""
        return self.seamhash.hex().upper()

    @property
    def signed_bytes(self) -> bytes:
        """What the signature covers: ``sigstruct[0:128] + sigstruct[900:2048]``."""
        return self.raw[0:128] + self.raw[900:SIGSTRUCT_SIZE]

    @property
    def module_version(self) -> tuple[int, int, int, int, int] | None:
        """(major, minor, update, build, build2) from reserved3[0:8] when present (2.0.x)."""
        if not any(self.reserved3[0:8]):
            return None
        update, minor, major, build, build2 = _MODULE_VERSION.unpack_from(self.reserved3, 0)
        return (major, minor, update, build, build2)

    def at(self, name: str) -> int:
        """Absolute byte offset of a field."""
        return self.offset + SIGSTRUCT_FIELDS[name][0]


def read_sigstruct(raw: bytes, path: str, base: int = 0) -> Sigstruct:
    """Decode a sigstruct from ``raw`` (its first 2048 bytes); ``base`` is its file offset."""
    if len(raw) < SIGSTRUCT_SIZE:
        raise InputError.at(
            f"expected a {SIGSTRUCT_SIZE}-byte SEAM sigstruct at byte offset {base:#x}, "
            f"but only {len(raw)} bytes are there",
            _where(path, base + len(raw)),
            code="truncated-image",
        )
    raw = bytes(raw[:SIGSTRUCT_SIZE])
    head = _unpack(_SIG_HEAD, raw, 0, path, "the sigstruct header", base)
    exponent = _unpack(_U32, raw, 512, path, "the sigstruct exponent", base)[0]
    body = _unpack(_SIG_BODY, raw, 948, path, "the sigstruct body", base)
    table = _unpack(struct.Struct(f"<{MAX_CPUID_TABLE_SIZE}I"), raw, 1028, path, "cpuid_table", base)
    (
        header_type,
        header_length,
        header_version,
        module_type,
        module_vendor,
        date_raw,
        size,
        key_size,
        modulus_size,
        exponent_size,
    ) = head
    (
        seamsvn,
        attributes,
        rip_offset,
        num_stack_pages,
        num_tls_pages,
        num_keyhole_pages,
        num_global_data_pages,
        max_tdmrs,
        max_rsvd_per_tdmr,
        pamt_4k,
        pamt_2m,
        pamt_1g,
        reserved1,
        module_hv,
        min_update_hv,
        no_downgrade,
        reserved2,
        num_handoff_pages,
        gdt_idt_offset,
        fault_wrapper_offset,
        reserved3,
        table_size,
    ) = body
    return Sigstruct(
        offset=base,
        header_type=int(header_type),
        header_length=int(header_length),
        header_version=int(header_version),
        module_type=int(module_type),
        module_vendor=int(module_vendor),
        date_raw=int(date_raw),
        size=int(size),
        key_size=int(key_size),
        modulus_size=int(modulus_size),
        exponent_size=int(exponent_size),
        reserved0=raw[40:128],
        modulus=raw[128:512],
        exponent=int(exponent),
        signature=raw[516:900],
        seamhash=raw[900:948],
        seamsvn_raw=int(seamsvn),
        attributes=int(attributes),
        rip_offset=int(rip_offset),
        num_stack_pages=int(num_stack_pages),
        num_tls_pages=int(num_tls_pages),
        num_keyhole_pages=int(num_keyhole_pages),
        num_global_data_pages=int(num_global_data_pages),
        max_tdmrs=int(max_tdmrs),
        max_rsvd_per_tdmr=int(max_rsvd_per_tdmr),
        pamt_entry_size_4k=int(pamt_4k),
        pamt_entry_size_2m=int(pamt_2m),
        pamt_entry_size_1g=int(pamt_1g),
        reserved1=bytes(reserved1),
        module_hv=int(module_hv),
        min_update_hv=int(min_update_hv),
        no_downgrade_raw=int(no_downgrade),
        reserved2=int(reserved2),
        num_handoff_pages=int(num_handoff_pages),
        gdt_idt_offset=int(gdt_idt_offset),
        fault_wrapper_offset=int(fault_wrapper_offset),
        reserved3=bytes(reserved3),
        cpuid_table_size=int(table_size),
        cpuid_table_raw=tuple(int(x) for x in table),
        raw=raw,
    )


# --- whole images -----------------------------------------------------------------------------


@value
class Image:
    """A decoded image (or bare sigstruct + module pair, ``format is None``).

    ``sigstruct_area`` is every sigstruct page as found (sigstruct + zero padding); ``module``
    the module pages as the loader would hash them. ``module_offset`` is ``None`` when the
    header does not locate the module inside the file (the verifier reports why).
    """

    path: str
    format: ImageFormat | None
    size: int
    header: Header | None
    sigstruct: Sigstruct
    sigstruct_area: bytes = field(repr=False)
    module_offset: int | None = None
    module: bytes = field(default=b"", repr=False)
    data: bytes = field(default=b"", repr=False)  # the whole file (empty for a pair)
    module_path: str | None = None  # pairs only

    @property
    def format_label(self) -> str:
        return self.format.label if self.format is not None else "pair"


def _detect_format(data: bytes, path: str) -> ImageFormat:
    """The header layout: from the version word, else from where ``TDX-BLOB`` sits.

    A wrong version with a recognisable signature (or the reverse) is still decoded so that
    the verifier names the broken field; neither recognisable means this is not an image.
    """
    (version,) = _unpack(_U16, data, 0, path, "the image header version")
    if version in (ImageFormat.TDX_BLOB, ImageFormat.TDX_IMAGE):
        return ImageFormat(version)
    if data[8:16] == BLOB_SIGNATURE:
        return ImageFormat.TDX_BLOB
    if data[4:12] == BLOB_SIGNATURE:
        return ImageFormat.TDX_IMAGE
    raise InputError.at(
        f"not a TDX module image: expected header version 0x100 or 0x200 at byte offset 0x0 "
        f"(found {version:#06x}) and the signature 'TDX-BLOB' at byte offset 0x8 (0x100) "
        f"or 0x4 (0x200)",
        _where(path, 0),
        code="not-an-image",
    )


def read_image(data: bytes, path: str) -> Image:
    """Decode an image file's bytes. Raises :class:`InputError` (located) when the structure
    cannot be found; every value-level problem is left to the verifier."""
    if len(data) > MAX_IMAGE_BYTES:
        raise InputError.at(
            f"file is {len(data)} bytes; a TDX module image is at most {MAX_IMAGE_BYTES} bytes",
            _where(path, 0),
            code="image-too-large",
        )
    data = bytes(data)
    fmt = _detect_format(data, path)
    if len(data) < HEADER_SIZE:
        raise InputError.at(
            f"expected a {HEADER_SIZE}-byte image header, but the file ends at byte offset "
            f"{len(data):#x}",
            _where(path, len(data)),
            code="truncated-image",
        )
    header: Header
    module_offset: int | None
    if fmt is ImageFormat.TDX_BLOB:
        version, checksum, off, sig, length, res0 = _unpack(
            _BLOB_HEAD, data, 0, path, "the 0x100 image header"
        )
        nz = _first_nonzero(data[24:HEADER_SIZE])
        header = BlobHeader(
            version=int(version),
            checksum=int(checksum),
            offset_of_module=int(off),
            signature=bytes(sig),
            length=int(length),
            reserved0=int(res0),
            reserved1_first_nonzero=None if nz is None else 24 + nz,
        )
        # The sigstruct pages run from 4096 to offset_of_module; when that offset is unusable
        # (the verifier says why), read one page and leave the module unlocated.
        if HEADER_SIZE + SIGSTRUCT_SIZE <= header.offset_of_module <= len(data):
            sig_end = header.offset_of_module
            module_offset = header.offset_of_module
        else:
            sig_end = min(len(data), HEADER_SIZE + PAGE_SIZE)
            module_offset = None
    else:
        version, checksum, sig, sig_pages, mod_pages = _unpack(
            _IMAGE_HEAD, data, 0, path, "the 0x200 image header"
        )
        nz = _first_nonzero(data[20:HEADER_SIZE])
        header = TdxImageHeader(
            version=int(version),
            checksum=int(checksum),
            signature=bytes(sig),
            sigstruct_nr_pages=int(sig_pages),
            module_nr_pages=int(mod_pages),
            reserved_first_nonzero=None if nz is None else 20 + nz,
        )
        declared_sig_end = HEADER_SIZE + header.sigstruct_nr_pages * PAGE_SIZE
        if header.sigstruct_nr_pages >= 1 and declared_sig_end <= len(data):
            sig_end = declared_sig_end
        else:
            sig_end = min(len(data), HEADER_SIZE + PAGE_SIZE)
        module_offset = declared_sig_end if declared_sig_end <= len(data) else None
    sigstruct = read_sigstruct(data[HEADER_SIZE:sig_end], path, HEADER_SIZE)
    if module_offset is None:
        module = b""
    elif isinstance(header, TdxImageHeader):
        module = data[module_offset : module_offset + header.module_nr_pages * PAGE_SIZE]
    else:
        module = data[module_offset:]
    return Image(
        path=path,
        format=fmt,
        size=len(data),
        header=header,
        sigstruct=sigstruct,
        sigstruct_area=data[HEADER_SIZE:sig_end],
        module_offset=module_offset,
        module=module,
        data=data,
    )


def read_pair(module: bytes, sigstruct: bytes, sigstruct_path: str, module_path: str) -> Image:
    """A bare ``.sigstruct`` + ``.bin`` pair, as Intel's build produces them."""
    for what, blob, p in (("module", module, module_path), ("sigstruct", sigstruct, sigstruct_path)):
        if len(blob) > MAX_IMAGE_BYTES:
            raise InputError.at(
                f"{what} file is {len(blob)} bytes; at most {MAX_IMAGE_BYTES} bytes expected",
                _where(p, 0),
                code="image-too-large",
            )
    sig = read_sigstruct(sigstruct, sigstruct_path, 0)
    return Image(
        path=sigstruct_path,
        format=None,
        size=len(sigstruct) + len(module),
        header=None,
        sigstruct=sig,
        sigstruct_area=bytes(sigstruct),
        module_offset=0,
        module=bytes(module),
        data=b"",
        module_path=module_path,
    )


def read_file_limited(path: Path, limit: int = MAX_IMAGE_BYTES) -> bytes:
    """Read a file, refusing (before reading it whole) one larger than ``limit``; ``-`` reads
    standard input (named ``<stdin>`` in messages)."""
    shown = str(path)
    if shown == "-":
        return _read_stdin_limited(limit)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; then only regular files
        # are read (a FIFO, socket or device is never an image and could block or not end).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with open(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(21, "Is a directory", shown)
            if not stat.S_ISREG(st.st_mode):
                raise InputError.at(
                    "expected an image file, found a special file (FIFO, socket or device)",
                    Location(shown),
                    code="unreadable",
                )
            size = st.st_size
            if size > limit:
                raise InputError.at(
                    f"file is {size} bytes; a TDX module image is at most {limit} bytes",
                    _where(shown, 0),
                    code="image-too-large",
                )
            data = f.read(limit + 1)
    except IsADirectoryError:
        raise InputError.at("expected an image file, found a directory", Location(shown)) from None
    except FileNotFoundError:
        raise InputError.at("no such file", Location(shown), code="unreadable") from None
    except PermissionError:
        raise InputError.at("permission denied", Location(shown), code="unreadable") from None
    except OSError as e:
        raise InputError.at(f"cannot read: {e.strerror or e}", Location(shown), code="unreadable") from None
    if len(data) > limit:  # grew while we read it (or a special file)
        raise InputError.at(
            f"file is larger than {limit} bytes; not a TDX module image",
            _where(shown, 0),
            code="image-too-large",
        )
    return data


def _read_stdin_limited(limit: int) -> bytes:
    import sys

    stream = getattr(sys.stdin, "buffer", None)
    try:
        if stream is not None:
            data: bytes = stream.read(limit + 1)
        else:  # a text stream put in place by a test or an embedding program
            data = (sys.stdin.read(limit + 1) if sys.stdin is not None else "").encode(
                "utf-8", "surrogateescape")
    except OSError as e:
        raise InputError.at(f"cannot read: {e.strerror or e}", Location("<stdin>"),
                            code="unreadable") from None
    if len(data) > limit:
        raise InputError.at(
            f"standard input is larger than {limit} bytes; not a TDX module image",
            _where("<stdin>", 0), code="image-too-large")
    return data


def load_image(path: Path) -> Image:
    return read_image(read_file_limited(path), _display(path))


def load_pair(module_path: Path, sigstruct_path: Path) -> Image:
    if str(module_path) == str(sigstruct_path) == "-":
        raise InputError.at("the module and its sigstruct cannot both come from standard input",
                            Location("<stdin>"), code="usage")
    return read_pair(
        read_file_limited(module_path),
        read_file_limited(sigstruct_path),
        _display(sigstruct_path),
        _display(module_path),
    )


def _display(path: Path) -> str:
    return "<stdin>" if str(path) == "-" else str(path)
