"""The version graph: structure against a brute-force oracle, queries, renderers, the command.

The oracle is the policy-format.md text applied to every pair (R, T): same series; T > R and
some `update from` of T admits R, or T < R and some `rollback to` of R admits T and some
`update from` of T admits R (a rollback is a runtime update into T: "a release with no
`update from` rule cannot be updated into at runtime", and the engine's update-rule holds in
every direction); and no `deny from` of T admits R and no `deny to` admits T.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import deque
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tdxpolicy.catalogue import Catalogue, merge
from tdxpolicy.cli import main
from tdxpolicy.graph import Edge, EdgeKind, VersionGraph
from tdxpolicy.model import (
    DenyFrom,
    DenyTo,
    Location,
    PolicyDocument,
    ReleaseBlock,
    RollbackTo,
    SourceKind,
    UpdateFrom,
)
from tdxpolicy.render.graph import graph_dot, graph_json, graph_mermaid, graph_text
from tdxpolicy.sources import load_catalogue
from tdxpolicy.version import Clause, Op, Version, VersionSet, parse_version
import dataclasses
import inspect
from tdxpolicy.graph import IndexRange

REPO = Path(__file__).resolve().parent.parent
L = Location("gen.tdxpolicy", 1, 1)


def oracle_edges(cat: Catalogue) -> set[tuple[Version, Version, EdgeKind]]:
    out = set()
    for r in cat.releases:
        for t in cat.releases:
            if r.series != t.series or r.version == t.version:
                continue
            if any(d.versions.matches(t.version) for d in cat.deny_to):
                continue
            if any(d.versions.matches(r.version) for d in t.deny_from):
                continue
            if t.version > r.version and any(u.versions.matches(r.version) for u in t.update_from):
                out.add((r.version, t.version, EdgeKind.UPDATE))
            if (t.version < r.version and any(b.versions.matches(t.version) for b in r.rollback_to)
                    and any(u.versions.matches(r.version) for u in t.update_from)):
                out.add((r.version, t.version, EdgeKind.ROLLBACK))
    return out


def oracle_distances(edges: set[tuple[Version, Version, EdgeKind]], start: Version) -> dict[Version, int]:
    adj: dict[Version, list[Version]] = {}
    for a, b, _ in edges:
        adj.setdefault(a, []).append(b)
    dist = {start: 0}
    q = deque([start])
    while q:
        v = q.popleft()
        for w in adj.get(v, []):
            if w not in dist:
                dist[w] = dist[v] + 1
                q.append(w)
    return dist


# --- generated catalogues -------------------------------------------------------------------------

small_versions = st.builds(Version, st.just(1), st.integers(4, 5), st.integers(0, 12))
ops = st.sampled_from([Op.GE, Op.LE, Op.GT, Op.LT, Op.EQ, Op.NE])
clauses = st.one_of(
    st.builds(Clause, ops, small_versions),
    st.builds(lambda v: Clause(Op.SERIES, Version(v.major, v.minor, 0)), small_versions),
    st.just(Clause(Op.ANY)),
)
versets = st.lists(clauses, min_size=1, max_size=3).map(lambda cs: VersionSet(tuple(cs)))


@st.composite
def catalogues(draw: st.DrawFn) -> Catalogue:
    versions = draw(st.lists(small_versions, min_size=1, max_size=14, unique=True))
    blocks = []
    for v in versions:
        blocks.append(ReleaseBlock(
            v, L,
            update_from=tuple(UpdateFrom(vs, L) for vs in draw(st.lists(versets, max_size=2))),
            deny_from=tuple(DenyFrom(vs, "x", L) for vs in draw(st.lists(versets, max_size=2))),
            rollback_to=tuple(RollbackTo(vs, L) for vs in draw(st.lists(versets, max_size=1))),
        ))
    deny_to = tuple(DenyTo(vs, "x", L) for vs in draw(st.lists(versets, max_size=1)))
    return merge([PolicyDocument("gen", SourceKind.DOCUMENT, deny_to=deny_to, releases=tuple(blocks))])


def _edge_set(g: VersionGraph) -> set[tuple[Version, Version, EdgeKind]]:
    return {(e.source, e.target, e.kind) for e in g.edges()}


@settings(max_examples=200, deadline=None)
@given(catalogues())
def test_edges_equal_the_pairwise_oracle(cat: Catalogue) -> None:
    g = VersionGraph(cat)
    expected = oracle_edges(cat)
    assert _edge_set(g) == expected
    for r in cat.releases:
        preds = {(e.source, e.target, e.kind) for e in g.predecessors(r.version)}
        assert preds == {x for x in expected if x[1] == r.version}
        for t in cat.releases:
            e = g.edge(r.version, t.version)
            assert (e is not None) == any(x[:2] == (r.version, t.version) for x in expected)


@settings(max_examples=500, deadline=None)
@given(catalogues(), st.data())
def test_shortest_paths_and_reachability(cat: Catalogue, data: st.DataObject) -> None:
    g = VersionGraph(cat)
    edges = oracle_edges(cat)
    start = data.draw(st.sampled_from([r.version for r in cat.releases]))
    dist = oracle_distances(edges, start)
    assert g.reachable(start) == set(dist) - {start}
    for r in cat.releases:
        path = g.shortest_path(start, r.version)
        if r.version not in dist:
            assert path is None
            continue
        assert path is not None and len(path) == dist[r.version]
        # a path is a chain of permitted edges from start to goal
        at = start
        for hop in path:
            assert hop.source == at and (hop.source, hop.target, hop.kind) in edges
            at = hop.target
        assert at == r.version
    # the generic search (used with host-fact filters) agrees with the fast forward pass
    same = g.filtered(lambda e: True)
    for r in cat.releases:
        a, b = g.shortest_path(start, r.version), same.shortest_path(start, r.version)
        assert (a is None) == (b is None) and (a is None or len(a) == len(b or []))


@settings(max_examples=100, deadline=None)
@given(catalogues(), st.integers(0, 2**16))
def test_filter_keeps_exactly_the_accepted_edges(cat: Catalogue, salt: int) -> None:
    keep = lambda e: hash((e.source.key, e.target.key, salt)) % 3 != 0  # noqa: E731
    g = VersionGraph(cat).filtered(keep)
    assert _edge_set(g) == {x for x in oracle_edges(cat) if keep(Edge(x[0], x[1], x[2], L))}


def test_edges_cite_the_rule() -> None:
    site = PolicyDocument("site", SourceKind.DOCUMENT, releases=(
        ReleaseBlock(Version(1, 5, 1), Location("s", 1, 1),
                     update_from=(UpdateFrom(VersionSet.anything(), Location("s", 1, 5)),)),
        ReleaseBlock(Version(1, 5, 2), Location("s", 2, 1),
                     update_from=(UpdateFrom(VersionSet.at_least(Version(1, 5, 9)), Location("s", 3, 5)),
                                  UpdateFrom(VersionSet.anything(), Location("s", 4, 5))),
                     rollback_to=(RollbackTo(VersionSet.anything(), Location("s", 5, 5)),)),
    ))
    g = VersionGraph(merge([site]))
    assert g.successors(Version(1, 5, 1)) == [
        Edge(Version(1, 5, 1), Version(1, 5, 2), EdgeKind.UPDATE, Location("s", 4, 5))]
    assert g.successors(Version(1, 5, 2)) == [
        Edge(Version(1, 5, 2), Version(1, 5, 1), EdgeKind.ROLLBACK, Location("s", 5, 5))]


def test_large_single_series_is_fast_and_correct() -> None:
    n = 3000
    blocks = tuple(
        ReleaseBlock(Version(1, 5, i), L,
                     update_from=(UpdateFrom(VersionSet.at_least(Version(1, 5, max(0, i - 7))), L),))
        for i in range(n))
    g = VersionGraph(merge([PolicyDocument("big", SourceKind.DOCUMENT, releases=blocks)]))
    path = g.shortest_path(Version(1, 5, 0), Version(1, 5, n - 1))
    assert path is not None and len(path) == -(-(n - 1) // 7)
    assert len(g.reachable(Version(1, 5, 0))) == n - 1


def _windowed(n: int) -> VersionGraph:
    blocks = tuple(
        ReleaseBlock(Version(1, 5, i), L,
                     update_from=(UpdateFrom(VersionSet.at_least(Version(1, 5, max(0, i - 7))), L),))
        for i in range(n))
    return VersionGraph(merge([PolicyDocument("big", SourceKind.DOCUMENT, releases=blocks)]))


def test_listing_every_edge_is_linear_in_the_edges() -> None:
    """`graph` lists every edge through successors(): a query looks only at the releases whose
    `update from` admits it (before, every newer release of the series: quadratic, 5 s for
    2,000 generated releases). Per edge, 10x the releases may cost at most 4x (linear: 1x; the
    old scan: 10x)."""
    import time

    def per_edge(n: int) -> float:
        best = float("inf")
        for _ in range(3):
            g = _windowed(n)
            t = time.perf_counter()
            count = sum(1 for _ in g.edges())
            best = min(best, (time.perf_counter() - t) / count)
        assert count == sum(min(i, 7) for i in range(n))
        return best

    small, large = per_edge(400), per_edge(4000)
    assert large / small < 4, (small, large)


# --- Intel's catalogue ----------------------------------------------------------------------------


def test_intel_graph_text_exact(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:8] == [
        "1.5.01 -> 1.5.05 1.5.06 1.5.08 1.5.09 1.5.13 1.5.16",
        "1.5.05 -> 1.5.06 1.5.08 1.5.09 1.5.13 1.5.16",
        "1.5.06 -> 1.5.08 1.5.09 1.5.13 1.5.16",
        "1.5.08 -> 1.5.09 1.5.13 1.5.16",
        "1.5.09 -> 1.5.13 1.5.16",
        "1.5.13 -> 1.5.16",
        "1.5.16 -> (none)",
        "1.5.20 [no update policy] -> (none)",
    ]
    assert "2.0.04 [preview] -> 2.0.05 2.0.08" in out
    assert "2.0.02 [preview] -> (none)" in out  # Intel: 2.0.04+ need >= 2.0.04


def test_intel_graph_json_validates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    schema = json.loads((REPO / "schemas" / "catalogue.schema.json").read_text())
    from referencing import Registry, Resource

    reg = Registry().with_resource(schema["$id"], Resource.from_contents(schema))
    v = jsonschema.Draft202012Validator({"$ref": schema["$id"] + "#/$defs/graph"}, registry=reg)
    assert list(v.iter_errors(data)) == []
    assert len(data["nodes"]) == 18 and len(data["edges"]) == 24
    e = data["edges"][0]
    assert e == {"from": "1.5.01", "to": "1.5.05", "kind": "update",
                 "source": {"file": "tdx_module_1.5.05.tdxpolicy", "line": 20, "column": 5}}


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_dot_output_renders_with_graphviz(tmp_path: Path) -> None:
    g = VersionGraph(load_catalogue())
    src = graph_dot(g)
    proc = subprocess.run(["dot", "-Tsvg"], input=src, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count('class="node"') == 18 and proc.stdout.count('class="edge"') == 24


def test_mermaid_and_dot_structure() -> None:
    g = VersionGraph(load_catalogue())
    mm = graph_mermaid(g)
    assert mm.startswith("flowchart LR\n") and "  v1_5_01 --> v1_5_05\n" in mm
    assert '    v2_0_05["2.0.05 (preview)"]' in mm
    dot = graph_dot(g)
    assert '"1.5.13" -> "1.5.16" [tooltip="tdx_module_1.5.16.tdxpolicy:20:5"];' in dot
    assert '"1.5.20" [color="grey", fontcolor="grey"];' in dot
    assert graph_text(g).count("\n") == 18 and graph_json(g)["tdxpolicy"] == "graph/1"


def test_graph_with_host_facts_keeps_only_engine_allowed_moves(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tdxpolicy.engine")
    assert main(["graph", "--format", "json", "--seamldr", "1.5.00", "--cpuid", "0x806F8",
                 "--remaining", "5"]) == 0
    edges = json.loads(capsys.readouterr().out)["edges"]
    assert {(e["from"], e["to"]) for e in edges} == {
        (a.text, b.text) for a, b, _ in oracle_edges(load_catalogue()) if a.series == (1, 5)}
    # an unknown P-SEAMLDR version denies every move (fail closed)
    assert main(["graph", "--format", "json", "--cpuid", "0xA06D0"]) == 0
    assert json.loads(capsys.readouterr().out)["edges"] == []


def test_rollback_edges_in_renderers() -> None:
    site = PolicyDocument("s", SourceKind.DOCUMENT, releases=(
        ReleaseBlock(parse_version("2.0.04"), L, update_from=(UpdateFrom(VersionSet.anything(), L),)),
        ReleaseBlock(parse_version("2.0.05"), L, rollback_to=(RollbackTo(VersionSet.anything(), L),)),
    ))
    g = VersionGraph(merge([site]))
    assert '"2.0.05" -> "2.0.04" [tooltip="gen.tdxpolicy:1:1", style="dashed", label="rollback"];' in graph_dot(g)
    assert "  v2_0_05 -. rollback .-> v2_0_04\n" in graph_mermaid(g)
    assert "2.0.05 [no update policy] -> 2.0.04 (rollback)\n" in graph_text(g)


index_ranges = st.builds(
    lambda lo, n, ex: __import__("tdxpolicy.graph", fromlist=["IndexRange"]).IndexRange(
        lo, lo + n, frozenset(x for x in ex if lo <= x < lo + n)),
    st.integers(0, 20), st.integers(0, 20), st.frozensets(st.integers(0, 40), max_size=5))


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 30), st.integers(0, 40), st.frozensets(st.integers(0, 40), max_size=5),
       st.lists(index_ranges, max_size=3))
def test_allowed_intervals_match_brute_force(lo: int, hi: int, excluded: frozenset[int],
                                             denied: list) -> None:  # type: ignore[type-arg]
    """The forward pass's range arithmetic: [lo, hi) minus excluded minus every denied range."""
    from tdxpolicy.graph import _allowed_intervals

    got = _allowed_intervals(lo, hi, excluded, tuple(denied))
    points = [x for a, b in got for x in range(a, b)]
    assert len(points) == len(set(points)) and all(a < b for a, b in got)
    assert set(points) == {x for x in range(lo, hi)
                           if x not in excluded and not any(x in d for d in denied)}


