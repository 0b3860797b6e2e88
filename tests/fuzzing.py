"""A seeded mutation fuzzer for the ``tdxpolicy`` command line (issue #15: zero tracebacks,
zero hangs, exit codes from the contract, stdout one JSON document in JSON mode).

Used by tests/test_fuzz.py (a small fixed budget on every test run, and a replay of the
regression corpus) and by bench/fuzz.py (a long budget on demand). Standard library only,
plus tests/simkernel.py and tests/imagekit.py for fake hosts and test-signed images.

Every target turns one input (bytes) into one or more command lines and runs them *in
process* through :func:`tdxpolicy.cli.main`, the console script's own entry, with stdin,
stdout and stderr replaced by strict UTF-8 streams (what ``en_US.UTF-8`` gives: a lone
surrogate written there raises instead of passing silently). Each run is judged by
:func:`judge`:

* ``crash``: an exception escaped ``main`` (a traceback);
* ``traceback``: the text ``Traceback (most recent call last)`` on stdout or stderr;
* ``exit``: an exit code outside the contract's (0-3; 4 only for ``update``);
* ``json``: ``--format json`` and stdout is not exactly one JSON document (fleet: not one
  JSON line per input line);
* ``hang``: the run took longer than the per-input bound (interrupted with ``SIGALRM``).

Inputs are mutated from seeds: Intel's published files (``../shared/intel``: mapping file,
README tables, blobs; absent in a fresh clone, then those targets have only the embedded
documents or test-signed images), the embedded policy documents, the tests' host facts and
fleet files, recipes for fake sysfs trees, and recipes for whole command lines. The RNG is
seeded, so a run is reproducible: the same seed gives the same inputs for the same code.

An input that failed can be stored in the regression corpus,
``tests/data/fuzz-corpus/<target>/<sha1>.bin``, which tests/test_fuzz.py replays.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import signal
import stat
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
CORPUS = TESTS / "data" / "fuzz-corpus"
if str(TESTS) not in sys.path:  # bench/fuzz.py imports this module from outside pytest
    sys.path.insert(0, str(TESTS))

__all__ = ["TARGETS", "Failure", "Stats", "Workspace", "fuzz", "replay", "run_cli", "judge",
           "intel_dir", "corpus_files", "save_to_corpus"]


def intel_dir() -> Path | None:
    """Intel's published data, found as tests/conftest.py finds it (None when absent)."""
    env = os.environ.get("TDXPOLICY_INTEL_DIR")
    for c in ([Path(env)] if env else []) + [REPO.parent / "shared" / "intel"]:
        if (c / "mapping_file.json").is_file():
            return c
    return None


# --- running the CLI in process ------------------------------------------------------------------


class _Hang(BaseException):
    """Raised by SIGALRM in the middle of a run that exceeded its bound. A BaseException, so
    that no ``except Exception`` of the code under test swallows it."""


