"""The fuzz suite on every test run (issue #15): a small fixed budget of mutated inputs per
target, the regression corpus replayed, and proof that the harness notices what it hunts.

The harness is tests/fuzzing.py; the long budget is ``python bench/fuzz.py``. The budget
here is a fixed number of inputs (not a time), so a run is reproducible: the seed is 15
unless TDXPOLICY_FUZZ_SEED says otherwise (set it to explore other inputs in CI). The whole
module must take under 30 s on a 2-core machine.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

import fuzzing
from fuzzing import TARGETS, Workspace

SEED = int(os.environ.get("TDXPOLICY_FUZZ_SEED", "15"))
# Inputs per target (each input runs 1-4 command lines of ~10-40 ms in process); the seeds
# come first and count towards the budget.
BUDGET = {"policy-document": 24, "intel-mapping": 12, "intel-markdown": 12, "image": 10,
          "host-facts": 24, "fleet": 20, "sysfs": 14, "argv": 60}
BOUND = 20.0  # seconds one input may take before it counts as a hang (a loaded CI machine)


@pytest.fixture(scope="module")
def ws() -> Iterator[Workspace]:
    with fuzzing.workspace() as w:
        yield w


def _report(failures: list[fuzzing.Failure]) -> str:
    return "\n".join(f.describe() + f"\n  input: {f.data[:300]!r}" for f in failures[:5])


def test_budget_names_every_target() -> None:
    assert set(BUDGET) == set(TARGETS)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz(name: str, ws: Workspace) -> None:
    target = TARGETS[name]
    if not target.seeds():
        pytest.skip(f"no seeds for {name}: Intel's published data (../shared/intel) is absent")
    stats = fuzzing.fuzz(target, ws, seed=SEED, inputs=BUDGET[name], bound=BOUND)
    assert stats.inputs == BUDGET[name]
    assert not stats.failures, (
        f"{len(stats.failures)} failing input(s) (seed {SEED}); keep each as a regression "
        f"input with fuzzing.save_to_corpus:\n" + _report(stats.failures))


CORPUS = fuzzing.corpus_files()


@pytest.mark.parametrize("path", CORPUS, ids=[f"{p.parent.name}/{p.name}" for p in CORPUS])
def test_corpus(path: Path, ws: Workspace) -> None:
    """Inputs that once failed (tests/data/fuzz-corpus/<target>/) pass now."""
    failures = fuzzing.replay(path, ws, bound=BOUND)
    assert not failures, _report(failures)


def test_corpus_is_not_empty() -> None:
    assert CORPUS and {p.parent.name for p in CORPUS} <= set(TARGETS)


# --- the harness notices what it hunts -------------------------------------------------------


def test_judge_notices_a_crash_a_bad_exit_and_bad_json(monkeypatch: pytest.MonkeyPatch) -> None:
    from tdxpolicy.commands import catalogue as catalogue_lib

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyError("planted")

    monkeypatch.setattr(catalogue_lib, "show_release", boom)
    run = fuzzing.run_cli(["show", "1.5.16"])
    assert fuzzing.judge(run)[0].startswith("crash: KeyError: 'planted'")

    ok = fuzzing.Run(["list", "--format", "json"], 0, b'{"a": 1}\n', b"", 0.01)
    assert fuzzing.judge(ok) == []
    for bad, kind in [
        (fuzzing.Run(["list", "--format", "json"], 0, b'{"a": 1}\n{"b": 2}\n', b"", 0.0), "json"),
        (fuzzing.Run(["list", "--format=JSON"], 0, b"VERSION\n", b"", 0.0), "json"),
        (fuzzing.Run(["list"], 5, b"", b"", 0.0), "exit"),
        (fuzzing.Run(["list"], 4, b"", b"", 0.0), "exit"),
        (fuzzing.Run(["list"], 2, b"", b"Traceback (most recent call last):\n", 0.0),
         "traceback"),
        (fuzzing.Run(["list"], 0, b"bad\xff\n", b"", 0.0), "encoding"),
        (fuzzing.Run(["fleet", "f", "--format", "json"], 0, b'{"line":1}\n', b"", 0.0),
         "json"),
        (fuzzing.Run(["list"], None, b"", b"", 30.0, hang=True), "hang"),
    ]:
        problems = fuzzing.judge(bad, fleet_lines=2)
        assert problems and problems[0].startswith(kind + ":"), (bad, problems)
    assert fuzzing.judge(fuzzing.Run(["update"], 4, b"", b"", 0.0)) == []


def test_a_hang_is_interrupted(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from tdxpolicy.commands import catalogue as catalogue_lib

    def forever(*args: object, **kwargs: object) -> None:
        while True:
            time.sleep(0.01)

    monkeypatch.setattr(catalogue_lib, "show_release", forever)
    run = fuzzing.run_cli(["show", "1.5.16"], bound=0.3)
    assert run.hang and fuzzing.judge(run)[0].startswith("hang:")


def test_streams_are_strict_utf8() -> None:
    """The in-process streams refuse what a strict UTF-8 locale refuses, so an unescaped lone
    surrogate on any output would be a crash here, as it would be a traceback for a user."""
    import sys

    seen: list[str] = []

    def probe_streams(argv: list[str]) -> int:
        seen.append(sys.stdout.errors)
        sys.stdout.write("\udcff")
        return 0

    import tdxpolicy.cli as cli

    original = cli.main
    try:
        cli.main = probe_streams  # type: ignore[assignment]
        run = fuzzing.run_cli(["x"])
    finally:
        cli.main = original
    assert seen == ["strict"] and run.crash is not None and "UnicodeEncodeError" in run.crash
