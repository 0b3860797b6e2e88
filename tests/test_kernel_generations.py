"""Issue 10 items 1-3: the kernel generation table, multi-page sigstructs, the shutdown flag.

Fake sysfs trees per generation (tests/simkernel.py), crafted images per rejection class
(tests/imagekit.py), and Intel's real 1.5.16 image rebuilt with a two-page sigstruct area.
Every expectation comes from docs/kernel-generations.md (sources cited there).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

import pytest

import imagekit
from simkernel import SimKernel, signed_image, site_catalogue, site_policy_text
from tdxpolicy.cli import main
from tdxpolicy.generations import TABLE, Generation, ShutdownFlag, abi, loader_accepts_multi_page
from tdxpolicy.host.preflight import HOST_CHECKS, preflight
from tdxpolicy.host.probe import probe
from tdxpolicy.image import image_move_checks
from tdxpolicy.image.reader import read_image
from tdxpolicy.image.verify import verify
from tdxpolicy.verdict import MoveOptions, Result
from tdxpolicy.version import parse_version

REPO = Path(__file__).resolve().parent.parent
FEATURES0_1506 = 0x2E1F0FBF  # Intel's mapping_file.json: no UPDATE_COMPAT (bit 47)


def multi_page_blob(extra_pages: int, data_in_extra: bool = False, *,
                    fix: bool = True) -> bytes:
    """A signed 0x100 image whose sigstruct area spans 1 + ``extra_pages`` pages."""
    module = imagekit.make_module()
    sig = imagekit.make_sigstruct(module)
    area = sig + bytes(imagekit.PAGE - len(sig)) + bytes(imagekit.PAGE * extra_pages)
    if data_in_extra:
        area = area[:imagekit.PAGE + 16] + b"\x5a" + area[imagekit.PAGE + 17:]
    return imagekit.blob_0x100(area, module, checksum=fix)


def checks_of(data: bytes, **kw: Any) -> dict[str, Any]:
    key = imagekit.test_key().key_hash
    return {c.code: c for c in verify(read_image(data, "img"), trusted_key_hashes=(key,), **kw)}


# --- the table and its documentation ----------------------------------------------------------


def test_every_generation_has_a_documented_row() -> None:
    """docs/kernel-generations.md has one table row per generation, and a citation in every
    cell of it ([C] source, [I] inference or [D] derived)."""
    doc = (REPO / "docs" / "kernel-generations.md").read_text()
    doc = doc.split("## The table", 1)[1].split("\n## ", 1)[0]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z0-9-]+)` \|.*$", doc, re.M)}
    assert set(rows) >= {g.value for g in Generation}
    for g in Generation:
        cells = [c.strip() for c in rows[g.value].strip("|").split("|")][1:]
        assert len(cells) >= 5, rows[g.value]
        for cell in cells:
            assert re.search(r"\[(C|I|D)[^\]]*\]", cell), (g.value, cell)


def test_table_facts_from_the_sources() -> None:
    assert abi("v1-v3").checksum_verified and not abi("v4-v7").checksum_verified
    assert abi("v8").formats == ("0x100",) and abi("merged").formats == ("0x200",)
    assert abi("v9-v10").formats == ("0x200",)
    assert [r.generation.value for r in TABLE if r.shutdown_flag is ShutdownFlag.ALWAYS] == \
        ["v8", "v9-v10"]
    assert abi("v4-v7").shutdown_flag is ShutdownFlag.IF_SUPPORTED
    assert abi("merged").shutdown_flag is ShutdownFlag.NEVER
    assert loader_accepts_multi_page(parse_version("1.5.00")) is False
    assert loader_accepts_multi_page(parse_version("2.0.00")) is None
    assert loader_accepts_multi_page(None) is None


# --- item 1: multi-page sigstructs ------------------------------------------------------------


def test_single_page_image_is_not_affected() -> None:
    c = checks_of(imagekit.build_image(0x100), kernel="v8", seamldr=parse_version("1.5.00"))
    assert c["sigstruct-pages"].result is Result.PASS


@pytest.mark.parametrize("kernel, seamldr, extra, expect", [
    ("v8", "1.5.00", 1, "v8 pass them with loader parameter version 1, which P-SEAMLDR 1.5.00 "
                        "refuses (EBADPARAM) after the running module has shut down: every TD "
                        "lost"),
    ("v4-v7", "1.5.02", 3, "v4-v7 pass them with loader parameter version 1, which P-SEAMLDR "
                           "1.5.02 refuses (EBADPARAM)"),
    ("v4-v7", "2.0.00", 1, "no published source says P-SEAMLDR 2.0.00 accepts it"),
    ("v8", "2.0.00", 4, "v8 silently pass only the first 4 of the 5 pages"),
    ("v1-v3", "2.0.00", 1, "v1-v3 pass only the first page to P-SEAMLDR"),
    ("legacy", None, 2, "legacy pass only the first page to P-SEAMLDR"),
    (None, None, 1, "the running P-SEAMLDR is unknown"),
])
def test_multi_page_sigstruct_fails(kernel: str | None, seamldr: str | None, extra: int,
                                    expect: str) -> None:
    c = checks_of(multi_page_blob(extra), kernel=kernel,
                  seamldr=None if seamldr is None else parse_version(seamldr))
    pages = c["sigstruct-pages"]
    assert pages.result is Result.FAIL
    assert expect in pages.message
    assert pages.facts["pages"] == 1 + extra
    # The padding pages are zero: nothing else fails (signature and seamhash still verify).
    assert {k for k, v in c.items() if v.result is Result.FAIL} == {"sigstruct-pages"}


def test_whole_sigstruct_area_is_verified() -> None:
    """Only the first 2,048 bytes used to be checked: data in a later sigstruct page fails."""
    c = checks_of(multi_page_blob(1, data_in_extra=True), kernel="v8")
    assert c["sigstruct-padding"].result is Result.FAIL
    assert c["sigstruct-padding"].source is not None
    assert c["sigstruct-padding"].source.offset == 0x1000 + 0x1000 + 16
    assert "cannot be verified" in c["sigstruct-padding"].message


def test_image_verify_cli_multi_page_is_invalid(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from tdxpolicy.cli import image_cmds

    p = tmp_path / "two.blob"
    p.write_bytes(multi_page_blob(1))
    one = tmp_path / "one.blob"
    one.write_bytes(imagekit.build_image(0x100))
    old = image_cmds.TRUSTED_KEY_HASHES
    image_cmds.TRUSTED_KEY_HASHES = (imagekit.test_key().key_hash,)
    try:
        assert main(["image", "verify", str(one), "--kernel", "v8"]) == 0
        assert main(["image", "verify", str(p), "--kernel", "v8"]) == 1
        assert main(["image", "verify", str(p)]) == 1
    finally:
        image_cmds.TRUSTED_KEY_HASHES = old
    assert "sigstruct-pages" in capsys.readouterr().out


def test_move_checks_deny_multi_page_with_seamldr_1_5() -> None:
    data, seamhash, key = signed_image(0x100)
    cat = site_catalogue(seamhash)
    _, ok = image_move_checks(data, "one.blob", cat, parse_version("1.5.16"),
                              trusted_key_hashes=(key,), seamldr=parse_version("1.5.00"))
    assert {c.code: c.result for c in ok}["image-valid"] is not Result.FAIL
    _, bad = image_move_checks(multi_page_blob(1), "two.blob", cat, parse_version("1.5.16"),
                               trusted_key_hashes=(key,), seamldr=parse_version("1.5.00"))
    valid = {c.code: c for c in bad}["image-valid"]
    assert valid.result is Result.FAIL and valid.facts["failed"] == ["sigstruct-pages"]
    assert "P-SEAMLDR 1.5.00 refuses (EBADPARAM)" in valid.message


def _two_page_real(blob: bytes) -> bytes:
    """Intel's image with one zero page inserted after its sigstruct page: the sigstruct,
    signature and module are untouched; offset_of_module, length and checksum follow."""
    off = struct.unpack_from("<I", blob, 4)[0]
    out = bytearray(blob[:off] + bytes(4096) + blob[off:])
    struct.pack_into("<I", out, 4, off + 4096)
    struct.pack_into("<I", out, 16, len(out))
    return imagekit.fix_checksum(bytes(out))


def test_can_upgrade_denies_real_multi_page_image(intel_dir: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 10: a multi-page 0x100 image with P-SEAMLDR 1.5.00 must be DENIED (it was ALLOWED)."""
    real = (intel_dir / "blobs" / "tdx_module_1.5.16.blob").read_bytes()
    good = tmp_path / "tdx_module_1.5.16.blob"
    good.write_bytes(real)
    two = tmp_path / "two" / "tdx_module_1.5.16.blob"
    two.parent.mkdir()
    two.write_bytes(_two_page_real(real))
    host = ["--from", "1.5.06", "--seamldr", "1.5.00", "--cpuid", "0x806F8", "--remaining", "5",
            "--to", "1.5.16"]
    assert main(["can-upgrade", *host, "--image", str(good)]) == 0
    capsys.readouterr()
    assert main(["can-upgrade", *host, "--image", str(two), "--format", "json"]) == 1
    import json

    doc = json.loads(capsys.readouterr().out)
    valid = next(c for c in doc["checks"] if c["code"] == "image-valid")
    assert valid["result"] == "fail"
    assert valid["facts"]["failed"] == ["sigstruct-pages"]


