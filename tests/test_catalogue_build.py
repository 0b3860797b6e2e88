"""``catalogue build``, images as policy sources, and ``--version``.

- The builder renders any catalogue as documents that parse back to the same facts and rules,
  each cited; the embedded catalogue is built by the same code (test_catalogue.py checks it is
  up to date) and a catalogue built from ``../shared/intel`` decides exactly as it does.
- A fixture "Intel repository" (the real mapping, README and images, plus a synthetic release
  signed with the test key) reaches the catalogue, and its moves are decided.
- Images: verified before use, identified by seamhash (never by file name), located conflicts.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from imagekit import build_image, test_key
from tdxpolicy.catalogue import merge
from tdxpolicy.catalogue_build import build_documents, git_commit, render_release
from tdxpolicy.cli import main
from tdxpolicy.engine import decide, select
from tdxpolicy.errors import ConflictError, InputError
from tdxpolicy.hostfacts import HostFacts
from tdxpolicy.image import read_image
from tdxpolicy.sources import load_catalogue
from tdxpolicy.sources.document import parse_document
from tdxpolicy.verdict import MoveOptions
from tdxpolicy.version import Version

V = Version.parse
DAY = dt.date(2026, 11, 28)

FULL = """format 1
release 2.0.99 {
    published 2030-01-02
    mrseam 0x%s
    seamhash 0x%s
    svn 3.7
    platforms 0xA06D0 0xC06F0
    seamldr 2.0.00 2.0.01
    features0 0x1F
    handoff module 2 min 1 no-downgrade
    debug
    status preview "not yet"
    update from >= 2.0.50, != 2.0.51
    deny from == 2.0.60 "bad"
    rollback to 2.0.98
    advisory td-build "wait for builds"
}
""" % ("CD" * 48, "AB" * 48)


def test_rendered_documents_parse_back_to_the_same_release() -> None:
    cat = merge([parse_document(FULL, "made-up.tdxpolicy")])
    (release,) = cat.releases
    text = render_release(release, issued=DAY, expires=None, origin="made up", generator="t")
    (again,) = merge([parse_document(text, "again.tdxpolicy")]).releases
    assert [(n, f.value) for n, f in again.facts.items()] == \
        [(n, f.value) for n, f in release.facts.items()]
    for kind in ("update_from", "deny_from", "rollback_to"):
        assert [str(r.versions) for r in getattr(again, kind)] == \
            [str(r.versions) for r in getattr(release, kind)]
    assert [(a.word, a.text) for a in again.advisories] == [("td-build", "wait for builds")]
    # every fact and rule line cites where it was read
    body = text.split("{", 1)[1]
    cited = [ln for ln in body.splitlines() if ln.strip() and ln.strip() != "}"]
    assert all("# made-up.tdxpolicy:" in ln for ln in cited), cited
    assert "issued  2026-11-28\n" in text and 'source  "made up"\n' in text


def test_a_site_deny_to_is_not_built_into_intel_documents() -> None:
    doc = parse_document('format 1\ndeny to == 1.5.16 "no"\n', "site.tdxpolicy")
    with pytest.raises(InputError) as e:
        build_documents(merge([doc]), issued=DAY, expires=None, origin="x")
    assert "site.tdxpolicy:2:1" in e.value.render()


def test_git_commit_is_read_from_the_checkout(tmp_path: Path) -> None:
    repo = tmp_path / "bin"
    (repo / ".git" / "refs" / "heads").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    sha = "7a16224" + "0" * 33
    (repo / ".git" / "refs" / "heads" / "main").write_text(sha + "\n")
    (repo / "joined_files").mkdir()
    assert git_commit(repo / "joined_files") == sha
    (repo / ".git" / "refs" / "heads" / "main").unlink()
    (repo / ".git" / "packed-refs").write_text(f"# pack-refs\n{sha} refs/heads/main\n")
    assert git_commit(repo) == sha
    assert git_commit(tmp_path) is None


# --- Intel's real data ---------------------------------------------------------------------------


def _binaries_checkout(intel: Path, root: Path) -> Path:
    repo = root / "tdx-module.binaries"
    (repo / "joined_files").mkdir(parents=True)
    shutil.copy(intel / "mapping_file.json", repo)
    shutil.copy(intel / "README.md", repo)
    for blob in (intel / "blobs").glob("*.blob"):
        shutil.copy(blob, repo / "joined_files")
    return repo


def _decisions(cat: object) -> dict[tuple[str, str, str, int], tuple[bool, tuple[str, ...]]]:
    out = {}
    opts = MoveOptions(acknowledged=frozenset({"all"}), today=DAY)
    for r in cat:  # type: ignore[attr-defined]
        for t in cat:  # type: ignore[attr-defined]
            if r.series != t.series:
                continue
            for ldr in ("1.5.00", "2.0.00"):
                for cpu in (0x806F8, 0xA06D0):
                    facts = HostFacts(module_version=r.version, seamldr_version=V(ldr),
                                      cpuid=(cpu,), num_remaining_updates=3)
                    v = decide(cat, facts, t.version, opts)  # type: ignore[arg-type]
                    out[(r.version.text, t.version.text, ldr, cpu)] = (
                        v.allowed, tuple(c.code for c in v.failed))
    return out


def test_a_catalogue_built_from_intel_data_decides_as_the_embedded_one(
        intel_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The embedded catalogue also carries release-facts.json's image facts for the two
    # releases whose images are not published beside the mapping (1.5.13, 2.0.05); a site's
    # build from Intel's repository alone has them as unknown, so those are compared apart.
    repo = _binaries_checkout(intel_dir, tmp_path)
    out = tmp_path / "built"
    code = main(["catalogue", "build", str(repo), str(intel_dir / "tdx-module-releases.md"),
                 "-o", str(out), "--issued", "2026-11-28"])
    assert code == 0, capsys.readouterr().err
    built = load_catalogue([out], include_default=False)
    embedded = load_catalogue()
    assert [r.version for r in built] == [r.version for r in embedded]
    a, b = _decisions(built), _decisions(embedded)
    no_image = {"1.5.13", "2.0.05"}
    same = [k for k in a if not ({k[0], k[1]} & no_image)]
    assert len(same) > 100
    assert {k: a[k] for k in same} == {k: b[k] for k in same}
    # where the image is missing, the built catalogue knows less and denies (fail closed)
    for k in a:
        if {k[0], k[1]} & no_image and a[k] != b[k]:
            assert not a[k][0]


def test_images_of_a_binaries_checkout_are_policy_sources(
        intel_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _binaries_checkout(intel_dir, tmp_path)
    args = ["can-upgrade", "--from", "1.5.06", "--to", "1.5.16", "--seamldr", "2.0.00",
            "--cpuid", "0x806F8", "--remaining", "5", "--acknowledge", "td-build",
            "--no-default-policy", "--policy", str(repo), "--format", "json"]
    # Without the MRSEAM table nothing says which release a 1.5 image is: refused, located.
    assert main(args) == 2
    err = json.loads(capsys.readouterr().out)["error"]
    assert err["code"] == "unidentified-image"
    assert "add Intel's MRSEAM release table" in err["message"]
    assert main([*args, "--policy", str(intel_dir / "tdx-module-releases.md")]) == 0
    verdict = json.loads(capsys.readouterr().out)
    by_code = {c["code"]: c for c in verdict["checks"]}
    for code in ("cpu", "svn", "handoff"):
        assert by_code[code]["result"] == "pass"
        assert by_code[code]["source"]["file"].endswith("joined_files/tdx_module_1.5.16.blob")


def test_an_image_that_disagrees_with_a_document_is_a_located_conflict(
        intel_dir: Path, tmp_path: Path) -> None:
    site = tmp_path / "site.tdxpolicy"
    site.write_text("format 1\nrelease 1.5.16 {\n    svn 1.12\n}\n", encoding="utf-8")
    with pytest.raises(ConflictError) as e:
        load_catalogue([site, intel_dir / "tdx-module-releases.md",
                        intel_dir / "blobs" / "tdx_module_1.5.16.blob"], include_default=False)
    text = "\n".join(p.render() for p in e.value.problems)
    assert f"{site}:3:5" in text and "tdx_module_1.5.16.blob (byte offset" in text


def test_an_image_whose_name_lies_is_refused(intel_dir: Path, tmp_path: Path) -> None:
    liar = tmp_path / "tdx_module_1.5.13.blob"
    shutil.copy(intel_dir / "blobs" / "tdx_module_1.5.16.blob", liar)
    with pytest.raises(InputError) as e:
        load_catalogue([liar])
    assert e.value.code == "image-name-mismatch"
    assert "the file name says 1.5.13 but the image is 1.5.16" in e.value.render()


def test_a_corrupt_image_is_never_a_source(intel_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "tdx_module_1.5.16.blob"
    data = bytearray((intel_dir / "blobs" / "tdx_module_1.5.16.blob").read_bytes())
    data[-1] ^= 0xFF  # a module byte: the seamhash no longer matches
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError) as e:
        load_catalogue([bad])
    assert e.value.code == "image-invalid"
    assert "is not used as a policy source" in e.value.render()


# --- a new release reaches the catalogue ---------------------------------------------------------


def test_a_new_synthetic_release_reaches_the_catalogue_and_is_decided(
        intel_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _binaries_checkout(intel_dir, tmp_path)
    key = test_key()
    blob = build_image(0x100, key=key, seamsvn=0x010C, cpuid_table=(0x806F8,), seed=30)
    seamhash = read_image(blob, "x").sigstruct.seamhash_hex
    (repo / "joined_files" / "tdx_module_1.5.30.blob").write_bytes(blob)
    mapping = json.loads((repo / "mapping_file.json").read_text(encoding="utf-8"))
    mapping["tdx_module_releases"].append({
        "version": "1.5.30", "min_module_version_for_td_preserving": "1.5.08",
        "min_seamldr_versions": ["1.5.00", "2.0.00"], "tdx_feature0": "0x226F3F0FBF"})
    (repo / "mapping_file.json").write_text(json.dumps(mapping, indent=1), encoding="utf-8")
    mrseam = tmp_path / "tdx-module-releases.md"
    table = (intel_dir / "tdx-module-releases.md").read_text(encoding="utf-8")
    row = next(ln for ln in table.splitlines() if "1.5.16" in ln and ln.startswith("|"))
    new_row = row.replace("1.5.16", "1.5.30")
    old_hash = next(c.strip() for c in row.split("|") if c.strip().startswith("0x"))
    new_row = new_row.replace(old_hash, "0x" + seamhash)
    mrseam.write_text(table.replace(row, row + "\n" + new_row), encoding="utf-8")
    cat = load_catalogue([repo, mrseam], include_default=False,
                         trusted_key_hashes=(key.key_hash,))
    r = cat.get(V("1.5.30"))
    assert r is not None and r.facts.svn is not None and str(r.facts.svn.value) == "1.12"
    assert r.facts.svn.source.file.endswith("tdx_module_1.5.30.blob")
    host = HostFacts(module_version=V("1.5.08"), seamldr_version=V("2.0.00"), cpuid=(0x806F8,),
                     num_remaining_updates=3)
    opts = MoveOptions(acknowledged=frozenset({"all"}), today=DAY)
    assert decide(cat, host, V("1.5.30"), opts).allowed
    assert select(cat, host, opts).selected == V("1.5.30")
    older = HostFacts(module_version=V("1.5.06"), seamldr_version=V("2.0.00"),
                      cpuid=(0x806F8,), num_remaining_updates=3)
    assert [c.code for c in decide(cat, older, V("1.5.30"), opts).failed] == ["update-rule"]
    # Intel's key is the default: the same tree without the test key is refused, located.
    with pytest.raises(InputError) as e:
        load_catalogue([repo, mrseam], include_default=False)
    assert "tdx_module_1.5.30.blob" in e.value.render()


# --- --version -------------------------------------------------------------------------------------


def test_version_names_the_embedded_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    from tdxpolicy import __version__
    from tdxpolicy.sources.embedded import digest_documents, read_embedded_bytes

    assert main(["--version"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"tdxpolicy {__version__}"
    assert out[1] == f"embedded catalogue {digest_documents(read_embedded_bytes())}"
    assert out[2].startswith("  18 releases in 18 documents (1.5: 1.5.01..1.5.28 (11), "
                             "2.0: 2.0.02..2.0.16 (7))")
    assert out[3] == "  issued 2026-11-26, expires 2027-11-26"
    assert "(commit 7a16224)" in out[4]
    assert main(["--version", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tdxpolicy"] == "version/1" and doc["version"] == __version__
    assert doc["embedded_catalogue"]["releases"][0] == "1.5.01"


# --- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["catalogue", "build", "/nonexistent", "-o", "OUT"], "cannot read /nonexistent"),
    (["catalogue", "build", "SRC"], "Missing option '-o'"),
    (["catalogue", "build", "SRC", "-o", "OUT", "--issued", "28.11.2026"],
     "--issued: expected a date like 2026-11-28"),
])
def test_build_errors_are_located_exit_2(args: list[str], message: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "SRC").mkdir()
    (tmp_path / "SRC" / "a.tdxpolicy").write_text("format 1\nrelease 9.1.00 {\n}\n")
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "OUT").exists()


def test_build_refuses_to_overwrite_without_force(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "a.tdxpolicy"
    src.write_text("format 1\nrelease 9.1.00 {\n    svn 1.1\n}\n")
    out = tmp_path / "out"
    assert main(["catalogue", "build", str(src), "-o", str(out)]) == 0
    assert main(["catalogue", "build", str(src), "-o", str(out)]) == 2
    assert "give --force" in capsys.readouterr().err
    assert main(["catalogue", "build", str(src), "-o", str(out), "--force"]) == 0
    assert [p.name for p in out.iterdir()] == ["tdx_module_9.1.00.tdxpolicy"]
