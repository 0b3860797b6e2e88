"""fleet throughput against a bare stdlib JSON round trip over the same file.

Issue #3, item 7: 1,000,000 hosts in at most 1.3x the time of `json.loads`/`json.dumps` of
every line. This script

1. generates a realistic fleet file (JSON Lines of host facts): hosts spread over a few hundred
   distinct states (running version, P-SEAMLDR, CPU packages, remaining updates), host names
   unique, about 1 line in 10,000 malformed;
2. times the baseline: the file read as text, for each line ``json.loads`` then ``json.dumps``
   of the object, written to /dev/null in 8192-line chunks;
3. times ``tdxpolicy.fleet.run_fleet`` on the same file to /dev/null (or ``--out``) (embedded catalogue,
   ``--to`` mode and ``--select`` mode), both in-process (no interpreter start-up);
4. prints hosts/s and the ratio. Each timing is the best of ``--repeat`` runs.

    python bench/bench_fleet.py [--hosts 1000000] [--states 300] [--repeat 3] [--keep FILE]
                                [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tdxpolicy.fleet import run_fleet  # noqa: E402
from tdxpolicy.sources import load_catalogue  # noqa: E402
from tdxpolicy.verdict import MoveOptions  # noqa: E402
from tdxpolicy.version import parse_version  # noqa: E402

VERSIONS_15 = ["1.5.01", "1.5.05", "1.5.06", "1.5.08", "1.5.09", "1.5.13", "1.5.16"]
VERSIONS_20 = ["2.0.02", "2.0.04", "2.0.05", "2.0.08"]
CPU_15 = ["0x806F8", "0xC06F0", "0xC06F1", "0xA06F0"]
CPU_20 = ["0xA06D0", "0xA06D1"]


def make_states(n: int, rng: random.Random) -> list[dict[str, object]]:
    states: dict[str, dict[str, object]] = {}
    while len(states) < n:
        if rng.random() < 0.85:
            mv, cpus, ldr = rng.choice(VERSIONS_15), CPU_15, rng.choice(["1.5.00", "2.0.00", "1.5.02"])
        else:
            mv, cpus, ldr = rng.choice(VERSIONS_20), CPU_20, rng.choice(["2.0.00", "2.0.02"])
        packages = rng.choice([1, 2, 2, 2, 4])
        cpu = [rng.choice(cpus)] * packages if rng.random() < 0.9 else [
            rng.choice(cpus) for _ in range(packages)]
        st: dict[str, object] = {"module_version": mv, "seamldr_version": ldr, "cpuid": cpu,
                                 "num_remaining_updates": rng.choice([0, 1, 2, 3, 5, 8, 12, 31])}
        if rng.random() < 0.05:
            del st["seamldr_version"]
        states[json.dumps(st, sort_keys=True)] = st
    return list(states.values())


def generate(path: Path, hosts: int, nstates: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    states = make_states(nstates, rng)
    weights = [1.0 / (i + 1) for i in range(len(states))]  # a few states dominate, like real fleets
    picks = rng.choices(range(len(states)), weights=weights, k=hosts)
    with open(path, "w", encoding="utf-8") as f:
        buf = []
        for i, k in enumerate(picks):
            if i % 10_000 == 9_999:
                buf.append('{"host": "broken-%d", "cpuid": ["0xZZ"]}\n' % i)
                continue
            d = dict(states[k])
            d["host"] = f"node-{i:07d}.dc{i % 7}.example"
            buf.append(json.dumps(d) + "\n")
            if len(buf) >= 8192:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))


def baseline(path: Path, sink: str = os.devnull) -> float:
    """The bare round trip: text lines -> json.loads -> json.dumps -> /dev/null, 8192 lines
    per write."""
    loads, dumps = json.loads, json.dumps
    t0 = time.perf_counter()
    with open(path, encoding="utf-8") as f, open(sink, "w", encoding="utf-8") as out:
        buf: list[str] = []
        for line in f:
            buf.append(dumps(loads(line)))
            if len(buf) >= 8192:
                out.write("\n".join(buf) + "\n")
                buf.clear()
        out.write("\n".join(buf) + "\n")
    return time.perf_counter() - t0


def fleet(path: Path, sink: str = os.devnull, **kw: object) -> tuple[float, str]:
    catalogue = load_catalogue([])
    options = MoveOptions(today=dt.date.today())
    t0 = time.perf_counter()
    with open(path, "rb") as f, open(sink, "wb") as out:
        summary = run_fleet(f, out, catalogue, options, file=str(path), **kw)  # type: ignore[arg-type]
    return time.perf_counter() - t0, summary.render()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=1_000_000)
    ap.add_argument("--states", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="write the generated fleet file here and keep it")
    ap.add_argument("--out", default=os.devnull,
                    help="where both runs write their output (default /dev/null; give a file "
                    "to include the kernel's copy of every output byte)")
    args = ap.parse_args()
    tmpdir = None
    if args.keep:
        path = args.keep
    else:
        tmpdir = tempfile.TemporaryDirectory()
        path = Path(tmpdir.name) / "fleet.jsonl"
    t0 = time.perf_counter()
    generate(path, args.hosts, args.states)
    size = path.stat().st_size
    print(f"generated {args.hosts} hosts ({args.states} distinct states, {size / 1e6:.0f} MB) "
          f"in {time.perf_counter() - t0:.1f} s")
    base = min(baseline(path, args.out) for _ in range(args.repeat))
    print(f"{'json.loads+dumps':<22} {base:7.2f} s  {args.hosts / base:>12,.0f} hosts/s")
    target = parse_version("1.5.16")
    for label, kw in (("fleet --to 1.5.16", {"target": target}), ("fleet --select", {})):
        runs = [fleet(path, args.out, **kw) for _ in range(args.repeat)]
        best = min(r[0] for r in runs)
        print(f"{label:<22} {best:7.2f} s  {args.hosts / best:>12,.0f} hosts/s  "
              f"ratio {best / base:.2f}")
        print(f"  {runs[0][1]}")
    if tmpdir is not None:
        tmpdir.cleanup()


if __name__ == "__main__":
    main()
