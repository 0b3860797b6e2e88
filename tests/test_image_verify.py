"""Verification of synthetic images: every rule of docs/domain.md#image-formats caught by its own
check.

The corruption table (tests/data/image/corruptions.json) mutates one field of a valid image
built and signed by tests/imagekit.py and states exactly which check codes must fail.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

import imagekit
from tdxpolicy.errors import InputError
from tdxpolicy.image import read_image, verify
from tdxpolicy.image.reader import HEADER_SIZE, PAGE_SIZE
from tdxpolicy.image.verify import (
    INTEL_KEY_HASH,
    ImageCheck,
    rsa_pkcs1v15_sha384_verify,
    structural_failures,
    word_sum,
)
from tdxpolicy.verdict import Result

DATA = Path(__file__).parent / "data" / "image"
TABLE = json.loads((DATA / "corruptions.json").read_text())["cases"]


@pytest.fixture(scope="session")
def key() -> imagekit.TestKey:
    return imagekit.test_key()


def _cases() -> list[Any]:
    out = []
    for case in TABLE:
        formats = ["0x100", "0x200"] if case["format"] == "both" else [case["format"]]
        for fmt in formats:
            out.append(pytest.param(case, int(fmt, 16), id=f"{case['name']}-{fmt}"))
    return out


def _build(case: dict[str, Any], fmt: int, key: imagekit.TestKey) -> bytes:
    sig_fields = dict(case.get("sig", {}))
    if "cpuid_table" in sig_fields:
        sig_fields["cpuid_table"] = tuple(sig_fields["cpuid_table"])
    patches = {p["offset"]: bytes.fromhex(p["bytes"]) for p in case.get("sig_patch", [])}
    module = imagekit.make_module(4)
    sig = imagekit.make_sigstruct(module, key, patches=patches, **sig_fields)
    data = bytearray(imagekit.blob_0x100(sig, module) if fmt == 0x100 else imagekit.image_0x200(sig, module))
    base = {"header": 0, "sigstruct": HEADER_SIZE, "module": HEADER_SIZE + PAGE_SIZE}
    for p in case.get("patch", []):
        at = base[p["region"]] + p["offset"]
        if "xor" in p:
            for i, b in enumerate(bytes.fromhex(p["xor"])):
                data[at + i] ^= b
        else:
            raw = bytes.fromhex(p["bytes"])
            data[at : at + len(raw)] = raw
    if case.get("fix_checksum") and fmt == 0x100:
        data = bytearray(imagekit.fix_checksum(bytes(data)))
    if "append" in case:
        data += bytes.fromhex(case["append"])
    data += b"\x00" * (PAGE_SIZE * case.get("append_zero_pages", 0))
    if "truncate" in case:
        data = data[: case["truncate"]]
    return bytes(data)


@pytest.mark.parametrize("case, fmt", _cases())
def test_corruption_is_caught_by_the_right_check(case: dict[str, Any], fmt: int, key: imagekit.TestKey) -> None:
    data = _build(case, fmt, key)
    if "error" in case:
        with pytest.raises(InputError) as info:
            read_image(data, "img")
        assert case["error"] in info.value.message
        assert info.value.problems[0].location is not None
        assert info.value.problems[0].location.offset is not None
        return
    checks = verify(read_image(data, "img"), trusted_key_hashes=(key.key_hash,))
    failed = {c.code for c in checks if c.result is Result.FAIL}
    warned = {c.code for c in checks if c.result is Result.WARN} - {"kernel-format"}
    if "fail_includes" in case:
        assert set(case["fail_includes"]) <= failed
    else:
        assert failed == set(case["fail"])
    if "warn" in case:
        assert warned == set(case["warn"])
    # every failure names a byte offset
    for c in checks:
        if c.result is Result.FAIL:
            assert c.source is not None and c.source.offset is not None, c
            assert "byte offset 0x" in c.message


def test_table_covers_every_check_code() -> None:
    """Every failing check code appears in the corruption table at least once."""
    named: set[str] = set()
    for case in TABLE:
        named |= set(case.get("fail", [])) | set(case.get("fail_includes", []))
    expected = {c.value for c in ImageCheck} - {"kernel-format", "debug", "sigstruct-padding"}
    assert expected <= named, expected - named


@pytest.mark.parametrize("fmt", [0x100, 0x200])
def test_valid_image_every_check_passes(fmt: int, key: imagekit.TestKey) -> None:
    checks = verify(read_image(imagekit.build_image(fmt), "t.img"), trusted_key_hashes=(key.key_hash,))
    codes = [c.code for c in checks]
    assert len(codes) == len(set(codes))
    bad = [(c.code, c.result) for c in checks if c.result is not Result.PASS]
    assert bad == ([] if fmt == 0x200 else [("kernel-format", Result.WARN)])


def test_test_key_is_not_trusted_by_default(key: imagekit.TestKey) -> None:
    checks = verify(read_image(imagekit.build_image(0x200), "t.img"))
    failed = [c for c in checks if c.result is Result.FAIL]
    assert [c.code for c in failed] == ["signing-key"]
    assert failed[0].message == (
        f"modulus SHA-384 is {key.key_hash}, not Intel's production key hash {INTEL_KEY_HASH}: "
        "P-SEAMLDR refuses the image (EBADSIG) (byte offset 0x1080)"
    )
    assert structural_failures(checks) == []


@pytest.mark.parametrize(
    "fmt, kernel, result",
    [
        (0x100, None, Result.WARN),
        (0x200, None, Result.PASS),
        (0x100, "merged", Result.FAIL),
        (0x200, "merged", Result.PASS),
        (0x100, "legacy", Result.PASS),
        (0x200, "legacy", Result.FAIL),
    ],
)
def test_kernel_generation_acceptance(fmt: int, kernel: str | None, result: Result, key: imagekit.TestKey) -> None:
    checks = verify(read_image(imagekit.build_image(fmt), "t"), kernel=kernel, trusted_key_hashes=(key.key_hash,))
    (k,) = [c for c in checks if c.code == "kernel-format"]
    assert k.result is result


def test_exact_messages(key: imagekit.TestKey) -> None:
    module = imagekit.make_module(4)
    sig = imagekit.make_sigstruct(module, key, min_update_hv=3, module_hv=1, module_vendor=0x1234)
    data = imagekit.blob_0x100(sig, module, length=1)
    by = {c.code: c for c in verify(read_image(data, "t"), trusted_key_hashes=(key.key_hash,))}
    assert by["header-length"].message == (
        f"length field 1 bytes, file {len(data)} bytes: the length must equal the file size "
        "(byte offset 0x10)"
    )
    assert by["handoff-order"].message == "min_update_hv 3 is larger than module_hv 1 (byte offset 0x13da)"
    assert by["sigstruct-constants"].message == (
        "sigstruct module_vendor is 0x1234, expected 0x8086 (byte offset 0x1010)"
    )
    assert by["header-checksum"].result is Result.PASS


def test_word_sum_matches_definition() -> None:
    assert word_sum(b"") == 0
    assert word_sum(b"\x01") == 1  # odd last byte padded with 0
    assert word_sum(b"\xff\xff\x02\x00") == 1
    assert word_sum(b"\x00\x01" * 3) == 0x300


def test_rsa_against_cryptography_oracle(key: imagekit.TestKey) -> None:
    """Our pow()-based PKCS#1 v1.5 check agrees with cryptography's on good and bad input."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    pub = key.private.public_key()
    for i in range(6):
        msg = hashlib.sha256(bytes([i])).digest() * 40
        sig = key.private.sign(msg, padding.PKCS1v15(), hashes.SHA384())
        variants = [(msg, sig), (msg + b"x", sig), (msg, sig[:-1] + bytes([sig[-1] ^ (1 << i)]))]
        for m, s in variants:
            try:
                pub.verify(s, m, padding.PKCS1v15(), hashes.SHA384())
                oracle = True
            except InvalidSignature:
                oracle = False
            assert rsa_pkcs1v15_sha384_verify(key.modulus_le, 65537, s[::-1], m) is oracle


