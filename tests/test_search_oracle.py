"""Oracle tests: the fast predicates of the graph and of the path search agree with the engine's
checks on every edge (issue 11, item 1).

The path search (``engine/plan.py``) asks ``checks.HopRules``, which evaluates the rule
functions :func:`decide` uses on keys computed once per release (asking
``checks.target_outcomes``/``pair_outcomes`` for each of the ~10,000 releases and ~12,000
candidate hops of a 10,000-release path costs about 250 ms, the target is 100 ms); what it
computes itself is which keys it gives each rule, and the ``update from`` intervals read the
same interval form as :meth:`VersionSet.matches`. These tests compare it with :func:`decide`
for every ordered pair of releases, over deterministic catalogues with
denies, rollbacks, missing policies, unknown SVNs, several CPU tables and P-SEAMLDR lines, under
each option that changes a result. The graph's policy edges are compared with the engine's own
policy checks (``update-rule``, ``policy-deny``, ``rollback-rule``) the same way: the graph once
drew rollback edges the engine always denied.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from factories import (
    assert_search_agrees_with_decide,
    facts,
    generated_catalogue,
    intel_catalogue,
    options,
)

from tdxpolicy.catalogue import Catalogue
from tdxpolicy.engine.checks import _rollback_rule, move_kind, pair_outcomes
from tdxpolicy.graph import VersionGraph
from tdxpolicy.verdict import MoveKind, MoveOptions, Result

CATALOGUES = [
    dict(seed=1, series=((1, 5), (2, 0)), window=(1, 6), p_deny=0.2, p_rollback=0.3,
         p_no_policy=0.1, p_unknown_svn=0.1),
    dict(seed=2, window=(2, 10), p_deny=0.3, p_rollback=0.5, p_svn_step=0.5,
         platforms=((0x806F8, 0xC06F0), (0xA06F0,)), seamldr=(("1.5.00",), ("2.0.00", "1.5.02"))),
    dict(seed=3, window=(1, 3), p_rollback=0.6, p_deny=0.1, p_svn_step=0.0),
]

OPTIONS: list[dict[str, Any]] = [
    {},
    {"strict": True, "acknowledged": ["all"]},
    {"allow_rollback": True},
    {"allow_rollback": True, "strict": True},
    {"assume_unknown_ok": True},
    {"allow_debug": True, "today": "2026-01-01"},
]

HOSTS = [
    {"seamldr_version": "1.5.01", "cpuid": ["0x806F8"]},
    {"seamldr_version": "2.0.00", "cpuid": ["0x806F8", "0xA06F0"]},
    {},  # host facts unknown: unknown, or relaxed with --assume-unknown-ok
]


def _worlds() -> list[tuple[str, Catalogue]]:
    out = [(f"generated {k}", generated_catalogue(24, **kw)) for k, kw in enumerate(CATALOGUES)]
    return out


def _assert_search_agrees(cat: Catalogue, host: dict[str, Any], opts: MoveOptions) -> int:
    return assert_search_agrees_with_decide(cat, facts(host), opts)


@pytest.mark.parametrize("host", HOSTS, ids=["1.5-loader", "2.0-loader", "unknown"])
@pytest.mark.parametrize("opt", OPTIONS, ids=lambda o: ",".join(o) or "default")
def test_search_prefilter_agrees_with_decide_on_every_edge(host: dict[str, Any],
                                                           opt: dict[str, Any]) -> None:
    opts = options(opt)
    checked = sum(_assert_search_agrees(cat, host, opts) for _name, cat in _worlds())
    assert checked > 1000


def test_search_prefilter_agrees_with_decide_on_intel(intel_dir: Any) -> None:
    cat = intel_catalogue(intel_dir)
    for opt in ({}, {"allow_rollback": True}, {"strict": True, "acknowledged": ["all"]}):
        assert _assert_search_agrees(cat, {"seamldr_version": "2.0.00", "cpuid": ["0x806F8"]},
                                     options(opt)) > 100


def _policy_allows(cat: Catalogue, source: Any, target: Any) -> bool:
    """The engine's policy checks for source -> target, host facts left aside: update-rule,
    policy-deny and (for a rollback) rollback-rule as it judges a rule once the loader rules
    pass. The graph draws exactly these edges."""
    r, t = cat.get(source), cat.get(target)
    opts = MoveOptions()
    named = dict(pair_outcomes(cat, source, target, r, t, opts))
    if named["same-series"][0] is not Result.PASS:
        return False
    if named["update-rule"][0] is not Result.PASS or named["policy-deny"][0] is not Result.PASS:
        return False
    kind = move_kind(source, target)
    if kind is MoveKind.ROLLBACK:
        return _rollback_rule(kind, source, target, r, opts, Result.PASS, Result.PASS)[0] \
            is Result.PASS
    return True


def test_graph_edges_are_the_engine_policy_checks() -> None:
    for _name, cat in _worlds():
        g = VersionGraph(cat)
        nodes = g.nodes
        edges = {(e.source, e.target) for e in g.edges()}
        for a in nodes:
            for b in nodes:
                if a == b:
                    continue
                assert ((a, b) in edges) == _policy_allows(cat, a, b), (a, b)
                assert (g.edge(a, b) is not None) == ((a, b) in edges), (a, b)


def test_oracle_sees_a_disagreement(monkeypatch: pytest.MonkeyPatch) -> None:
    """The oracle can fail: a pre-filter that forgets the update rules disagrees with decide."""
    checks_module = importlib.import_module("tdxpolicy.engine.checks")

    monkeypatch.setattr(checks_module.ReleaseKeys, "admits", lambda self, u: True)
    cat = generated_catalogue(24, **CATALOGUES[1])
    with pytest.raises(AssertionError):
        _assert_search_agrees(cat, HOSTS[0], options({}))
