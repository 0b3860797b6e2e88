"""QA (catalogue area): defects found in review, each pinned by a test that failed before its fix.

- keywords lexed as prefixes: ``svnn 1.9`` said "expected a version, got 'n'" and ``svn1.9`` was
  accepted as ``svn 1.9``;
- a Markdown/JSON file named explicitly that holds no Intel table got "unsupported file kind"
  instead of a located message saying what was looked for; a README table more than 4 KiB into
  a file without a .md suffix was not recognised;
- ``list`` repeated a rule once per source when Intel's files were added with ``--policy``;
- the graph drew rollback edges into releases whose ``update from`` does not admit the running
  version, which the engine always denies (``update-rule`` holds in every direction);
- the embedded documents against ../shared/intel/release-facts.json, field by field.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdxpolicy.catalogue import Catalogue, merge
from tdxpolicy.cli import main
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
from tdxpolicy.sources import load_catalogue, load_document
from tdxpolicy.sources.document import parse_document
from tdxpolicy.verdict import MoveOptions
from tdxpolicy.version import Clause, Op, Version, VersionSet, parse_version

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