# --- item 2: generations in image verify and preflight ----------------------------------------


@pytest.mark.parametrize("kernel, fmt, ok", [
    ("v1-v3", 0x100, True), ("v4-v7", 0x100, True), ("v8", 0x100, True), ("legacy", 0x100, True),
    ("v9-v10", 0x100, False), ("merged", 0x100, False),
    ("v8", 0x200, False), ("v9-v10", 0x200, True), ("merged", 0x200, True),
    ("v4-v7", 0x200, False),
])
def test_kernel_format_per_generation(kernel: str, fmt: int, ok: bool) -> None:
    c = checks_of(imagekit.build_image(fmt), kernel=kernel)
    assert c["kernel-format"].result is (Result.PASS if ok else Result.FAIL)


@pytest.mark.parametrize("kernel, result", [
    ("v1-v3", Result.FAIL), ("legacy", Result.FAIL), (None, Result.FAIL),
    ("v4-v7", Result.WARN), ("v8", Result.WARN),
])
def test_checksum_follows_the_generation(kernel: str | None, result: Result) -> None:
    bad = bytearray(imagekit.build_image(0x100))
    bad[2] ^= 0xFF
    c = checks_of(bytes(bad), kernel=kernel)
    assert c["header-checksum"].result is result


def _policy(seamhash: str, features0: int | None) -> Any:
    from tdxpolicy.catalogue import merge
    from tdxpolicy.sources.document import parse_document

    # The site policy declares 1.5.06's features0 (0x2E1F0FBF); replace it, or leave it out
    # for "unknown".
    text = site_policy_text(seamhash)
    line = "    features0   0x2E1F0FBF\n"
    assert line in text
    text = text.replace(line, "" if features0 is None else f"    features0   0x{features0:X}\n")
    return merge([parse_document(text, "site.tdxpolicy")])


