"""The image reader: every field decoded, bounds checked, located errors."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

import imagekit
from tdxpolicy.errors import InputError
from tdxpolicy.image import ImageFormat, read_image, read_pair
from tdxpolicy.image.reader import (
    MAX_IMAGE_BYTES,
    BlobHeader,
    TdxImageHeader,
    decode_bcd_date,
    load_image,
    read_file_limited,
    read_sigstruct,
)
from tdxpolicy.model import Handoff, Location, Svn


@pytest.fixture(scope="session")
def key() -> imagekit.TestKey:
    return imagekit.test_key()


FIELDS = dict(
    module_type=0x8000_0000,
    date=0x20240807,
    seamsvn=0x0305,
    rip_offset=0x4F2F0,
    num_stack_pages=2,
    num_tls_pages=3,
    num_keyhole_pages=127,
    num_global_data_pages=33,
    max_tdmrs=64,
    max_rsvd_per_tdmr=16,
    pamt_entry_size_4k=16,
    pamt_entry_size_2m=17,
    pamt_entry_size_1g=18,
    module_hv=5,
    min_update_hv=4,
    no_downgrade=1,
    num_handoff_pages=24,
    gdt_idt_offset=0x3000,
    fault_wrapper_offset=0x2100,
)


@pytest.mark.parametrize("fmt", [0x100, 0x200])
def test_every_sigstruct_field_is_decoded(fmt: int, key: imagekit.TestKey) -> None:
    data = imagekit.build_image(fmt, pages=5, cpuid_table=(0xA06D0, 0xA06E0), **FIELDS)
    image = read_image(data, "x.img")
    s = image.sigstruct
    assert image.format is ImageFormat(fmt)
    assert image.size == len(data) == 4096 * 7
    assert (s.header_type, s.header_length, s.header_version) == (6, 0xE1, 0x10000)
    assert s.module_vendor == 0x8086 and s.size == 0x200
    assert (s.key_size, s.modulus_size, s.exponent_size, s.exponent) == (0x60, 0x60, 1, 0x10001)
    assert s.debug is True and s.module_type_reserved == 0
    assert s.date == dt.date(2024, 8, 7) and s.date_raw == 0x20240807
    assert s.svn == Svn(3, 5)
    assert s.handoff == Handoff(5, 4, True)
    assert s.cpuid_table == (0xA06D0, 0xA06E0) and s.cpuid_table_size == 2
    assert len(s.cpuid_table_raw) == 255
    for name, value in FIELDS.items():
        if name in ("module_type", "date", "seamsvn", "no_downgrade"):
            continue
        assert getattr(s, name) == value, name
    assert s.modulus == key.modulus_le
    assert s.reserved0 == bytes(88) and s.reserved1 == bytes(6) and s.reserved3 == bytes(24)
    assert s.module_version is None
    assert s.offset == 4096 and s.at("seamsvn") == 4096 + 948 and s.at("cpuid_table") == 4096 + 1028
    assert image.module == imagekit.make_module(5)
    assert image.module_offset == 8192
    assert s.signed_bytes == s.raw[:128] + s.raw[900:]


def test_blob_header_fields() -> None:
    data = imagekit.build_image(0x100)
    h = read_image(data, "b").header
    assert isinstance(h, BlobHeader)
    assert (h.version, h.offset_of_module, h.signature, h.length) == (0x100, 8192, b"TDX-BLOB", len(data))
    assert h.reserved0 == 0 and h.reserved1_first_nonzero is None and h.sigstruct_pages == 1
    assert int.from_bytes(data[2:4], "little") == h.checksum


def test_image_header_fields() -> None:
    data = bytearray(imagekit.build_image(0x200, pages=3))
    data[4000] = 7
    h = read_image(bytes(data), "i").header
    assert isinstance(h, TdxImageHeader)
    assert (h.version, h.signature, h.sigstruct_nr_pages, h.module_nr_pages) == (0x200, b"TDX-BLOB", 1, 3)
    assert h.reserved_first_nonzero == 4000


def test_module_version_bytes_decoded() -> None:
    module = imagekit.make_module(4)
    sig = imagekit.make_sigstruct(module, patches={1000: bytes.fromhex("0800000272030000")})
    s = read_sigstruct(sig, "s")
    assert s.module_version == (2, 0, 8, 0x372, 0)


@pytest.mark.parametrize(
    "raw, expected",
    [
        (0x20250325, dt.date(2025, 3, 25)),
        (0x20231008, dt.date(2023, 10, 8)),
        (0x2025032A, None),  # not BCD
        (0x20250230, None),  # not a date
        (0, None),
        (0xFFFFFFFF, None),
    ],
)
def test_bcd_date(raw: int, expected: dt.date | None) -> None:
    assert decode_bcd_date(raw) == expected


def test_format_found_from_signature_when_version_is_wrong() -> None:
    data = bytearray(imagekit.build_image(0x200))
    data[0:2] = b"\x99\x99"
    assert read_image(bytes(data), "i").format is ImageFormat.TDX_IMAGE
    data = bytearray(imagekit.build_image(0x100))
    data[0:2] = b"\x99\x99"
    assert read_image(bytes(data), "i").format is ImageFormat.TDX_BLOB


def test_not_an_image_error_is_located() -> None:
    with pytest.raises(InputError) as info:
        read_image(b"\x7fELF" + bytes(8000), "mod.so")
    assert info.value.message == (
        "mod.so (byte offset 0x0): not a TDX module image: expected header version 0x100 or "
        "0x200 at byte offset 0x0 (found 0x457f) and the signature 'TDX-BLOB' at byte offset "
        "0x8 (0x100) or 0x4 (0x200)"
    )
    assert info.value.problems[0].location == Location("mod.so", offset=0)


def test_pair_is_read() -> None:
    module = imagekit.make_module(3)
    sig = imagekit.make_sigstruct(module)
    image = read_pair(module, sig, "m.sigstruct", "m.bin")
    assert image.format is None and image.format_label == "pair"
    assert image.sigstruct.offset == 0 and image.module == module
    assert image.module_path == "m.bin"


def test_pair_sigstruct_too_short() -> None:
    with pytest.raises(InputError) as info:
        read_pair(b"", bytes(100), "s.sigstruct", "m.bin")
    assert info.value.message == (
        "s.sigstruct (byte offset 0x64): expected a 2048-byte SEAM sigstruct at byte offset 0x0, "
        "but only 100 bytes are there"
    )


def test_oversized_file_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.blob"
    with open(big, "wb") as f:
        f.truncate(MAX_IMAGE_BYTES + 1)  # sparse: nothing is written
    with pytest.raises(InputError) as info:
        load_image(big)
    assert info.value.message == (
        f"{big} (byte offset 0x0): file is {MAX_IMAGE_BYTES + 1} bytes; a TDX module image is "
        f"at most {MAX_IMAGE_BYTES} bytes"
    )
    with pytest.raises(InputError):
        read_image(bytes(MAX_IMAGE_BYTES + 1), "x")


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_file_limited(tmp_path / "missing.blob")
    assert info.value.message == f"{tmp_path / 'missing.blob'}: no such file"
    with pytest.raises(InputError) as info:
        read_file_limited(tmp_path)
    assert info.value.message == f"{tmp_path}: expected an image file, found a directory"
    if os.geteuid() != 0:
        p = tmp_path / "secret.blob"
        p.write_bytes(b"x")
        p.chmod(0)
        with pytest.raises(InputError) as info:
            read_file_limited(p)
        assert info.value.message == f"{p}: permission denied"
