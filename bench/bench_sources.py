"""Loading 10,000 generated releases: Intel mapping JSON vs equivalent policy documents.

Issue #2, item 10: time loading 10,000 generated releases from documents and from an
equivalent mapping JSON; report MB/s and the ratio. Both inputs say the same thing per
release (``update from >= M``, ``seamldr``, ``features0``), written the way each format is
written in practice (Intel's tab-indented JSON; one ``release`` block per release, as in the
embedded documents, all in one document). Prints figures; not a unit test.

    python bench/bench_sources.py [--releases 10000] [--runs 5]

"mapping JSON" is the normal path (fast structural check; jsonschema only on failure);
"mapping JSON + jsonschema" forces full schema validation, to show what the fast path saves.
The JSON breakdown splits the normal path into decode, position scan, check and build.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tdxpolicy.sources.document import parse_document  # noqa: E402
from tdxpolicy.sources.intel import _fast_valid, _Positions, parse_mapping_json  # noqa: E402

SERIES = [(1, 5), (2, 0), (3, 1), (4, 2)]


def generate(n: int) -> list[tuple[str, str, list[str], int]]:
    """n releases spread over four series; each admits updates from a window below it."""
    out = []
    per = -(-n // len(SERIES))
    for i in range(n):
        major, minor = SERIES[i // per]
        upd = i % per + 1
        minimum = max(1, upd - 1 - (i * 7919) % 40)
        seamldr = [f"{major}.{minor}.00"] + (["2.0.00"] if (major, minor) == (1, 5) else [])
        features0 = (0x226F3F0FBF ^ (i * 0x9E3779B1)) & 0xFFFF_FFFF_FF
        out.append((f"{major}.{minor}.{upd:02d}", f"{major}.{minor}.{minimum:02d}", seamldr, features0))
    return out


def mapping_json(rels: list[tuple[str, str, list[str], int]]) -> bytes:
    obj = {
        "Header": {
            "Copyright": "Copyright (c) 2025 Intel Corporation. All rights reserved.",
            "Info": "Info of each Intel TDX module release",
            "Version": "1.0",
        },
        "tdx_module_releases": [
            {
                "version": v,
                "min_module_version_for_td_preserving": m,
                "min_seamldr_versions": s,
                "tdx_feature0": f"0x{f:X}",
            }
            for v, m, s, f in rels
        ],
    }
    return json.dumps(obj, indent="\t").encode()


def documents(rels: list[tuple[str, str, list[str], int]]) -> bytes:
    """One policy document (policy-format.md) with a block per release."""
    lines = ["# generated: equivalent of the mapping JSON", "format 1", ""]
    for v, m, s, f in rels:
        lines += [
            f"release {v} {{",
            f"    seamldr     {' '.join(s)}",
            f"    features0   0x{f:X}",
            "",
            f"    update from >= {m}",
            "}",
            "",
        ]
    return "\n".join(lines).encode()


def timed(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--releases", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    rels = generate(args.releases)
    js = mapping_json(rels)
    doc = documents(rels)
    doc_text = doc.decode()

    # Same content? (a benchmark of two different things would prove nothing)
    a = parse_mapping_json(js, "gen.json")
    b = parse_document(doc_text, "gen.tdxpolicy")
    assert [(x.version, x.update_from[0].versions, x.facts.seamldr.value, x.facts.features0.value)
            for x in a.releases] == [
           (x.version, x.update_from[0].versions, x.facts.seamldr.value, x.facts.features0.value)
            for x in b.releases]  # type: ignore[union-attr]

    t_json = timed(lambda: parse_mapping_json(js, "gen.json"), args.runs)
    t_schema = timed(lambda: parse_mapping_json(js, "gen.json", use_schema=True), args.runs)
    t_doc = timed(lambda: parse_document(doc_text, "gen.tdxpolicy"), args.runs)

    text = js.decode()
    obj = json.loads(text)
    t_loads = timed(lambda: json.loads(text), args.runs)
    t_pos = timed(lambda: _Positions(text), args.runs)
    t_fast = timed(lambda: _fast_valid(obj), args.runs)

    mb = 1e6
    print(f"{args.releases} releases, median of {args.runs} runs (Python {sys.version.split()[0]})")
    print(f"{'source':28} {'size':>9} {'time':>9} {'MB/s':>7} {'releases/s':>11}")
    for name, size, t in [
        ("mapping JSON", len(js), t_json),
        ("mapping JSON + jsonschema", len(js), t_schema),
        ("policy documents", len(doc), t_doc),
    ]:
        print(f"{name:28} {size / mb:7.2f}MB {t * 1000:7.0f}ms {size / mb / t:7.2f} "
              f"{args.releases / t:11.0f}")
    print(f"ratio documents/JSON (time): {t_doc / t_json:.1f}x; "
          f"(MB/s): JSON {len(js) / mb / t_json:.2f} vs documents {len(doc) / mb / t_doc:.2f}")
    print(f"JSON breakdown: json.loads {t_loads * 1000:.0f}ms, position scan {t_pos * 1000:.0f}ms, "
          f"fast check {t_fast * 1000:.0f}ms, build+semantic "
          f"{(t_json - t_loads - t_pos - t_fast) * 1000:.0f}ms; "
          f"jsonschema would add {(t_schema - t_json) * 1000:.0f}ms")


if __name__ == "__main__":
    main()
