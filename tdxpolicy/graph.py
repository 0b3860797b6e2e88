"""The version graph: releases as nodes, moves permitted by the *policy rules alone* as edges.

An edge R -> T exists when (policy-format.md, "Release blocks"; docs/domain.md#move-rules):

- R and T are in the same series (``same-series``: runtime updates never leave a major.minor);
- **update edge** (T > R): some ``update from`` of T admits R (``update-rule``);
- **rollback edge** (T < R): some ``rollback to`` of R admits T (``rollback-rule``) and some
  ``update from`` of T admits R (``update-rule``: a rollback is a runtime update into T, and
  the engine requires it in every direction; a release with no ``update from`` cannot be
  entered at runtime at all);
- and no ``deny from`` of T admits R, and no document's ``deny to`` admits T (``policy-deny``).
  ``deny from`` is applied to rollbacks into T as well: it names running versions that must not
  move into T, whatever the direction (fail closed).

Reinstalls (T == R) are not edges. Each edge cites the rule that permits it. Host facts
(P-SEAMLDR, CPUs, SVN, handoff, remaining updates) are the engine's business
(:func:`tdxpolicy.engine.decide`); callers that have host facts filter edges with it
(:meth:`VersionGraph.filtered`).

Scale: version sets are evaluated on each series' sorted list as index ranges (bisect), not
per pair, so building the graph is O(n log n) in the number of rules; the first successor
query of a series indexes, for each release, the newer releases whose ``update from`` admits
it (O(update edges) time and memory), after which a successor query costs O(its edges), so
listing the whole graph is O(edges), not O(n^2); breadth-first searches test each unvisited
node at most once per frontier node (bench/bench_catalogue.py measures 10,000 releases). Pure:
no I/O.
"""

from __future__ import annotations

from collections import deque
from enum import Enum
from typing import Callable, Iterable, Iterator, Sequence

from ._value import value
from .catalogue import Catalogue, Release
from .model import Location
from .version import Span, Version, VersionSet, encode_all

__all__ = ["EdgeKind", "Edge", "IndexRange", "VersionGraph"]


class EdgeKind(str, Enum):
    UPDATE = "update"  # upgrade, admitted by the target's `update from`
    ROLLBACK = "rollback"  # admitted by the running release's `rollback to`


# @value, not @dataclass(frozen=True): the latter compiles its methods with exec at import,
# about 2 ms of every cold ``graph``/``path`` run. Edges and ranges are built per query, so
# they keep an explicit positional __init__ (the generic one costs about 1 microsecond a field).
_set = object.__setattr__


@value
class Edge:
    source: Version
    target: Version
    kind: EdgeKind
    rule: Location  # the `update from` / `rollback to` line that permits the move

    def __init__(self, source: Version, target: Version, kind: EdgeKind, rule: Location) -> None:
        _set(self, "source", source)
        _set(self, "target", target)
        _set(self, "kind", kind)
        _set(self, "rule", rule)


@value
class IndexRange:
    """The indices ``lo <= i < hi`` of a series' sorted releases, minus ``excluded``."""

    lo: int
    hi: int
    excluded: frozenset[int] = frozenset()

    def __init__(self, lo: int, hi: int, excluded: frozenset[int] = frozenset()) -> None:
        _set(self, "lo", lo)
        _set(self, "hi", hi)
        _set(self, "excluded", excluded)

    def __contains__(self, i: object) -> bool:
        return isinstance(i, int) and self.lo <= i < self.hi and i not in self.excluded

    def indices(self) -> Iterator[int]:
        for i in range(self.lo, self.hi):
            if i not in self.excluded:
                yield i

    @property
    def empty(self) -> bool:
        return self.hi <= self.lo


_EMPTY = IndexRange(0, 0)


