"""Every console example in README.md and docs/*.md is real: it runs, and prints what it shows.

A console example is a fenced block with at least one line starting with ``$ ``. Such a block
must be fenced as ```console; each ``$ COMMAND`` line is run, in order, by bash from the
repository root, and every line after it up to the next ``$`` line is the expected output
(stdout and stderr as a terminal would interleave them). The exit code is shown as a last line
``(exit N)`` when it is not 0; no such line means the command exits 0.

``tdxpolicy`` and ``python`` in a command run the test environment's interpreter
(``python -m tdxpolicy``). The environment is fixed: ``COLUMNS`` unset, ``NO_COLOR=1``,
``TZ=UTC``, ``LC_ALL=C.UTF-8``, unbuffered Python output. Each block runs in a fresh scratch
copy of the repository root (``docs/`` copied, everything else linked, ``../shared`` linked
when present), so a command that writes files writes them next to the copy, never into the
checkout; blocks do not share state.

Output is compared exactly, except for these placeholders (and nothing else):

* ``<today>``: today's date (UTC), ``YYYY-MM-DD``;
* ``<repo>``: the absolute path of the repository root the example runs in;
* ``<seconds>``: a duration in seconds (``12`` or ``0.034``);
* a line that is exactly ``...``: one or more output lines left out (long output abridged).

Blocks whose commands read ``../shared/`` (Intel's real data, which cannot ship in the
repository) are skipped when it is absent.

After a CLI change, refresh every output from real runs and review the diff:

    python -m pytest -q -p no:cacheprovider tests/test_docs_examples.py --update-docs

(the rewrite keeps placeholders on lines that still match them, and keeps each ``...``
abridgement with the same number of lines shown before and after it).
"""

from __future__ import annotations

import datetime
import difflib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import INTEL_DIR, REPO

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# Entries of the repository root that are not part of the checkout an example runs in.
_NOT_MIRRORED = {".git", ".venv", ".mypy_cache", ".pytest_cache", ".hypothesis", "build", "dist"}
_FENCE = re.compile(r"^(`{3,})([\w+-]*)\s*$")
_EXIT = re.compile(r"^\(exit (\d+)\)$")
ELISION = "..."
_PROMPT = "$ "
_TIMEOUT = 120


@dataclass
class Command:
    line: int  # 1-based line of the ``$`` line in the document
    text: str  # the command, without the prompt
    expected: list[str]  # output lines, without the ``(exit N)`` line and trailing blank lines
    exit_code: int
    trailing_blank: int  # blank lines after the output (visual separation, kept on rewrite)


@dataclass
class Example:
    document: Path
    fence_line: int  # 1-based line of the opening fence
    language: str
    body_start: int  # 0-based index of the first line inside the fence
    body_end: int  # 0-based index of the closing fence
    commands: list[Command] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.document.relative_to(REPO)}:{self.fence_line}"

    @property
    def needs_shared(self) -> bool:
        return any("../shared/" in c.text or c.text.endswith("../shared") for c in self.commands)


def _parse_commands(body: list[str], first_line: int) -> list[Command]:
    commands: list[Command] = []
    index = 0
    while index < len(body) and not body[index].startswith(_PROMPT):
        index += 1  # text before the first prompt is not allowed: reported by the test
    while index < len(body):
        text = body[index][len(_PROMPT):]
        line = first_line + index
        index += 1
        output: list[str] = []
        while index < len(body) and not body[index].startswith(_PROMPT):
            output.append(body[index])
            index += 1
        trailing = 0
        while output and output[-1].strip() == "":
            output.pop()
            trailing += 1
        exit_code = 0
        if output and (match := _EXIT.match(output[-1])):
            exit_code = int(match.group(1))
            output.pop()
        commands.append(Command(line, text, output, exit_code, trailing))
    return commands


def find_examples(document: Path) -> list[Example]:
    lines = document.read_text(encoding="utf-8").splitlines()
    examples: list[Example] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence, language = opening.group(1), opening.group(2)
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != fence:
            end += 1
        body = lines[index + 1:end]
        if any(line.startswith(_PROMPT) for line in body):
            example = Example(document, index + 1, language, index + 1, end)
            example.commands = _parse_commands(body, index + 2)
            examples.append(example)
        index = end + 1
    return examples


ALL_EXAMPLES = [example for document in DOCUMENTS for example in find_examples(document)]


# --- running ---------------------------------------------------------------------------------

