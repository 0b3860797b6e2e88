#!/usr/bin/env python3
"""Benchmarks for the catalogue: CLI cold start and document loading at scale.

1. Cold process start of ``tdxpolicy show 1.5.16`` and ``tdxpolicy graph`` against
   ``python -c "import typer"`` (median of N runs each; the ratio is what the issue budgets:
   at most 1.3x for the commands that only read the embedded catalogue).
2. Loading 10,000 generated releases from policy documents: bytes -> PolicyDocument (the
   line scanner, or lark LALR for other layouts, + semantic checks), in MB/s; then merging, building the version graph and a
   shortest-path query, and the precompiled-JSON path for the same documents.

Usage: python bench/bench_catalogue.py [--runs N] [--releases N]
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BLOCK = """\
release 1.5.{u} {{
    published   2025-02-19
    mrseam      0x{h}
    seamhash    0x{h}
    svn         1.{svn}
    platforms   0x806F8 0xC06F0 0xA06F0
    seamldr     1.5.00 2.0.00
    features0   0x226F3F0FBF
    handoff     module 0 min 0

    update from >= 1.5.{lo}
    deny from == 1.5.{deny} "generated"
    advisory td-build "Do not update while a TD build is in progress."
}}
"""


def generate(n: int) -> bytes:
    parts = ["format 1\nissued 2026-11-26\nexpires 2027-11-26\nsource \"bench\"\n\n"]
    for u in range(n):
        h = f"{u:096X}"
        parts.append(BLOCK.format(u=u, h=h, svn=u % 256, lo=max(0, u - 20), deny=max(0, u - 3)))
    return "".join(parts).encode()


def _cmd_time(argv: list[str], runs: int) -> float:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="0")
    subprocess.run(argv, capture_output=True, check=False, env=env)  # warm the page cache
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False, env=env)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_startup(runs: int) -> None:
    py = sys.executable
    exe = shutil.which("tdxpolicy")
    base = [exe] if exe else [py, "-c", "from tdxpolicy.cli import main; main()"]
    typer_t = _cmd_time([py, "-c", "import typer"], runs)
    print(f"cold start, median of {runs} runs ({'console script ' + exe if exe else 'python -c main()'}):")
    print(f"  python -c 'import typer'      {typer_t * 1000:7.1f} ms")
    for args in (["show", "1.5.16"], ["graph"], ["graph", "--format", "dot"]):
        t = _cmd_time(base + args, runs)
        print(f"  tdxpolicy {' '.join(args):<20} {t * 1000:7.1f} ms   ratio {t / typer_t:4.2f}x")


def bench_loading(n: int) -> None:
    from tdxpolicy.catalogue import merge
    from tdxpolicy.graph import VersionGraph
    from tdxpolicy.serialize import document_from_json, document_to_json
    from tdxpolicy.sources.document import _parser, read_document
    from tdxpolicy.version import Version

    data = generate(n)
    mb = len(data) / 1e6
    t = time.perf_counter()
    _parser()
    t_build = time.perf_counter() - t
    t = time.perf_counter()
    doc = read_document(data, "bench.tdxpolicy")
    t_parse = time.perf_counter() - t
    assert len(doc.releases) == n
    print(f"\nloading {n} generated releases from one document ({mb:.2f} MB):")
    print(f"  lark parser (shipped tables)  {t_build * 1000:7.1f} ms (once per process)")
    print(f"  decode + parse + checks       {t_parse * 1000:7.1f} ms   {mb / t_parse:6.2f} MB/s")
    t = time.perf_counter()
    cat = merge([doc])
    t_merge = time.perf_counter() - t
    t = time.perf_counter()
    g = VersionGraph(cat)
    t_graph = time.perf_counter() - t
    t = time.perf_counter()
    path = g.shortest_path(Version(1, 5, 0), Version(1, 5, n - 1))
    t_path = time.perf_counter() - t
    t = time.perf_counter()
    succ = g.successors(Version(1, 5, n // 2))
    t_succ = time.perf_counter() - t
    print(f"  merge                         {t_merge * 1000:7.1f} ms")
    print(f"  version graph build           {t_graph * 1000:7.1f} ms")
    print(f"  shortest path 0 -> {n - 1:<10} {t_path * 1000:7.1f} ms   ({len(path or [])} hops)")
    print(f"  successors of one release     {t_succ * 1000:7.1f} ms   ({len(succ)} edges)")
    blob = json.dumps({"documents": [document_to_json(doc)]}).encode()
    t = time.perf_counter()
    again = [document_from_json(d) for d in json.loads(blob)["documents"]]
    t_json = time.perf_counter() - t
    assert again[0] == doc
    print(f"  same from precompiled JSON    {t_json * 1000:7.1f} ms   "
          f"{len(blob) / 1e6 / t_json:6.2f} MB/s of JSON ({len(blob) / 1e6:.2f} MB); "
          f"time ratio parse/JSON {t_parse / t_json:.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description="catalogue benchmarks")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--releases", type=int, default=10_000)
    args = ap.parse_args()
    bench_startup(args.runs)
    bench_loading(args.releases)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
