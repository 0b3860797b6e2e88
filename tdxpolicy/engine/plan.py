"""Paths of runtime updates (``path``) and the newest reachable release (``select``).

Policy is not linear (docs/domain.md#move-rules: "1.5.x may be updated to 1.5.y but not to
1.5.y+1"), so reaching T may need intermediate hops, each of which must be allowed from the
host state after the previous hop (running version changed, one update of P-SEAMLDR's budget
used: :meth:`HostFacts.after_update`). Only the budget changes between hops and every hop
needs one update, so a path of k hops fits iff k <= num_remaining_updates: the search finds
the shortest path regardless of the budget and then compares (which also lets it say
"needs 3 updates, 2 remain").

Search: breadth-first, backwards from T over the releases of T's series (runtime updates never
leave a series). A release's predecessors are the versions its ``update from`` rules admit,
which are (bounded by) index intervals in the sorted series, so they are enumerated with a
"next unvisited index" array instead of testing every pair; the intervals are each rule's
:meth:`VersionSet.index_range`, the interval form :meth:`VersionSet.matches` (and so the
engine's update-rule and policy-deny checks) decides with. Each candidate hop is judged by
``_Search.viable``/``_Search.edge``, a pre-filter on plain tuples, memoized: asking
``checks.target_outcomes``/``pair_outcomes`` for every candidate would cost about 250 ms on a
10,000-release series (the target is 100 ms). ``tests/test_search_oracle.py`` holds the
pre-filter equal to :func:`decide` on every ordered pair of several catalogues and option sets,
and the path found is re-decided hop by hop with :func:`decide` from the evolving host state
(a disagreement bans that hop and searches again). Ties: fewer hops
first, then newer intermediates (forward greedy over the BFS layers, newest first).
"""

from __future__ import annotations

from typing import Any

from ..catalogue import Catalogue, Release
from ..hostfacts import HostFacts, cpuid_family_model
from ..verdict import (
    Candidate,
    Check,
    MoveKind,
    MoveOptions,
    PathResult,
    Result,
    FEATURES_LOST_WORD,
    SelectResult,
    Verdict,
    denies,
)
from ..model import StatusKind
from ..version import Version, encode_all
from .checks import decide, state_outcome

__all__ = ["plan", "select"]


class _Series:
    """The releases of one series, oldest first, with the static facts the search needs in
    plain tuples (built lazily per release, cached on the catalogue)."""

    __slots__ = ("releases", "keys", "codes", "index", "_static")

    def __init__(self, releases: tuple[Release, ...]) -> None:
        self.releases = releases
        self.keys = [r.version.key for r in releases]
        self.codes = encode_all([r.version for r in releases])  # for VersionSet.index_range
        self.index = {k: i for i, k in enumerate(self.keys)}
        self._static: dict[int, _Static] = {}

    def static(self, i: int) -> _Static:
        st = self._static.get(i)
        if st is None:
            st = self._static[i] = _Static(self, i)
        return st


class _Static:
    """One release's facts for the search: SVN, handoff, and its ``update from`` rules as
    index intervals of the sorted series, read off each rule's interval form
    (:meth:`VersionSet.index_range`, the same form :meth:`VersionSet.matches` decides with)."""

    __slots__ = ("release", "version", "svn", "handoff", "rules", "deny_from", "rollback_to",
                 "files", "platforms", "features0")

    def __init__(self, s: _Series, i: int) -> None:
        rel = self.release = s.releases[i]
        self.version = rel.version
        f = rel.facts
        svn, handoff, platforms = f.svn, f.handoff, f.platforms
        self.svn = None if svn is None else (svn.value.major, svn.value.minor)
        self.handoff = None if handoff is None else (handoff.value.min_update_hv,
                                                     handoff.value.module_hv)
        self.platforms = None if platforms is None else frozenset(
            [cpuid_family_model(p) for p in platforms.value])
        self.features0 = None if f.features0 is None else f.features0.value
        self.deny_from = [d.versions for d in rel.deny_from] if rel.deny_from else ()
        self.rollback_to = [r.versions for r in rel.rollback_to] if rel.rollback_to else ()
        self.files = [loc.file for loc in rel.declared_at]
        # (lo, hi, excluded): indices lo <= u <= hi admitted, except those in excluded
        self.rules: list[tuple[int, int, frozenset[int] | None]] = []
        codes = s.codes
        for rule in rel.update_from:
            lo, hi, excluded = rule.versions.index_range(codes)
            if lo < hi:
                self.rules.append((lo, hi - 1, frozenset(excluded) if excluded else None))

    def admits(self, u: int) -> bool:
        """Whether an ``update from`` rule admits release ``u`` (docs/domain.md#update-rule)."""
        for lo, hi, excluded in self.rules:
            if lo <= u <= hi and (excluded is None or u not in excluded):
                return True
        return False


def _series(catalogue: Catalogue, series: tuple[int, int]) -> _Series:
    cache: dict[str, Any] = catalogue.__dict__.setdefault("_engine_cache", {})
    by_series: dict[tuple[int, int], _Series] = cache.setdefault("series", {})
    s = by_series.get(series)
    if s is None:
        s = by_series[series] = _Series(catalogue.series(series))
    return s


