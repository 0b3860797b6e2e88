"""The audit's domains of version sets: which running versions a rule could ever apply to.

The interval form of version sets (encoding, :class:`~tdxpolicy.version.Span`, a set's span)
belongs to :mod:`tdxpolicy.version`; this module re-exports it under the names the audit rules
use and adds the two domains of docs/domain.md#same-series and #direction. Pure.
"""

from __future__ import annotations

from ..version import Span, Version, VersionSet, decode, encode, series_bounds

__all__ = ["Span", "encode", "decode", "span_of", "series_span", "update_domain", "rollback_domain"]


def span_of(vs: VersionSet) -> Span:
    """Every version the set admits (its clauses must all hold)."""
    return vs.span()


def series_span(v: Version) -> Span:
    return Span.of(*series_bounds(v.major, v.minor))


def update_domain(target: Version) -> Span:
    """Running versions a runtime update (upgrade or reinstall) into ``target`` can come from:
    same series (docs/domain.md#same-series) and not newer than ``target`` (a move from a
    newer version is a rollback, which `update from` does not govern)."""
    return Span.of(series_bounds(target.major, target.minor)[0], encode(target))


def rollback_domain(running: Version) -> Span:
    """Versions a runtime rollback from ``running`` can go to: older, same series."""
    return Span.of(series_bounds(running.major, running.minor)[0], encode(running) - 1)
