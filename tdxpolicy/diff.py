"""Review a change of policy data: what two catalogues say differently, and what it does.

``tdxpolicy diff OLD NEW`` reads a refresh of Intel's data the way an auditor reads release
notes (docs/cli.md, "diff"):

- **releases** added and removed;
- **facts** changed (old -> new, with the location of each side), one row per fact;
- **rules** added or removed (``update from``, ``deny from``, ``rollback to``, advisories and
  the documents' ``deny to``), each with its location; the same rule from several sources
  counts once (:func:`tdxpolicy.catalogue.distinct_versets`);
- the **impact** on runtime paths: for every running release, which targets it can reach in
  the policy graph (:class:`tdxpolicy.graph.VersionGraph`, the rules alone) before and after.
  A lost path names its cause (the rules of the release it no longer reaches) and the next
  best path in the new data;
- an SVN that went *down* for a release both sides know (P-SEAMLDR refuses a lower SVN, so a
  host that installed the old image cannot go back to the "same" release);
- optionally the **host impact**: the number of hosts (``--facts`` / fleet input) whose
  :func:`tdxpolicy.engine.select` answer changes, and how.

:attr:`CatalogueDiff.breaking` is true when a runtime path is lost or an SVN is lowered: the
command exits 1, so a pipeline can gate a data refresh on it. Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from ._value import value
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from .catalogue import Catalogue, Release, show_fact
from .model import FACT_NAMES, Location
from .version import Version

if TYPE_CHECKING:  # pragma: no cover
    from .graph import VersionGraph
    from .hostfacts import HostFacts
    from .verdict import MoveOptions

__all__ = [
    "FactChange",
    "RuleChange",
    "PathChange",
    "SvnLowered",
    "HostChange",
    "CatalogueDiff",
    "diff_catalogues",
]


@value
class FactChange:
    """One fact of one release that the two sides give differently (``None``: not given)."""

    version: Version
    fact: str
    old: str | None
    new: str | None
    old_at: Location | None
    new_at: Location | None


@value
class RuleChange:
    """A rule present on one side only. ``version`` is ``None`` for a document's ``deny to``."""

    version: Version | None
    rule: str  # "update from", "deny from", "rollback to", "advisory", "deny to"
    text: str  # the version set (and reason / advisory word) as documents spell it
    change: str  # "added" | "removed"
    at: Location


@value
class PathChange:
    """A running release whose runtime reach changed in the policy graph."""

    from_version: Version
    lost: tuple[Version, ...]  # targets reachable before, not after
    longer: tuple[tuple[Version, ...], ...]  # new paths to targets that now take more hops
    gained: tuple[Version, ...]  # targets reachable after, not before
    causes: tuple[str, ...]  # the rule changes of the affected targets, in words
    next_path: tuple[Version, ...] | None  # the new data's path to its newest reachable target

    @property
    def breaking(self) -> bool:
        """A target lost, or reachable only in more hops (each hop spends one of the host's
        remaining updates, and a host with fewer left loses it)."""
        return bool(self.lost or self.longer)


@value
class SvnLowered:
    version: Version
    old: str
    new: str
    old_at: Location
    new_at: Location


@value
class HostChange:
    """Hosts (of the given facts) whose selected target changes, grouped by the change."""

    from_version: str
    old_selected: str | None
    new_selected: str | None
    hosts: int

    @property
    def lost(self) -> bool:
        """No newer target any more, or an older one than before."""
        if self.old_selected is None:
            return False
        if self.new_selected is None:
            return True
        return Version.parse(self.new_selected) < Version.parse(self.old_selected)


@value
class CatalogueDiff:
    old_name: str
    new_name: str
    added: tuple[Version, ...]
    removed: tuple[Version, ...]
    facts: tuple[FactChange, ...]
    rules: tuple[RuleChange, ...]
    paths: tuple[PathChange, ...]
    svn_lowered: tuple[SvnLowered, ...]
    hosts: tuple[HostChange, ...] | None = None  # None: no host facts were given
    hosts_total: int = 0

    @property
    def breaking(self) -> bool:
        """A runtime path lost or an SVN lowered (exit 1)."""
        return any(p.breaking for p in self.paths) or bool(self.svn_lowered)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.facts or self.rules or self.paths
                    or self.svn_lowered)


