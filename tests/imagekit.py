"""Build and sign synthetic TDX module images for tests (0x100 and 0x200, and bare pairs).

Written from docs/domain.md#image-formats independently of :mod:`tdxpolicy.image` (its own field
table
and its own header packing), so that the reader and verifier are tested against a second
implementation, not against themselves. Signing uses ``cryptography`` with a test RSA-3072
key generated once per process (:func:`test_key`; generation takes a moment).

Other areas import this (host and audit tests)::

    from imagekit import build_image, test_key
    data = build_image(0x200)                       # valid, signed with the test key
    data = build_image(0x100, seamsvn=0x010C)       # any sigstruct field by name
    verify(read_image(data, "x"), trusted_key_hashes=(test_key().key_hash,))
"""

from __future__ import annotations

import functools
import hashlib
import struct
from dataclasses import dataclass
from typing import Any

PAGE = 4096
SIG_SIZE = 2048

# name -> (offset, struct format) (docs/domain.md#image-formats, seam_sigstruct.h)
SIG_FIELDS: dict[str, tuple[int, str]] = {
    "header_type": (0, "<I"),
    "header_length": (4, "<I"),
    "header_version": (8, "<I"),
    "module_type": (12, "<I"),
    "module_vendor": (16, "<I"),
    "date": (20, "<I"),
    "size": (24, "<I"),
    "key_size": (28, "<I"),
    "modulus_size": (32, "<I"),
    "exponent_size": (36, "<I"),
    "exponent": (512, "<I"),
    "seamsvn": (948, "<H"),
    "attributes": (950, "<Q"),
    "rip_offset": (958, "<I"),
    "num_stack_pages": (962, "<B"),
    "num_tls_pages": (963, "<B"),
    "num_keyhole_pages": (964, "<H"),
    "num_global_data_pages": (966, "<H"),
    "max_tdmrs": (968, "<H"),
    "max_rsvd_per_tdmr": (970, "<H"),
    "pamt_entry_size_4k": (972, "<H"),
    "pamt_entry_size_2m": (974, "<H"),
    "pamt_entry_size_1g": (976, "<H"),
    "module_hv": (984, "<H"),
    "min_update_hv": (986, "<H"),
    "no_downgrade": (988, "<B"),
    "reserved2": (989, "<B"),
    "num_handoff_pages": (990, "<H"),
    "gdt_idt_offset": (992, "<I"),
    "fault_wrapper_offset": (996, "<I"),
    "cpuid_table_size": (1024, "<I"),
}
# byte ranges (offset, length) of the reserved fields and the key material
SIG_RANGES: dict[str, tuple[int, int]] = {
    "reserved0": (40, 88),
    "modulus": (128, 384),
    "signature": (516, 384),
    "seamhash": (900, 48),
    "reserved1": (978, 6),
    "reserved3": (1000, 24),
    "cpuid_table": (1028, 1020),
}

SIG_DEFAULTS: dict[str, int] = {
    "header_type": 6,
    "header_length": 0xE1,
    "header_version": 0x10000,
    "module_type": 0,
    "module_vendor": 0x8086,
    "date": 0x20250219,
    "size": 0x200,
    "key_size": 0x60,
    "modulus_size": 0x60,
    "exponent_size": 1,
    "exponent": 0x10001,
    "seamsvn": 0x010B,  # 1.11
    "attributes": 0,
    "rip_offset": 0x1000,
    "num_stack_pages": 1,
    "num_tls_pages": 1,
    "num_keyhole_pages": 127,
    "num_global_data_pages": 33,
    "max_tdmrs": 0,
    "max_rsvd_per_tdmr": 0,
    "pamt_entry_size_4k": 0,
    "pamt_entry_size_2m": 0,
    "pamt_entry_size_1g": 0,
    "module_hv": 0,
    "min_update_hv": 0,
    "no_downgrade": 0,
    "reserved2": 0,
    "num_handoff_pages": 13,
    "gdt_idt_offset": 0x2000,
    "fault_wrapper_offset": 0x1100,
}
DEFAULT_CPUID = (0x806F8, 0xC06F0, 0xA06F0)


@dataclass(frozen=True)
class TestKey:
    __test__ = False  # not a pytest class

    private: Any  # cryptography RSAPrivateKey
    modulus_le: bytes
    key_hash: str  # SHA-384 of modulus_le, hex: what tests pass as trusted_key_hashes


@functools.lru_cache(maxsize=None)
def test_key(seed: int = 0) -> TestKey:
    """An RSA-3072 key with e = 65537, generated once per process per ``seed``."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    n = private.public_key().public_numbers().n
    modulus_le = n.to_bytes(384, "little")
    return TestKey(private, modulus_le, hashlib.sha384(modulus_le).hexdigest())


test_key.__test__ = False  # type: ignore[attr-defined]


def make_module(pages: int = 4, seed: int = 1) -> bytes:
    """Deterministic pseudo-random module pages."""
    return hashlib.shake_256(f"module-{seed}".encode()).digest(pages * PAGE)


def sign(sigstruct: bytes, key: TestKey | None = None) -> bytes:
    """Put ``key``'s modulus in and (re)compute the signature over [0:128] + [900:2048]."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = key or test_key()
    buf = bytearray(sigstruct)
    buf[128:512] = key.modulus_le
    body = bytes(buf[0:128]) + bytes(buf[900:SIG_SIZE])
    sig_be = key.private.sign(body, padding.PKCS1v15(), hashes.SHA384())
    buf[516:900] = sig_be[::-1]
    return bytes(buf)