def _scratch_root(base: Path) -> Path:
    """A stand-in for the repository root: ``docs/`` copied (examples may write into their own
    input trees), every other entry linked; ``../shared/intel`` linked when present."""
    root = base / "repo"
    root.mkdir()
    for entry in REPO.iterdir():
        if entry.name in _NOT_MIRRORED or entry.name.endswith(".egg-info"):
            continue
        if entry.name == "docs":
            shutil.copytree(entry, root / "docs", symlinks=True)
        else:
            (root / entry.name).symlink_to(entry)
    if INTEL_DIR is not None:
        (base / "shared").mkdir()
        (base / "shared" / "intel").symlink_to(INTEL_DIR)
    return root


# ``tdxpolicy`` and ``python`` are the test environment's interpreter, whatever PATH holds.
_PRELUDE = (
    'tdxpolicy() { "$TDXPOLICY_DOCS_PYTHON" -m tdxpolicy "$@"; }\n'
    'python() { "$TDXPOLICY_DOCS_PYTHON" "$@"; }\n'
    'python3() { "$TDXPOLICY_DOCS_PYTHON" "$@"; }\n'
)


def _environment(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "NO_COLOR": "1",
        "TZ": "UTC",
        "LC_ALL": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",  # stdout and stderr interleave as on a terminal
        "PYTHONDONTWRITEBYTECODE": "1",
        "TDXPOLICY_DOCS_PYTHON": sys.executable,
    }


def run_command(command: str, root: Path, env: dict[str, str]) -> tuple[list[str], int]:
    bash = shutil.which("bash") or "/bin/bash"
    completed = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", _PRELUDE + command],
        cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, timeout=_TIMEOUT, check=False,
    )
    text = completed.stdout.decode("utf-8", errors="backslashreplace")
    lines = text.splitlines()
    while lines and lines[-1].strip() == "":
        lines.pop()
    return lines, completed.returncode


# --- comparing -------------------------------------------------------------------------------

def _today() -> str:
    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()


def _line_pattern(expected: str, root: Path) -> re.Pattern[str]:
    parts = re.split(r"(<today>|<repo>|<seconds>)", expected)
    regex = ""
    for part in parts:
        if part == "<today>":
            regex += re.escape(_today())
        elif part == "<repo>":
            regex += re.escape(str(root))
        elif part == "<seconds>":
            regex += r"\d+(?:\.\d+)?"
        else:
            regex += re.escape(part)
    return re.compile(regex)


def output_matches(expected: list[str], actual: list[str], root: Path) -> bool:
    """Line-by-line match with placeholders; an ``...`` line stands for one or more lines."""

    def match(e: int, a: int) -> bool:
        if e == len(expected):
            return a == len(actual)
        if expected[e] == ELISION:
            return any(match(e + 1, skip) for skip in range(a + 1, len(actual) + 1))
        return (a < len(actual) and _line_pattern(expected[e], root).fullmatch(actual[a]) is not None
                and match(e + 1, a + 1))

    return match(0, 0)


def render_expected(command: Command) -> list[str]:
    lines = list(command.expected)
    if command.exit_code != 0:
        lines.append(f"(exit {command.exit_code})")
    return lines


def regenerate(command: Command, actual: list[str], exit_code: int, root: Path) -> list[str]:
    """The block text for ``command`` from a real run: placeholders restored where the old
    line still matches, ``...`` abridgements kept with as many lines before/after them."""
    new = [line.replace(str(root), "<repo>") for line in actual]
    if _today() not in command.text:  # a date the command gives (``--today``) is not "today"
        new = [line.replace(_today(), "<today>") for line in new]
    assert command.expected.count(ELISION) <= 1, "an example abridges one run of lines at most"
    if ELISION in command.expected:
        cut = command.expected.index(ELISION)
        tail = len(command.expected) - cut - 1
        if len(new) > cut + tail:
            new = new[:cut] + [ELISION] + (new[len(new) - tail:] if tail else [])
    # keep a hand-placed placeholder (``<today>``, ``<seconds>``) where it still matches
    for index, line in enumerate(new):
        if index < len(command.expected):
            old = command.expected[index]
            if old != ELISION and line != ELISION and _line_pattern(old, root).fullmatch(
                    line.replace("<repo>", str(root))):
                new[index] = old
    if exit_code != 0:
        new.append(f"(exit {exit_code})")
    return new


# --- the test ----------------------------------------------------------------------------------