def test_sha256_signature_is_refused(key: imagekit.TestKey) -> None:
    """A valid PKCS#1 v1.5 signature with another hash must not pass as SHA-384."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    msg = b"m" * 100
    sig = key.private.sign(msg, padding.PKCS1v15(), hashes.SHA256())
    assert not rsa_pkcs1v15_sha384_verify(key.modulus_le, 65537, sig[::-1], msg)


def test_signature_not_below_modulus_is_refused(key: imagekit.TestKey) -> None:
    n = int.from_bytes(key.modulus_le, "little")
    assert not rsa_pkcs1v15_sha384_verify(key.modulus_le, 65537, n.to_bytes(384, "little"), b"")
    assert not rsa_pkcs1v15_sha384_verify(bytes(384), 65537, bytes(384), b"")


@pytest.mark.parametrize(
    "fmt, sig_at, name",
    [(0x100, 8, "tdx_blob"), (0x200, 4, "tdx_image")],
)
def test_header_version_and_signature_messages(fmt: int, sig_at: int, name: str) -> None:
    good = imagekit.build_image(fmt, pages=2)
    bad_version = bytearray(good)
    bad_version[0] ^= 0x3
    bad_signature = bytearray(good)
    bad_signature[sig_at] = ord("X")
    version = next(c for c in verify(read_image(bytes(bad_version), "img"))
                   if c.code == "header-version")
    signature = next(c for c in verify(read_image(bytes(bad_signature), "img"))
                     if c.code == "header-signature")
    assert (version.result, version.message) == (
        Result.FAIL,
        f"header version {fmt ^ 3:#06x}, expected {fmt:#06x} for a {name} (byte offset 0x0)")
    assert (signature.result, signature.message) == (
        Result.FAIL, f"signature b'XDX-BLOB', expected b'TDX-BLOB' (byte offset {sig_at:#x})")