def _range_of(vs: VersionSet, keys: Sequence[int]) -> IndexRange:
    """The members of one series (sorted encoded ``keys``) that ``vs`` admits, as an index
    range: :meth:`VersionSet.index_range`, the version sets' own interval form."""
    lo, hi, excluded = vs.index_range(keys)
    if hi <= lo:
        return _EMPTY
    return IndexRange(lo, hi, frozenset(excluded)) if excluded else IndexRange(lo, hi)


def _index_span(lo: int, hi: int, excluded: Iterable[int]) -> Span:
    """The indices ``lo <= i < hi`` not in ``excluded``, as a :class:`Span` of integers."""
    parts: list[tuple[int, int]] = []
    a = lo
    for x in sorted(e for e in excluded if lo <= e < hi):
        if a < x:
            parts.append((a, x - 1))
        a = x + 1
    if a < hi:
        parts.append((a, hi - 1))
    return Span(tuple(parts))


def _allowed_intervals(
    lo: int, hi: int, excluded: frozenset[int], denied: tuple[IndexRange, ...]
) -> list[tuple[int, int]]:
    """``[lo, hi)`` minus the points ``excluded`` minus every denied range (a denied range's
    own ``excluded`` points stay allowed), as disjoint half-open intervals. Span arithmetic
    (the version sets' interval algebra) over indices instead of encoded versions."""
    if not denied and not excluded:
        return [(lo, hi)] if lo < hi else []
    allowed = _index_span(lo, hi, excluded)
    for d in denied:
        if allowed:
            allowed = allowed - _index_span(d.lo, d.hi, d.excluded)
    return [(a, b + 1) for a, b in allowed.parts]


@value
class _Series:
    key: tuple[int, int]
    releases: tuple[Release, ...]
    # per target index: the ranges of running versions its `update from` rules admit
    admits: tuple[tuple[tuple[IndexRange, Location], ...], ...]
    # per target index: ranges of running versions denied (`deny from`); None = all (deny to)
    denied: tuple[tuple[IndexRange, ...] | None, ...]
    # per running index: the rollback targets its `rollback to` rules admit
    rollbacks: tuple[tuple[tuple[IndexRange, Location], ...], ...]


