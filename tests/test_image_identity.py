"""Identity (seamhash vs the catalogue) and the checks an image adds to a move decision."""

from __future__ import annotations

import hashlib

import pytest

import imagekit
from tdxpolicy.catalogue import Catalogue, merge
from tdxpolicy.errors import InputError
from tdxpolicy.image import identify, image_move_checks, image_release_facts, name_version, read_image
from tdxpolicy.model import (
    Handoff,
    Location,
    PolicyDocument,
    ReleaseBlock,
    ReleaseFacts,
    SourceKind,
    Sourced,
    Svn,
)
from tdxpolicy.verdict import Result
from tdxpolicy.version import parse_version

MODULE = imagekit.make_module(4)
HASH = hashlib.sha384(MODULE).hexdigest().upper()
DOC = "site.tdxpolicy"


@pytest.fixture(scope="session")
def key() -> imagekit.TestKey:
    return imagekit.test_key()


def _catalogue(**overrides: object) -> Catalogue:
    """1.5.16 whose mrseam is our synthetic module's hash, with facts matching the image."""
    facts = dict(
        mrseam=Sourced(HASH, Location(DOC, 3, 5)),
        svn=Sourced(Svn(1, 11), Location(DOC, 4, 5)),
        platforms=Sourced((0x806F8, 0xC06F0, 0xA06F0), Location(DOC, 5, 5)),
        handoff=Sourced(Handoff(0, 0), Location(DOC, 6, 5)),
    )
    facts.update(overrides)  # type: ignore[arg-type]
    block = ReleaseBlock(parse_version("1.5.16"), Location(DOC, 2, 1), ReleaseFacts(**facts))  # type: ignore[arg-type]
    other = ReleaseBlock(parse_version("1.5.08"), Location(DOC, 9, 1),
                         ReleaseFacts(seamhash=Sourced("AB" * 48, Location(DOC, 10, 5))))
    return merge([PolicyDocument(DOC, SourceKind.DOCUMENT, releases=(block, other))])


def _image(fmt: int = 0x200, **sig: object) -> bytes:
    s = imagekit.make_sigstruct(MODULE, **sig)  # type: ignore[arg-type]
    return imagekit.blob_0x100(s, MODULE) if fmt == 0x100 else imagekit.image_0x200(s, MODULE)


def test_identify_by_mrseam_and_by_seamhash() -> None:
    cat = _catalogue()
    ident = identify(HASH.lower(), cat)
    assert (str(ident.version), ident.by, ident.source) == ("1.5.16", "mrseam", Location(DOC, 3, 5))
    ident = identify("0x" + "ab" * 48, cat)
    assert (str(ident.version), ident.by) == ("1.5.08", "seamhash")
    assert identify("CD" * 48, cat).version is None
    assert identify(HASH, None).version is None


@pytest.mark.parametrize(
    "name, expected",
    [("tdx_module_1.5.16.blob", "1.5.16"), ("/a/b/tdx_module_2.0.08.img", "2.0.08"),
     ("module.blob", None), ("1.5.16-to-1.5.20.blob", None), ("v1.5.6.bin", "1.5.6")],
)
def test_name_version(name: str, expected: str | None) -> None:
    v = name_version(name)
    assert (None if v is None else v.text) == expected


def _by(checks: tuple) -> dict:  # type: ignore[type-arg]
    return {c.code: c for c in checks}


def test_move_checks_all_pass(key: imagekit.TestKey) -> None:
    version, checks = image_move_checks(_image(), "tdx_module_1.5.16.img", _catalogue(),
                                        parse_version("1.5.16"), trusted_key_hashes=(key.key_hash,))
    assert str(version) == "1.5.16"
    by = _by(checks)
    assert [c.code for c in checks] == ["image-valid", "image-identity", "image-name", "image-catalogue"]
    assert all(c.result is Result.PASS for c in checks), checks
    assert by["image-identity"].message == "image tdx_module_1.5.16.img is 1.5.16 (by mrseam)"
    # The catalogue's 1.5.16 has an mrseam but no image fact (seamhash/debug): its debug bit
    # is unknown, so no agreement on it is claimed (issue 10 item 5).
    assert by["image-catalogue"].message == (
        "image agrees with the catalogue's 1.5.16 on svn, platforms, handoff (catalogue has "
        "no debug)")
    _, checks = image_move_checks(
        _image(), "tdx_module_1.5.16.img",
        _catalogue(seamhash=Sourced(HASH, Location(DOC, 7, 5))), parse_version("1.5.16"),
        trusted_key_hashes=(key.key_hash,))
    assert _by(checks)["image-catalogue"].message == (
        "image agrees with the catalogue's 1.5.16 on svn, platforms, handoff, debug")


