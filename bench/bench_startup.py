"""Cold start-up cost of the commands people run most, against `python -c "import typer"`.

Issue #3, item 9 (kept by issue #11, item 5): cold `tdxpolicy can-upgrade ...` and
`tdxpolicy list` on the embedded catalogue must cost at most 1.3x `python -c "import typer"`
in the same environment, reached through typer's public API only: only the invoked command's
module is imported and only its click command is built (tdxpolicy/cli/__init__.py), and
pyproject.toml bounds typer below 0.29, whose pydantic option coercion alone costs ~0.5x.
The script exits 1 when a median ratio is over the target (docs/performance.md).

Each command runs as a fresh interpreter (`python -m tdxpolicy ...`, what the console script
does) N times, interleaved with the baseline so that load on the machine affects both alike;
the median wall time of each is printed with two ratios: `ratio`, the median of the ratios
taken round by round (each command against the `import typer` of its own round, as
farm-bench pairs its runs: drift in the machine's speed cancels), which is judged, and
`med/med`, the ratio of the medians, for reference. Use `--importtime` to print the
modules that cost most beyond typer (from `python -X importtime`), and `--deferred` to print
what the lazy devices keep out of a cold run (docs/performance.md#value-classes): in fresh
processes that have imported what `can-upgrade` imports, the cost of the first question to
`dataclasses` about the value classes, and of creating `ErrorCode`.

`--baseline DIR --baseline-python PY` also runs another checkout (e.g. 0.1.0 in a venv with
its own typer) interleaved with this one, each against its own `import typer`, so that a
before/after comparison comes from one run under one load. The exit status judges this
checkout only.

    python bench/bench_startup.py [--runs 15] [--importtime] [--deferred]
                                  [--baseline DIR --baseline-python PY]
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.3

COMMANDS = {
    "import typer": [sys.executable, "-c", "import typer"],
    "can-upgrade": [sys.executable, "-m", "tdxpolicy", "can-upgrade", "--from", "1.5.06",
                    "--to", "1.5.16", "--seamldr", "2.0.00", "--cpuid", "0x806F8",
                    "--remaining", "5"],
    "list": [sys.executable, "-m", "tdxpolicy", "list"],
    # Issue #11 item 6: a run with a small site document stays within the target too. The
    # document is parsed once (the warm-up run) and then read from the cache of parsed
    # documents, in a cache directory of this script's own (docs/performance.md#document-cache).
    "+ site doc": [sys.executable, "-m", "tdxpolicy", "can-upgrade", "--from", "1.5.06",
                   "--to", "1.5.16", "--seamldr", "2.0.00", "--cpuid", "0x806F8",
                   "--remaining", "5", "--policy", "docs/examples/site.tdxpolicy"],
}
#: Shown, not judged: the same run when the document is parsed every time (first run, or
#: TDXPOLICY_NO_CACHE=1).
UNJUDGED = {"+ site, no cache"}


_CACHE_HOME = tempfile.mkdtemp(prefix="bench-startup-cache-")
atexit.register(shutil.rmtree, _CACHE_HOME, ignore_errors=True)


def _env(repo: Path = REPO) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(repo) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["XDG_CACHE_HOME"] = _CACHE_HOME
    env.pop("TDXPOLICY_NO_CACHE", None)
    return env


def time_once(cmd: list[str], env: dict[str, str], cwd: Path = REPO) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False, cwd=cwd)
    return time.perf_counter() - t0


def _typer_version(python: str, env: dict[str, str]) -> str:
    return subprocess.run([python, "-c", "import typer; print(typer.__version__)"], env=env,
                          capture_output=True, text=True, check=True).stdout.strip()


def _print_table(title: str, times: dict[str, list[float]], runs: int) -> list[str]:
    """Print one side's medians and ratios; return the commands over the target."""
    typer_times = times["import typer"]
    base = statistics.median(typer_times)
    print(title)
    print(f"{'command':<16} {'median ms':>10} {'min ms':>8} {'ratio':>6} {'med/med':>8}"
          f"  (runs={runs})")
    over = []
    for name, ts in times.items():
        med = statistics.median(ts)
        paired = statistics.median(t / b for t, b in zip(ts, typer_times))
        judged = name not in UNJUDGED
        print(f"{name:<16} {med * 1000:>10.1f} {min(ts) * 1000:>8.1f} {paired:>6.2f}"
              f" {med / base:>8.2f}" + ("" if judged else "  (not judged)"))
        if judged and paired > TARGET_RATIO:
            over.append(name)
    return over