class VersionGraph:
    """Nodes are the catalogue's releases; edges are computed on demand from index ranges."""

    def __init__(self, catalogue: Catalogue, edge_filter: Callable[[Edge], bool] | None = None) -> None:
        self.catalogue = catalogue
        self._filter = edge_filter
        groups: dict[tuple[int, int], list[Release]] = {}
        for r in catalogue.releases:  # sorted oldest first by the catalogue
            groups.setdefault(r.series, []).append(r)
        self._series: dict[tuple[int, int], _Series] = {}
        self._where: dict[Version, tuple[tuple[int, int], int]] = {}
        # per series: for each release index, the newer indices that may update from it
        self._update_targets: dict[tuple[int, int], list[list[int]]] = {}
        for key, rels in groups.items():
            keys = encode_all([r.version for r in rels])
            admits: list[tuple[tuple[IndexRange, Location], ...]] = []
            denied: list[tuple[IndexRange, ...] | None] = []
            rollbacks: list[tuple[tuple[IndexRange, Location], ...]] = []
            for i, r in enumerate(rels):
                admits.append(
                    tuple(
                        (rg, rule.source)
                        for rule in r.update_from
                        if not (rg := _range_of(rule.versions, keys)).empty
                    )
                )
                if any(d.versions.matches(r.version) for d in catalogue.deny_to):
                    denied.append(None)
                else:
                    denied.append(
                        tuple(
                            rg
                            for d in r.deny_from
                            if not (rg := _range_of(d.versions, keys)).empty
                        )
                    )
                rollbacks.append(
                    tuple(
                        (rg, rule.source)
                        for rule in r.rollback_to
                        if not (rg := _range_of(rule.versions, keys)).empty
                    )
                )
                self._where[r.version] = (key, i)
            self._series[key] = _Series(key, tuple(rels), tuple(admits), tuple(denied), tuple(rollbacks))

    # --- structure ---------------------------------------------------------------------------

    @property
    def nodes(self) -> tuple[Version, ...]:
        return tuple(r.version for r in self.catalogue.releases)

    def filtered(self, keep: Callable[[Edge], bool]) -> VersionGraph:
        """The same graph keeping only edges for which ``keep`` is true (e.g. the engine's
        verdict for given host facts)."""
        g = VersionGraph.__new__(VersionGraph)
        g.__dict__.update(self.__dict__)
        prev = self._filter
        g._filter = keep if prev is None else (lambda e: prev(e) and keep(e))
        return g

    def _edge(self, s: _Series, i: int, t: int) -> Edge | None:
        """The edge from index i to index t of series s, unfiltered."""
        if i == t:
            return None
        denied = s.denied[t]
        if denied is None or any(i in d for d in denied):
            return None
        src, dst = s.releases[i].version, s.releases[t].version
        if t > i:
            for rg, loc in s.admits[t]:
                if i in rg:
                    return Edge(src, dst, EdgeKind.UPDATE, loc)
        elif any(i in rg for rg, _ in s.admits[t]):
            # A rollback is a runtime update into t too: t's `update from` must admit the
            # running version (update-rule, as the engine checks it for every direction).
            for rg, loc in s.rollbacks[i]:
                if t in rg:
                    return Edge(src, dst, EdgeKind.ROLLBACK, loc)
        return None

    def _ok(self, e: Edge | None) -> bool:
        return e is not None and (self._filter is None or self._filter(e))

    def edge(self, source: Version, target: Version) -> Edge | None:
        a, b = self._where.get(source), self._where.get(target)
        if a is None or b is None or a[0] != b[0]:
            return None
        e = self._edge(self._series[a[0]], a[1], b[1])
        return e if self._ok(e) else None

    def successors(self, v: Version) -> list[Edge]:
        where = self._where.get(v)
        if where is None:
            return []
        s, i = self._series[where[0]], where[1]
        out: list[Edge] = []
        for rg, _ in s.rollbacks[i]:
            for t in rg.indices():
                if t < i:
                    e = self._edge(s, i, t)
                    if e is not None and self._ok(e) and e not in out:
                        out.append(e)
        out.sort(key=lambda e: e.target)
        # Update edges: only the releases whose `update from` admits i can be targets.
        for t in self._targets_of(s)[i]:
            e = self._edge(s, i, t)
            if self._ok(e):
                assert e is not None
                out.append(e)
        return out

    def _targets_of(self, s: _Series) -> list[list[int]]:
        """For each index i of series ``s``, the newer indices t (ascending) whose ``update
        from`` rules admit i: the only candidate targets of an update edge from i (deny rules
        and the filter are still :meth:`_edge`'s and :meth:`_ok`'s to apply)."""
        targets = self._update_targets.get(s.key)
        if targets is None:
            targets = [[] for _ in s.releases]
            for t, admits in enumerate(s.admits):  # ascending t: each list comes out sorted
                for rg, _ in admits:
                    for i in rg.indices():
                        if i >= t:
                            break
                        row = targets[i]
                        if not row or row[-1] != t:  # several rules of t may admit i
                            row.append(t)
            self._update_targets[s.key] = targets
        return targets

    def predecessors(self, v: Version) -> list[Edge]:
        where = self._where.get(v)
        if where is None:
            return []
        s, t = self._series[where[0]], where[1]
        seen: set[int] = set()
        for rg, _ in s.admits[t]:
            seen.update(i for i in rg.indices() if i < t)
        # rollbacks into t come from newer releases whose `rollback to` admits t
        for i in range(t + 1, len(s.releases)):
            if any(t in rg for rg, _ in s.rollbacks[i]):
                seen.add(i)
        out = []
        for i in sorted(seen):
            e = self._edge(s, i, t)
            if self._ok(e):
                assert e is not None
                out.append(e)
        return out

    def edges(self) -> Iterator[Edge]:
        """Every edge, grouped by source in version order."""
        for r in self.catalogue.releases:
            yield from self.successors(r.version)

    # --- searches ----------------------------------------------------------------------------

    def _bfs(self, start: Version, goal: Version | None) -> dict[Version, Edge | None]:
        """Fewest-hop parents from ``start`` (``start`` maps to ``None``)."""
        where = self._where.get(start)
        if where is None:
            return {}
        s = self._series[where[0]]
        if self._filter is None and not any(s.rollbacks):
            parent_idx = self._forward_pass(s, where[1])
        else:
            parent_idx = self._generic_bfs(s, where[1], goal)
        return {
            s.releases[k].version: (None if p is None else self._edge(s, p, k))
            for k, p in parent_idx.items()
        }

    def _generic_bfs(self, s: _Series, start: int, goal: Version | None) -> dict[int, int | None]:
        """Plain breadth-first search: each unvisited node is tested against each frontier
        node at most once and dropped once reached. Used when edges are filtered (host facts)
        or the series has rollback edges."""
        parent: dict[int, int | None] = {start: None}
        unvisited = [t for t in range(len(s.releases)) if t != start]
        queue = deque([start])
        while queue and unvisited:
            i = queue.popleft()
            remaining: list[int] = []
            for t in unvisited:
                if self._ok(self._edge(s, i, t)):
                    parent[t] = i
                    queue.append(t)
                    if goal is not None and s.releases[t].version == goal:
                        return parent
                else:
                    remaining.append(t)
            unvisited = remaining
        return parent

    @staticmethod
    def _forward_pass(s: _Series, start: int) -> dict[int, int | None]:
        """Fewest hops when every edge goes forward (update edges only, no filter): the series
        is a DAG in version order, so dist[t] = 1 + min(dist[i]) over the running versions
        that t admits, a range-minimum query per admitted interval (segment tree), O(n log n)
        instead of O(n^2) pair tests."""
        n = len(s.releases)
        inf = (1 << 62, -1)
        size = 1
        while size < n:
            size *= 2
        tree = [inf] * (2 * size)

        def update(i: int, val: tuple[int, int]) -> None:
            i += size
            tree[i] = val
            i //= 2
            while i:
                tree[i] = min(tree[2 * i], tree[2 * i + 1])
                i //= 2

        def query(lo: int, hi: int) -> tuple[int, int]:
            best = inf
            lo += size
            hi += size
            while lo < hi:
                if lo & 1:
                    best = min(best, tree[lo])
                    lo += 1
                if hi & 1:
                    hi -= 1
                    best = min(best, tree[hi])
                lo //= 2
                hi //= 2
            return best

        parent: dict[int, int | None] = {start: None}
        update(start, (0, start))
        for t in range(start + 1, n):
            denied = s.denied[t]
            if denied is None:
                continue
            best = inf
            for rg, _ in s.admits[t]:
                for lo, hi in _allowed_intervals(max(rg.lo, start), min(rg.hi, t), rg.excluded, denied):
                    best = min(best, query(lo, hi))
            if best[1] >= 0:
                parent[t] = best[1]
                update(t, (best[0] + 1, t))
        return parent

    def reachable(self, start: Version) -> set[Version]:
        """Every release reachable from ``start`` by permitted moves (``start`` excluded)."""
        return {v for v in self._bfs(start, None) if v != start}

    def shortest_path(self, start: Version, goal: Version) -> list[Edge] | None:
        """Fewest hops from ``start`` to ``goal``; ``[]`` when they are equal, ``None`` when
        no sequence of permitted moves leads there."""
        if start == goal:
            return [] if start in self._where else None
        parents = self._bfs(start, goal)
        if goal not in parents:
            return None
        path: list[Edge] = []
        v = goal
        while (e := parents[v]) is not None:
            path.append(e)
            v = e.source
        path.reverse()
        return path
