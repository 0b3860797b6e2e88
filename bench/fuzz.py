"""The fuzz suite on a long budget (issue #15); tests/test_fuzz.py runs the same harness
(tests/fuzzing.py) on a small fixed budget with every test run.

    python bench/fuzz.py --per-target 100000          # inputs per target
    python bench/fuzz.py --seconds 120 --seed 7       # or a time budget per target
    python bench/fuzz.py --targets sysfs,argv --save  # failing inputs -> regression corpus

Prints, per target, the inputs tried, the command lines run, crashes, hangs and other
failures (bad exit code, traceback text, stdout not JSON, commands that disagree), and the
first failure of each kind. ``--save`` stores every failing input under
tests/data/fuzz-corpus/<target>/ for tests/test_fuzz.py to replay once it is fixed.
Exit 1 when anything failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import fuzzing  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-target", type=int, default=None, metavar="N",
                    help="inputs per target (default: 1000 unless --seconds is given)")
    ap.add_argument("--seconds", type=float, default=None, metavar="S",
                    help="time budget per target")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--targets", default=",".join(fuzzing.TARGETS),
                    help="comma-separated: " + ", ".join(fuzzing.TARGETS))
    ap.add_argument("--bound", type=float, default=10.0, metavar="S",
                    help="seconds one input may take before it counts as a hang")
    ap.add_argument("--save", action="store_true",
                    help="store failing inputs in tests/data/fuzz-corpus/")
    args = ap.parse_args()
    inputs = args.per_target
    if inputs is None and args.seconds is None:
        inputs = 1000
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = [n for n in names if n not in fuzzing.TARGETS]
    if unknown:
        ap.error(f"unknown target(s): {', '.join(unknown)}")

    print(f"{'target':16} {'inputs':>8} {'runs':>8} {'crashes':>8} {'hangs':>6} "
          f"{'other':>6} {'slowest':>8} {'inputs/s':>9}", flush=True)
    total_failures = 0
    firsts: list[fuzzing.Failure] = []
    t_all = time.monotonic()
    with fuzzing.workspace() as ws:
        for name in names:
            kinds: set[tuple[str, str]] = set()

            def saved(f: fuzzing.Failure) -> None:
                if args.save:
                    fuzzing.save_to_corpus(f)
                key = (f.kind, f.problems[0].splitlines()[0][:80])
                if key not in kinds:  # the first of each kind at once, in case of a long run
                    kinds.add(key)
                    firsts.append(f)
                    print(f"  new failure: {f.describe()}\n  input: {f.data[:400]!r}",
                          flush=True)

            st = fuzzing.fuzz(fuzzing.TARGETS[name], ws, seed=args.seed, inputs=inputs,
                              seconds=args.seconds, bound=args.bound, on_failure=saved)
            if st.inputs == 0:
                print(f"{name:16} skipped: no seeds (Intel's data absent?)", flush=True)
                continue
            crashes, hangs = st.count("crash"), st.count("hang")
            other = len(st.failures) - crashes - hangs
            rate = st.inputs / st.seconds if st.seconds else 0.0
            print(f"{name:16} {st.inputs:8} {st.runs:8} {crashes:8} {hangs:6} {other:6} "
                  f"{st.slowest:7.2f}s {rate:9.1f}", flush=True)
            total_failures += len(st.failures)
    print(f"total: {total_failures} failing input(s) in {time.monotonic() - t_all:.0f} s "
          f"(seed {args.seed})")
    return 1 if total_failures else 0


if __name__ == "__main__":
    sys.exit(main())