class _Search:
    """Hop predicates for one (catalogue, host facts, options), memoized.

    :meth:`viable` is the target checks of :mod:`checks` and :meth:`edge` its pair checks,
    restated on plain tuples for speed; ``tests/test_engine_properties.py`` checks that
    they agree with :func:`decide` exactly, and :func:`plan` re-decides every hop of the path
    it returns (a disagreement bans that hop and searches again, so the answer is always
    :func:`decide`'s).
    """

    def __init__(self, catalogue: Catalogue, facts: HostFacts, options: MoveOptions,
                 s: _Series) -> None:
        self.catalogue, self.facts, self.options, self.s = catalogue, facts, options, s
        self._viable: dict[int, bool] = {}
        self.banned: set[tuple[int, int]] = set()
        strict = options.strict
        relaxed_ok = options.assume_unknown_ok and not strict  # a relaxed unknown warns
        self._loader = facts.seamldr_version
        self._relaxed_ok = relaxed_ok
        cpus = facts.cpuid
        self._cpus = None if cpus is None else {cpuid_family_model(c) for c in cpus}
        self._warn_denies = strict
        self._ack = options.acknowledged
        # features (checks._features): a lost or unknown TDX_FEATURES0 bit only warns, so it
        # matters only under --strict, and not once acknowledged.
        self._features_matter = strict and not (
            FEATURES_LOST_WORD in options.acknowledged or "all" in options.acknowledged)
        self._rollback_ok = options.allow_rollback and not strict
        # policy-fresh (policy-format.md `expires`): a stale document only warns, so it
        # matters only under --strict.
        self._stale_files: set[str] = set()
        self._stale_everywhere = False
        if strict:
            today = options.today
            for d in catalogue.documents:
                # Without a current date nothing proves a dated document current: it warns
                # like a stale one (checks._fresh).
                if d.meta.expires is not None and (today is None
                                                   or d.meta.expires.value < today):
                    self._stale_files.add(d.file)
            self._stale_everywhere = any(dt.source.file in self._stale_files
                                         for dt in catalogue.deny_to)
        self._deny_to = catalogue.deny_to

    def viable(self, i: int) -> bool:
        """Release i may be entered at all: no target check denies (checks.target_outcomes),
        nor the site's `deny to`."""
        v = self._viable.get(i)
        if v is None:
            v = self._viable[i] = self._viable_uncached(i)
        return v

    def _viable_uncached(self, i: int) -> bool:
        st = self.s.static(i)
        f = st.release.facts
        version = st.version
        # seamldr: catalogue list unknown -> unknown (never relaxed); host unknown -> relaxed.
        if f.seamldr is None:
            return False
        loader = self._loader
        if loader is None:
            if not self._relaxed_ok:
                return False
        elif not any(loader.major == m.major and loader.minor == m.minor
                     and loader.update >= m.update for m in f.seamldr.value):
            return False
        # cpu: every package, stepping masked.
        if st.platforms is None:
            return False
        if self._cpus is None:
            if not self._relaxed_ok:
                return False
        elif not self._cpus or not self._cpus <= st.platforms:
            return False  # an empty set names no package: unknown (checks._cpu), never vacuous
        # debug: unknown without an image fact; fail, or warn with --allow-debug.
        debug, _ = f.signing()
        if debug is None or debug and (not self.options.allow_debug or self._warn_denies):
            return False
        # support-status: withdrawn fails, preview warns.
        if f.status is not None and (f.status.value.kind is StatusKind.WITHDRAWN
                                     or self._warn_denies):
            return False
        # advisory: unacknowledged warns.
        if self._warn_denies and "all" not in self._ack and any(
                a.word not in self._ack for a in st.release.advisories):
            return False
        # policy-deny, the site's half: `deny to` matching the target.
        if any(d.versions.matches(version) for d in self._deny_to):
            return False
        if self._stale_everywhere or (self._stale_files and
                                      any(x in self._stale_files for x in st.files)):
            return False
        return True

    def edge(self, u: int, v: int) -> bool:
        """The hop u -> v passes every pair check of checks.pair_outcomes (both releases in
        this series; v's target checks are :meth:`viable`)."""
        if (u, v) in self.banned:
            return False
        su, sv = self.s.static(u), self.s.static(v)
        if not sv.admits(u):  # update-rule
            return False
        a, b = su.svn, sv.svn  # svn: major equal, minor not lower
        if a is None or b is None or a[0] != b[0] or b[1] < a[1]:
            return False
        h, g = su.handoff, sv.handoff  # handoff: min_update_hv <= R.module_hv <= module_hv
        if h is None or g is None or not g[0] <= h[1] <= g[1]:
            return False
        if any(d.matches(su.version) for d in sv.deny_from):  # policy-deny, deny from
            return False
        if v < u and not (self._rollback_ok
                          or any(r.matches(sv.version) for r in su.rollback_to)):
            return False  # rollback-rule
        if self._stale_files and any(x in self._stale_files for x in su.files):
            return False  # policy-fresh, under --strict
        if self._features_matter:  # features: a lost or unknown bit, under --strict
            fu, fv = su.features0, sv.features0
            if fu is None or fv is None or fu & ~fv:
                return False
        return True

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
        static, viable, edge = self.s.static, self.viable, self.edge
        while layers[-1]:
            nxt_layer: list[int] = []
            for v in layers[-1]:
                for lo, hi, _ in static(v).rules:
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
    s = _series(catalogue, target.series)
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
            v = s.releases[i].version
            verdict = decide(catalogue, state_facts, v, options)
            if not verdict.allowed:
                # The search's restated rules disagreed with decide (a bug): never return a
                # denied hop; ban it and search again.
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