# --- start-up work of graph/show (was test_qa_perf_graph.py)


def _edge(kind: EdgeKind = EdgeKind.UPDATE, line: int = 4) -> Edge:
    return Edge(Version(1, 5, 1), Version(1, 5, 2), kind, Location("s", line, 5))


def test_edge_is_a_frozen_value() -> None:
    e = _edge()
    assert e == _edge() and hash(e) == hash(_edge())
    assert e != _edge(EdgeKind.ROLLBACK) and e != _edge(line=5)
    assert len({e, _edge(), _edge(line=5)}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.kind = EdgeKind.ROLLBACK  # type: ignore[misc]
    assert [f.name for f in dataclasses.fields(e)] == ["source", "target", "kind", "rule"]
    assert Edge(source=e.source, target=e.target, kind=e.kind, rule=e.rule) == e
    assert dataclasses.replace(e, kind=EdgeKind.ROLLBACK) == _edge(EdgeKind.ROLLBACK)
    assert repr(e) == (
        "Edge(source=Version('1.5.01'), target=Version('1.5.02'), "
        f"kind={EdgeKind.UPDATE!r}, rule={Location('s', 4, 5)!r})"
    )
    assert e != ("1.5.01", "1.5.02")


def test_index_range_is_a_frozen_value_with_a_default() -> None:
    r = IndexRange(2, 5)
    assert r.excluded == frozenset() and r == IndexRange(2, 5, frozenset())
    assert hash(r) == hash(IndexRange(lo=2, hi=5))
    assert IndexRange(2, 5, frozenset({3})) != r
    assert list(IndexRange(2, 5, frozenset({3})).indices()) == [2, 4]
    assert 3 in r and 5 not in r and IndexRange(3, 3).empty
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.lo = 0  # type: ignore[misc]


def test_catalogue_command_annotations_need_no_eval() -> None:
    from tdxpolicy.cli import catalogue_cmds

    for fn in (catalogue_cmds.graph, catalogue_cmds.show, catalogue_cmds.lint):
        annotations = inspect.get_annotations(fn)
        assert annotations, fn
        strings = {k: v for k, v in annotations.items() if isinstance(v, str)}
        assert not strings, (fn.__name__, strings)