def test_move_checks_production_key_untrusted_denies() -> None:
    _, checks = image_move_checks(_image(), "x.img", _catalogue(), None)
    valid = _by(checks)["image-valid"]
    assert valid.result is Result.FAIL
    assert valid.facts["failed"] == ["signing-key"]


def test_move_checks_target_mismatch_names_both(key: imagekit.TestKey) -> None:
    version, checks = image_move_checks(_image(), "x.img", _catalogue(), parse_version("1.5.20"),
                                        trusted_key_hashes=(key.key_hash,))
    assert str(version) == "1.5.16"
    ident = _by(checks)["image-identity"]
    assert ident.result is Result.FAIL
    assert ident.message == "image x.img is 1.5.16 (by mrseam), but the target is 1.5.20"


def test_move_checks_unknown_image_fails_closed(key: imagekit.TestKey) -> None:
    other = imagekit.make_module(4, seed=9)
    sig = imagekit.make_sigstruct(other)
    version, checks = image_move_checks(imagekit.image_0x200(sig, other), "tdx_module_1.5.16.img",
                                        _catalogue(), None, trusted_key_hashes=(key.key_hash,))
    assert version is None
    by = _by(checks)
    assert by["image-identity"].result is Result.UNKNOWN
    assert by["image-catalogue"].result is Result.UNKNOWN
    assert by["image-name"].result is Result.WARN
    assert by["image-name"].message.startswith("file name says 1.5.16 but no source knows seamhash")


def test_file_name_disagreeing_denies_a_move(key: imagekit.TestKey) -> None:
    # issue 10 item 7: an image whose name says 1.5.20 but whose hash is 1.5.16
    _, checks = image_move_checks(_image(), "tdx_module_1.5.20.img", _catalogue(), None,
                                  trusted_key_hashes=(key.key_hash,))
    name = _by(checks)["image-name"]
    assert (name.result, name.message) == (
        Result.FAIL, "file name says 1.5.20 but the seamhash identifies 1.5.16: the image may "
        "not be what its name says; give --to 1.5.16 if it is the release you mean to install")


def test_file_name_disagreeing_accepted_when_to_names_the_identified_release(
        key: imagekit.TestKey) -> None:
    v = parse_version("1.5.16")
    _, checks = image_move_checks(_image(), "tdx_module_1.5.20.img", _catalogue(), v,
                                  trusted_key_hashes=(key.key_hash,), named=v)
    name = _by(checks)["image-name"]
    assert (name.result, name.message) == (
        Result.WARN, "file name says 1.5.20 but the seamhash identifies 1.5.16 (accepted: --to "
        "names 1.5.16)")
    # --to naming the release the *file name* claims does not accept it (image-identity fails
    # too: the image is not the target)
    _, checks = image_move_checks(_image(), "tdx_module_1.5.20.img", _catalogue(),
                                  parse_version("1.5.20"), trusted_key_hashes=(key.key_hash,),
                                  named=parse_version("1.5.20"))
    assert _by(checks)["image-name"].result is Result.FAIL
    assert _by(checks)["image-identity"].result is Result.FAIL


def test_file_name_disagreeing_only_warns_outside_a_move() -> None:
    from tdxpolicy.image import identity_checks

    image = read_image(_image(), "tdx_module_1.5.20.img")
    name = identity_checks(image, identify(HASH, _catalogue()))[0]
    assert (name.code, name.result) == ("image-name", Result.WARN)


