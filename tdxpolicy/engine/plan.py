"""Paths of runtime updates (``path``) and the newest reachable release (``select``).

Policy is not linear (domain.md section 2: "1.5.x may be updated to 1.5.y but not to
1.5.y+1"), so reaching T may need intermediate hops, each of which must be allowed from the
host state after the previous hop (running version changed, one update of P-SEAMLDR's budget
used: :meth:`HostFacts.after_update`). Only the budget changes between hops and every hop
needs one update, so a path of k hops fits iff k <= num_remaining_updates: the search finds
the shortest path regardless of the budget and then compares (which also lets it say
"needs 3 updates, 2 remain").

Search: breadth-first, backwards from T over the releases of T's series (runtime updates never
leave a series). A release's predecessors are the versions its ``update from`` rules admit,
which are (bounded by) index intervals in the sorted series, so they are enumerated with a
"next unvisited index" array instead of testing every pair. Each candidate hop is judged by
:func:`checks.target_allows` (memoized per release) and :func:`checks.pair_allows` — the same
rule functions :func:`decide` uses — and the path found is then re-decided hop by hop with
:func:`decide` from the evolving host state. Ties: fewer hops first, then newer
intermediates (forward greedy over the BFS layers, newest first).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

from ..catalogue import Catalogue, Release
from ..hostfacts import HostFacts
from ..verdict import (
    Candidate,
    Check,
    MoveKind,
    MoveOptions,
    PathResult,
    Result,
    SelectResult,
    Verdict,
)
from ..version import Op, Version
from .checks import decide, denies, pair_allows, state_outcome, target_allows

__all__ = ["plan", "select"]


class _Series:
    """The releases of one series, oldest first, with their sort keys (cached per catalogue)."""

    __slots__ = ("releases", "keys", "index", "_bounds")

    def __init__(self, releases: tuple[Release, ...]) -> None:
        self.releases = releases
        self.keys = [r.version.key for r in releases]
        self.index = {k: i for i, k in enumerate(self.keys)}
        self._bounds: dict[int, list[tuple[int, int]]] = {}

    def admitted_bounds(self, i: int) -> list[tuple[int, int]]:
        """Index intervals that contain every version release ``i``'s ``update from`` rules
        admit (a superset: ``!=`` is not cut out; the exact rule is checked per hop)."""
        b = self._bounds.get(i)
        if b is not None:
            return b
        keys, n = self.keys, len(self.keys)
        series = self.releases[i].version.series
        out: list[tuple[int, int]] = []
        for rule in self.releases[i].update_from:
            lo, hi = 0, n - 1
            for c in rule.versions.clauses:
                w = c.version
                if w is None:  # any
                    continue
                k = w.key
                if c.op is Op.SERIES:
                    if w.series != series:
                        hi = -1
                elif c.op is Op.GE:
                    lo = max(lo, bisect_left(keys, k))
                elif c.op is Op.GT:
                    lo = max(lo, bisect_right(keys, k))
                elif c.op is Op.LE:
                    hi = min(hi, bisect_right(keys, k) - 1)
                elif c.op is Op.LT:
                    hi = min(hi, bisect_left(keys, k) - 1)
                elif c.op is Op.EQ:
                    lo = max(lo, bisect_left(keys, k))
                    hi = min(hi, bisect_right(keys, k) - 1)
            if lo <= hi:
                out.append((lo, hi))
        self._bounds[i] = out
        return out


def _series(catalogue: Catalogue, series: tuple[int, int]) -> _Series:
    cache: dict[str, Any] = catalogue.__dict__.setdefault("_engine_cache", {})
    by_series: dict[tuple[int, int], _Series] = cache.setdefault("series", {})
    s = by_series.get(series)
    if s is None:
        s = by_series[series] = _Series(catalogue.series(series))
    return s


class _Search:
    """Hop predicates for one (catalogue, host facts, options), memoized."""

    def __init__(self, catalogue: Catalogue, facts: HostFacts, options: MoveOptions,
                 s: _Series) -> None:
        self.catalogue, self.facts, self.options, self.s = catalogue, facts, options, s
        self._viable: dict[int, bool] = {}
        self._edges: dict[tuple[int, int], bool] = {}

    def viable(self, i: int) -> bool:
        """Release i may be entered at all (every target check passes)."""
        v = self._viable.get(i)
        if v is None:
            rel = self.s.releases[i]
            v = self._viable[i] = target_allows(rel.version, rel, self.facts, self.options)
        return v

    def edge(self, u: int, v: int) -> bool:
        """The hop u -> v passes every pair check (target checks are :meth:`viable`)."""
        key = (u, v)
        e = self._edges.get(key)
        if e is None:
            ru, rv = self.s.releases[u], self.s.releases[v]
            e = self._edges[key] = pair_allows(self.catalogue, ru.version, rv.version, ru, rv,
                                               self.options)
        return e

    def backward_layers(self, start: int, goal: int) -> list[list[int]] | None:
        """BFS from ``goal`` over reversed hops until ``start`` is reached: layers[d] are the
        releases (other than start) whose shortest path to goal has d hops, complete for every
        d < len(layers); None when start cannot reach goal."""
        n = len(self.s.keys)
        nxt = list(range(n + 1))  # next index >= i not yet settled (n = none)

        def find(i: int) -> int:
            root = i
            while nxt[root] != root:
                root = nxt[root]
            while nxt[i] != root:
                nxt[i], i = root, nxt[i]
            return root

        nxt[goal] = goal + 1
        layers = [[goal]]
        while layers[-1]:
            nxt_layer: list[int] = []
            for v in layers[-1]:
                for lo, hi in self.s.admitted_bounds(v):
                    i = find(lo)
                    while i <= hi:
                        if i != start and not self.viable(i):
                            nxt[i] = i + 1  # can never be entered: settle for good
                        elif self.edge(i, v):
                            if i == start:
                                return layers
                            nxt[i] = i + 1
                            nxt_layer.append(i)
                        i = find(i + 1)
            layers.append(nxt_layer)
        return None


def _blocking_reason(direct: Verdict) -> tuple[str, tuple[Check, ...]]:
    failed = direct.failed
    shown = "; ".join(f"{c.code}: {c.message}" for c in failed)
    return shown, failed


def plan(catalogue: Catalogue, facts: HostFacts, target: Version, options: MoveOptions,
         max_hops: int | None = None) -> PathResult:
    """The shortest sequence of allowed hops from ``facts.module_version`` to ``target``.

    Each hop is a full :class:`Verdict` decided from the host state after the previous hop.
    A reinstall (R == T) is one hop. When no sequence fits, ``found`` is False, ``reason``
    names what blocks (the direct hop's failing checks, the budget or --max-hops) and
    ``blocking`` holds the blocking checks.
    """
    running = facts.module_version
    direct = decide(catalogue, facts, target, options)
    if max_hops is not None and max_hops < 1:
        return PathResult(running, target, False, (),
                          f"--max-hops is {max_hops}: at least one hop is needed", ())
    if direct.allowed:
        return PathResult(running, target, True, (direct,))
    kinds_without_search = (None, MoveKind.REINSTALL, MoveKind.CROSS_SERIES)
    r = None if running is None else catalogue.get(running)
    t = catalogue.get(target)
    if direct.kind in kinds_without_search or r is None or t is None or not target_allows(
            target, t, facts, options):
        shown, failed = _blocking_reason(direct)
        what = "a reinstall is one hop and it" if direct.kind is MoveKind.REINSTALL else \
            f"no hop can enter {target}: the direct move" if t is not None and r is not None \
            else "the direct move"
        return PathResult(running, target, False, (), f"{what} is denied: {shown}", failed)
    assert running is not None
    s = _series(catalogue, target.series)
    search = _Search(catalogue, facts, options, s)
    start, goal = s.index[running.key], s.index[target.key]
    layers = search.backward_layers(start, goal)
    if layers is None:
        shown, failed = _blocking_reason(direct)
        return PathResult(
            running, target, False, (),
            f"no sequence of permitted hops leads from {running} to {target}; the direct move "
            f"is denied: {shown}", failed)
    hops = len(layers)
    budget = facts.num_remaining_updates
    state = state_outcome(budget, options)
    if budget is None and denies(state[0], options.strict):
        rem = next(c for c in direct.checks if c.code == "remaining-updates")
        return PathResult(
            running, target, False, (),
            f"a path of {hops} hops exists but the number of remaining runtime updates is "
            f"unknown: {rem.message}", (rem,))
    if budget is not None and hops > budget:
        msg = (f"needs {hops} update{'s' if hops != 1 else ''}, {max(budget, 0)} remain: "
               "reboot to reset P-SEAMLDR's log, or load the target at boot")
        check = Check("remaining-updates", Result.FAIL, msg, None,
                      {"num_remaining_updates": budget, "needed": hops})
        return PathResult(running, target, False, (), msg, (check,))
    if max_hops is not None and hops > max_hops:
        msg = f"the shortest path needs {hops} hops; --max-hops is {max_hops}"
        return PathResult(running, target, False, (), msg, ())
    # Forward greedy over complete layers: newest admissible release at each distance.
    order: list[int] = [start]
    cur = start
    for d in range(hops - 1, -1, -1):
        layer = sorted(layers[d], reverse=True)
        cur = next(v for v in layer if search.edge(cur, v))
        order.append(cur)
    verdicts: list[Verdict] = []
    state_facts = facts
    for i in order[1:]:
        v = s.releases[i].version
        verdict = decide(catalogue, state_facts, v, options)
        # The search used the same rule functions as decide: a hop it accepts is allowed.
        assert verdict.allowed, f"path search accepted a denied hop to {v}"
        verdicts.append(verdict)
        state_facts = state_facts.after_update(v)
    return PathResult(running, target, True, tuple(verdicts))


def _forward_distances(catalogue: Catalogue, facts: HostFacts, options: MoveOptions,
                       limit: int) -> dict[Version, int]:
    """Shortest hop counts from the running version to every release of its series reachable
    within ``limit`` hops (budget not included)."""
    running = facts.module_version
    if running is None or catalogue.get(running) is None or limit < 1:
        return {}
    s = _series(catalogue, running.series)
    search = _Search(catalogue, facts, options, s)
    start = s.index[running.key]
    dist = {start: 0}
    frontier = [start]
    pending = [i for i in range(len(s.keys)) if i != start and search.viable(i)]
    for d in range(1, limit + 1):
        if not frontier or not pending:
            break
        reached = [v for v in pending if any(search.edge(u, v) for u in frontier)]
        for v in reached:
            dist[v] = d
        frontier = reached
        got = set(reached)
        pending = [v for v in pending if v not in got]
    return {s.releases[i].version: d for i, d in dist.items() if i != start}


def select(catalogue: Catalogue, facts: HostFacts, options: MoveOptions,
           max_hops: int = 1) -> SelectResult:
    """The newest release strictly newer than the running one that is reachable within
    ``max_hops`` hops and the remaining-update budget, with every candidate.

    Unlike Intel's reference selector, the choice is made among compatible candidates (it
    never picks the newest and then fails) and the budget is honoured. Reinstall and rollbacks
    are listed as candidates but never chosen. ``Candidate.allowed``/``failed`` describe the
    direct one-hop move; ``hops`` (when ``max_hops > 1``) is the shortest reachable hop count.
    """
    running = facts.module_version
    budget = facts.num_remaining_updates
    limit = max_hops if budget is None else min(max_hops, budget)
    distances: dict[Version, int] = {}
    if max_hops > 1 and not (budget is None and denies(state_outcome(None, options)[0],
                                                       options.strict)):
        distances = _forward_distances(catalogue, facts, options, limit)
    candidates: list[Candidate] = []
    selected: Version | None = None
    for rel in catalogue.newest_first():
        v = rel.version
        verdict = decide(catalogue, facts, v, options)
        hops = distances.get(v) if max_hops > 1 else None
        if verdict.allowed and max_hops > 1:
            hops = 1
        candidates.append(Candidate(v, verdict.allowed,
                                    tuple(dict.fromkeys(c.code for c in verdict.failed)), hops))
        newer = running is not None and v.key > running.key
        reachable = verdict.allowed or (hops is not None and hops <= limit)
        if selected is None and newer and reachable:
            selected = v
    path: tuple[Verdict, ...] = ()
    if selected is not None:
        result = plan(catalogue, facts, selected, options, max_hops)
        assert result.found, f"select chose {selected} but no path was found"
        path = result.hops
    return SelectResult(selected, path, tuple(candidates))
