"""Benchmark: ``plan`` (tdxpolicy path) on generated 10,000-release catalogues.

Target (issue #3): under 100 ms per ``path`` on a 10,000-release catalogue. Prints figures;
not a unit test. Run: ``python bench/bench_path.py``. "cold" is the first call on a freshly
built catalogue (includes the per-catalogue series index); "warm" repeats the call.

The heap is settled after building each catalogue as the CLI settles it after loading one
(``tdxpolicy.sources.settle_heap``, docs/performance.md#settle-heap): nothing more.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from factories import facts, generated_catalogue, options  # noqa: E402

from tdxpolicy.engine import plan  # noqa: E402
from tdxpolicy.sources import settle_heap  # noqa: E402
from tdxpolicy.version import Version  # noqa: E402

N = 10_000
SCENARIOS = [
    # name, generator kwargs, budget
    ("one series, windows 200-800 (many hops)", dict(window=(200, 800)), 1000),
    ("one series, windows 1-8 (very long path)", dict(window=(1, 8)), 10_000),
    ("one series, Intel-like (admits all older)", dict(window=(N, N)), 12),
    ("two series, windows 50-400, 5% deny, 5% no policy",
     dict(series=((1, 5), (2, 0)), window=(50, 400), p_deny=0.05, p_no_policy=0.05), 1000),
    ("one series, windows 200-800, budget too small", dict(window=(200, 800)), 3),
]


def main() -> None:
    print(f"plan() on generated catalogues of {N} releases (python {sys.version.split()[0]})")
    for name, kw, budget in SCENARIOS:
        t0 = time.perf_counter()
        cat = generated_catalogue(N, seed=1, **kw)
        built = time.perf_counter() - t0
        series = cat.releases[0].version.series
        rels = cat.series(series)
        start, goal = rels[0].version, rels[-1].version
        f = facts({"module_version": start.text, "seamldr_version": "1.5.00",
                   "cpuid": ["0x806F8"], "num_remaining_updates": budget})
        opts = options({"acknowledged": ["all"]})
        settle_heap()  # what `tdxpolicy path` does after loading a catalogue this large
        t0 = time.perf_counter()
        res = plan(cat, f, goal, opts)
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(5):
            t0 = time.perf_counter()
            plan(cat, f, goal, opts)
            warm.append(time.perf_counter() - t0)
        outcome = f"found, {len(res.hops)} hops" if res.found else f"none: {res.reason[:60]}"
        print(f"- {name}: {start} -> {goal}: {outcome}; cold {cold*1000:.1f} ms, "
              f"warm median {statistics.median(warm)*1000:.1f} ms "
              f"(catalogue built in {built:.2f} s)")
        gc.unfreeze()
        del cat, rels, res
        gc.collect()
    _ = Version


if __name__ == "__main__":
    main()
