"""Version sets of many clauses cost O(n log n), not O(n^2) (issue 15).

Each test runs the same work at 1x, 10x and 100x clauses and bounds how much the cost *per
clause* may grow: n log n grows it by about 2 from 1x to 100x, a quadratic algorithm by 100.
The bound (8x from 1x to 100x, 4x from 1x to 10x) leaves room for a loaded 2-core machine:
times are process CPU time, the best of a few runs, so other processes' load counts little.
Before the interval form, lint's emptiness test and the audit took 4.3 s at 2,000 clauses and
over 30 s at 8,000.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Callable

from factories import block, document

from tdxpolicy.audit import run_audit
from tdxpolicy.audit.intervals import span_of
from tdxpolicy.audit.rules import RULES
from tdxpolicy.lint import lint_documents, verset_is_empty
from tdxpolicy.version import (
    Clause,
    Op,
    Version,
    VersionSet,
    encode_all,
    parse_version_set,
)

BASE = 300
SIZES = (BASE, 10 * BASE, 100 * BASE)
TODAY = dt.date(2026, 1, 1)


def _cpu_seconds(work: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        work()
        best = min(best, time.process_time() - t0)
    return max(best, 1e-4)  # the timer's granularity: never divide by zero


def _assert_scales(make: Callable[[int], Callable[[], object]]) -> None:
    """``make(n)`` builds the inputs for n clauses (not timed) and returns the timed work."""
    per_unit = []
    for n in SIZES:
        work = make(n)
        work()  # warm caches of the interpreter, not of the inputs (make builds fresh ones)
        work = make(n)
        per_unit.append(_cpu_seconds(work, 3 if n < SIZES[-1] else 2) / n)
    one, ten, hundred = per_unit
    assert ten <= 4 * one and hundred <= 8 * one, (
        f"cost per clause at 1x/10x/100x: {[f'{p * 1e6:.2f} us' for p in per_unit]}")


def _holes(n: int, series: tuple[int, int] = (1, 5)) -> list[Clause]:
    """n distinct ``!=`` clauses in one series (the worst case: n holes in the interval)."""
    return [Clause(Op.NE, Version(series[0], series[1], k)) for k in range(1, n + 1)]


def _fresh(clauses: list[Clause]) -> VersionSet:
    """A new set each time: the interval form and text are cached per instance."""
    return VersionSet(tuple(clauses))


def test_parse_and_text_scale() -> None:
    def make(n: int) -> Callable[[], object]:
        text = ", ".join(f"!= 1.5.{k:02d}" for k in range(1, n + 1)) + ", >= 1.5.00"

        def work() -> None:
            vs = parse_version_set(text)
            assert str(vs) == text

        return work

    _assert_scales(make)


def test_matches_scales() -> None:
    """The first match builds the interval form (n log n); each further one bisects."""
    probes = [Version(1, 5, k) for k in range(0, 400)]

    def make(n: int) -> Callable[[], object]:
        clauses = _holes(n)

        def work() -> None:
            vs = _fresh(clauses)
            got = [vs.matches(p) for p in probes]
            assert got == [p.update == 0 or p.update > n for p in probes]

        return work

    _assert_scales(make)


def test_emptiness_and_span_scale() -> None:
    def make(n: int) -> Callable[[], object]:
        # >= 1.5.01, <= 1.5.n and a hole at every version between: empty, which is found only
        # by looking at every hole.
        clauses = [Clause(Op.GE, Version(1, 5, 1)), *_holes(n), Clause(Op.LE, Version(1, 5, n))]
        open_end = clauses[:-1]

        def work() -> None:
            assert verset_is_empty(_fresh(clauses))
            assert not verset_is_empty(_fresh(open_end))
            assert len(span_of(_fresh(open_end)).parts) == 1  # only 1.5.(n+1) and above remain

        return work

    _assert_scales(make)


def test_index_range_scales() -> None:
    """The graph's and the path search's view: a set against a sorted list of n releases."""

    def make(n: int) -> Callable[[], object]:
        keys = encode_all(Version(1, 5, k) for k in range(0, 2 * n))
        clauses = [Clause(Op.SERIES, Version(1, 5, 0)), *_holes(n)[::2]]

        def work() -> None:
            lo, hi, excluded = _fresh(clauses).index_range(keys)
            assert (lo, hi) == (0, 2 * n) and len(excluded) == (n + 1) // 2

        return work

    _assert_scales(make)


def test_lint_scales() -> None:
    def make(n: int) -> Callable[[], object]:
        # Every clause bound is a hole but the last: the old candidate scan matched each of
        # about 4n candidates against the clauses up to its own (quadratic).
        holes = ", ".join(f"!= 1.5.{k:02d}" for k in range(1, n + 1))
        doc = document([
            block("1.5.01"),
            block(f"1.5.{n + 5}", update_from=[f">= 1.5.01, {holes}"],
                  rollback_to=[f"< 1.5.{n + 5}, {holes}"]),
        ], expires="2030-01-01", deny_to=[(f"1.5.*, {holes}", "site")])

        def work() -> None:
            assert lint_documents([doc], TODAY) == []

        return work

    _assert_scales(make)


def test_audit_scales() -> None:
    """Every rule of the audit over rules of n distinct clauses, each naming a version no
    source declares: unknown-version-ref reports every one of them, quoting its rule
    shortened (it quoted the whole rule, n clauses long, n times over: quadratic output) and
    finding each clause's neighbours by bisection (it scanned every known release)."""
    rules = [r.id for r in RULES]

    def make(n: int) -> Callable[[], object]:
        holes = ", ".join(f"!= 1.5.{k:02d}" for k in range(4, n + 4))
        doc = document([
            block("1.5.01", svn="1.1"),
            block("1.5.02", svn="1.1", update_from=[">= 1.5.01"]),
            block(f"1.5.{n + 9}", svn="1.1", update_from=[f">= 1.5.01, {holes}"],
                  deny_from=[(f">= 1.5.01, {holes}", "why")],
                  rollback_to=[f"1.5.*, {holes}"]),
        ], expires="2030-01-01", deny_to=[(f"1.5.*, {holes}", "site")])

        def work() -> None:
            report = run_audit([doc], today=TODAY, rules=rules)
            found = {f.rule for f in report.findings}
            # The update rule's every admitted version is denied: it never takes effect.
            assert "never-matches" in found, found
            unknown = [f for f in report.findings if f.rule == "unknown-version-ref"]
            assert len(unknown) >= 4 * n  # every `!=` of the four rules names an unknown version
            assert max(len(f.message) for f in unknown) < 300

        return work

    _assert_scales(make)