# --- facts and rules ---------------------------------------------------------------------------


def _fact_changes(old: Release, new: Release) -> list[FactChange]:
    from .catalogue import fact_key

    out = []
    for name in FACT_NAMES:
        a = getattr(old.facts, name)
        b = getattr(new.facts, name)
        if a is None and b is None:
            continue
        if a is not None and b is not None and fact_key(name, a.value) == fact_key(name, b.value):
            continue
        out.append(FactChange(
            new.version, name,
            None if a is None else show_fact(name, a.value),
            None if b is None else show_fact(name, b.value),
            None if a is None else a.source,
            None if b is None else b.source,
        ))
    return out


def _rules_of(release: Release) -> dict[tuple[str, str], Location]:
    """Each distinct rule of a release, as (kind, text) -> first location."""
    out: dict[tuple[str, str], Location] = {}
    for u in release.update_from:
        out.setdefault(("update from", str(u.versions)), u.source)
    for d in release.deny_from:
        out.setdefault(("deny from", f'{d.versions} "{d.reason}"'), d.source)
    for r in release.rollback_to:
        out.setdefault(("rollback to", str(r.versions)), r.source)
    for a in release.advisories:
        out.setdefault(("advisory", a.word), a.source)
    return out


def _rule_changes(version: Version | None, old: dict[tuple[str, str], Location],
                  new: dict[tuple[str, str], Location]) -> list[RuleChange]:
    out = [RuleChange(version, k, t, "removed", at) for (k, t), at in old.items()
           if (k, t) not in new]
    out += [RuleChange(version, k, t, "added", at) for (k, t), at in new.items()
            if (k, t) not in old]
    return out


def _deny_to(cat: Catalogue) -> dict[tuple[str, str], Location]:
    out: dict[tuple[str, str], Location] = {}
    for d in cat.deny_to:
        out.setdefault(("deny to", f'{d.versions} "{d.reason}"'), d.source)
    return out


# --- paths -------------------------------------------------------------------------------------


def _hops(graph: VersionGraph, start: Version) -> dict[Version, tuple[Version, ...]]:
    """Every release reachable from ``start`` with a shortest path to it (breadth-first over
    the graph's edges, so hop counts are exact; ties keep the first path found)."""
    paths: dict[Version, tuple[Version, ...]] = {start: (start,)}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for e in graph.successors(v):
                if e.target not in paths:
                    paths[e.target] = (*paths[v], e.target)
                    nxt.append(e.target)
        frontier = nxt
    del paths[start]
    return paths


def _path_changes(old: Catalogue, new: Catalogue, series: set[tuple[int, int]],
                  rule_words: dict[Version, list[str]]) -> list[PathChange]:
    from .graph import VersionGraph

    g_old, g_new = VersionGraph(old), VersionGraph(new)
    starts = sorted({r.version for r in old if r.series in series}
                    | {r.version for r in new if r.series in series})
    out = []
    for v in starts:
        before = _hops(g_old, v) if old.get(v) is not None else {}
        after = _hops(g_new, v) if new.get(v) is not None else {}
        lost = sorted(set(before) - set(after))
        gained = sorted(set(after) - set(before))
        longer = [after[t] for t in sorted(set(before) & set(after))
                  if len(after[t]) > len(before[t])]
        if not lost and not gained and not longer:
            continue
        causes: list[str] = []
        for t in [*lost, *(p[-1] for p in longer), *gained]:
            for words in rule_words.get(t, ()):
                if words not in causes:
                    causes.append(words)
        upward = [t for t in after if t > v]
        next_path = after[max(upward)] if upward else None
        out.append(PathChange(v, tuple(lost), tuple(longer), tuple(gained), tuple(causes),
                              next_path))
    return out


# --- hosts -------------------------------------------------------------------------------------


def _host_changes(old: Catalogue, new: Catalogue, hosts: Iterable[HostFacts],
                  options: MoveOptions, max_hops: int) -> tuple[list[HostChange], int]:
    from .engine import select

    memo: dict[Any, tuple[str, str | None, str | None]] = {}
    counts: Counter[tuple[str, str | None, str | None]] = Counter()
    total = 0
    for h in hosts:
        total += 1
        key = (h.module_version, h.seamldr_version, h.cpuid, h.num_remaining_updates)
        row = memo.get(key)
        if row is None:
            a = select(old, h, options, max_hops=max_hops).selected
            b = select(new, h, options, max_hops=max_hops).selected
            row = (str(h.module_version) if h.module_version is not None else "unknown",
                   None if a is None else a.text, None if b is None else b.text)
            memo[key] = row
        if row[1] != row[2]:
            counts[row] += 1
    changes = [HostChange(f, a, b, n) for (f, a, b), n in sorted(
        counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2] or ""))]
    return changes, total