def importtime_extra(cmd: list[str], env: dict[str, str], top: int = 15) -> list[tuple[int, str]]:
    def load(c: list[str]) -> dict[str, int]:
        p = subprocess.run([c[0], "-X", "importtime", *c[1:]], env=env, cwd=REPO,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        out: dict[str, int] = {}
        for line in p.stderr.splitlines():
            if line.startswith("import time:") and "self [us]" not in line:
                self_us, _cum, name = line[12:].split("|")
                out[name.strip()] = int(self_us)
        return out

    base = load(COMMANDS["import typer"])
    mine = load(cmd)
    extra = sorted(((us, n) for n, us in mine.items() if n not in base), reverse=True)
    return extra[:top]


# Run in a fresh interpreter: import what `can-upgrade` imports, then time what the lazy
# devices defer. Prints "classes dataclasses_ms processing_ms errorcode_ms".
_DEFERRED = """
import sys, time
import typer
import tdxpolicy.cli.move_cmds, tdxpolicy.commands.moves, tdxpolicy.sources
import tdxpolicy.engine.checks, tdxpolicy.catalogue
assert "dataclasses" not in sys.modules and "tdxpolicy.error_codes" not in sys.modules
classes = [o for m in list(sys.modules.values()) if m.__name__.startswith("tdxpolicy")
           for o in vars(m).values() if isinstance(o, type) and o.__module__ == m.__name__
           and "__value_fields__" in o.__dict__]
t0 = time.perf_counter(); import dataclasses; t1 = time.perf_counter()
for c in classes:
    dataclasses.fields(c)
t2 = time.perf_counter(); import tdxpolicy.error_codes; t3 = time.perf_counter()
print(len(classes), (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)
"""


def deferred(env: dict[str, str], runs: int) -> None:
    rows = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _DEFERRED], env=env, cwd=REPO, check=True,
                             capture_output=True, text=True).stdout.split()
        rows.append([float(x) for x in out])
    n = int(rows[0][0])
    med = [statistics.median(r[i] for r in rows) for i in (1, 2, 3)]
    print(f"\nkept out of a cold can-upgrade (median of {runs} fresh processes): import "
          f"dataclasses {med[0]:.2f} ms, describing {n} value classes {med[1]:.2f} ms, "
          f"creating ErrorCode {med[2]:.2f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--importtime", action="store_true")
    ap.add_argument("--deferred", action="store_true")
    ap.add_argument("--baseline", type=Path, help="another checkout to run interleaved")
    ap.add_argument("--baseline-python", default=sys.executable,
                    help="the interpreter (venv) for --baseline")
    args = ap.parse_args()
    env = _env()
    sides = [("this checkout", sys.executable, REPO, env)]
    if args.baseline is not None:
        base_repo = args.baseline.resolve()
        sides.insert(0, ("baseline " + str(base_repo), args.baseline_python, base_repo,
                         _env(base_repo)))
    commands = {label: {name: [python, *cmd[1:]] for name, cmd in COMMANDS.items()}
                for label, python, _, _ in sides}
    for label, _, _, _ in sides:
        # The uncached parse, for comparison: the same command with the cache turned off.
        commands[label]["+ site, no cache"] = commands[label]["+ site doc"]

    def env_for(name: str, side_env: dict[str, str]) -> dict[str, str]:
        return dict(side_env, TDXPOLICY_NO_CACHE="1") if name == "+ site, no cache" else side_env

    for label, _, repo, side_env in sides:  # warm the bytecode caches (and the document cache)
        for name, cmd in commands[label].items():
            time_once(cmd, env_for(name, side_env), repo)
    times = {label: {k: [] for k in commands[label]} for label, _, _, _ in sides}
    for _ in range(args.runs):
        for label, _, repo, side_env in sides:
            for name, cmd in commands[label].items():
                times[label][name].append(time_once(cmd, env_for(name, side_env), repo))
    print(f"Python {sys.version.split()[0]}, target ratio <= {TARGET_RATIO}")
    over: list[str] = []
    for label, python, _, side_env in sides:
        typer_version = (version("typer") if python == sys.executable
                         else _typer_version(python, side_env))
        side_over = _print_table(f"\n{label} (typer {typer_version})", times[label], args.runs)
        if label == "this checkout":
            over = side_over
    if args.importtime:
        for name in ("can-upgrade", "list"):
            print(f"\nmodules beyond 'import typer' for {name} (self us, python -X importtime):")
            for us, mod in importtime_extra(COMMANDS[name], env):
                print(f"  {us:>7}  {mod}")
    if args.deferred:
        deferred(env, args.runs)
    if over:
        print(f"over the {TARGET_RATIO}x target: {', '.join(over)}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