@dataclass
class Run:
    argv: list[str]
    code: int | None
    stdout: bytes
    stderr: bytes
    seconds: float
    crash: str | None = None  # the traceback of an exception that escaped main()
    hang: bool = False


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    usable = (seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise _Hang()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_cli(argv: Sequence[str], stdin: bytes = b"", bound: float = 10.0,
            cwd: Path | None = None) -> Run:
    """``tdxpolicy ARGV`` in this process, with strict UTF-8 standard streams (in ``cwd``
    when given: a random ``-o nan`` must land in the workspace, not the checkout)."""
    from tdxpolicy.cli import main

    out_b, err_b = io.BytesIO(), io.BytesIO()
    streams = (
        io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"),
        io.TextIOWrapper(out_b, encoding="utf-8", errors="strict", write_through=True),
        io.TextIOWrapper(err_b, encoding="utf-8", errors="strict", write_through=True),
    )
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = streams
    crash = None
    hang = False
    code: int | None = None
    t0 = time.perf_counter()
    old_cwd = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with _alarm(bound):
            code = main(list(argv))
    except _Hang:
        hang = True
    except SystemExit as e:  # main(argv) returns; a SystemExit is a bug of its own
        crash = f"SystemExit({e.code!r}) escaped main()"
    except BaseException:
        crash = traceback.format_exc()
    finally:
        seconds = time.perf_counter() - t0
        os.chdir(old_cwd)
        sys.stdin, sys.stdout, sys.stderr = saved
        for s in streams[1:]:
            with contextlib.suppress(Exception):
                s.flush()
    return Run(list(argv), code, out_b.getvalue(), err_b.getvalue(), seconds, crash, hang)


def _format(argv: Sequence[str]) -> str | None:
    """The --format a command line asks for (the last one wins, as for the option), read
    independently of the CLI's own reading."""
    fmt = None
    for i, a in enumerate(argv):
        if a == "--":
            break
        if a == "--format" and i + 1 < len(argv):
            fmt = argv[i + 1].lower()
        elif a.startswith("--format="):
            fmt = a[len("--format="):].lower()
    return fmt


def judge(run: Run, *, fleet_lines: int | None = None) -> list[str]:
    """What is wrong with ``run`` (empty: nothing). Each entry starts with the failure kind."""
    problems: list[str] = []
    if run.hang:
        return [f"hang: no answer within the bound ({run.seconds:.1f} s)"]
    if run.crash is not None:
        return ["crash: " + run.crash.strip().splitlines()[-1] + "\n" + run.crash]
    for name, data in (("stdout", run.stdout), ("stderr", run.stderr)):
        if b"Traceback (most recent call last)" in data:
            problems.append(f"traceback: on {name}")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as e:
            problems.append(f"encoding: {name} is not UTF-8 ({e})")
    allowed = {0, 1, 2, 3} | ({4} if run.argv[:1] == ["update"] else set())
    if run.code not in allowed:
        problems.append(f"exit: code {run.code} is not in the contract's {sorted(allowed)}")
    if problems:
        return problems
    text = run.stdout.decode("utf-8")
    fmt = _format(run.argv)
    asked_help = "--help" in run.argv or "--version" in run.argv  # help is not a document
    if run.argv[:1] == ["fleet"] and not asked_help:
        problems += _judge_fleet(text, fleet_lines if fmt == "json" else None)
    elif (fmt == "json" or (fmt == "sarif" and run.code in (0, 1))) and not asked_help:
        try:
            json.loads(text)
        except ValueError as e:
            problems.append(f"json: stdout is not one JSON document ({e}): {text[:200]!r}")
    return problems


def _judge_fleet(text: str, lines: int | None) -> list[str]:
    """Every stdout line of fleet is a JSON document; with ``lines``, one per input line (or
    a single error document when the run stopped before reading, or one more at the end when
    reading failed part way)."""
    out = text.split("\n")
    if out and out[-1] == "":
        out.pop()
    docs = []
    for i, line in enumerate(out, 1):
        try:
            docs.append(json.loads(line))
        except ValueError as e:
            return [f"json: fleet output line {i} is not JSON ({e}): {line[:200]!r}"]
    if lines is None:
        return []
    whole_run_error = [d for d in docs if isinstance(d, dict) and "error" in d and "line" not in d]
    if len(docs) - len(whole_run_error) != lines and not (len(docs) == 1 and whole_run_error):
        return [f"json: fleet wrote {len(out)} lines for {lines} input lines"]
    return []


# --- the workspace: files the command lines refer to ---------------------------------------------


class Workspace:
    """A temporary directory with the files command lines name through placeholders such as
    ``{policy}`` (see :meth:`expand`), so that stored inputs do not depend on where they ran."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.n = 0
        intel = intel_dir()
        self.paths: dict[str, Path] = {}
        p = self.paths
        releases = REPO / "tdxpolicy" / "data" / "releases"
        p["policy"] = root / "site.tdxpolicy"
        shutil.copy(TESTS / "data" / "move" / "site.tdxpolicy", p["policy"])
        p["release"] = root / "tdx_module_1.5.16.tdxpolicy"
        shutil.copy(releases / "tdx_module_1.5.16.tdxpolicy", p["release"])
        # A file whose name is not valid UTF-8 (bytes name: surrogateescape as str).
        bad = os.fsdecode(os.fsencode(str(root)) + b"/bad\xff\x1b[31m.tdxpolicy")
        shutil.copy(releases / "tdx_module_1.5.16.tdxpolicy", bad)
        p["badname"] = Path(bad)
        p["facts"] = root / "facts.json"
        shutil.copy(TESTS / "data" / "move" / "facts_good.json", p["facts"])
        p["fleet"] = root / "fleet.jsonl"
        shutil.copy(TESTS / "data" / "move" / "fleet_example.jsonl", p["fleet"])
        p["image"] = root / "image.bin"
        if intel is not None and (intel / "blobs" / "tdx_module_1.5.06.blob").is_file():
            shutil.copy(intel / "blobs" / "tdx_module_1.5.06.blob", p["image"])
        else:
            from simkernel import signed_image

            p["image"].write_bytes(signed_image(0x200)[0])
        p["mapping"] = root / "mapping_file.json"
        if intel is not None:
            shutil.copy(intel / "mapping_file.json", p["mapping"])
        else:
            p["mapping"].write_text("{}")
        p["dir"] = root / "a-directory"
        p["dir"].mkdir()
        p["fifo"] = root / "fifo"
        os.mkfifo(p["fifo"])
        p["socket"] = root / "socket"
        os.mknod(p["socket"], 0o600 | stat.S_IFSOCK)
        p["missing"] = root / "no-such-file"
        p["out"] = root / "out" / "image.out"
        p["out"].parent.mkdir()
        p["record"] = root / "var" / "updates.jsonl"
        p["lock"] = root / "run" / "tdxpolicy.lock"
        from simkernel import SimKernel

        sim = SimKernel(root / "host")
        p["sysfs"], p["proc"] = sim.sysfs, sim.proc

    def expand(self, argv: Sequence[str]) -> list[str]:
        out = []
        for a in argv:
            for k, v in self.paths.items():
                a = a.replace("{" + k + "}", str(v))
            out.append(a)
        return out

    def cwd(self) -> Path:
        """The working directory of every run (relative names land here)."""
        d = self.root / "scratch" / "cwd"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def scratch(self) -> Path:
        """A fresh directory for one input (removed by :meth:`clear`)."""
        self.n += 1
        d = self.root / "scratch" / str(self.n)
        d.mkdir(parents=True)
        return d

    def clear(self) -> None:
        shutil.rmtree(self.root / "scratch", ignore_errors=True)
        out = self.paths["out"]
        if out.exists() or out.is_symlink():
            out.unlink()


# --- mutation ------------------------------------------------------------------------------------

TOKENS = [
    b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe2\x80\xae", b"\x1b[2J", b"\x1b]0;x\x07", b"\r",
    b"\t", b"\x00", b"\x7f", b"{", b"}", b'"', b"\\", b"\\ud800", b"\\udcff", b"\\u0000",
    b"1.5.06", b"1.5.16", b"2.0.08", b">=", b"<", b"*", b"-1", b"0x", b"[", b"]", b",", b":",
    b"\n", b"release ", b"update from ", b"deny from ", b"rollback to ", b"advisory ",
    b"format 1\n", b"|", b"---", b"null", b"true", b"1e9", b"4294967296", b"18446744073709551616",
    b"\xef\xbb\xbf", b"#", b"//", b"/*", b"'", b"\xf0\x9f\x98\x80", b"..", b"../",
]
INTERESTING = [0x00, 0x01, 0x0A, 0x0D, 0x1B, 0x20, 0x22, 0x2E, 0x30, 0x39, 0x5C, 0x7B, 0x7D,
               0x7F, 0x80, 0xC0, 0xFF]


def mutate_bytes(rng: random.Random, data: bytes, pool: Sequence[bytes],
                 focus: int | None = None) -> bytes:
    """1-4 random edits of ``data``; ``focus`` keeps most edits within its first bytes (an
    image header rather than its module pages)."""
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 4))):
        span = len(b) if focus is None or rng.random() < 0.2 else min(len(b), focus)
        pos = rng.randrange(span + 1) if span else 0
        op = rng.randrange(10)
        if op == 0 and b and pos < len(b):
            b[pos] ^= 1 << rng.randrange(8)
        elif op == 1 and b and pos < len(b):
            b[pos] = rng.choice(INTERESTING)
        elif op == 2:
            del b[pos:pos + rng.randint(1, 64)]
        elif op == 3 and b:
            start = rng.randrange(len(b))
            b[pos:pos] = b[start:start + rng.randint(1, 128)] * rng.choice((1, 2, 8))
        elif op in (4, 5):
            b[pos:pos] = rng.choice(TOKENS) * rng.choice((1, 1, 1, 3, 50, 3000))
        elif op == 6:
            b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 7 and pool:
            other = rng.choice(pool)
            cut = rng.randrange(len(other) + 1)
            b = b[:pos] + bytearray(other[cut:])
        elif op == 8:
            del b[pos:]
        else:  # a number made huge or negative
            digits = b"9" * rng.choice((3, 11, 21, 40, 5000))
            b[pos:pos + rng.randint(0, 3)] = rng.choice((digits, b"-" + digits, b"0" * 20))
    return bytes(b)


JSON_VALUES: list[Any] = [
    None, True, False, 0, -1, 12, 2**31, 2**64, 1.5, -0.0, 1e300, "", "1.5.06", "1.5.16",
    "2.0.00", "0x806F8", "0x", "806F8", "\ud800", "\udcff", "\x1b[31mred", "x" * 300, "\u202e",
    [], {}, ["0x806F8"] * 3, [[[[]]]], {"a": 1}, "9" * 30, " 1.5.06 ", "1.5.06\n",
]


def mutate_json(rng: random.Random, data: bytes, pool: Sequence[bytes]) -> bytes:
    """A structural edit of a JSON object (a value replaced, a key added or removed), else
    a byte edit."""
    try:
        obj = json.loads(data)
    except ValueError:
        obj = None
    if not isinstance(obj, dict) or rng.random() < 0.3:
        return mutate_bytes(rng, data, pool)
    keys = list(obj) + ["module_version", "seamldr_version", "cpuid", "num_remaining_updates",
                        "host", "interface", "extra"]
    for _ in range(rng.choice((1, 1, 2, 3))):
        k = rng.choice(keys)
        r = rng.random()
        if r < 0.15:
            obj.pop(k, None)
        elif r < 0.25:
            obj = rng.choice((obj, [obj], "x", 1, None))  # not an object at all
            break
        else:
            obj[k] = rng.choice(JSON_VALUES)
    text = json.dumps(obj, ensure_ascii=rng.random() < 0.5)
    return text.encode("utf-8", "surrogatepass")


# --- targets -------------------------------------------------------------------------------------


@dataclass
class Target:
    """``seeds()`` gives the starting inputs (empty: the target is skipped); ``mutate`` makes a
    new input from one; ``execute`` runs the command lines for one input in ``ws`` and returns
    the problems of each run, ``(argv, problems)``."""

    name: str
    seeds: Callable[[], list[bytes]]
    mutate: Callable[[random.Random, bytes, Sequence[bytes]], bytes]
    execute: Callable[["Workspace", bytes, float], list[tuple[list[str], list[str]]]]
    doc: str = ""


def _runs(ws: Workspace, argvs: Sequence[Sequence[str]], bound: float, stdin: bytes = b"",
          fleet_lines: int | None = None) -> list[tuple[list[str], list[str]]]:
    out = []
    for argv in argvs:
        r = run_cli(ws.expand(argv), stdin, bound, cwd=ws.cwd())
        out.append((list(argv), judge(r, fleet_lines=fleet_lines)))
    return out


def _source_target(name: str, filename: str, seeds: Callable[[], list[bytes]],
                   doc: str) -> Target:
    def execute(ws: Workspace, data: bytes, bound: float) -> list[tuple[list[str], list[str]]]:
        f = ws.scratch() / filename
        f.write_bytes(data)
        return _runs(ws, [
            ["lint", "--format", "json", str(f)],
            ["list", "--no-default-policy", "--policy", str(f)],
            ["audit", "--no-default-policy", "--policy", str(f), "--format", "sarif",
             "--today", "2026-01-01"],
            ["show", "1.5.16", "--policy", str(f), "--format", "json"],
        ], bound)

    return Target(name, seeds, lambda rng, d, pool: mutate_bytes(rng, d, pool), execute, doc)


def _embedded_seeds() -> list[bytes]:
    d = REPO / "tdxpolicy" / "data" / "releases"
    good = TESTS / "data" / "document" / "good"
    files = sorted(d.glob("*.tdxpolicy")) + sorted(good.glob("*.tdxpolicy"))
    return [f.read_bytes() for f in files]


def _intel_seeds(*names: str) -> Callable[[], list[bytes]]:
    def seeds() -> list[bytes]:
        d = intel_dir()
        if d is None:
            return []
        return [(d / n).read_bytes() for n in names if (d / n).is_file()]

    return seeds


def _image_seeds() -> list[bytes]:
    d = intel_dir()
    out: list[bytes] = []
    if d is not None:
        blobs = sorted((d / "blobs").glob("*.blob"))
        # one 0x100 release of each series is enough variety; they are ~400 KiB each
        out += [b.read_bytes() for b in blobs if b.name in (
            "tdx_module_1.5.06.blob", "tdx_module_2.0.08.blob")]
    from simkernel import signed_image

    out.append(signed_image(0x200)[0])
    out.append(signed_image(0x100)[0])
    return out


def _image_execute(ws: Workspace, data: bytes, bound: float) -> list[tuple[list[str], list[str]]]:
    f = ws.scratch() / "module.blob"
    f.write_bytes(data)
    return _runs(ws, [
        ["image", "verify", "--format", "json", str(f)],
        ["image", "inspect", str(f)],
        ["image", "convert", str(f), "-o", "{out}", "--force", "--format", "json"],
        ["can-upgrade", "--from", "1.5.06", "--image", str(f), "--format", "json",
         "--assume-unknown-ok"],
    ], bound)


def _facts_seeds() -> list[bytes]:
    move = TESTS / "data" / "move"
    return [f.read_bytes() for f in sorted(move.glob("facts_*.json"))]


def _facts_execute(ws: Workspace, data: bytes, bound: float) -> list[tuple[list[str], list[str]]]:
    f = ws.scratch() / "facts.json"
    f.write_bytes(data)
    return _runs(ws, [
        ["can-upgrade", "--facts", str(f), "--to", "1.5.16", "--format", "json"],
        ["select", "--facts", str(f)],
        ["list", "--facts", "-", "--format", "json"],
        ["graph", "--facts", str(f), "--format", "json"],
    ], bound, stdin=data)


def _fleet_seeds() -> list[bytes]:
    return [(TESTS / "data" / "move" / "fleet_example.jsonl").read_bytes()]


def _fleet_mutate(rng: random.Random, data: bytes, pool: Sequence[bytes]) -> bytes:
    lines = data.split(b"\n")
    for _ in range(rng.choice((1, 2, 3))):
        i = rng.randrange(len(lines))
        r = rng.random()
        if r < 0.5:
            lines[i] = mutate_json(rng, lines[i], pool).replace(b"\n", b" ")
        elif r < 0.65:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif r < 0.75 and len(lines) > 1:
            del lines[i]
        elif r < 0.85:
            lines.insert(i, rng.choice((b"", b" ", b"\r", b"[]", b"{", b"\xff", b"null")))
        else:
            lines[i] = mutate_bytes(rng, lines[i], pool).replace(b"\n", b" ")
    return b"\n".join(lines)


def _fleet_execute(ws: Workspace, data: bytes, bound: float) -> list[tuple[list[str], list[str]]]:
    f = ws.scratch() / "fleet.jsonl"
    f.write_bytes(data)
    # What fleet counts as lines: split at b"\n" only (a final newline ends the last line).
    n = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return (_runs(ws, [["fleet", str(f), "--to", "1.5.16", "--format", "json"]], bound,
                  fleet_lines=n)
            + _runs(ws, [["fleet", "-", "--select", "--full", "--format", "json"]], bound,
                    stdin=data, fleet_lines=n))


# Fake sysfs trees: an input is a JSON recipe {"generation": ..., "ops": [[op, file, arg]]}
# applied to a healthy simulated host (tests/simkernel.py), then probed through the real
# reader (--sysfs-root/--proc-root), as an operator's fake or tampered tree would be.
SYSFS_FILES = {
    "version": "{v}", "seamldr_version": "{s}", "remaining": "{r}", "upload": "{u}",
    "loading": "{u}/loading", "data": "{u}/data", "status": "{u}/status", "error": "{u}/error",
    "remaining_size": "{u}/remaining_size", "cancel": "{u}/cancel",
    "offline": "devices/system/cpu/offline", "cpuinfo": "@proc/cpuinfo",
    "hostname": "@proc/sys/kernel/hostname", "tdx_host": "@tdx_host",
}
SYSFS_OPS = ["write", "write", "write", "remove", "mkdir", "fifo", "socket", "symlink",
             "append", "mutate"]
SYSFS_TEXTS = ["", "\n", "1.5.06\n", "1.5.16\n", "2.0.00\n", "0\n", "12\n", "-1\n",
               "99999999999999999999\n", "idle\n", "receiving\n", "preparing\n", "0-3\n",
               "0-99999999\n", "1,1,1\n", "\xff\n", "\x00", "1.5.06" * 800, "x\ny\n",
               "\x1b[31m1.5.06\n", "1.5.06 \n", "abc", "4294967296\n", "0-\n", "3-1\n"]
SYSFS_LINKS = ["/dev/zero", "/dev/null", "/nonexistent", ".", "..", "loop-self"]


def _sysfs_seeds() -> list[bytes]:
    return [json.dumps({"generation": g, "ops": []}).encode()
            for g in ("merged", "series-v3-v7", "legacy")]


def _sysfs_mutate(rng: random.Random, data: bytes, pool: Sequence[bytes]) -> bytes:
    try:
        recipe = json.loads(data)
        ops = list(recipe["ops"])
        gen = recipe["generation"]
    except (ValueError, KeyError, TypeError):
        return _sysfs_seeds()[0]
    for _ in range(rng.choice((1, 1, 2))):
        if ops and rng.random() < 0.15:
            del ops[rng.randrange(len(ops))]
            continue
        op = rng.choice(SYSFS_OPS)
        arg: Any = None
        if op in ("write", "append"):
            arg = rng.choice(SYSFS_TEXTS)
        elif op == "symlink":
            arg = rng.choice(SYSFS_LINKS)
        elif op == "mutate":
            arg = rng.randrange(1 << 30)
        ops.append([op, rng.choice(sorted(SYSFS_FILES)), arg])
    return json.dumps({"generation": gen, "ops": ops[-8:]}).encode()


def _sysfs_execute(ws: Workspace, data: bytes, bound: float) -> list[tuple[list[str], list[str]]]:
    from simkernel import LAYOUTS, SimKernel

    try:
        recipe = json.loads(data)
        gen = recipe["generation"] if recipe["generation"] in LAYOUTS else "merged"
        ops = [op for op in recipe["ops"] if isinstance(op, list) and len(op) == 3]
    except (ValueError, KeyError, TypeError):
        gen, ops = "merged", []
    root = ws.scratch()
    sim = SimKernel(root, generation=gen)
    v, s, r, u = LAYOUTS[gen]
    tdx_host = str(Path(v).parent)
    for op, name, arg in ops:
        rel = SYSFS_FILES.get(str(name))
        if rel is None:
            continue
        rel = rel.format(v=v, s=s, r=r, u=u)
        if rel.startswith("@proc/"):
            path = sim.proc / rel[len("@proc/"):]
        elif rel == "@tdx_host":
            path = sim.sysfs / tdx_host
        else:
            path = sim.sysfs / rel
        _apply_sysfs_op(path, str(op), arg)
    roots = ["--sysfs-root", str(sim.sysfs), "--proc-root", str(sim.proc)]
    argvs = [
        ["probe", "--format", "json", *roots],
        ["probe", *roots],
        ["preflight", "--to", "1.5.16", "--format", "json", *roots],
        ["update", "--image", "{image}", "--dry-run", "--format", "json", "--record",
         "{record}", "--lock-file", "{lock}", "--timeout", "5", *roots],
    ]
    runs = [run_cli(ws.expand(a), b"", bound, cwd=ws.cwd()) for a in argvs]
    results = [(list(a), judge(r)) for a, r in zip(argvs, runs)]
    if not any(p for _, p in results):
        results[2][1].extend(_sysfs_agreement(runs, sim.sysfs / v))
    return results


# Probe errors that leave the facts readable: preflight and update then decide (and deny).
_PROBE_READABLE = {"no-update-interface", "seamret-invd-vmcs", "module-lost"}


def _sysfs_agreement(runs: list[Run], version_path: Path) -> list[str]:
    """probe, preflight and update read the same tree and must agree (issue #15): facts the
    probe cannot read are exit 3 for all three; "module lost" is only ever said of a
    regular ``version`` attribute (ENXIO from a socket in its place is not a lost module)."""
    probe_run, _, preflight_run, update_run = runs
    error = None
    if probe_run.code == 3:
        try:
            error = json.loads(probe_run.stdout)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return ["agree: probe exit 3 without a JSON error"]
    problems = []
    if error == "module-lost":
        try:
            regular = stat.S_ISREG(os.lstat(version_path).st_mode)
        except OSError:
            regular = False
        if not regular:
            problems.append("agree: probe reports module-lost, but the version attribute is "
                            "not a regular file")
    unreadable = probe_run.code == 3 and error not in _PROBE_READABLE
    for name, r in (("preflight", preflight_run), ("update", update_run)):
        if unreadable and r.code != 3:
            problems.append(f"agree: probe cannot read the host ({error}) but {name} exits "
                            f"{r.code}")
        if not unreadable and r.code == 3:
            problems.append(f"agree: probe reads the host (exit {probe_run.code}, {error}) but "
                            f"{name} exits 3")
    return problems


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _apply_sysfs_op(path: Path, op: str, arg: Any) -> None:
    try:
        if op == "write" and isinstance(arg, str):
            _remove(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(arg.encode("latin-1", "replace"))
        elif op == "append" and isinstance(arg, str) and path.is_file():
            with path.open("ab") as f:
                f.write(arg.encode("latin-1", "replace"))
        elif op == "mutate" and isinstance(arg, int) and path.is_file():
            path.write_bytes(mutate_bytes(random.Random(arg), path.read_bytes(), ()))
        elif op == "remove":
            _remove(path)
        elif op == "mkdir":
            _remove(path)
            path.mkdir(parents=True)
        elif op == "fifo":
            _remove(path)
            os.mkfifo(path)
        elif op == "socket":
            _remove(path)
            os.mknod(path, 0o600 | stat.S_IFSOCK)
        elif op == "symlink" and isinstance(arg, str):
            _remove(path)
            path.symlink_to(path if arg == "loop-self" else Path(arg))
    except OSError:
        pass  # e.g. the parent became a file: the tree is hostile enough as it is


# Command lines: an input is JSON {"argv": [...], "stdin": base64}; words come from a
# vocabulary of every command's options, hostile values and workspace placeholders.
COMMANDS = ["can-upgrade", "path", "select", "list", "show", "graph", "lint", "fleet", "image",
            "probe", "preflight", "update", "audit", "--help", "--version", "bogus", ""]
IMAGE_SUBS = ["inspect", "verify", "convert", "join"]
OPTIONS = ["--to", "--from", "--seamldr", "--cpuid", "--remaining", "--facts", "--policy",
           "--no-default-policy", "--format", "--assume-unknown-ok", "--allow-debug",
           "--allow-rollback", "--strict", "--acknowledge", "--image", "--images", "--max-hops",
           "--select", "--full", "--kernel", "--module", "--sigstruct", "-o", "--output",
           "--force", "--today", "--sysfs-root", "--proc-root", "--dry-run", "--timeout",
           "--record", "--lock-file", "--help", "--", "-", "--format=json", "--format=JSON",
           "--to=1.5.16", "--bogus"]
VALUES = ["1.5.16", "1.5.06", "2.0.08", "1.5", "1.5.06.1", "01.05.06", "1.5.-6", "x", "",
          " ", "-", "json", "text", "dot", "mermaid", "sarif", "merged", "legacy", "0x200",
          "0x100", "0x806F8", "0xFFFFFFFFF", "12", "-1", "0", "999999999999999999999",
          "1e3", "nan", "inf", "2026-01-01", "2026-02-30", "all", "td-build",
          "\udcff", "\ud800", "caf\xe9", "\x1b[31m", "\u202e", "a\nb", "\x00", "9" * 5000,
          "{policy}", "{release}", "{badname}", "{facts}", "{fleet}", "{image}", "{mapping}",
          "{dir}", "{fifo}", "{socket}", "{missing}", "{out}", "{dir}/", "{sysfs}", "{proc}",
          "{record}", "{lock}", "/dev/null", "/dev/zero", "/proc/self/mem", "/"]


def _argv_seeds() -> list[bytes]:
    seeds = [
        ["can-upgrade", "--from", "1.5.06", "--to", "1.5.16", "--format", "json"],
        ["path", "--from", "1.5.06", "--to", "1.5.16", "--assume-unknown-ok"],
        ["select", "--facts", "{facts}", "--format", "json"],
        ["list", "--policy", "{policy}"],
        ["show", "1.5.16", "--policy", "{badname}"],
        ["graph", "--format", "dot"],
        ["lint", "{badname}", "{release}", "--format", "json"],
        ["fleet", "{fleet}", "--to", "1.5.16"],
        ["image", "verify", "{image}", "--format", "json"],
        ["image", "convert", "{image}", "-o", "{out}"],
        ["probe", "--sysfs-root", "{sysfs}", "--proc-root", "{proc}", "--format", "json"],
        ["preflight", "--to", "1.5.16", "--sysfs-root", "{sysfs}", "--proc-root", "{proc}"],
        ["audit", "--policy", "{badname}", "--format", "sarif"],
        ["lint", "-", "--format", "json"],
    ]
    return [json.dumps({"argv": a, "stdin": ""}).encode() for a in seeds]


def _argv_mutate(rng: random.Random, data: bytes, pool: Sequence[bytes]) -> bytes:
    try:
        spec = json.loads(data)
        argv = [str(a) for a in spec["argv"]]
        stdin = str(spec.get("stdin", ""))
    except (ValueError, KeyError, TypeError):
        return _argv_seeds()[0]
    for _ in range(rng.choice((1, 1, 2, 3))):
        r = rng.random()
        pos = rng.randrange(len(argv) + 1)
        if r < 0.1:
            argv = [rng.choice(COMMANDS)] + argv[1:]
            if argv[0] == "image":
                argv.insert(1, rng.choice(IMAGE_SUBS))
        elif r < 0.4:
            argv.insert(pos, rng.choice(OPTIONS))
            if rng.random() < 0.8:
                argv.insert(pos + 1, rng.choice(VALUES))
        elif r < 0.6 and argv:
            argv[rng.randrange(len(argv))] = rng.choice(VALUES)
        elif r < 0.7 and len(argv) > 1:
            del argv[rng.randrange(1, len(argv))]
        elif r < 0.8:
            argv.insert(pos, rng.choice(VALUES))
        elif r < 0.9 and argv:
            i = rng.randrange(len(argv))
            from tdxpolicy.safe_text import os_bytes

            argv[i] = mutate_bytes(rng, os_bytes(argv[i]), ()).decode("utf-8", "surrogateescape")
        else:
            stdin = base64.b64encode(rng.choice(
                [b"", b"{}", b"\xff", (TESTS / "data" / "move" / "facts_good.json").read_bytes(),
                 (REPO / "tdxpolicy" / "data" / "releases" / "tdx_module_1.5.16.tdxpolicy")
                 .read_bytes()])).decode()
    return json.dumps({"argv": argv[:40], "stdin": stdin}).encode()


def _argv_execute(ws: Workspace, data: bytes, bound: float) -> list[tuple[list[str], list[str]]]:
    try:
        spec = json.loads(data)
        argv = [str(a) for a in spec["argv"]]
        stdin = base64.b64decode(spec.get("stdin", "") or "")
    except (ValueError, KeyError, TypeError):
        return []
    if argv[:1] == ["update"]:
        # never the real host's record, lock or a long wait: the last option wins
        argv += ["--record", "{record}", "--lock-file", "{lock}", "--timeout", "5",
                 "--sysfs-root", "{sysfs}", "--proc-root", "{proc}"]
    from tdxpolicy.safe_text import os_bytes

    for i, a in enumerate(argv):
        # What a real command line can hold: bytes without NUL, as Python decodes them
        # (a lone '\ud800' arrives as the surrogate-escaped bytes of its UTF-8 form).
        argv[i] = os.fsdecode(os_bytes(a).replace(b"\x00", b""))
    return _runs(ws, [argv], bound, stdin=stdin)


TARGETS: dict[str, Target] = {t.name: t for t in [
    _source_target("policy-document", "site.tdxpolicy", _embedded_seeds,
                   "the embedded policy documents and the tests' good documents"),
    _source_target("intel-mapping", "mapping_file.json", _intel_seeds("mapping_file.json"),
                   "Intel's mapping_file.json"),
    _source_target("intel-markdown", "README.md",
                   _intel_seeds("README.md", "tdx-module-releases.md"),
                   "Intel's README and MRSEAM release tables"),
    Target("image", _image_seeds,
           lambda rng, d, pool: mutate_bytes(rng, d, pool, focus=8192), _image_execute,
           "Intel's blobs (and test-signed images): verify, inspect, convert, --image"),
    Target("host-facts", _facts_seeds, mutate_json, _facts_execute,
           "host-facts JSON through --facts (a file and stdin)"),
    Target("fleet", _fleet_seeds, _fleet_mutate, _fleet_execute, "fleet JSON lines"),
    Target("sysfs", _sysfs_seeds, _sysfs_mutate, _sysfs_execute,
           "fake sysfs/procfs trees: probe, preflight, update --dry-run"),
    Target("argv", _argv_seeds, _argv_mutate, _argv_execute, "random command lines"),
]}


# --- the loop ------------------------------------------------------------------------------------


@dataclass
class Failure:
    target: str
    data: bytes
    argv: list[str]
    problems: list[str]

    @property
    def kind(self) -> str:
        return self.problems[0].split(":", 1)[0]

    def describe(self) -> str:
        return (f"[{self.target}] {' '.join(map(repr, self.argv))}\n  "
                + "\n  ".join(p.splitlines()[0] for p in self.problems))


@dataclass
class Stats:
    target: str
    inputs: int = 0
    runs: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    failures: list[Failure] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for f in self.failures if f.kind == kind)


def _execute(target: Target, ws: Workspace, data: bytes, bound: float,
             stats: Stats) -> list[Failure]:
    t0 = time.perf_counter()
    try:
        results = target.execute(ws, data, bound)
    finally:
        ws.clear()
    took = time.perf_counter() - t0
    stats.inputs += 1
    stats.runs += len(results)
    stats.seconds += took
    stats.slowest = max(stats.slowest, took)
    return [Failure(target.name, data, argv, problems) for argv, problems in results if problems]


@contextlib.contextmanager
def workspace() -> Iterator[Workspace]:
    root = Path(tempfile.mkdtemp(prefix="tdxpolicy-fuzz-"))
    try:
        yield Workspace(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def fuzz(target: Target, ws: Workspace, *, seed: int, inputs: int | None = None,
         seconds: float | None = None, bound: float = 10.0,
         on_failure: Callable[[Failure], None] | None = None) -> Stats:
    """Mutate ``target``'s seeds for ``inputs`` inputs (or until ``seconds`` have passed);
    the seeds themselves run first. Inputs whose answer looks new (exit codes and error codes
    not seen before) join the pool, so the loop wanders beyond the seeds' neighbourhood."""
    rng = random.Random(f"{target.name}:{seed}")
    stats = Stats(target.name)
    seeds = target.seeds()
    if not seeds:
        return stats
    pool = list(seeds)
    deadline = None if seconds is None else time.monotonic() + seconds
    n = 0
    queue = list(seeds)
    while True:
        if inputs is not None and n >= inputs:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        data = queue.pop(0) if queue else target.mutate(rng, rng.choice(pool), pool)
        n += 1
        found = _execute(target, ws, data, bound, stats)
        for f in found:
            stats.failures.append(f)
            if on_failure is not None:
                on_failure(f)
        if not found and len(pool) < 256 and rng.random() < 0.05:
            pool.append(data)
    return stats


def corpus_files(target: str | None = None) -> list[Path]:
    if not CORPUS.is_dir():
        return []
    dirs = [CORPUS / target] if target else sorted(p for p in CORPUS.iterdir() if p.is_dir())
    return sorted(f for d in dirs if d.is_dir() for f in d.iterdir() if f.is_file()
                  and not f.name.startswith("."))


def save_to_corpus(failure: Failure) -> Path:
    d = CORPUS / failure.target
    d.mkdir(parents=True, exist_ok=True)
    f = d / (hashlib.sha1(failure.data).hexdigest()[:16] + ".bin")
    f.write_bytes(failure.data)
    return f


def replay(path: Path, ws: Workspace, bound: float = 10.0) -> list[Failure]:
    """Run one stored input through its target (the corpus directory's name)."""
    target = TARGETS[path.parent.name]
    return _execute(target, ws, path.read_bytes(), bound, Stats(target.name))
