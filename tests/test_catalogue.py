"""The embedded catalogue, its precompiled JSON, merging, and the show/lint commands.

Tests on Intel's real data use the ``intel_dir`` fixture (skipped when ../shared/intel is
absent); the generator and the loaders are also tested on data made here.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest

from tdxpolicy.catalogue import merge
from tdxpolicy.cli import main
from tdxpolicy.errors import ConflictError
from tdxpolicy.model import StatusKind
from tdxpolicy.serialize import CATALOGUE_TAG, document_to_json
from tdxpolicy.sources import embedded, embedded_documents, load_catalogue, load_documents
from tdxpolicy.sources.document import read_document
from tdxpolicy.sources.intel_notes import SERIES_2_0_STATUS, TD_BUILD_ADVISORY
from tdxpolicy.version import Version, parse_version
import datetime as dt
from typing import Any
from hypothesis import given, settings
from hypothesis import strategies as st
from tdxpolicy.catalogue import Catalogue
from tdxpolicy.engine import decide
from tdxpolicy.errors import InputError
from tdxpolicy.graph import VersionGraph
from tdxpolicy.hostfacts import HostFacts
from tdxpolicy.model import (
    DenyFrom,
    Handoff,
    Location,
    PolicyDocument,
    ReleaseBlock,
    ReleaseFacts,
    RollbackTo,
    SourceKind,
    Sourced,
    Svn,
    UpdateFrom,
)
from tdxpolicy.sources import load_document
from tdxpolicy.sources.document import parse_document
from tdxpolicy.verdict import MoveOptions
from tdxpolicy.version import Clause, Op, VersionSet

REPO = Path(__file__).resolve().parent.parent
RELEASES = REPO / "tdxpolicy" / "data" / "releases"
SCHEMA = json.loads((REPO / "schemas" / "catalogue.schema.json").read_text())
INTEL_18 = ["1.5.01", "1.5.05", "1.5.06", "1.5.08", "1.5.09", "1.5.13", "1.5.16", "1.5.20",
            "1.5.24", "1.5.25", "1.5.28", "2.0.02", "2.0.04", "2.0.05", "2.0.08", "2.0.12",
            "2.0.14", "2.0.16"]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mkcat", REPO / "scripts" / "make_embedded_catalogue.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _validator(defn: str | None = None) -> jsonschema.Draft202012Validator:
    schema = SCHEMA if defn is None else {"$ref": f"{SCHEMA['$id']}#/$defs/{defn}"}
    from referencing import Registry, Resource

    reg = Registry().with_resource(SCHEMA["$id"], Resource.from_contents(SCHEMA))
    return jsonschema.Draft202012Validator(schema, registry=reg)


# --- the shipped catalogue ----------------------------------------------------------------------


def test_embedded_catalogue_has_all_18_releases() -> None:
    cat = load_catalogue()
    assert [r.version.text for r in cat.releases] == INTEL_18
    assert sorted(p.name for p in RELEASES.glob("*.tdxpolicy")) == [
        f"tdx_module_{v}.tdxpolicy" for v in INTEL_18
    ]


def test_compiled_catalogue_is_in_sync_with_the_documents() -> None:
    """The shipped compiled catalogue carries the digest of the shipped documents and builds
    exactly what parsing them gives (so the fast path never serves other facts than the
    documents), texts that equality ignores included; and it is what compiling gives now."""
    docs = embedded.read_embedded_bytes()
    module = embedded.compiled_module()
    assert module.DIGEST == embedded.digest_documents(docs)
    assert embedded.compiled_is_current()
    parsed = [read_document(b, n, embedded=True) for n, b in sorted(docs.items())]
    assert embedded_documents() == parsed
    assert [document_to_json(d) for d in module.documents()] == [document_to_json(d)
                                                                  for d in parsed]
    shipped = (RELEASES.parent / embedded.COMPILED_NAME).read_bytes()
    assert shipped == embedded.compile_documents(docs)


def test_compiled_catalogue_validates_against_schema() -> None:
    module = embedded.compiled_module()
    data = {"tdxpolicy": CATALOGUE_TAG, "digest": module.DIGEST,
            "documents": [document_to_json(d) for d in module.documents()]}
    errors = list(_validator().iter_errors(data))
    assert errors == []
    data["documents"][0]["releases"][0]["facts"]["mrseam"]["value"] = "0x1234"
    assert [e.json_path for e in _validator().iter_errors(data)] == [
        "$.documents[0].releases[0].facts.mrseam.value"
    ]


def test_compiling_refuses_values_it_cannot_write() -> None:
    with pytest.raises(TypeError, match="cannot compile a set"):
        embedded._source_of({1}, set())


def test_edited_package_is_reparsed_not_served_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Invalidation: change a shipped document and the compiled catalogue is ignored (digest
    mismatch); a damaged one, even under the right digest, is not an error either."""
    pkg = tmp_path / "data"
    shutil.copytree(RELEASES.parent, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(embedded, "releases_dir", lambda: pkg / "releases")
    assert embedded.compiled_is_current()
    doc = pkg / "releases" / "tdx_module_1.5.16.tdxpolicy"
    doc.write_text(doc.read_text().replace("svn         1.11", "svn         1.12"))
    assert not embedded.compiled_is_current()
    cat = merge(embedded_documents())
    rel = cat.get(parse_version("1.5.16"))
    assert rel is not None and rel.facts.svn is not None and str(rel.facts.svn.value) == "1.12"
    # a new document is picked up too
    (pkg / "releases" / "tdx_module_1.5.99.tdxpolicy").write_text("format 1\nrelease 1.5.99 {\n}\n")
    assert parse_version("1.5.99") in merge(embedded_documents())
    digest = embedded.digest_documents(embedded.read_embedded_bytes())
    head = f"DIGEST = {digest!r}\n"
    for damage in (head + "def documents(:\n", head, head + "def documents():\n    return nowhere\n",
                   head + "def documents():\n    return [1, 2]\n",
                   head + "from tdxpolicy.version import Version\n"
                   "def documents():\n    return (Version(1, 5, -1),)\n",
                   "DIGEST = 1\ndef documents():\n    return ()\n"):
        (pkg / embedded.COMPILED_NAME).write_text(damage)
        assert not embedded.compiled_is_current(), damage
        assert parse_version("1.5.99") in merge(embedded_documents())
    (pkg / embedded.COMPILED_NAME).unlink()
    assert not embedded.compiled_is_current()
    assert parse_version("1.5.99") in merge(embedded_documents())


def test_loading_the_embedded_catalogue_imports_no_lark() -> None:
    code = ("import sys; from tdxpolicy.sources import load_catalogue; c = load_catalogue(); "
            "assert len(c) == 18; assert 'lark' not in sys.modules and 'jsonschema' not in "
            "sys.modules, sorted(m for m in sys.modules if m in ('lark', 'jsonschema'))")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_every_shipped_document_lints_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(RELEASES)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err == "18 document(s), 18 release block(s): clean\n"


def test_generated_documents_state_intel_notes_and_no_invented_facts() -> None:
    cat = load_catalogue()
    for r in cat.releases:
        text = (RELEASES / f"tdx_module_{r.version.text}.tdxpolicy").read_text()
        assert text.startswith(f"# Intel TDX module {r.version.text}\n# Generated by "
                               "scripts/make_embedded_catalogue.py")
        if r.has_update_policy:
            assert [a.text for a in r.advisories] == [TD_BUILD_ADVISORY]
            assert [a.word for a in r.advisories] == ["td-build"]
        else:
            assert r.advisories == () and r.facts.seamldr is None and r.facts.features0 is None
        if r.series == (2, 0):
            assert r.facts.status is not None
            assert r.facts.status.value.kind is StatusKind.PREVIEW
            assert r.facts.status.value.reason == SERIES_2_0_STATUS
        else:
            assert r.facts.status is None
    no_mrseam = cat.get(parse_version("2.0.05"))
    assert no_mrseam is not None and no_mrseam.facts.mrseam is None and no_mrseam.facts.seamhash


def test_embedded_matches_intel_release_facts(intel_dir: Path) -> None:
    facts = json.loads((intel_dir / "release-facts.json").read_text())
    mapping = {m["version"]: m for m in json.loads((intel_dir / "mapping_file.json").read_text())["tdx_module_releases"]}
    cat = load_catalogue()
    assert len(facts["releases"]) == 18 and len(mapping) == 11
    for rf in facts["releases"]:
        r = cat.get(parse_version(rf["version"]))
        assert r is not None
        f = r.facts
        if rf.get("mrseam_published"):
            assert f.mrseam is not None and "0x" + f.mrseam.value == rf["mrseam_published"]
        else:
            assert f.mrseam is None
        img = rf.get("from_published_image")
        if img:
            assert f.seamhash is not None and f.seamhash.value == img["seamhash"]
            assert f.published is not None and f.published.value.isoformat() == img["sigstruct_date"]
            assert f.svn is not None and (f.svn.value.major, f.svn.value.minor) == (
                img["seam_svn"]["major"], img["seam_svn"]["minor"])
            assert f.platforms is not None and [f"0x{p:X}" for p in f.platforms.value] == img["cpuid_table"]
            assert f.handoff is not None and (f.handoff.value.module_hv, f.handoff.value.min_update_hv,
                                              f.handoff.value.no_downgrade) == (
                img["module_hv"], img["min_update_hv"], img["no_downgrade"])
            assert (f.debug is not None) == img["debug"]
        else:
            assert f.seamhash is None and f.svn is None and f.published is None
        m = mapping.get(rf["version"])
        if m is None:
            assert r.update_from == () and f.seamldr is None
            continue
        assert f.seamldr is not None and [v.text for v in f.seamldr.value] == m["min_seamldr_versions"]
        assert f.features0 is not None and f.features0.value == int(m["tdx_feature0"], 16)
        (u,) = r.update_from
        assert str(u.versions) == ">= " + m["min_module_version_for_td_preserving"]


def test_generator_is_up_to_date(intel_dir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_embedded_catalogue.py"), "--intel",
         str(intel_dir), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "up to date: 18 documents and compiled_catalogue.py\n"


# --- merging --------------------------------------------------------------------------------------


def test_conflicting_facts_name_every_location(tmp_path: Path) -> None:
    a = tmp_path / "a.tdxpolicy"
    b = tmp_path / "b.tdxpolicy"
    a.write_text("format 1\nrelease 1.5.16 {\n  svn 1.12\n}\n")
    b.write_text("format 1\nrelease 1.5.16 {\n  # site says\n  svn 1.13\n}\n")
    with pytest.raises(ConflictError) as ei:
        load_catalogue([a, b])
    msgs = [p.render() for p in ei.value.problems]
    assert msgs[0] == (
        "tdx_module_1.5.16.tdxpolicy:14:5: release 1.5.16: fact 'svn' is declared with different "
        f"values: 1.11 at tdx_module_1.5.16.tdxpolicy:14:5, 1.12 at {a}:3:3, 1.13 at {b}:4:3"
    )
    assert [str(p.location) for p in ei.value.problems] == [
        "tdx_module_1.5.16.tdxpolicy:14:5", f"{a}:3:3", f"{b}:4:3"]


def test_same_fact_same_value_is_fine_and_rules_accumulate(tmp_path: Path) -> None:
    site = tmp_path / "site.tdxpolicy"
    site.write_text(
        "format 1\nrelease 1.5.16 {\n  platforms 0xA06F0 0x806F8 0xC06F0\n"
        '  deny from 1.5.01 "go through 1.5.08"\n  rollback to 1.5.13\n'
        '  advisory migration "no live migration during the update"\n}\n')
    cat = load_catalogue([site])
    r = cat.get(parse_version("1.5.16"))
    assert r is not None
    assert r.facts.platforms is not None and r.facts.platforms.source.file == "tdx_module_1.5.16.tdxpolicy"
    assert [a.word for a in r.advisories] == ["td-build", "migration"]
    assert r.deny_from[0].source.file == str(site) and r.deny_from[0].source.line == 4
    assert len(r.rollback_to) == 1 and len(r.update_from) == 1
    assert [str(loc) for loc in r.declared_at] == ["tdx_module_1.5.16.tdxpolicy:10:1", f"{site}:2:1"]


def test_no_default_policy_leaves_the_embedded_catalogue_out(tmp_path: Path) -> None:
    site = tmp_path / "s.tdxpolicy"
    site.write_text("format 1\nrelease 1.5.16 {\n}\n")
    assert [r.version.text for r in load_catalogue([site], include_default=False)] == ["1.5.16"]
    assert len(load_catalogue([], include_default=False)) == 0


# --- show -----------------------------------------------------------------------------------------


def test_show_cites_file_line_column_for_every_fact_and_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "1.5.16"]) == 0
    out = capsys.readouterr().out
    doc = (RELEASES / "tdx_module_1.5.16.tdxpolicy").read_text().splitlines()
    cited = re.findall(r"^\s+(\S+.*?)\n\s+at tdx_module_1\.5\.16\.tdxpolicy:(\d+):(\d+)$", out, re.M)
    names = [c[0].split()[0] for c in cited]
    assert names == ["published", "mrseam", "seamhash", "svn", "platforms", "seamldr",
                     "features0", "handoff", "update", "advisory"]
    for text, line, col in cited:
        keyword = text.split()[0]
        assert doc[int(line) - 1][int(col) - 1:].startswith(keyword)


