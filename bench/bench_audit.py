#!/usr/bin/env python3
"""Audit throughput: how long ``run_audit`` takes on real and on generated inputs.

1. The embedded catalogue alone, and with Intel's published files (``../shared/intel``, when
   present): documents already loaded, images already read (the rules only).
2. Generated catalogues: N releases over four series, each release declared by three
   sources (a mapping-JSON-kind, a README-kind and a policy document, all agreeing), with
   update rules, deny rules and features, plus a site document with rules; the rules' cost
   in ms and per release. Some rules compare pairs inside a series (features-lost,
   unreachable-release), so growth is shown for several N.
3. Cold ``tdxpolicy audit`` process on the embedded catalogue against
   ``python -c "import typer"`` (median of --runs).

Usage: python bench/bench_audit.py [--runs N] [--sizes 100,1000,4000]
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tdxpolicy.audit import run_audit  # noqa: E402
from tdxpolicy.model import (  # noqa: E402
    DenyFrom, Location, PolicyDocument, ReleaseBlock, ReleaseFacts, SourceKind, Sourced, Svn,
    UpdateFrom,
)
from tdxpolicy.sources import embedded_documents, load_documents  # noqa: E402
from tdxpolicy.version import Version, VersionSet  # noqa: E402

TODAY = dt.date(2026, 11, 26)


def best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def generated(n: int) -> list[PolicyDocument]:
    series = [(1, 5), (1, 6), (2, 0), (2, 1)]
    per = n // len(series)
    docs = []
    for kind, name in ((SourceKind.MAPPING_JSON, "mapping.json"),
                       (SourceKind.README_TABLE, "README.md"),
                       (SourceKind.DOCUMENT, "intel.tdxpolicy")):
        blocks = []
        line = 1
        for (ma, mi) in series:
            first = Version(ma, mi, 1)
            for u in range(1, per + 1):
                v = Version(ma, mi, u)
                loc = Location(name, line, 5)
                line += 1
                facts = ReleaseFacts(
                    mrseam=Sourced(f"{ma:02X}{mi:02X}{u:08X}".ljust(96, "0"), loc),
                    svn=Sourced(Svn(ma, u), loc),
                    # bits only ever added along a series: no features-lost
                    features0=Sourced(0xF0FBF | (((1 << min(u, 40)) - 1) << 20), loc),
                )
                blocks.append(ReleaseBlock(
                    v, loc, facts,
                    update_from=(UpdateFrom(VersionSet.at_least(first), loc),),
                ))
        docs.append(PolicyDocument(name, kind, releases=tuple(blocks)))
    site = []
    for (ma, mi) in series:
        for u in range(5, per + 1, 7):
            loc = Location("site.tdxpolicy", u, 5)
            site.append(ReleaseBlock(
                Version(ma, mi, u), loc,
                deny_from=(DenyFrom(VersionSet.at_least(Version(ma, mi, u - 1)), "site", loc),),
            ))
    docs.append(PolicyDocument("site.tdxpolicy", SourceKind.DOCUMENT, releases=tuple(site)))
    return docs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--sizes", default="100,1000,4000")
    args = ap.parse_args()

    emb = embedded_documents()
    t = best(lambda: run_audit(emb, today=TODAY))
    print(f"embedded catalogue ({len(emb)} documents): rules {t * 1000:.1f} ms")
    intel = REPO.parent / "shared" / "intel"
    if (intel / "mapping_file.json").is_file():
        docs = emb + load_documents([intel])
        t = best(lambda: run_audit(docs, today=TODAY))
        print(f"embedded + Intel's files ({len(docs)} documents): rules {t * 1000:.1f} ms")

    for n in (int(s) for s in args.sizes.split(",")):
        docs = generated(n)
        t = best(lambda: run_audit(docs, today=TODAY), repeat=1 if n > 2000 else 3)
        r = run_audit(docs, today=TODAY)
        print(f"generated {n} releases x 3 sources + site rules: rules {t * 1000:.0f} ms "
              f"({t / n * 1e6:.0f} us/release), {len(r.findings)} findings")

    def cold(cmd: list[str]) -> float:
        ts = []
        for _ in range(args.runs):
            s = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
            ts.append(time.perf_counter() - s)
        return statistics.median(ts)

    base = cold([sys.executable, "-c", "import typer"])
    aud = cold([sys.executable, "-m", "tdxpolicy", "audit", "--today", "2026-11-26"])
    print(f"cold start: import typer {base * 1000:.0f} ms; tdxpolicy audit (embedded) "
          f"{aud * 1000:.0f} ms ({aud / base:.2f}x)")


if __name__ == "__main__":
    main()
