"""Paths of runtime updates (``path``) and the newest reachable release (``select``).

Policy is not linear (docs/domain.md#move-rules: "1.5.x may be updated to 1.5.y but not to
1.5.y+1"), so reaching T may need intermediate hops, each of which must be allowed from the
host state after the previous hop (running version changed, one update of P-SEAMLDR's budget
used: :meth:`HostFacts.after_update`). Only the budget changes between hops and every hop
needs one update, so a path of k hops fits iff k <= num_remaining_updates: the search finds
the shortest path regardless of the budget and then compares (which also lets it say
"needs 3 updates, 2 remain").

Search: breadth-first, backwards from T over the releases of T's series (runtime updates never
leave a series). The search asks the checks (:class:`checks.HopRules`, resolvelib's provider
model): a release's possible predecessors are the index intervals of its ``update from`` rules
(:meth:`VersionSet.index_range`, the interval form :meth:`VersionSet.matches` decides with),
enumerated with a "next unvisited index" array instead of testing every pair; whether a
release can be entered and whether a hop is allowed are the rule functions of ``checks.py``
that :func:`decide` itself uses, on keys computed once per release. Each hop of the path found
is still decided with :func:`decide` from the evolving host state (a disagreement, which would
be a bug, bans that hop and searches again); ``tests/test_search_oracle.py`` holds the
provider equal to :func:`decide` on every ordered pair of several catalogues and option sets.
Ties: fewer hops first, then newer intermediates (forward greedy over the BFS layers, newest
first).
"""

from __future__ import annotations

from typing import Iterator

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
    denies,
)
from ..version import Version
from .checks import HopRules, SeriesKeys, decide, series_keys, state_outcome

__all__ = ["plan", "select", "decide_each"]


class _Search:
    """The breadth-first search's state for one (catalogue, host facts, options): the hop
    rules it asks (:class:`checks.HopRules`, the checks of :func:`decide` on precomputed
    keys) and the hops :func:`plan` banned after re-deciding them."""

    def __init__(self, catalogue: Catalogue, facts: HostFacts, options: MoveOptions,
                 s: SeriesKeys) -> None:
        self.s = s
        self.rules = HopRules(catalogue, facts, options, s)
        self.viable = self.rules.enterable
        self.banned: set[tuple[int, int]] = set()

    def edge(self, u: int, v: int) -> bool:
        """The hop u -> v passes every pair check (v's target checks are :meth:`viable`)."""
        return (u, v) not in self.banned and self.rules.allows(u, v)

    def backward_layers(self, start: int, goal: int) -> list[list[int]] | None:
        """BFS from ``goal`` over reversed hops until ``start`` is reached: layers[d] are the
        releases (other than start) whose shortest path to goal has d hops, complete for every
        d < len(layers); None when start cannot reach goal."""
        n = len(self.s)
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
        candidates, viable, edge = self.rules.candidates, self.viable, self.edge
        while layers[-1]:
            nxt_layer: list[int] = []
            for v in layers[-1]:
                for lo, hi, _ in candidates(v):
                    i = find(lo)
                    while i <= hi:
                        if i != start and not viable(i):
                            nxt[i] = i + 1  # can never be entered: settle for good
                        elif edge(i, v):
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
    r = None if running is None else catalogue.get(running)
    t = catalogue.get(target)
    if direct.kind in (None, MoveKind.REINSTALL, MoveKind.CROSS_SERIES) or r is None or \
            t is None:
        shown, failed = _blocking_reason(direct)
        what = "a reinstall is one hop and it" if direct.kind is MoveKind.REINSTALL else \
            "the direct move"
        return PathResult(running, target, False, (), f"{what} is denied: {shown}", failed)
    assert running is not None
    s = series_keys(catalogue, target.series)
    search = _Search(catalogue, facts, options, s)
    start, goal = s.index[running.key], s.index[target.key]
    if not search.viable(goal):
        shown, failed = _blocking_reason(direct)
        return PathResult(running, target, False, (),
                          f"no hop can enter {target}: the direct move is denied: {shown}",
                          failed)
    while True:
        layers = search.backward_layers(start, goal)
        if layers is None:
            shown, failed = _blocking_reason(direct)
            return PathResult(
                running, target, False, (),
                f"no sequence of permitted hops leads from {running} to {target}; the direct "
                f"move is denied: {shown}", failed)
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
        # Forward greedy over the complete layers: the newest admissible release at each
        # distance (ties: fewer hops, then newer intermediates).
        order: list[int] = [start]
        cur = start
        for d in range(hops - 1, -1, -1):
            cur = next(v for v in sorted(layers[d], reverse=True) if search.edge(cur, v))
            order.append(cur)
        verdicts: list[Verdict] = []
        state_facts = facts
        for u, i in zip(order, order[1:]):
            v = s.versions[i]
            verdict = decide(catalogue, state_facts, v, options)
            if not verdict.allowed:
                # The search's answer disagreed with decide (a bug): never return a denied
                # hop; ban it and search again.
                search.banned.add((u, i))
                break
            verdicts.append(verdict)
            state_facts = state_facts.after_update(v)
        else:
            return PathResult(running, target, True, tuple(verdicts))


def _forward_distances(catalogue: Catalogue, facts: HostFacts, options: MoveOptions,
                       limit: int) -> dict[Version, int]:
    """Shortest hop counts from the running version to every release of its series reachable
    within ``limit`` hops (budget not included)."""
    running = facts.module_version
    if running is None or catalogue.get(running) is None or limit < 1:
        return {}
    s = series_keys(catalogue, running.series)
    search = _Search(catalogue, facts, options, s)
    start = s.index[running.key]
    dist = {start: 0}
    frontier = [start]
    pending = [i for i in range(len(s)) if i != start and search.viable(i)]
    for d in range(1, limit + 1):
        if not frontier or not pending:
            break
        reached = [v for v in pending if any(search.edge(u, v) for u in frontier)]
        for v in reached:
            dist[v] = d
        frontier = reached
        got = set(reached)
        pending = [v for v in pending if v not in got]
    return {s.versions[i]: d for i, d in dist.items() if i != start}


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
        candidates.append(Candidate(
            v, verdict.allowed, tuple(dict.fromkeys(c.code for c in verdict.failed)), hops,
            tuple(dict.fromkeys(c.code for c in verdict.failed if c.result is Result.UNKNOWN))))
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


def decide_each(catalogue: Catalogue, facts: HostFacts,
                options: MoveOptions) -> Iterator[tuple[Release, Verdict]]:
    """Every release of the catalogue, newest first, with :func:`decide`'s verdict for moving
    there, one at a time: a caller that renders each pair and lets it go holds one verdict at
    a time (``list`` on 100,000 releases would otherwise hold every verdict at once)."""
    for release in catalogue.newest_first():
        yield release, decide(catalogue, facts, release.version, options)