@pytest.mark.parametrize(
    "sig, overrides, expected",
    [
        ({"seamsvn": 0x010C}, {},
         "svn: image 1.12 (byte offset 0x13b4) vs catalogue 1.11 (site.tdxpolicy:4:5)"),
        ({"cpuid_table": (0x806F8,)}, {},
         "CPUID table: image 0x806F8 (byte offset 0x1404) vs catalogue 0x806F8 0xA06F0 0xC06F0 "
         "(site.tdxpolicy:5:5)"),
        ({"module_hv": 1}, {},
         "handoff: image module 1 min 0 (byte offset 0x13d8) vs catalogue module 0 min 0 "
         "(site.tdxpolicy:6:5)"),
        ({"module_type": 0x8000_0000}, {"seamhash": Sourced(HASH, Location(DOC, 7, 5))},
         "debug: image is debug-signed (byte offset 0x100c) vs catalogue production "
         "(site.tdxpolicy:7:5)"),
        ({}, {"debug": Sourced(True, Location(DOC, 7, 5))},
         "debug: image is production-signed (byte offset 0x100c) vs catalogue debug "
         "(site.tdxpolicy:7:5)"),
    ],
)
def test_catalogue_disagreement_names_both_values(
    sig: dict, overrides: dict, expected: str, key: imagekit.TestKey  # type: ignore[type-arg]
) -> None:
    _, checks = image_move_checks(_image(**sig), "x.img", _catalogue(**overrides), None,
                                  trusted_key_hashes=(key.key_hash,))
    c = _by(checks)["image-catalogue"]
    assert c.result is Result.FAIL
    assert c.message == f"image x.img disagrees with the catalogue's 1.5.16: {expected}"
    assert c.source is not None and c.source.file == DOC


def test_catalogue_missing_facts_are_noted(key: imagekit.TestKey) -> None:
    _, checks = image_move_checks(_image(), "x.img", _catalogue(svn=None, handoff=None), None,
                                  trusted_key_hashes=(key.key_hash,))
    c = _by(checks)["image-catalogue"]
    assert c.result is Result.PASS
    assert c.message == ("image agrees with the catalogue's 1.5.16 on platforms "
                         "(catalogue has no svn, handoff, debug)")


def test_not_an_image_raises_located_error() -> None:
    with pytest.raises(InputError) as info:
        image_move_checks(b"hello" * 1000, "x.img", _catalogue(), None)
    assert info.value.problems[0].location == Location("x.img", offset=0)


def test_image_release_facts_are_located() -> None:
    image = read_image(_image(0x100, module_hv=2, min_update_hv=1), "i.blob")
    f = image_release_facts(image)
    assert f.svn is not None and f.svn.value == Svn(1, 11)
    assert f.svn.source == Location("i.blob", offset=4096 + 948)
    assert f.handoff is not None and f.handoff.value == Handoff(2, 1)
    assert f.platforms is not None and f.platforms.value == (0x806F8, 0xC06F0, 0xA06F0)
    assert f.seamhash is not None and f.seamhash.value == HASH
    # the image proves production-signed too (module_type bit 31 clear), not only debug
    assert f.debug == Sourced(False, Location("i.blob", offset=4096 + 12))


def test_with_image_facts_fills_only_what_the_catalogue_lacks_for_that_release() -> None:
    from tdxpolicy.image import with_image_facts

    image = read_image(_image(), "i.img")
    cat = _catalogue(svn=None)
    filled = with_image_facts(cat, image, parse_version("1.5.16"))
    rel = filled.get(parse_version("1.5.16"))
    assert rel is not None
    assert rel.facts.debug == Sourced(False, Location("i.img", offset=4096 + 12))
    assert rel.facts.svn is not None and rel.facts.svn.source.file == "i.img"
    # declared facts stay as the catalogue has them
    assert rel.facts.platforms == cat.get(parse_version("1.5.16")).facts.platforms  # type: ignore[union-attr]
    # never lent to another release
    assert filled.get(parse_version("1.5.08")) == cat.get(parse_version("1.5.08"))
