"""Audit across source kinds: Intel's mapping JSON vs README table vs MRSEAM table vs policy
documents (parsed by tdxpolicy.sources.intel from small generated files), and the interval
reasoning the rules rest on (Hypothesis, against brute force over small versions)."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tdxpolicy.audit import run_audit
from tdxpolicy.audit.intervals import Span, rollback_domain, span_of, update_domain
from tdxpolicy.sources.document import parse_document
from tdxpolicy.sources.intel import parse_mapping_json, parse_readme_table
from tdxpolicy.version import Clause, Op, Version, VersionSet

TODAY = dt.date(2026, 11, 26)


def mapping(releases: list[dict[str, object]]) -> bytes:
    return json.dumps({"Header": {"Version": "1.0"}, "tdx_module_releases": releases},
                      indent=2).encode()


def readme(rows: list[tuple[str, str, str]]) -> str:
    head = (
        "- Intel TDX module limitations for TD-Preserving update:\n\n"
        "  | Intel TDX Module to be Updated | Minimum Version of Existing Running Intel TDX Module "
        "| Supported SEAMLDR Versions |\n"
        "  |---|---|---|\n"
    )
    return head + "".join(f"  | {a} | {b} | {c} |\n" for a, b, c in rows) + "\n"


REL = [
    {"version": "1.5.01", "min_module_version_for_td_preserving": "1.5.01",
     "min_seamldr_versions": ["1.5.00"], "tdx_feature0": "0xF0FBF"},
    {"version": "1.5.05", "min_module_version_for_td_preserving": "1.5.01",
     "min_seamldr_versions": ["1.5.00", "2.0.00"], "tdx_feature0": "0x61F0FBF"},
]


def test_mapping_and_readme_agree() -> None:
    docs = [
        parse_mapping_json(mapping(REL), "mapping_file.json"),
        parse_readme_table(readme([("1.5.01", "1.5.01", "1.5.00"),
                                   ("1.5.05", "1.5.01", "1.5.00, 2.0.00")]), "README.md"),
    ]
    report = run_audit(docs, today=TODAY, rules=["source-disagreement"])
    assert report.findings == ()


def test_mapping_and_readme_disagree_on_minimum_and_seamldr() -> None:
    docs = [
        parse_mapping_json(mapping(REL), "mapping_file.json"),
        parse_readme_table(readme([("1.5.01", "1.5.01", "1.5.00"),
                                   ("1.5.05", "1.5.05", "1.5.00")]), "README.md"),
    ]
    report = run_audit(docs, today=TODAY, rules=["source-disagreement"])
    msgs = sorted(f.message for f in report.findings)
    assert len(msgs) == 2
    assert msgs[0] == (
        "release 1.5.05: sources disagree on seamldr: 1.5.00 2.0.00 at mapping_file.json:17:31 "
        "($.tdx_module_releases[1].min_seamldr_versions); 1.5.00 at README.md:6:23"
    )
    assert msgs[1] == (
        "release 1.5.05: sources disagree on which running versions may update into it: "
        "'update from >= 1.5.01' at mapping_file.json (known versions 1.5.01, 1.5.05); "
        "'update from >= 1.5.05' at README.md (known versions 1.5.05); e.g. 1.5.01 is admitted "
        "by mapping_file.json but not by README.md"
    )
    # every place is named: JSON path locations for the mapping, line:column for the table
    files = {loc.file for f in report.findings for loc in f.locations}
    assert files == {"mapping_file.json", "README.md"}
    assert any(loc.path for f in report.findings for loc in f.locations)


def test_mapping_vs_document_features() -> None:
    doc = parse_document("format 1\nrelease 1.5.05 {\n    features0 0x61F0FBE\n}\n", "site.tdxpolicy")
    report = run_audit([parse_mapping_json(mapping(REL), "mapping_file.json"), doc],
                       today=TODAY, rules=["source-disagreement"])
    assert [f.message.split(": ")[1] for f in report.findings] == [
        "sources disagree on features0"]


# --- interval reasoning ----------------------------------------------------------------------

SMALL = [Version(1, m, u) for m in (4, 5, 6) for u in range(0, 12)]
versions = st.builds(Version, st.just(1), st.sampled_from([4, 5, 6]), st.integers(0, 11))
ops = st.sampled_from([Op.GE, Op.GT, Op.LE, Op.LT, Op.EQ, Op.NE, Op.SERIES, Op.ANY])
clauses = st.builds(lambda op, v: Clause(op, None if op is Op.ANY else v), ops, versions)
vsets = st.lists(clauses, min_size=1, max_size=3).map(lambda cs: VersionSet(tuple(cs)))


@settings(max_examples=300, deadline=None)
@given(vsets, vsets, versions)
def test_span_agrees_with_version_set(a: VersionSet, b: VersionSet, probe: Version) -> None:
    """span_of(s) holds exactly the versions s matches; set operations are exact."""
    sa, sb = span_of(a), span_of(b)
    assert (probe in sa) == a.matches(probe)
    assert (probe in (sa | sb)) == (a.matches(probe) or b.matches(probe))
    assert (probe in (sa & sb)) == (a.matches(probe) and b.matches(probe))
    assert (probe in (sa - sb)) == (a.matches(probe) and not b.matches(probe))


@settings(max_examples=300, deadline=None)
@given(vsets, versions)
def test_empty_within_domain_means_no_version_matches(s: VersionSet, target: Version) -> None:
    """never-matches' criterion: no version of the update domain matches, and conversely."""
    dom = update_domain(target)
    in_dom = [v for v in SMALL if v.series == target.series and v <= target]
    assert bool(span_of(s) & dom) == any(s.matches(v) for v in in_dom)
    rb = [v for v in SMALL if v.series == target.series and v < target]
    assert bool(span_of(s) & rollback_domain(target)) == any(s.matches(v) for v in rb)