def resign(sigstruct: bytes, key: TestKey | None = None) -> bytes:
    """Re-sign without touching the modulus (the key material must be the key's)."""
    key = key or test_key()
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    buf = bytearray(sigstruct)
    body = bytes(buf[0:128]) + bytes(buf[900:SIG_SIZE])
    buf[516:900] = key.private.sign(body, padding.PKCS1v15(), hashes.SHA384())[::-1]
    return bytes(buf)


def make_sigstruct(
    module: bytes,
    key: TestKey | None = None,
    *,
    signed: bool = True,
    seamhash: bytes | None = None,
    cpuid_table: tuple[int, ...] = DEFAULT_CPUID,
    patches: dict[int, bytes] | None = None,
    **fields: int,
) -> bytes:
    """A 2048-byte sigstruct for ``module``; any field of :data:`SIG_FIELDS` by name;
    ``patches`` writes raw bytes at offsets (before signing)."""
    values = dict(SIG_DEFAULTS)
    values["cpuid_table_size"] = len(cpuid_table)
    for name in fields:
        if name not in SIG_FIELDS:
            raise KeyError(f"unknown sigstruct field {name!r}")
    values.update(fields)
    buf = bytearray(SIG_SIZE)
    for name, (off, fmt) in SIG_FIELDS.items():
        struct.pack_into(fmt, buf, off, values[name])
    buf[900:948] = seamhash if seamhash is not None else hashlib.sha384(module).digest()
    for i, entry in enumerate(cpuid_table[:255]):
        struct.pack_into("<I", buf, 1028 + 4 * i, entry)
    for off, raw in (patches or {}).items():
        buf[off : off + len(raw)] = raw
    if not signed:
        return bytes(buf)
    return sign(bytes(buf), key)


def word_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    return sum(struct.unpack(f"<{len(data) // 2}H", data)) & 0xFFFF


def fix_checksum(data: bytes) -> bytes:
    """Set the 0x100 checksum field so the file's 16-bit word sum is 0."""
    zeroed = data[:2] + b"\x00\x00" + data[4:]
    return zeroed[:2] + struct.pack("<H", (-word_sum(zeroed)) & 0xFFFF) + zeroed[4:]


def _pad(b: bytes) -> bytes:
    return b + b"\x00" * (-len(b) % PAGE)


def blob_0x100(sigstruct: bytes, module: bytes, *, checksum: bool = True, **header: Any) -> bytes:
    """A 0x100 tdx_blob (intel/blob_structure.txt); header fields overridable by name."""
    sig_pages = _pad(sigstruct)
    h = {
        "version": 0x100,
        "offset_of_module": PAGE + len(sig_pages),
        "signature": b"TDX-BLOB",
        "length": PAGE + len(sig_pages) + len(module),
        "reserved0": 0,
    }
    h.update(header)
    head = struct.pack("<HHI8sII", h["version"], 0, h["offset_of_module"], h["signature"],
                       h["length"], h["reserved0"])
    data = head + b"\x00" * (PAGE - len(head)) + sig_pages + module
    return fix_checksum(data) if checksum else data


def image_0x200(sigstruct: bytes, module: bytes, **header: Any) -> bytes:
    """A 0x200 tdx_image (docs/domain.md#image-formats); header fields overridable by name."""
    sig_pages = _pad(sigstruct)
    h = {
        "version": 0x200,
        "checksum": 0,
        "signature": b"TDX-BLOB",
        "sigstruct_nr_pages": len(sig_pages) // PAGE,
        "module_nr_pages": len(module) // PAGE,
    }
    h.update(header)
    head = struct.pack("<HH8sII", h["version"], h["checksum"], h["signature"],
                       h["sigstruct_nr_pages"], h["module_nr_pages"])
    return head + b"\x00" * (PAGE - len(head)) + sig_pages + module


def build_image(
    fmt: int = 0x200,
    *,
    pages: int = 4,
    seed: int = 1,
    key: TestKey | None = None,
    **sigfields: Any,
) -> bytes:
    """A complete valid image signed with the test key; sigstruct fields by name."""
    module = make_module(pages, seed)
    sig = make_sigstruct(module, key, **sigfields)
    return blob_0x100(sig, module) if fmt == 0x100 else image_0x200(sig, module)


def module_offset(data: bytes) -> int:
    """Where the module starts in an image built here (both formats: after one sig page)."""
    return 2 * PAGE