@dataclass
class _Rewrites:
    by_document: dict[Path, list[tuple[int, int, list[str]]]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def doc_rewrites() -> Iterator[_Rewrites]:
    rewrites = _Rewrites()
    yield rewrites
    for document, edits in rewrites.by_document.items():
        lines = document.read_text(encoding="utf-8").splitlines()
        for start, end, body in sorted(edits, reverse=True):
            lines[start:end] = body
        document.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_examples_found() -> None:
    # the harness must not silently find nothing (a changed fence syntax, a moved docs/)
    assert len(ALL_EXAMPLES) >= 40, [e.name for e in ALL_EXAMPLES]
    assert {e.document.name for e in ALL_EXAMPLES} >= {"README.md", "cli.md", "host.md"}


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=[e.name for e in ALL_EXAMPLES])
def test_console_example(example: Example, tmp_path: Path, request: pytest.FixtureRequest,
                         doc_rewrites: _Rewrites) -> None:
    assert example.language == "console", (
        f"{example.name}: a block with '$ ' commands must be fenced ```console, "
        f"not ```{example.language}")
    body = example.document.read_text(encoding="utf-8").splitlines()[
        example.body_start:example.body_end]
    assert body and body[0].startswith(_PROMPT), (
        f"{example.name}: a console block starts with a '$ ' command")
    for command in example.commands:
        assert command.expected.count(ELISION) <= 1, (
            f"{example.document.relative_to(REPO)}:{command.line}: abridge one run of lines "
            "at most (one '...' line), so that --update-docs can keep the abridgement")
    if example.needs_shared and INTEL_DIR is None:
        pytest.skip("needs Intel's published data (../shared/intel), not present")
    root = _scratch_root(tmp_path)
    env = _environment(tmp_path)
    update = bool(request.config.getoption("--update-docs"))
    new_body: list[str] = []
    failures: list[str] = []
    for command in example.commands:
        actual, code = run_command(command.text, root, env)
        if update:
            new_body.append(_PROMPT + command.text)
            new_body.extend(regenerate(command, actual, code, root))
            new_body.extend([""] * command.trailing_blank)
            continue
        if code != command.exit_code or not output_matches(command.expected, actual, root):
            shown = actual + ([f"(exit {code})"] if code else [])
            diff = difflib.unified_diff(render_expected(command), shown, "documented", "actual",
                                        lineterm="")
            failures.append(f"{example.document.relative_to(REPO)}:{command.line}: "
                            f"$ {command.text}\n" + "\n".join(diff))
    if update:
        if new_body != body:
            doc_rewrites.by_document.setdefault(example.document, []).append(
                (example.body_start, example.body_end, new_body))
        return
    assert not failures, (
        "documented output differs from a real run (refresh with "
        "`python -m pytest tests/test_docs_examples.py --update-docs` and review the diff):\n\n"
        + "\n\n".join(failures))


def test_placeholders_and_elision() -> None:
    # the comparison itself: placeholders match only what they stand for
    root = Path("/somewhere/repo")
    assert output_matches(["valid on <today>"], [f"valid on {_today()}"], root)
    assert not output_matches(["valid on <today>"], ["valid on 1999-01-01"], root)
    assert output_matches(["<repo>/docs: <seconds> s"], ["/somewhere/repo/docs: 0.25 s"], root)
    assert not output_matches(["<seconds> s"], ["soon s"], root)
    assert output_matches(["a", "...", "z"], ["a", "b", "c", "z"], root)
    assert not output_matches(["a", "...", "z"], ["a", "z"], root)  # ... is at least one line
    assert not output_matches(["a"], ["a", "b"], root)
    assert not output_matches(["a", "b"], ["a"], root)
    command = Command(1, "x", ["h1", "...", "t1"], 1, 0)
    assert regenerate(command, ["n1", "n2", "n3", "n4"], 1, root) == ["n1", "...", "n4", "(exit 1)"]
    assert regenerate(Command(1, "x", ["on <today>"], 0, 0), [f"on {_today()}", "more"], 0,
                      root) == ["on <today>", "more"]


_LISTING = re.compile(r"^`(docs/examples/[^`]+)`:$")


def _listings() -> list[tuple[str, Path, str]]:
    """Code blocks introduced by a line "`docs/examples/FILE`:" (the file the examples read)."""
    found: list[tuple[str, Path, str]] = []
    for document in DOCUMENTS:
        lines = document.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            match = _LISTING.match(line)
            if not match:
                continue
            start = index + 1
            while start < len(lines) and not lines[start].strip():
                start += 1
            opening = _FENCE.match(lines[start]) if start < len(lines) else None
            assert opening, f"{document.relative_to(REPO)}:{index + 1}: a listing is followed by a code block"
            end = start + 1
            while lines[end].rstrip() != opening.group(1):
                end += 1
            found.append((f"{document.relative_to(REPO)}:{index + 1}", REPO / match.group(1),
                          "\n".join(lines[start + 1:end]) + "\n"))
    return found


def test_listings_of_example_files_are_the_files() -> None:
    listings = _listings()
    assert listings, "docs/policy-format.md lists docs/examples/site.tdxpolicy"
    for where, path, text in listings:
        assert path.is_file(), f"{where}: {path.relative_to(REPO)} does not exist"
        assert path.read_text(encoding="utf-8") == text, (
            f"{where}: the listing differs from {path.relative_to(REPO)}")