def test_show_json_validates_and_cites(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "2.0.05", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(_validator("show").iter_errors(data)) == []
    rel = data["release"]
    assert rel["unknown_facts"] == ["mrseam"]
    assert rel["facts"]["status"]["value"]["kind"] == "preview"
    assert all("line" in f["source"] and "column" in f["source"] for f in rel["facts"].values())


def test_show_unknown_version_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "1.5.17"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tdxpolicy: no policy source knows release 1.5.17 (known: 1.5.01, ")
    assert main(["show", "1.5.16", "--no-default-policy"]) == 2
    assert main(["show", "1.5.17", "--format", "json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert data["error"]["code"] == "unknown-version"


def test_show_with_site_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site.tdxpolicy"
    site.write_text('format 1\ndeny to 1.5.16 "site freeze"\nrelease 1.5.16 {\n  rollback to 1.5.13\n}\n')
    assert main(["show", "1.5.16", "--policy", str(site)]) == 0
    out = capsys.readouterr().out
    assert f"  rollback to == 1.5.13\n    at {site}:4:3\n" in out
    assert f'  deny to == 1.5.16 "site freeze" (document rule)\n    at {site}:2:1\n' in out


# --- lint -----------------------------------------------------------------------------------------


def test_lint_findings_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """lint is the audit's document rules: their ids and messages, sorted by place."""
    doc = tmp_path / "site.tdxpolicy"
    doc.write_text(
        "format 1\nissued 2020-01-01\nexpires 2021-01-01\n"
        "release 1.5.16 {\n  seamldr 1.5.00 3.1.00\n  update from >= 1.5.20\n"
        "  update from 1.5.01, 1.5.05\n}\n")
    assert main(["lint", str(doc), "--no-default-policy"]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{doc}:3:1: warning: document expired on 2021-01-01 (today is "
        + __import__("datetime").date.today().isoformat()
        + "): verdicts that use it warn (policy-fresh) and fail under --strict; review it and "
        "issue it again with a new expires date [stale-document]",
        f"{doc}:5:3: warning: release 1.5.16: seamldr 3.1.00 is not a known P-SEAMLDR line "
        "(known: 1.5, 2.0) [seamldr-unknown-line]",
        f"{doc}:6:3: warning: 'update from >= 1.5.20' of release 1.5.16 can never match: a "
        "runtime update into 1.5.16 comes from a running 1.5.x version not newer than 1.5.16, "
        "and none satisfies '>= 1.5.20' [never-matches]",
        f"{doc}:7:3: warning: 'update from == 1.5.01, == 1.5.05' of release 1.5.16 can never "
        "match: its clauses contradict each other (clauses joined by ',' must all hold; write "
        "one statement per alternative) [never-matches]",
    ]
    assert err == "1 document(s), 1 release block(s): 4 finding(s)\n"


def test_lint_conflict_with_embedded_is_a_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "c.tdxpolicy"
    doc.write_text("format 1\nexpires 2099-01-01\nrelease 1.5.16 {\n  svn 1.10\n}\n")
    assert main(["lint", str(doc), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert list(_validator("lint").iter_errors(data)) == []
    # one finding naming both places, located in the linted document (not the embedded one)
    assert [(f["code"], f["severity"], f["source"]["line"]) for f in data["findings"]] == [
        ("source-disagreement", "error", 4)]
    assert data["findings"][0]["message"] == (
        f"release 1.5.16: sources disagree on svn: 1.11 at tdx_module_1.5.16.tdxpolicy:14:5; "
        f"1.10 at {doc}:4:3")
    assert main(["lint", str(doc), "--no-default-policy"]) == 0


def test_lint_reports_every_broken_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.tdxpolicy").write_text("format 1\nrelase 1.5.01 {\n}\n")
    (tmp_path / "b.tdxpolicy").write_text("format 1\nrelease 1.5.01 {\n  svn 1\n}\n")
    assert main(["lint", str(tmp_path / "a.tdxpolicy"), str(tmp_path / "b.tdxpolicy")]) == 2
    err = capsys.readouterr().err
    assert "a.tdxpolicy:2:1: unknown statement 'relase'; did you mean 'release'?" in err
    assert "b.tdxpolicy:3:7: expected an SVN like 1.11 (major.minor), got '1'" in err


def test_load_documents_of_the_package_dir_equals_embedded() -> None:
    files = load_documents([RELEASES])
    emb = embedded_documents()
    assert [Path(d.file).name for d in files] == [d.file for d in emb]
    for f, e in zip(files, emb):
        # the same facts; only the file names in the locations differ
        assert [(n, s.value, s.source.line) for b in f.releases for n, s in b.facts.items()] == [
            (n, s.value, s.source.line) for b in e.releases for n, s in b.facts.items()]
    assert Version(1, 5, 16) in [b.version for d in emb for b in d.releases]


def test_intel_sources_and_embedded_documents_give_identical_rules(intel_dir: Path) -> None:
    """Issue #2 "Done when": the mapping JSON, the README table and the embedded documents give
    identical rules for the 11 releases they share."""
    pytest.importorskip("tdxpolicy.sources.intel")
    mapping, readme = load_documents([intel_dir / "mapping_file.json", intel_dir / "README.md"])
    emb = {b.version: b for d in embedded_documents() for b in d.releases}

    def rules(blocks: object) -> dict[Version, list[str]]:
        return {b.version: [str(u.versions) for u in b.update_from]
                for b in blocks if b.update_from}  # type: ignore[attr-defined]

    from_mapping, from_readme = rules(mapping.releases), rules(readme.releases)
    from_embedded = rules(emb.values())
    assert len(from_mapping) == 11
    assert from_mapping == from_readme == from_embedded
    merged = load_catalogue([intel_dir / "mapping_file.json", intel_dir / "README.md",
                             intel_dir / "tdx-module-releases.md"])
    assert len(merged) == 18  # and no conflicting fact among the four sources


# --- defects found in review of the catalogue and its sources (was test_qa_catalogue_sources.py)

README_TABLE = """\
## Intel TDX module limitations for TD-Preserving update

| Intel TDX Module to be Updated | Minimum Version of Existing Running Intel TDX Module | Supported SEAMLDR Versions |
|---|---|---|
| 1.5.16 | 1.5.01 | 1.5.00, 2.0.00 |
"""

LOOKED_FOR = (
    "expected Intel's binaries README with the table 'Intel TDX module limitations for "
    "TD-Preserving update' (header '| Intel TDX Module to be Updated | Minimum Version of "
    "Existing Running Intel TDX Module | Supported SEAMLDR Versions |') or Intel's "
    "tdx-module-releases.md with the table '| Version | MRSEAM |'"
)


# --- keywords end at a word boundary -----------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("    svnn 1.9", "3:5: unknown statement 'svnn'; did you mean 'svn'?"),
        ("    svn1.9", "3:5: unknown statement 'svn1'; did you mean 'svn'?"),
        ("    debugx", "3:5: unknown statement 'debugx'; did you mean 'debug'?"),
        ("    updates from >= 1.5.01", "3:5: unknown statement 'updates'; did you mean 'update'?"),
        ("    status previews \"x\"", "3:12: expected 'preview' or 'withdrawn', got 'previews'"),
    ],
)
def test_keyword_prefix_is_not_a_keyword(line: str, message: str) -> None:
    text = f"format 1\nrelease 1.5.99 {{\n{line}\n}}\n"
    with pytest.raises(InputError) as e:
        parse_document(text, "k.tdxpolicy")
    assert str(e.value).splitlines()[0] == f"k.tdxpolicy:{message}"


def test_keyword_prefix_outside_blocks() -> None:
    with pytest.raises(InputError) as e:
        parse_document("format 1\nissuedd 2025-01-01\n", "k.tdxpolicy")
    assert str(e.value).splitlines()[0] == (
        "k.tdxpolicy:2:1: unknown statement 'issuedd'; did you mean 'issued'?")


def test_keywords_still_parse_with_comments_and_hyphens() -> None:
    doc = parse_document(
        "format 1\nrelease 1.5.99 {\n    handoff module 1 min 0 no-downgrade# c\n"
        "    advisory td-build \"x\"\n    status preview \"p\"\n}\n", "ok.tdxpolicy")
    (block,) = doc.releases
    assert block.facts.handoff is not None and block.facts.handoff.value.no_downgrade
    assert [a.word for a in block.advisories] == ["td-build"]


# --- --policy / lint on files of no known kind -------------------------------------------------


@pytest.mark.parametrize(("name", "body", "what"), [
    ("notes.md", "# Notes\n\nNothing here.\n", "no Intel table found"),
    ("empty.md", "", "the file is empty"),
    ("notes.markdown", "| a | b |\n|---|---|\n| 1 | 2 |\n", "no Intel table found"),
])
def test_markdown_without_a_table_is_located(tmp_path: Path, name: str, body: str, what: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / name
    p.write_text(body)
    with pytest.raises(InputError) as e:
        load_document(p)
    assert str(e.value) == f"{p}:1:1: {what}: {LOOKED_FOR}"
    for argv in (["lint", str(p)], ["list", "--policy", str(p), "--format", "json"]):
        assert main(argv) == 2
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert out["error"]["problems"][0]["location"] == {"file": str(p), "line": 1, "column": 1}


def test_markdown_with_readme_title_but_broken_header_gets_the_readme_error(tmp_path: Path) -> None:
    p = tmp_path / "README.md"
    p.write_text("# Intel TDX module limitations for TD-Preserving update\n\n| a | b |\n|--|--|\n")
    with pytest.raises(InputError) as e:
        load_document(p)
    assert str(e.value).startswith(
        f"{p}:1:1: no table 'Intel TDX module limitations for TD-Preserving update' found")


def test_named_json_without_markers_gets_the_mapping_errors(tmp_path: Path) -> None:
    p = tmp_path / "mine.json"
    p.write_text('{"a": 1}')
    with pytest.raises(InputError) as e:
        load_document(p)
    assert [str(x.location) + ": " + x.message for x in e.value.problems][0] == (
        f"{p}:1:1 ($): missing key 'Header': the file needs Header, tdx_module_releases")
    (tmp_path / "empty.json").write_bytes(b"")
    with pytest.raises(InputError) as e:
        load_document(tmp_path / "empty.json")
    assert str(e.value) == (
        f"{tmp_path / 'empty.json'}:1:1: the file is empty: expected Intel's mapping JSON "
        "(an object with 'Header' and 'tdx_module_releases')")


def test_named_file_of_no_known_kind_still_unsupported(tmp_path: Path) -> None:
    p = tmp_path / "LICENSE"
    p.write_text("Copyright\n")
    with pytest.raises(InputError) as e:
        load_document(p)
    assert e.value.code == "unsupported-source"


def test_readme_table_far_into_a_named_file_is_found(tmp_path: Path) -> None:
    # Intel's README puts the table ~5 KiB in; the dispatcher used to sniff only 4 KiB, and
    # only .md files were read further.
    p = tmp_path / "README.txt"
    p.write_text("# preamble\n" + ("x" * 79 + "\n") * 80 + "\n" + README_TABLE)
    assert p.stat().st_size > 6000
    doc = load_document(p)
    assert doc.kind is SourceKind.README_TABLE
    assert [b.version.text for b in doc.releases] == ["1.5.16"]


def test_markdown_notes_in_a_directory_are_still_skipped(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# notes\n")
    (tmp_path / "site.tdxpolicy").write_text("format 1\nrelease 1.5.16 {\n    deny from 1.5.01 \"x\"\n}\n")
    cat = load_catalogue([tmp_path])
    r = cat.get(parse_version("1.5.16"))
    assert r is not None and len(r.deny_from) == 1


# --- list: a rule from several sources is listed once ------------------------------------------


def _intel_copy(intel_dir: Path, tmp_path: Path) -> Path:
    d = tmp_path / "intel"
    d.mkdir()
    for name in ("mapping_file.json", "README.md"):
        (d / name).write_bytes((intel_dir / name).read_bytes())
    return d


def test_list_shows_each_rule_once(intel_dir: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    d = _intel_copy(intel_dir, tmp_path)
    assert main(["list", "--policy", str(d)]) == 0
    rows = {ln.split()[0]: ln for ln in capsys.readouterr().out.splitlines()[1:]}
    assert rows["1.5.16"].endswith("supported  from >= 1.5.01")
    assert rows["2.0.08"].endswith("preview    from >= 2.0.04")
    assert main(["list", "--policy", str(d), "--format", "json"]) == 0
    rel = {r["version"]: r for r in json.loads(capsys.readouterr().out)["releases"]}
    assert rel["1.5.16"]["policy"] == {"update_from": [">= 1.5.01"], "deny_from": [],
                                       "rollback_to": [], "advisories": ["td-build"]}


def test_list_keeps_distinct_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "site.tdxpolicy"
    p.write_text('format 1\nrelease 1.5.16 {\n    update from 1.5.13\n    deny from 1.5.01 "a"\n'
                 '    deny from 1.5.01 "b"\n    deny from 1.5.01 "a"\n}\n')
    assert main(["list", "--policy", str(p), "--format", "json"]) == 0
    rel = {r["version"]: r for r in json.loads(capsys.readouterr().out)["releases"]}
    pol = rel["1.5.16"]["policy"]
    assert pol["update_from"] == [">= 1.5.01", "== 1.5.13"]
    assert pol["deny_from"] == [{"versions": "== 1.5.01", "reason": "a"},
                                {"versions": "== 1.5.01", "reason": "b"}]


# --- graph and engine agree on policy edges ----------------------------------------------------

L = Location("gen.tdxpolicy", 1, 1)
_SERIES = (3, 0)


def _facts() -> ReleaseFacts:
    # Identical loader facts everywhere, so only the policy rules decide.
    return ReleaseFacts(svn=Sourced(Svn(5, 1), L), platforms=Sourced((0xA06F0,), L),
                        seamldr=Sourced((Version(2, 0, 0),), L),
                        handoff=Sourced(Handoff(0, 0), L))


_updates = st.integers(1, 6)
_clauses = st.one_of(
    st.builds(lambda op, u: Clause(op, Version(*_SERIES, u)), st.sampled_from(list(Op)), _updates),
    st.just(Clause(Op.GE, Version(*_SERIES, 1))),
)
_versets = st.lists(_clauses, min_size=1, max_size=2).map(lambda cs: VersionSet(tuple(cs)))


@st.composite
def _catalogues(draw: st.DrawFn) -> Catalogue:
    ups = draw(st.lists(_updates, min_size=2, max_size=6, unique=True))
    blocks = tuple(
        ReleaseBlock(
            Version(*_SERIES, u), L, _facts(),
            update_from=tuple(UpdateFrom(vs, L) for vs in draw(st.lists(_versets, max_size=2))),
            deny_from=tuple(DenyFrom(vs, "x", L) for vs in draw(st.lists(_versets, max_size=1))),
            rollback_to=tuple(RollbackTo(vs, L) for vs in draw(st.lists(_versets, max_size=2))),
        )
        for u in ups
    )
    return merge([PolicyDocument("gen", SourceKind.DOCUMENT, releases=blocks)])


_POLICY_CODES = {"same-series", "update-rule", "policy-deny", "rollback-rule"}


def _policy_passes(cat: Catalogue, r: Version, t: Version) -> bool:
    facts = HostFacts(module_version=r, seamldr_version=Version(2, 0, 0), cpuid=(0xA06F0,),
                      num_remaining_updates=5)
    v = decide(cat, facts, t, MoveOptions(today=dt.date(2026, 1, 1)))
    results = {str(getattr(c.code, "value", c.code)): c.result.value for c in v.checks}
    assert _POLICY_CODES <= results.keys()
    return all(results[c] == "pass" for c in _POLICY_CODES)


@settings(max_examples=150, deadline=None)
@given(_catalogues())
def test_graph_edges_are_exactly_the_engine_policy_passes(cat: Catalogue) -> None:
    g = VersionGraph(cat)
    for r in cat.releases:
        for t in cat.releases:
            if r.version == t.version:
                continue
            assert (g.edge(r.version, t.version) is not None) == _policy_passes(
                cat, r.version, t.version), (r.version.text, t.version.text)


def test_no_rollback_edge_into_a_release_without_update_policy() -> None:
    cat = merge([PolicyDocument("s", SourceKind.DOCUMENT, releases=(
        ReleaseBlock(Version(3, 0, 1), L, _facts()),
        ReleaseBlock(Version(3, 0, 2), L, _facts(),
                     update_from=(UpdateFrom(VersionSet.anything(), L),),
                     rollback_to=(RollbackTo(VersionSet.anything(), L),)),
    ))])
    g = VersionGraph(cat)
    assert g.edge(Version(3, 0, 2), Version(3, 0, 1)) is None
    assert not _policy_passes(cat, Version(3, 0, 2), Version(3, 0, 1))
    assert [e.target for e in g.successors(Version(3, 0, 2))] == []
    assert [e.source for e in g.predecessors(Version(3, 0, 1))] == []


# --- the embedded documents against Intel's release facts, field by field --------------------


def _expected_facts(rf: dict[str, Any]) -> dict[str, Any]:
    """What the embedded catalogue must say for one release-facts.json entry (no more)."""
    exp: dict[str, Any] = {}
    if "mrseam_published" in rf:
        m = rf["mrseam_published"]
        assert m.startswith("0x")
        exp["mrseam"] = m[2:].upper()
    img = rf.get("from_published_image")
    if img is not None:
        assert img["version"] == rf["version"]
        exp["published"] = dt.date.fromisoformat(img["sigstruct_date"])
        exp["seamhash"] = img["seamhash"].upper()
        exp["svn"] = Svn(img["seam_svn"]["major"], img["seam_svn"]["minor"])
        exp["platforms"] = tuple(int(x, 16) for x in img["cpuid_table"])
        exp["handoff"] = Handoff(img["module_hv"], img["min_update_hv"], img["no_downgrade"])
        if img["debug"]:
            exp["debug"] = True
    if "min_seamldr_versions" in rf:
        exp["seamldr"] = tuple(parse_version(v) for v in rf["min_seamldr_versions"])
    if "tdx_feature0" in rf:
        exp["features0"] = int(rf["tdx_feature0"], 16)
    return exp


def test_embedded_facts_equal_release_facts_field_by_field(intel_dir: Path) -> None:
    facts = json.loads((intel_dir / "release-facts.json").read_text())["releases"]
    cat = load_catalogue()
    assert sorted(r.version.key for r in cat.releases) == sorted(
        parse_version(rf["version"]).key for rf in facts)
    for rf in facts:
        r = cat.get(parse_version(rf["version"]))
        assert r is not None
        assert r.version.text == rf["version"]
        got = {name: s.value for name, s in r.facts.items() if name != "status"}
        exp = _expected_facts(rf)
        assert got.keys() == exp.keys(), rf["version"]
        for name, value in exp.items():
            assert got[name] == value, (rf["version"], name)
            if name in ("seamldr",):
                assert [v.text for v in got[name]] == rf["min_seamldr_versions"]
        # Intel's only update rule: min_module_version_for_td_preserving; none without it.
        mins = rf.get("min_module_version_for_td_preserving")
        assert [str(u.versions) for u in r.update_from] == ([f">= {mins}"] if mins else [])
        assert r.deny_from == () and r.rollback_to == ()
        # Intel's "2.0 ... currently not supported" note: preview on every 2.0.x, nothing on 1.5.x.
        status = r.facts.status
        if r.version.series == (2, 0):
            assert status is not None and status.value.kind.value == "preview"
        else:
            assert status is None


# --- encodings -----------------------------------------------------------------------------------


def test_utf16_document_says_utf16_not_binary(tmp_path: Path) -> None:
    p = tmp_path / "site.tdxpolicy"
    p.write_bytes("format 1\nrelease 1.5.99 {\n}\n".encode("utf-16"))
    with pytest.raises(InputError) as e:
        load_document(p)
    assert str(e.value) == (f"{p}:1:1 (byte offset 0x0): file is UTF-16 (it starts with a "
                            "UTF-16 byte-order mark); save it as UTF-8")


def test_utf16_markdown_named_explicitly(tmp_path: Path) -> None:
    p = tmp_path / "README.md"
    p.write_bytes(README_TABLE.encode("utf-16"))
    with pytest.raises(InputError) as e:
        load_document(p)
    assert str(e.value) == (f"{p}:1:1 (byte offset 0x0): the file is UTF-16 (it starts with a "
                            "UTF-16 byte-order mark): expected UTF-8")


def test_bad_utf8_in_a_readme_table_is_located(tmp_path: Path) -> None:
    p = tmp_path / "README.md"
    p.write_bytes(README_TABLE.encode() + b"| 1.5.20 | 1.5.01 | \xff |\n")
    with pytest.raises(InputError) as e:
        load_document(p)
    (prob,) = e.value.problems
    assert (prob.location.line, prob.location.column) == (6, 21)
    assert "0xFF" in prob.message
