"""`tdxpolicy fleet` on a fleet file that looks like a real inventory, against a bare stdlib
JSON Lines round trip of the same file (issue #13).

1. Generates the fleet file (JSON Lines of host facts): ``--hosts`` hosts (default 1,000,000)
   over ``--states`` distinct host states (default 5,000) drawn from 11 running versions,
   2 P-SEAMLDRs, 4 CPUIDs (1 to 4 packages) and budgets 0..20, a few states dominating (Zipf
   weights), unique host names, an inventory column (``rack``) carried with ``--keep``, and
   about 1 line in 10,000 malformed.
2. Runs, as separate processes, interleaved ``--repeat`` times, each writing to a real file
   in the same directory:
   - the baseline: ``python -c`` reading the file as text, ``json.loads`` then ``json.dumps``
     of every line, written in 8,192-line chunks;
   - ``tdxpolicy fleet FILE --to 1.5.16 --keep rack`` and ``tdxpolicy fleet FILE --select
     --keep rack`` exactly as an operator runs them (interpreter start-up included, the CLI's
     own GC handling, nothing added by this script).
3. Prints, per command: median wall time, ratio to the median baseline, peak RSS of the
   process, bytes written per host and the distinct host states decided (from
   ``--summary-json``).

    python bench/bench_fleet.py [--hosts 1000000] [--states 5000] [--repeat 3] [--keep FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

VERSIONS_15 = ["1.5.01", "1.5.05", "1.5.06", "1.5.08", "1.5.09", "1.5.13", "1.5.16"]
VERSIONS_20 = ["2.0.02", "2.0.04", "2.0.05", "2.0.08"]
SEAMLDRS = ["1.5.02", "2.0.00"]
CPUIDS = ["0x806F8", "0xC06F0", "0xC06F1", "0xA06F0"]

BASELINE = r"""
import json, sys
loads, dumps = json.loads, json.dumps
with open(sys.argv[1], encoding="utf-8") as f, open(sys.argv[2], "w", encoding="utf-8") as out:
    buf = []
    for line in f:
        buf.append(dumps(loads(line)))
        if len(buf) >= 8192:
            out.write("\n".join(buf) + "\n")
            buf.clear()
    out.write("\n".join(buf) + "\n")
"""


def make_states(n: int, rng: random.Random) -> list[dict[str, object]]:
    states: dict[str, dict[str, object]] = {}
    while len(states) < n:
        packages = rng.choice([1, 2, 2, 2, 4])
        cpu = [rng.choice(CPUIDS)] * packages if rng.random() < 0.9 else [
            rng.choice(CPUIDS) for _ in range(packages)]
        st: dict[str, object] = {
            "module_version": rng.choice(VERSIONS_15 if rng.random() < 0.8 else VERSIONS_20),
            "seamldr_version": rng.choice(SEAMLDRS),
            "cpuid": cpu,
            "num_remaining_updates": rng.randint(0, 20),
        }
        states[json.dumps(st, sort_keys=True)] = st
    return list(states.values())


def generate(path: Path, hosts: int, nstates: int, seed: int = 13) -> None:
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
            d = {"host": f"node-{i:07d}.dc{i % 7}.example", **states[k],
                 "rack": f"dc{i % 7}-r{i % 311:03d}"}
            buf.append(json.dumps(d) + "\n")
            if len(buf) >= 8192:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))


def timed(argv: list[str], stdout_path: Path | None) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in KiB, exit code) of one child process."""
    out = open(stdout_path, "wb") if stdout_path is not None else subprocess.DEVNULL
    try:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE, cwd=REPO)
        assert p.stderr is not None
        err = p.stderr.read()
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if stdout_path is not None:
            out.close()  # type: ignore[union-attr]
    if b"Traceback" in err:
        raise SystemExit(err.decode())
    return wall, usage.ru_maxrss, p.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=1_000_000)
    ap.add_argument("--states", type=int, default=5_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="write the generated fleet file here and keep it")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(dir=args.keep.parent if args.keep else None)
    work = Path(tmp.name)
    path = args.keep or work / "fleet.jsonl"
    t0 = time.perf_counter()
    # Generated in a child process: this one stays small, so that the peak RSS the kernel
    # reports for each measured child (which counts the moment between fork and exec) is the
    # child's own.
    subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                    "import bench_fleet as b; from pathlib import Path; "
                    "b.generate(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))",
                    str(Path(__file__).parent), str(path), str(args.hosts), str(args.states)],
                   check=True)
    size = path.stat().st_size
    print(f"generated {args.hosts:,} hosts ({args.states:,} distinct states, "
          f"{size / 1e6:.0f} MB, {size / args.hosts:.0f} bytes/host) "
          f"in {time.perf_counter() - t0:.1f} s; python {sys.version.split()[0]}")
    py = sys.executable
    cli = [py, "-m", "tdxpolicy", "fleet", str(path), "--acknowledge", "all", "--keep", "rack"]
    runs: dict[str, list[str]] = {
        "json.loads+dumps": [py, "-c", BASELINE, str(path), str(work / "baseline.out")],
        "fleet --to 1.5.16": [*cli, "--to", "1.5.16", "--summary-json", str(work / "to.sum")],
        "fleet --select": [*cli, "--select", "--summary-json", str(work / "select.sum")],
    }
    outs = {"json.loads+dumps": None, "fleet --to 1.5.16": work / "to.out",
            "fleet --select": work / "select.out"}
    walls: dict[str, list[float]] = {k: [] for k in runs}
    rss: dict[str, int] = {k: 0 for k in runs}
    for _ in range(args.repeat):  # interleaved: a busy neighbour hits every command alike
        for label, argv in runs.items():
            wall, peak, code = timed(argv, outs[label])
            walls[label].append(wall)
            rss[label] = max(rss[label], peak)
    base = statistics.median(walls["json.loads+dumps"])
    for label in runs:
        med = statistics.median(walls[label])
        out = outs[label] or work / "baseline.out"
        line = (f"{label:<18} median {med:6.2f} s  ratio {med / base:4.2f}  "
                f"{args.hosts / med:>10,.0f} hosts/s  peak RSS {rss[label] / 1024:5.0f} MiB  "
                f"{out.stat().st_size / args.hosts:5.0f} bytes/host  "
                f"runs {', '.join(f'{w:.2f}' for w in walls[label])}")
        summary_file = work / ("to.sum" if "--to" in label else "select.sum")
        if summary_file.exists() and label != "json.loads+dumps":
            s = json.loads(summary_file.read_text())
            line += (f"\n{'':<18} {s['distinct_states']} states decided; actions "
                     f"{s['actions']}; exit {s['exit_code']}")
        print(line)
    tmp.cleanup()


if __name__ == "__main__":
    main()
