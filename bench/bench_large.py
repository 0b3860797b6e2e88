#!/usr/bin/env python3
"""Benchmark: the move commands on large catalogues (issue 13): time and peak memory.

For each size, writes one generated policy document (bench_catalogue.BLOCK, in documents of 10,000) and runs
``list`` (with host facts, JSON), ``path``, ``graph`` and ``select`` in fresh processes, each
with the heap settled after loading (docs/performance.md#settle-heap) and without
(``tdxpolicy.sources.settle_heap`` replaced by a no-op), interleaved; prints the median
in-process time of each command (loading included, interpreter start-up not), the ratio
without/with, and the peak RSS (``ru_maxrss``). ``--baseline DIR`` also runs another checkout
(e.g. one from before ``list`` streamed) for its peak RSS and time.

Usage: python bench/bench_large.py [--sizes 10000,100000] [--runs 3] [--baseline DIR]
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from bench_catalogue import BLOCK  # noqa: E402

#: Releases per generated document (a source file is at most 16 MiB: MAX_SOURCE_BYTES).
CHUNK = 10_000


def write_documents(directory: Path, n: int) -> None:
    """Releases 1.5.0 .. 1.5.(n-1) as bench_catalogue.generate writes them, in documents of
    :data:`CHUNK` releases."""
    directory.mkdir()
    for start in range(0, n, CHUNK):
        parts = ['format 1\nissued 2026-11-26\nexpires 2027-11-26\nsource "bench"\n\n']
        for u in range(start, min(n, start + CHUNK)):
            h = f"{u:096X}"
            parts.append(BLOCK.format(u=u, h=h, svn=u % 256, lo=max(0, u - 20),
                                      deny=max(0, u - 3)))
        (directory / f"part{start // CHUNK:03d}.tdxpolicy").write_text("".join(parts))

WRAPPER = """
import resource, sys, time
repo, settle = sys.argv[1], sys.argv[2]
sys.path.insert(0, repo)
if settle == "0":
    import tdxpolicy.sources as s
    s.settle_heap = lambda: None
from tdxpolicy.cli import main
t = time.perf_counter()
code = main(sys.argv[3:])
took = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"BENCH {took:.4f} {rss} {code}", file=sys.stderr)
"""

HOST = ["--from", "1.5.0", "--seamldr", "1.5.00", "--cpuid", "0x806F8", "--acknowledge", "all"]


def commands(n: int) -> dict[str, list[str]]:
    return {
        "list": ["list", *HOST, "--remaining", "5", "--format", "json"],
        "path": ["path", *HOST, "--to", f"1.5.{n - 1}", "--remaining", str(n)],
        "graph": ["graph"],
        "select": ["select", *HOST, "--remaining", "5", "--max-hops", "3"],
    }


def run(repo: Path, settle: bool, argv: list[str]) -> tuple[float, int]:
    proc = subprocess.run([sys.executable, "-c", WRAPPER, str(repo), "1" if settle else "0",
                           *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, check=False)
    line = [x for x in proc.stderr.splitlines() if x.startswith("BENCH ")]
    if not line or line[-1].split()[3] not in ("0", "1"):
        raise SystemExit(f"failed: {argv}: {proc.stderr[-2000:]}")
    _, took, rss, _code = line[-1].split()
    return float(took), int(rss)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="list,path,graph,select")
    ap.add_argument("--baseline", type=Path)
    a = ap.parse_args()
    print(f"python {sys.version.split()[0]}; medians of {a.runs} interleaved runs")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in a.sizes.split(",")):
            doc = Path(tmp) / f"gen{n}"
            write_documents(doc, n)
            for name, args in commands(n).items():
                if name not in a.only.split(","):
                    continue
                argv = [*args, "--no-default-policy", "--policy", str(doc)]
                variants = {"settled": (REPO, True), "unsettled": (REPO, False)}
                if a.baseline is not None:
                    variants["baseline"] = (a.baseline, False)
                got: dict[str, list[tuple[float, int]]] = {k: [] for k in variants}
                for _ in range(a.runs):
                    for k, (repo, settle) in variants.items():
                        got[k].append(run(repo, settle, argv))
                med = {k: statistics.median(t for t, _ in v) for k, v in got.items()}
                rss = {k: max(r for _, r in v) / 1024 for k, v in got.items()}
                extra = ""
                if a.baseline is not None:
                    extra = (f"; baseline {med['baseline']:.2f} s, "
                             f"peak {rss['baseline']:.0f} MB")
                print(f"{n:>7} {name:<7} settled {med['settled']:.2f} s, unsettled "
                      f"{med['unsettled']:.2f} s (ratio {med['unsettled'] / med['settled']:.2f}x); "
                      f"peak RSS {rss['settled']:.0f} / {rss['unsettled']:.0f} MB{extra}",
                      flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