def test_span_basics() -> None:
    v = Version(1, 5, 6)
    assert not (Span.point(v) - Span.point(v))
    assert Span.point(v).complement().complement() == Span.point(v)
    assert Span.everything().first() == Version(0, 0, 0)


# --- features-lost against brute force --------------------------------------------------------

from tdxpolicy.model import (  # noqa: E402
    Location, PolicyDocument, ReleaseBlock, ReleaseFacts, SourceKind, Sourced, UpdateFrom,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 15), st.integers(0, 30)), min_size=2, max_size=12,
                unique_by=lambda t: t[1]),
       st.data())
def test_features_lost_matches_brute_force(rels: list[tuple[int, int]], data: st.DataObject) -> None:
    """The rule reports exactly the pairs (R, T), R older than T in the series, that are
    consecutive or admitted by T's policy, and where R has a features bit T lacks."""
    rels = sorted(rels, key=lambda t: t[1])
    loc = Location("g.tdxpolicy", 1, 1)
    blocks = []
    minimum: dict[int, int] = {}
    for feats, upd in rels:
        m = data.draw(st.sampled_from([u for _f, u in rels if u <= upd]))
        minimum[upd] = m
        blocks.append(ReleaseBlock(
            Version(1, 5, upd), loc, ReleaseFacts(features0=Sourced(feats, loc)),
            update_from=(UpdateFrom(VersionSet.at_least(Version(1, 5, m)), loc),),
        ))
    doc = PolicyDocument("g.tdxpolicy", SourceKind.DOCUMENT, releases=tuple(blocks))
    got = {(f.keys[0], f.subject) for f in
           run_audit([doc], today=TODAY, rules=["features-lost"]).findings}
    want = set()
    for j, (ft, t) in enumerate(rels):
        for i, (fr, r) in enumerate(rels[:j]):
            if (i == j - 1 or r >= minimum[t]) and fr & ~ft:
                want.add((Version(1, 5, r).canonical, Version(1, 5, t).canonical))
    assert got == want


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(0, 30)), min_size=1, max_size=10,
                unique_by=lambda t: t[1]),
       st.data())
def test_unreachable_release_matches_brute_force(rels: list[tuple[int, int]],
                                                 data: st.DataObject) -> None:
    """A release is reported iff it has older releases in its series and none of them is
    both admitted by its policy (`update from >= m`) and allowed by the SVN rule."""
    from tdxpolicy.model import Svn

    rels = sorted(rels, key=lambda t: t[1])
    loc = Location("g.tdxpolicy", 1, 1)
    minimum: dict[int, int] = {}
    blocks = []
    for svn, upd in rels:
        m = data.draw(st.integers(0, 31))
        minimum[upd] = m
        blocks.append(ReleaseBlock(
            Version(1, 5, upd), loc, ReleaseFacts(svn=Sourced(Svn(1, svn), loc)),
            update_from=(UpdateFrom(VersionSet.at_least(Version(1, 5, m)), loc),),
        ))
    doc = PolicyDocument("g.tdxpolicy", SourceKind.DOCUMENT, releases=tuple(blocks))
    got = {f.subject for f in run_audit([doc], today=TODAY, rules=["unreachable-release"]).findings}
    want = set()
    for j, (tsvn, t) in enumerate(rels):
        older = rels[:j]
        if not older or minimum[t] > t:  # first of its series, or a rule that admits nothing
            continue
        if not any(r >= minimum[t] and tsvn >= rsvn for rsvn, r in older):
            want.add(Version(1, 5, t).canonical)
    assert got == want
