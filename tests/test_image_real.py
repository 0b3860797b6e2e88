"""Intel's published images (../shared/intel/blobs): every one verifies with the production key
and is identified; every decoded field agrees with release-facts.json. Skipped without them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tdxpolicy.image import identify, load_image, verify
from tdxpolicy.image.convert import convert
from tdxpolicy.image.reader import ImageFormat, read_image
from tdxpolicy.verdict import Result


def _blobs(intel_dir: Path) -> list[Path]:
    found = sorted((intel_dir / "blobs").glob("*.blob"))
    assert found, "the Intel directory has no blobs"
    return found


def _facts(intel_dir: Path) -> dict[str, dict[str, Any]]:
    doc = json.loads((intel_dir / "release-facts.json").read_text())
    return {r["version"]: r for r in doc["releases"]}


@pytest.fixture(scope="module")
def catalogue() -> Any:
    from tdxpolicy.sources import load_catalogue

    return load_catalogue([])


def test_every_published_image_verifies_and_matches_its_facts(intel_dir: Path, catalogue: Any) -> None:
    facts = _facts(intel_dir)
    for path in _blobs(intel_dir):
        image = load_image(path)
        checks = verify(image)
        assert [c.code for c in checks if c.result is Result.FAIL] == [], path
        assert {c.code for c in checks if c.result is Result.WARN} == {"kernel-format"}
        assert image.format is ImageFormat.TDX_BLOB
        version = path.stem.removeprefix("tdx_module_")
        f = facts[version]["from_published_image"]
        s = image.sigstruct
        assert s.date is not None and s.date.isoformat() == f["sigstruct_date"]
        assert (s.svn.major, s.svn.minor) == (f["seam_svn"]["major"], f["seam_svn"]["minor"])
        assert s.debug is f["debug"]
        assert [int(x, 16) for x in f["cpuid_table"]] == list(s.cpuid_table)
        assert (s.module_hv, s.min_update_hv, s.no_downgrade) == (
            f["module_hv"], f["min_update_hv"], f["no_downgrade"])
        assert s.num_handoff_pages == f["num_handoff_pages"]
        assert s.seamhash_hex == f["seamhash"]
        assert image.size == f["image_bytes"]
        ident = identify(s.seamhash_hex, catalogue)
        published = facts[version].get("mrseam_published")
        if published is not None:
            assert published.removeprefix("0x") == s.seamhash_hex
            assert (ident.version is not None and ident.version.text, ident.by) == (version, "mrseam")
        elif ident.version is not None:  # known only from a published image's sigstruct
            assert (ident.version.text, ident.by) == (version, "seamhash")


def test_conversion_round_trip_is_byte_identical(intel_dir: Path) -> None:
    for path in _blobs(intel_dir):
        original = path.read_bytes()
        image = read_image(original, str(path))
        as_200, checks = convert(image, ImageFormat.TDX_IMAGE)
        assert len(as_200) == len(original)
        assert [c.code for c in checks if c.result is not Result.PASS] == []
        back, _ = convert(read_image(as_200, "x"), ImageFormat.TDX_BLOB)
        assert back == original, path


def test_merged_kernel_refuses_every_published_image(intel_dir: Path) -> None:
    for path in _blobs(intel_dir):
        checks = verify(load_image(path), kernel="merged")
        assert [c.code for c in checks if c.result is Result.FAIL] == ["kernel-format"]
