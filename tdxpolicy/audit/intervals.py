"""Exact reasoning about version sets: which versions a VERSET can ever admit.

A version ``M.m.u`` (each field at most ``2**32 - 1``, see :mod:`tdxpolicy.version`) is encoded
as the integer ``M << 64 | m << 32 | u``; the order of the integers is the order of versions,
so every clause of a version set is an interval (``!=`` is two) and a set is an intersection of
intervals. :class:`Span` is a finite union of disjoint closed intervals with union,
intersection and difference, enough to decide "can this rule ever match" and "does this deny
cover that update rule" exactly, for every version, not only the versions some source knows.
Pure.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from .._value import value
from ..version import Clause, Op, Version, VersionSet

__all__ = ["Span", "encode", "decode", "span_of", "series_span", "update_domain", "rollback_domain"]

_F = 32
_MASK = (1 << _F) - 1
_MAX = (1 << (3 * _F)) - 1


def encode(v: Version) -> int:
    return (v.major << (2 * _F)) | (v.minor << _F) | v.update


def decode(n: int) -> Version:
    return Version(n >> (2 * _F), (n >> _F) & _MASK, n & _MASK)


@value
class Span:
    """A set of versions: sorted, disjoint, non-adjacent closed intervals of encoded versions."""

    parts: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, lo: int, hi: int) -> Span:
        return cls(((lo, hi),)) if lo <= hi else cls()

    @classmethod
    def everything(cls) -> Span:
        return cls(((0, _MAX),))

    @classmethod
    def point(cls, v: Version) -> Span:
        n = encode(v)
        return cls(((n, n),))

    @staticmethod
    def _norm(parts: Iterable[tuple[int, int]]) -> Span:
        out: list[tuple[int, int]] = []
        for lo, hi in sorted(p for p in parts if p[0] <= p[1]):
            if out and lo <= out[-1][1] + 1:
                if hi > out[-1][1]:
                    out[-1] = (out[-1][0], hi)
            else:
                out.append((lo, hi))
        return Span(tuple(out))

    def __bool__(self) -> bool:
        return bool(self.parts)

    def __or__(self, other: Span) -> Span:
        return Span._norm(self.parts + other.parts)

    def __and__(self, other: Span) -> Span:
        out: list[tuple[int, int]] = []
        i = j = 0
        a, b = self.parts, other.parts
        while i < len(a) and j < len(b):
            lo = max(a[i][0], b[j][0])
            hi = min(a[i][1], b[j][1])
            if lo <= hi:
                out.append((lo, hi))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return Span(tuple(out))

    def complement(self) -> Span:
        out: list[tuple[int, int]] = []
        prev = 0
        for lo, hi in self.parts:
            if lo > prev:
                out.append((prev, lo - 1))
            prev = hi + 1
        if prev <= _MAX:
            out.append((prev, _MAX))
        return Span(tuple(out))

    def __sub__(self, other: Span) -> Span:
        return self & other.complement()

    def __contains__(self, v: object) -> bool:
        if not isinstance(v, Version):
            return False
        n = encode(v)
        return any(lo <= n <= hi for lo, hi in self.parts)

    def issubset(self, other: Span) -> bool:
        return not (self - other)

    def first(self) -> Version | None:
        return decode(self.parts[0][0]) if self.parts else None

    def intervals(self) -> Iterator[tuple[Version, Version]]:
        for lo, hi in self.parts:
            yield decode(lo), decode(hi)


def _clause_span(c: Clause) -> Span:
    if c.op is Op.ANY:
        return Span.everything()
    v = c.version
    assert v is not None
    if c.op is Op.SERIES:
        return series_span(v)
    n = encode(v)
    if c.op is Op.GE:
        return Span.of(n, _MAX)
    if c.op is Op.GT:
        return Span.of(n + 1, _MAX)
    if c.op is Op.LE:
        return Span.of(0, n)
    if c.op is Op.LT:
        return Span.of(0, n - 1)
    if c.op is Op.EQ:
        return Span.of(n, n)
    return Span.point(v).complement()  # NE


def span_of(vs: VersionSet) -> Span:
    """Every version the set admits (its clauses must all hold)."""
    out = Span.everything()
    for c in vs.clauses:
        out = out & _clause_span(c)
    return out


def _series_base(v: Version) -> int:
    """The encoding of ``v``'s series' first possible version, ``M.m.0``."""
    return (v.major << (2 * _F)) | (v.minor << _F)


def series_span(v: Version) -> Span:
    base = _series_base(v)
    return Span.of(base, base | _MASK)


def update_domain(target: Version) -> Span:
    """Running versions a runtime update (upgrade or reinstall) into ``target`` can come from:
    same series (docs/domain.md#same-series) and not newer than ``target`` (a move from a
    newer version is a rollback, which `update from` does not govern)."""
    return Span.of(_series_base(target), encode(target))


def rollback_domain(running: Version) -> Span:
    """Versions a runtime rollback from ``running`` can go to: older, same series."""
    return Span.of(_series_base(running), encode(running) - 1)