def _preflight(sim: SimKernel, data: bytes, stated: str | None, features0: int | None = None,
               seamhash: str | None = None) -> Any:
    _, sh, key = signed_image(0x200)
    return preflight(probe(sim.sysfs, sim.proc, sim, stated), _policy(seamhash or sh, features0),
                     target=parse_version("1.5.16"), options=MoveOptions(), image_data=data,
                     image_path="img", can_write=lambda p: True, trusted_key_hashes=(key,))


def results(pf: Any) -> dict[str, tuple[str, str]]:
    return {c.code: (c.result.value, c.message) for c in pf.verdict.checks}


@pytest.mark.parametrize("generation", ["v8", "v9-v10", "merged"])
def test_flat_layout_takes_the_strictest_answer(tmp_path: Path, generation: str) -> None:
    """v8 (0x100) and v9-v10/merged (0x200) share sysfs: without --kernel neither format
    passes, and the message names the choice instead of advising a conversion."""
    sim = SimKernel(tmp_path, generation=generation)
    for fmt in (0x100, 0x200):
        data = signed_image(fmt)[0]
        r = results(_preflight(sim, data, None))
        res, msg = r["kernel-image-format"]
        assert res == "fail"
        assert "--kernel v8 or --kernel v9-v10 or --kernel merged" in msg
        assert "convert" not in msg


