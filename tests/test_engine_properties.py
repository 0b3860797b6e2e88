"""Hypothesis properties of the engine (house-style "Tests as tables and data", issue #3).

Catalogues are generated small (a handful of releases in one or two series, any fact possibly
unknown, arbitrary version-set rules, documents with expiry dates and site blocklists), so the
path search can be compared with a brute-force search that calls :func:`decide` on every hop.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from factories import (
    assert_search_agrees_with_decide,
    catalogue_from_spec,
    facts,
    generated_catalogue,
    options,
)
from tdxpolicy.catalogue import Catalogue
from tdxpolicy.engine import CHECK_ORDER, decide, plan, select
from tdxpolicy.engine.checks import move_kind
from tdxpolicy.hostfacts import HostFacts
from tdxpolicy.verdict import MoveKind, MoveOptions, Result
from tdxpolicy.version import Version

SERIES = [(1, 5), (2, 0)]
UPDATES = list(range(1, 9))
CPUS = [0x806F8, 0xC06F0, 0xA06D0, 0xA06E0]
LOADERS = ["1.5.00", "1.5.03", "2.0.00"]

# Deadlines and the too-slow health check are off for the whole suite (tests/conftest.py).


def vtext(series: tuple[int, int], update: int) -> str:
    return f"{series[0]}.{series[1]}.{update:02d}"


versions = st.builds(vtext, st.sampled_from(SERIES), st.sampled_from(UPDATES))


@st.composite
def version_sets(draw: Any) -> str:
    def clause() -> str:
        kind = draw(st.sampled_from([">=", ">=", "<=", ">", "<", "==", "!=", "*", "any"]))
        if kind == "any":
            return "any"
        if kind == "*":
            s = draw(st.sampled_from(SERIES))
            return f"{s[0]}.{s[1]}.*"
        return f"{kind} {draw(versions)}"
    return ", ".join(clause() for _ in range(draw(st.integers(1, 2))))


@st.composite
def release_specs(draw: Any, version: str) -> dict[str, Any]:
    """Mostly a permissive, consistent release (so that moves are often allowed and paths
    exist), with every fact sometimes unknown or hostile."""
    clean = draw(st.integers(0, 9)) < 6  # 60% of releases are entirely benign

    def often(good: Any, other: Any) -> Any:  # else the good value 2 times in 3
        return good if clean or draw(st.integers(0, 2)) else draw(other)

    major, minor, update = (int(x) for x in version.split("."))
    home_cpu = 0x806F8 if major == 1 else 0xA06D0
    return {
        "version": version,
        "svn": often(f"{major}.{update // 2}", st.one_of(st.none(), st.builds(
            lambda a, b: f"{a}.{b}", st.sampled_from([major, major + 1]), st.integers(0, 4)))),
        "platforms": often([hex(home_cpu), "0xC06F0"], st.one_of(st.none(), st.lists(
            st.sampled_from(CPUS), min_size=1, max_size=3, unique=True).map(
                lambda xs: [hex(x) for x in xs]))),
        "seamldr": often(["1.5.00", "2.0.00"], st.one_of(st.none(), st.lists(
            st.sampled_from(["1.5.00", "1.5.02", "2.0.03"]), min_size=1, max_size=2,
            unique=True))),
        "handoff": often({"module": 0, "min": 0}, st.one_of(st.none(), st.builds(
            lambda m, lo: {"module": m, "min": min(lo, m)}, st.integers(0, 2),
            st.integers(0, 2)))),
        # None: no image fact, so the debug bit is unknown (issue 10 item 5)
        "debug": None if not clean and not draw(st.integers(0, 5)) else (
            not clean and not draw(st.integers(0, 3))),
        # TDX_FEATURES0: mostly one value (nothing lost), sometimes bits lost or unknown
        "features0": often("0x1000000042", st.one_of(st.none(), st.sampled_from(
            ["0x0", "0x40", "0x1000000040", "0x1000000042", "0x80000000"]))),
        "status": None if clean or draw(st.integers(0, 3)) else [draw(st.sampled_from(
            ["preview", "withdrawn"])), "generated"],
        "update_from": often([f">= {major}.{minor}.{max(1, update - draw(st.integers(0, 3))):02d}"],
                             st.lists(version_sets(), max_size=2)),
        "deny_from": [] if clean or draw(st.integers(0, 2)) else [[draw(version_sets()),
                                                                    "gen"]],
        "rollback_to": [] if draw(st.integers(0, 2)) else [draw(version_sets())],
        "advisories": [] if draw(st.integers(0, 3)) else [[draw(st.sampled_from(
            ["td-build", "migration"])), "caution"]],
    }


@st.composite
def catalogue_specs(draw: Any) -> dict[str, Any]:
    vs = draw(st.lists(versions, min_size=1, max_size=7, unique_by=lambda v: tuple(
        int(x) for x in v.split("."))))
    docs = []
    split = draw(st.integers(0, len(vs)))
    for name, chunk in (("a.tdxpolicy", vs[:split]), ("b.tdxpolicy", vs[split:])):
        docs.append({
            "file": name,
            "expires": draw(st.one_of(st.none(), st.sampled_from(["2025-01-01", "2030-01-01"]))),
            "deny_to": [] if draw(st.integers(0, 3)) else [[draw(version_sets()), "site"]],
            "releases": [draw(release_specs(v)) for v in chunk],
        })
    return {"documents": docs}


@st.composite
def fact_specs(draw: Any, cat_spec: dict[str, Any]) -> dict[str, Any]:
    known = [r["version"] for d in cat_spec["documents"] for r in d["releases"]]
    running = draw(st.one_of(st.sampled_from(known), st.sampled_from(known),
                             st.sampled_from(known), versions, st.none()))
    home = ["0xA06D1"] if running and running.startswith("2.") else ["0x806F5"]
    return {
        "module_version": running,
        "seamldr_version": draw(st.sampled_from(["2.0.00", "2.0.00", "2.0.00", "1.5.00", None])),
        "cpuid": draw(st.sampled_from([home, home, home, ["0x806F8", "0xA06D0"], ["0xC06F0"],
                                       None])),
        "num_remaining_updates": draw(st.sampled_from([None, 0, 1, 2, 3, 4, 4])),
    }


option_specs = st.fixed_dictionaries({
    "allow_debug": st.booleans(),
    "allow_rollback": st.booleans(),
    "strict": st.sampled_from([False, False, True]),
    "assume_unknown_ok": st.booleans(),
    "today": st.one_of(st.none(), st.just("2026-06-01")),
    "acknowledged": st.sampled_from([[], ["td-build"], ["all"], ["features-lost"]]),
})


@st.composite
def worlds(draw: Any) -> tuple[Catalogue, HostFacts, MoveOptions, dict[str, Any]]:
    spec = draw(catalogue_specs())
    return (catalogue_from_spec(spec), facts(draw(fact_specs(spec))),
            options(draw(option_specs)), spec)


@st.composite
def chain_worlds(draw: Any) -> tuple[Catalogue, HostFacts, MoveOptions]:
    """Windowed policies (factories.generated_catalogue): many multi-hop paths, some denied,
    unadmitted or SVN-unknown releases, some rollback grants."""
    n = draw(st.integers(2, 12))
    cat = generated_catalogue(
        n, seed=draw(st.integers(0, 10_000)), window=(1, draw(st.integers(1, 4))),
        p_deny=draw(st.sampled_from([0.0, 0.2])), p_no_policy=draw(st.sampled_from([0.0, 0.2])),
        p_rollback=draw(st.sampled_from([0.0, 0.4])),
        p_unknown_svn=draw(st.sampled_from([0.0, 0.1])), p_svn_step=0.5,
        features0=draw(st.sampled_from([(0x40,), (0x40, 0x40, 0x0, None)])))
    host = facts({
        "module_version": draw(st.sampled_from([r.version.text for r in cat.releases])),
        "seamldr_version": draw(st.sampled_from(["1.5.00", "2.0.00", None])),
        "cpuid": draw(st.sampled_from([["0x806F8"], ["0x806F8", "0xC06F1"], None])),
        "num_remaining_updates": draw(st.sampled_from([None, 0, 1, 2, 3, 5, 12])),
    })
    return cat, host, options(draw(option_specs))


def _targets(cat: Catalogue) -> list[Version]:
    return [r.version for r in cat.releases] + [Version(1, 5, 99)]


@given(worlds())
def test_decide_never_raises_and_lists_every_check(world: Any) -> None:
    cat, host, opts, _ = world
    for t in _targets(cat):
        v = decide(cat, host, t, opts)
        assert list(dict.fromkeys(c.code for c in v.checks)) == list(CHECK_ORDER)
        denying = {Result.FAIL, Result.UNKNOWN} | ({Result.WARN} if opts.strict else set())
        assert v.allowed == (not any(c.result in denying for c in v.checks))
        assert (v.reversibility is not None) == v.allowed
        for c in v.checks:
            assert c.message


@given(worlds())
def test_kind_comes_from_order_and_reinstall_is_never_a_rollback(world: Any) -> None:
    cat, host, opts, _ = world
    r = host.module_version
    for t in _targets(cat):
        kind = decide(cat, host, t, opts).kind
        if r is None:
            assert kind is None
        elif r.series != t.series:
            assert kind is MoveKind.CROSS_SERIES
        elif r.key == t.key:
            assert kind is MoveKind.REINSTALL
        else:
            assert kind is (MoveKind.UPGRADE if t.key > r.key else MoveKind.ROLLBACK)
    for v in _targets(cat):
        assert move_kind(v, v) is MoveKind.REINSTALL


@given(worlds())
def test_rollback_never_allowed_when_svn_or_handoff_fail(world: Any) -> None:
    cat, host, opts, _ = world
    for t in _targets(cat):
        v = decide(cat, host, t, opts)
        if v.kind is MoveKind.ROLLBACK:
            res = {c.code: c.result for c in v.checks}
            if res["svn"] is not Result.PASS or res["handoff"] is not Result.PASS:
                assert not v.allowed
                assert res["rollback-rule"] is Result.FAIL


def _brute_force(cat: Catalogue, host: HostFacts, target: Version, opts: MoveOptions,
                 limit: int) -> int | None:
    """Shortest number of hops by BFS with decide on every hop (small catalogues only). A
    version is expanded once, at its first depth: later arrivals have less budget left."""
    if host.module_version is None:
        return None
    frontier = [host]
    seen = {host.module_version.key}
    for depth in range(1, limit + 1):
        if any(decide(cat, state, target, opts).allowed for state in frontier):
            return depth
        nxt: dict[Any, HostFacts] = {}
        for state in frontier:
            for rel in cat.releases:
                v = rel.version
                if v.key in seen or v.key in nxt or v.key == target.key:
                    continue
                if decide(cat, state, v, opts).allowed:
                    nxt[v.key] = state.after_update(v)
        seen |= set(nxt)
        frontier = list(nxt.values())
        if not frontier:
            return None
    return None


@given(worlds().map(lambda w: w[:3]) | chain_worlds(), st.integers(1, 6) | st.none(),
       st.data())
def test_path_is_shortest_allowed_and_within_budget(world: Any, max_hops: int | None,
                                                   data: Any) -> None:
    cat, host, opts = world
    target = data.draw(st.sampled_from(_targets(cat)))
    p = plan(cat, host, target, opts, max_hops)
    budget = host.num_remaining_updates
    limit = min(x for x in (max_hops, budget, len(cat) + 1) if x is not None)
    want = _brute_force(cat, host, target, opts, max(limit, 0))
    if host.module_version is not None and host.module_version.key == target.key:
        want = 1 if decide(cat, host, target, opts).allowed else None  # reinstall: one hop
    assert p.found == (want is not None), p.reason
    if not p.found:
        assert p.hops == () and p.reason
        return
    assert len(p.hops) == want
    assert budget is None or len(p.hops) <= budget
    assert max_hops is None or len(p.hops) <= max_hops
    state = host
    for hop in p.hops:
        assert hop.from_version == state.module_version
        again = decide(cat, state, hop.to_version, opts)
        assert again.allowed and hop.allowed
        state = state.after_update(hop.to_version)
    assert p.hops[-1].to_version == target


@given(worlds().map(lambda w: w[:3]) | chain_worlds())
def test_search_predicates_equal_decide(world: Any) -> None:
    """The search's provider (checks.HopRules) must agree with decide exactly."""
    cat, host, opts = world
    assert_search_agrees_with_decide(cat, host, opts)