# --- the whole diff ----------------------------------------------------------------------------


def diff_catalogues(old: Catalogue, new: Catalogue, *, old_name: str = "old",
                    new_name: str = "new", hosts: Sequence[HostFacts] | None = None,
                    options: MoveOptions | None = None, max_hops: int = 3) -> CatalogueDiff:
    """Everything ``new`` says differently from ``old``, and the runtime paths it changes.

    ``hosts`` (optional) are decided with :func:`tdxpolicy.engine.select` under both
    catalogues (``options``, ``max_hops``); hosts whose selection changes are counted.
    """
    old_v = {r.version for r in old}
    new_v = {r.version for r in new}
    added = tuple(sorted(new_v - old_v))
    removed = tuple(sorted(old_v - new_v))
    facts: list[FactChange] = []
    rules: list[RuleChange] = []
    svn_lowered: list[SvnLowered] = []
    changed_series: set[tuple[int, int]] = {v.series for v in (*added, *removed)}
    rule_words: dict[Version, list[str]] = {}
    for v in sorted(old_v & new_v):
        a, b = old.get(v), new.get(v)
        assert a is not None and b is not None
        fc = _fact_changes(a, b)
        facts += fc
        rc = _rule_changes(v, _rules_of(a), _rules_of(b))
        rules += rc
        if rc:
            changed_series.add(v.series)
            words = rule_words.setdefault(v, [])
            gone = [c for c in rc if c.change == "removed" and c.rule == "update from"]
            came = [c for c in rc if c.change == "added" and c.rule == "update from"]
            if gone and came:
                words.append(f"{v}'s update from changed: "
                             f"{', '.join(c.text for c in gone)} -> {', '.join(c.text for c in came)}")
            else:
                words += [f"{v}: {c.rule} {c.text} {c.change}" for c in gone + came]
            words += [f"{v}: {c.rule} {c.text} {c.change}" for c in rc
                      if c.rule not in ("update from",)]
        if a.facts.svn is not None and b.facts.svn is not None and b.facts.svn.value < a.facts.svn.value:
            svn_lowered.append(SvnLowered(v, str(a.facts.svn.value), str(b.facts.svn.value),
                                          a.facts.svn.source, b.facts.svn.source))
    for v in added:
        r = new.get(v)
        assert r is not None
        rules += _rule_changes(v, {}, _rules_of(r))
        rule_words.setdefault(v, []).append(f"{v} added")
    for v in removed:
        r = old.get(v)
        assert r is not None
        rules += _rule_changes(v, _rules_of(r), {})
        rule_words.setdefault(v, []).append(f"{v} removed")
    deny_to = _rule_changes(None, _deny_to(old), _deny_to(new))
    if deny_to:
        rules += deny_to
        # A document's `deny to` can cut any release of any series: its words go to the
        # releases it names.
        changed_series |= {v.series for v in old_v | new_v}
        sets = {("old", d.source): d.versions for d in old.deny_to}
        sets.update({("new", d.source): d.versions for d in new.deny_to})
        for c in deny_to:
            side = "new" if c.change == "added" else "old"
            vs = sets[(side, c.at)]
            for v in old_v | new_v:
                if vs.matches(v):
                    rule_words.setdefault(v, []).append(f"deny to {c.text} {c.change}")
    paths = _path_changes(old, new, changed_series, rule_words)
    host_changes: tuple[HostChange, ...] | None = None
    total = 0
    if hosts is not None:
        from .verdict import MoveOptions as _MoveOptions

        found, total = _host_changes(old, new, hosts, options or _MoveOptions(), max_hops)
        host_changes = tuple(found)
    return CatalogueDiff(old_name, new_name, added, removed, tuple(facts), tuple(rules),
                         tuple(paths), tuple(svn_lowered), host_changes, total)