def test_v8_takes_a_good_0x100_image(tmp_path: Path) -> None:
    """Issue 10: a v8 tree was taken for the merged kernel and a good 0x100 image denied with
    advice to convert it to a format v8 rejects."""
    sim = SimKernel(tmp_path, generation="v8")
    r = results(_preflight(sim, signed_image(0x100)[0], "v8", features0=1 << 47 | FEATURES0_1506))
    assert r["kernel-image-format"] == ("pass", "the v8 kernel accepts 0x100 images")
    assert all(v[0] in ("pass", "warn") for k, v in r.items()), r


def test_v4_v7_tree_allows_a_good_0x100_image(tmp_path: Path) -> None:
    sim = SimKernel(tmp_path, generation="v4-v7")
    pf = _preflight(sim, signed_image(0x100)[0], None, features0=FEATURES0_1506)
    r = results(pf)
    assert pf.allowed, r
    assert r["shutdown-compat"][0] == "pass"
    assert "only when the module supports it" in r["shutdown-compat"][1]


def test_v1_v3_tree_verifies_the_checksum(tmp_path: Path) -> None:
    bad = bytearray(signed_image(0x100)[0])
    bad[2] ^= 0xFF
    sim13 = SimKernel(tmp_path / "a", generation="v1-v3")
    assert results(_preflight(sim13, bytes(bad), None))["image-valid"][0] == "fail"
    sim47 = SimKernel(tmp_path / "b", generation="v4-v7")
    pf = _preflight(sim47, bytes(bad), None, features0=FEATURES0_1506)
    assert pf.allowed and results(pf)["image-valid"][0] == "warn"


def test_preflight_denies_multi_page_on_v4_v7_with_seamldr_1_5(tmp_path: Path) -> None:
    sim = SimKernel(tmp_path, generation="v4-v7", seamldr="1.5.00")
    pf = _preflight(sim, multi_page_blob(1), None, features0=FEATURES0_1506)
    assert not pf.allowed
    res, msg = results(pf)["image-valid"]
    assert res == "fail" and "P-SEAMLDR 1.5.00 refuses (EBADPARAM)" in msg


def test_simulated_v4_v7_kernel_loses_the_module_on_a_multi_page_image(tmp_path: Path) -> None:
    """What the denial above prevents: the kernel takes the image (its header is fine), passes
    loader parameter version 1, and P-SEAMLDR 1.5 refuses after shutdown."""
    sim = SimKernel(tmp_path, generation="v4-v7", seamldr="1.5.00")
    up = sim.upload_dir
    sim.write_bytes(up / "loading", b"1")
    sim.write_bytes(up / "data", multi_page_blob(1))
    sim.write_bytes(up / "loading", b"0")
    while sim.read_bytes(up / "status").strip() != b"idle":
        pass
    assert sim.module_lost


# --- item 3: the shutdown compatibility flag --------------------------------------------------


@pytest.mark.parametrize("generation", ["v8", "v9-v10"])
def test_shutdown_flag_without_update_compat_fails(tmp_path: Path, generation: str) -> None:
    sim = SimKernel(tmp_path, generation=generation)
    fmt = 0x100 if generation == "v8" else 0x200
    pf = _preflight(sim, signed_image(fmt)[0], generation, features0=FEATURES0_1506)
    assert not pf.allowed
    res, msg = results(pf)["shutdown-compat"]
    assert res == "fail"
    assert "lacks UPDATE_COMPAT (TDX_FEATURES0 0x2e1f0fbf, bit 47 clear)" in msg
    assert "harmlessly" in msg
    assert [c.code for c in pf.verdict.failed] == ["shutdown-compat"]


