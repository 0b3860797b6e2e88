"""Audit rules over images: ``image-invalid`` and ``image-mismatch`` (trigger and clean), on
synthetic signed images from tests/imagekit.py, read and verified by tdxpolicy.image."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from imagekit import build_image, make_module, test_key

from tdxpolicy.audit import AuditImage, from_image, run_audit, unreadable_image
from tdxpolicy.audit.report import where
from tdxpolicy.image.reader import read_image
from tdxpolicy.image.verify import verify
from tdxpolicy.sources.document import parse_document

TODAY = dt.date(2026, 11, 26)
MODULE_HASH = hashlib.sha384(make_module(4, 1)).hexdigest().upper()
OTHER_HASH = hashlib.sha384(make_module(4, 2)).hexdigest().upper()


def catalogue(svn: str = "1.4", platforms: str = "0x806F8 0xC06F0 0xA06F0") -> list:
    text = f"""format 1
release 1.5.01 {{
    mrseam    0x{MODULE_HASH}
    svn       {svn}
    platforms {platforms}
    handoff   module 0 min 0
    update from >= 1.5.01
}}
release 1.5.05 {{
    mrseam    0x{OTHER_HASH}
    update from >= 1.5.01
}}
expires 2099-01-01
"""
    # `expires` last, so the lines that findings cite stay where they were; without it every
    # run of all rules would also report `no-expiry` on this document.
    return [parse_document(text, "intel.tdxpolicy")]


def audit_image(data: bytes, name: str) -> AuditImage:
    image = read_image(data, name)
    return from_image(image, verify(image, trusted_key_hashes=(test_key().key_hash,)))


def findings(docs: list, images: list[AuditImage]) -> list[tuple[str, str, str]]:
    report = run_audit(docs, images, today=TODAY, rules=["image-invalid", "image-mismatch"])
    return [(f.rule, where(f.locations[0]), f.message) for f in report.findings]


@pytest.mark.parametrize("fmt", [0x100, 0x200])
def test_clean_image_matches_catalogue(fmt: int) -> None:
    img = audit_image(build_image(fmt, seamsvn=0x0104), "blobs/tdx_module_1.5.01.blob")
    assert img.failures == ()
    assert img.facts.seamhash is not None and img.facts.seamhash.value == MODULE_HASH
    assert findings(catalogue(), [img]) == []


def test_from_image_locates_facts_by_byte_offset() -> None:
    img = audit_image(build_image(0x200, seamsvn=0x0104), "x.blob")
    sig = 4096  # one header page, then the sigstruct
    assert img.facts.seamhash.source.offset == sig + 900  # type: ignore[union-attr]
    assert img.facts.svn.source.offset == sig + 948  # type: ignore[union-attr]
    assert img.facts.platforms.source.offset == sig + 1028  # type: ignore[union-attr]


def test_image_invalid_when_the_module_was_altered() -> None:
    data = bytearray(build_image(0x200, seamsvn=0x0104))
    data[-1] ^= 0xFF  # last module byte: the SHA-384 of the module no longer matches
    got = findings(catalogue(), [audit_image(bytes(data), "blobs/tdx_module_1.5.01.blob")])
    assert [g[0] for g in got] == ["image-invalid"]
    assert got[0][2].startswith("image blobs/tdx_module_1.5.01.blob does not verify (")


def test_image_invalid_when_not_an_image() -> None:
    img = unreadable_image("blobs/notes.bin", "not a TDX module image")
    assert findings(catalogue(), [img]) == [(
        "image-invalid", "blobs/notes.bin:@0x0",
        "image blobs/notes.bin does not verify (image-format): not a TDX module image",
    )]


def test_image_invalid_untrusted_key() -> None:
    """Signed with a key that is not Intel's: verify's default trust fails it."""
    image = read_image(build_image(0x100, seamsvn=0x0104), "tdx_module_1.5.01.blob")
    img = from_image(image, verify(image))
    assert [f[0] for f in findings(catalogue(), [img])] == ["image-invalid"]


def test_image_mismatch_hash_unknown() -> None:
    data = build_image(0x200, seed=7, seamsvn=0x0104)
    got = findings(catalogue(), [audit_image(data, "blobs/tdx_module_1.5.01.blob")])
    unknown = hashlib.sha384(make_module(4, 7)).hexdigest().upper()
    assert got == [(
        "image-mismatch", "blobs/tdx_module_1.5.01.blob:@0x1384",
        f"image blobs/tdx_module_1.5.01.blob: seamhash 0x{unknown} is the MRSEAM of no known "
        f"release; its file name says 1.5.01, whose MRSEAM is 0x{MODULE_HASH}",
    )]


def test_image_mismatch_file_name_names_another_version() -> None:
    got = findings(catalogue(), [audit_image(build_image(0x200, seamsvn=0x0104),
                                             "blobs/tdx_module_1.5.05.blob")])
    assert got == [(
        "image-mismatch", "blobs/tdx_module_1.5.05.blob:@0x1384",
        "image blobs/tdx_module_1.5.05.blob: the file name says 1.5.05 but its seamhash is "
        "the MRSEAM of 1.5.01; identify images by hash, not by name",
    )]


@pytest.mark.parametrize(
    ("docs", "fact", "mine", "theirs", "offset"),
    [
        (catalogue(svn="1.5"), "svn", "1.4", "1.5", 0x13B4),
        (catalogue(platforms="0x806F8"), "platforms", "0x806F8 0xC06F0 0xA06F0", "0x806F8",
         0x1404),
    ],
)
def test_image_mismatch_fact_differs(docs: list, fact: str, mine: str, theirs: str,
                                     offset: int) -> None:
    got = findings(docs, [audit_image(build_image(0x200, seamsvn=0x0104),
                                      "blobs/tdx_module_1.5.01.blob")])
    assert got == [(
        "image-mismatch", f"blobs/tdx_module_1.5.01.blob:@{offset:#x}",
        f"image blobs/tdx_module_1.5.01.blob (release 1.5.01 by its seamhash) has {fact} "
        f"{mine}, but the sources say {theirs} at intel.tdxpolicy:{4 if fact == 'svn' else 5}:5",
    )]


def test_image_without_mrseam_anywhere_is_no_published_mrseam() -> None:
    text = f"format 1\nrelease 2.0.05 {{\n    seamhash 0x{MODULE_HASH}\n}}\n"
    docs = [parse_document(text, "a.tdxpolicy")]
    img = audit_image(build_image(0x200, seamsvn=0x0104), "tdx_module_2.0.05.blob")
    report = run_audit(docs, [img], today=TODAY, rules=["no-published-mrseam"])
    assert [f.message for f in report.findings] == [
        "release 2.0.05 has an image but no published MRSEAM: its module measurement cannot be "
        "checked against Intel's release table, and attestation verifiers will not recognise "
        "it; check the seamhash against a trusted source"
    ]


def test_image_with_unknown_hash_is_only_a_mismatch() -> None:
    """Every rule runs: an unidentified image is `image-mismatch`, not also a release
    without MRSEAM (its file name is a claim, not an identity)."""
    img = audit_image(build_image(0x200, seed=9, seamsvn=0x0104), "tdx_module_1.5.30.blob")
    report = run_audit(catalogue(), [img], today=TODAY)
    assert [f.rule for f in report.findings] == ["image-mismatch"]