@given(worlds(), st.data())
def test_adding_a_deny_never_allows_more(world: Any, data: Any) -> None:
    cat, host, opts, spec = world
    deny = data.draw(st.tuples(version_sets(), st.just("added")).map(list))
    extra = dict(spec)
    docs = [dict(d) for d in spec["documents"]]
    if data.draw(st.booleans()) and any(d["releases"] for d in docs):
        d = next(d for d in docs if d["releases"])
        rel = dict(d["releases"][0])
        rel["deny_from"] = list(rel["deny_from"]) + [deny]
        d["releases"] = [rel] + list(d["releases"][1:])
    else:
        docs[0] = {**docs[0], "deny_to": list(docs[0]["deny_to"]) + [deny]}
    extra["documents"] = docs
    stricter = catalogue_from_spec(extra)
    for t in _targets(cat):
        if not decide(cat, host, t, opts).allowed:
            assert not decide(stricter, host, t, opts).allowed
        if not plan(cat, host, t, opts).found:
            assert not plan(stricter, host, t, opts).found


@given(worlds().map(lambda w: w[:3]) | chain_worlds(), st.integers(1, 3))
def test_select_choice_is_allowed_and_nothing_newer_is(world: Any, max_hops: int) -> None:
    cat, host, opts = world
    s = select(cat, host, opts, max_hops)
    r = host.module_version
    assert [c.version for c in s.candidates] == [x.version for x in cat.newest_first()]
    if s.selected is None:
        assert s.path == ()
    else:
        assert r is not None and s.selected.key > r.key
        assert s.path and s.path[-1].to_version == s.selected
        assert all(h.allowed for h in s.path)
        assert len(s.path) <= max_hops
        if max_hops == 1:
            assert decide(cat, host, s.selected, opts).allowed
    for rel in cat.releases:
        v = rel.version
        newer_than_choice = s.selected is None or v.key > s.selected.key
        if r is not None and v.key > r.key and newer_than_choice:
            assert not plan(cat, host, v, opts, max_hops).found, v