@pytest.mark.parametrize("generation", ["v8", "v9-v10"])
def test_shutdown_flag_with_update_compat_passes(tmp_path: Path, generation: str) -> None:
    sim = SimKernel(tmp_path, generation=generation)
    fmt = 0x100 if generation == "v8" else 0x200
    pf = _preflight(sim, signed_image(fmt)[0], generation, features0=FEATURES0_1506 | 1 << 47)
    assert results(pf)["shutdown-compat"][0] == "pass"
    assert pf.allowed


def test_shutdown_flag_unknown_features_is_unknown(tmp_path: Path) -> None:
    sim = SimKernel(tmp_path, generation="v9-v10")
    pf = _preflight(sim, signed_image(0x200)[0], "v9-v10")
    assert results(pf)["shutdown-compat"][0] == "unknown"
    assert not pf.allowed


def test_merged_kernel_does_not_set_the_flag(tmp_path: Path) -> None:
    sim = SimKernel(tmp_path, generation="merged")
    pf = _preflight(sim, signed_image(0x200)[0], "merged", features0=FEATURES0_1506)
    assert results(pf)["shutdown-compat"][0] == "pass"
    assert pf.allowed
    # Undecided flat layout: the v8/v9-v10 candidates set it, so the strictest answer fails.
    pf2 = _preflight(sim, signed_image(0x200)[0], None, features0=FEATURES0_1506)
    res, msg = results(pf2)["shutdown-compat"]
    assert res == "fail" and "--kernel merged" in msg


def test_simulated_v9_kernel_rejects_harmlessly(tmp_path: Path) -> None:
    """Without the tool: a v9/v10 kernel and a module without UPDATE_COMPAT fail every update
    before shutdown; the module stays alive."""
    sim = SimKernel(tmp_path, generation="v9-v10", installs="1.5.16")
    up = sim.upload_dir
    sim.write_bytes(up / "loading", b"1")
    sim.write_bytes(up / "data", signed_image(0x200)[0])
    sim.write_bytes(up / "loading", b"0")
    while sim.read_bytes(up / "status").strip() != b"idle":
        pass
    assert not sim.module_lost and sim.error == "transferring:firmware-invalid"


def test_host_checks_list_has_shutdown_compat() -> None:
    assert "shutdown-compat" in HOST_CHECKS
    doc = (REPO / "docs" / "cli.md").read_text() + (REPO / "docs" / "host.md").read_text()
    assert "shutdown-compat" in doc


def test_preflight_cli_kernel_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from tdxpolicy.cli import host_cmds
    from tdxpolicy.host import sysfs as sysfs_mod

    data, seamhash, key = signed_image(0x100)
    sim = SimKernel(tmp_path / "h", generation="v8")
    monkeypatch.setattr(sysfs_mod, "default_io", lambda: sim)
    monkeypatch.setattr(host_cmds, "TEST_TRUSTED_KEY_HASHES", (key,))
    monkeypatch.setattr(host_cmds, "TEST_CAN_WRITE", lambda p: True)
    policy = tmp_path / "site.tdxpolicy"
    policy.write_text(site_policy_text(seamhash).replace(  # 1.5.06 with UPDATE_COMPAT (bit 47)
        "    features0   0x2E1F0FBF\n", "    features0   0x8000" + "2E1F0FBF\n"))
    img = tmp_path / "img"
    img.write_bytes(data)
    base = ["preflight", "--image", str(img), "--no-default-policy", "--policy", str(policy),
            "--sysfs-root", str(sim.sysfs), "--proc-root", str(sim.proc)]
    assert main(base) == 1  # undecided flat layout
    assert main([*base, "--kernel", "v8"]) == 0
    assert main([*base, "--kernel", "v4-v7"]) == 2  # not this layout
    err = capsys.readouterr().err
    assert "--kernel v4-v7: the probed sysfs layout (flat" in err
