"""What the exporters (NFD labels, Prometheus metrics) say about decisions, computed once.

:func:`decisions` turns the answers a command already has (the verdicts of ``can-upgrade``, the
:class:`~tdxpolicy.verdict.SelectResult` of ``select``) into :class:`Decision` records: one per
move, with its target, kind, whether it is allowed and the checks behind it. The NFD and
Prometheus renderers (:mod:`tdxpolicy.render.nfd`, :mod:`tdxpolicy.render.prometheus`) both
read these, so the labels and the metrics of one run never disagree (docs/exporters.md).

Fail closed: a decision is ``allowed`` only when a verdict says so; a ``select`` that found
nothing yields the move that keeps the host back (or none when the host already runs the newest
release of its series), never an allowed one.
"""

from __future__ import annotations

from typing import Sequence

from .._value import value
from ..verdict import MoveKind, Result, SelectResult, Verdict, denies
from ..version import Version

__all__ = ["ExportedCheck", "Decision", "decisions", "SEVERITY"]

# Which result a label or metric shows when one check code has several results in one run
# (several hops, several verdicts): the one that denies most.
SEVERITY = {Result.PASS: 0, Result.WARN: 1, Result.UNKNOWN: 2, Result.FAIL: 3}


@value
class ExportedCheck:
    """One check of a decision: its code, its result, and whether it denies the move."""

    code: str
    result: Result
    denies: bool


@value
class Decision:
    """One move and its answer. ``complete`` is True when ``checks`` lists every check that
    ran (from a verdict); False when only the denying ones are known (a ``select`` candidate
    that nothing reached: :class:`~tdxpolicy.verdict.Candidate` keeps only their codes)."""

    target: Version
    kind: MoveKind | None
    allowed: bool
    checks: tuple[ExportedCheck, ...]
    complete: bool

    @property
    def blocking(self) -> tuple[ExportedCheck, ...]:
        return tuple(c for c in self.checks if c.denies)


def _from_verdict(v: Verdict) -> Decision:
    checks = tuple(ExportedCheck(c.code, c.result, denies(c.result, v.strict)) for c in v.checks)
    return Decision(v.to_version, v.kind, v.allowed, checks, complete=True)


def _move_kind(running: Version | None, target: Version) -> MoveKind | None:
    # The engine's rule (docs/domain.md#direction), imported late: rendering stays light.
    from ..engine.checks import move_kind

    return move_kind(running, target)


def _from_select(result: SelectResult, running: Version | None) -> tuple[Decision, ...]:
    if result.selected is not None:
        # The path's hops are real verdicts, each listing every check.
        return tuple(_from_verdict(v) for v in result.path)
    candidates = [c for c in result.candidates if not c.allowed]
    if running is not None:
        # What keeps the host back: the newest release of its own series above the running
        # one. Nothing there means the host is current, which blocks nothing.
        candidates = [c for c in candidates
                      if c.version.series == running.series and c.version.key > running.key]
    if not candidates:
        return ()
    newest = max(candidates, key=lambda c: c.version.key)
    unknown = set(newest.unknown)
    checks = tuple(
        ExportedCheck(code, Result.UNKNOWN if code in unknown else Result.FAIL, True)
        for code in newest.failed)
    return (Decision(newest.version, _move_kind(running, newest.version), False, checks,
                     complete=False),)


def decisions(
    verdicts: Sequence[Verdict] = (),
    select: SelectResult | None = None,
    running: Version | None = None,
) -> tuple[Decision, ...]:
    """The decisions of one run: one per verdict (``can-upgrade``: one), then those of
    ``select`` (the selected path's hops, or the newest blocked release of the running series
    when none was selected). ``running`` is the host's running version (for ``select``)."""
    out = [_from_verdict(v) for v in verdicts]
    if select is not None:
        out.extend(_from_select(select, running))
    return tuple(out)
