"""Conventions every command follows (docs/cli.md#output, docs/cli.md#environment,
docs/cli.md#completion): one way out (tdxpolicy/output.py), ``--output FILE`` written
atomically, environment variables for ``--policy``/``--no-default-policy``, colour
(``NO_COLOR``/``FORCE_COLOR``/``TERM=dumb``), wrapping to the terminal, help metavars,
shell completion, and the CLI's own shape (few function-level imports)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from simkernel import SimKernel, signed_image, site_policy_text
from tdxpolicy import output
from tdxpolicy.cli import COMMAND_MODULES, host_cmds, load_commands, main
from tdxpolicy.host import sysfs as sysfs_mod

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "move"
SITE = ["--policy", str(DATA / "site.tdxpolicy"), "--no-default-policy"]
FACTS = ["--from", "1.5.06", "--seamldr", "2.0.00", "--cpuid", "0x806F8", "--remaining", "5"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
STYLE_ENV = ("NO_COLOR", "FORCE_COLOR", "TERM", "COLUMNS")


@pytest.fixture(autouse=True)
def plain_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test starts without the style variables (the runner's own must not leak in), in
    an empty working directory."""
    for name in STYLE_ENV + ("TDXPOLICY_POLICY", "TDXPOLICY_NO_DEFAULT_POLICY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# --- the simulated host, for probe / preflight / update ----------------------------------------


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], list[str]]:
    """Arguments for probe/preflight/update against a simulated host running 1.5.06 that can
    take 1.5.16 (the image is signed with a test key the commands are told to trust)."""
    img, seamhash, key_hash = signed_image(0x200)
    sim = SimKernel(tmp_path / "host", installs="1.5.16")
    monkeypatch.setattr(sysfs_mod, "default_io", lambda: sim)
    monkeypatch.setattr(host_cmds, "TEST_TRUSTED_KEY_HASHES", (key_hash,))
    image = tmp_path / "tdx_module_1.5.16.img"
    image.write_bytes(img)
    policy = tmp_path / "site.tdxpolicy"
    policy.write_text(site_policy_text(seamhash))
    roots = ["--sysfs-root", str(sim.sysfs), "--proc-root", str(sim.proc), *sim.kernel_args()]
    common = ["--no-default-policy", "--policy", str(policy), *roots]

    def args(command: str) -> list[str]:
        if command == "probe":
            return ["probe", *roots]
        if command == "preflight":
            return ["preflight", "--image", str(image), "--acknowledge", "all", *common]
        return ["update", "--image", str(image), "--dry-run", "--acknowledge", "all",
                "--record", str(tmp_path / "var" / "updates.jsonl"),
                "--lock-file", str(tmp_path / "run" / "tdxpolicy.lock"), *common]

    return args


# Every command that prints a document, with arguments that make it succeed (or deny).
DOCUMENT_COMMANDS: dict[str, list[str]] = {
    "can-upgrade": ["can-upgrade", "--to", "1.5.16", *FACTS],
    "path": ["path", "--to", "1.5.16", *FACTS],
    "select": ["select", *FACTS],
    "list": ["list", "--from", "1.5.06"],
    "show": ["show", "1.5.16"],
    "graph": ["graph"],
    "diff": ["diff", "@embedded", str(DATA / "site.tdxpolicy")],
    "fleet": ["fleet", str(DATA / "fleet_example.jsonl"), "--select", *SITE],
}
HOST_COMMANDS = ("probe", "preflight", "update")


def _args(name: str, host: Callable[[str], list[str]]) -> list[str]:
    return host(name) if name in HOST_COMMANDS else list(DOCUMENT_COMMANDS[name])


ALL_DOCUMENT_COMMANDS = list(DOCUMENT_COMMANDS) + list(HOST_COMMANDS)


# --- --output ----------------------------------------------------------------------------------


def _timeless(text: str) -> str:
    """``update`` records when it started and finished: the clock, not the document."""
    text = re.sub(r'"(started|finished)": "[^"]*"', r'"\1": "-"', text)
    return re.sub(r'"(\w+_s)": [0-9.e-]+', r'"\1": 0', text)


@pytest.mark.parametrize("name", ALL_DOCUMENT_COMMANDS)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_output_file_holds_what_stdout_would(name: str, fmt: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             host: Callable[[str], list[str]]) -> None:
    if name == "fleet" and fmt == "text":
        fmt = "csv"
    args = _args(name, host) + ["--format", fmt]
    code, out, _ = run(capsys, *args)
    # fleet_example.jsonl has malformed lines on purpose: exit 2, every line still answered.
    assert code in ((0, 1, 2) if name == "fleet" else (0, 1)) and out
    target = tmp_path / "report.out"
    code2, out2, _ = run(capsys, *args, "--output", str(target))
    assert code2 == code
    assert out2 == ""
    assert _timeless(target.read_text(encoding="utf-8")) == _timeless(out)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report.out.")] == []
    # -o - is stdout
    code3, out3, _ = run(capsys, *args, "-o", "-")
    assert (code3, _timeless(out3)) == (code, _timeless(out))


@pytest.mark.parametrize("name", ALL_DOCUMENT_COMMANDS + ["image inspect", "image verify"])
def test_output_directory_is_refused_before_anything(name: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     host: Callable[[str], list[str]]) -> None:
    if name.startswith("image"):
        args = name.split() + [str(tmp_path / "no-such.img")]
    else:
        args = _args(name, host)
    code, out, err = run(capsys, *args, "--output", str(tmp_path))
    assert code == 2
    assert f"--output: {tmp_path} is a directory" in err
    assert out == ""
    assert not (tmp_path / "var").exists()  # update: nothing was attempted, nothing recorded
    code, _, err = run(capsys, *args, "--output", str(tmp_path / "missing" / "f.json"))
    assert code == 2 and "no such directory" in err


def test_output_error_leaves_no_file_and_keeps_the_old_one(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    target = tmp_path / "verdict.json"
    bad = tmp_path / "bad.tdxpolicy"
    bad.write_text("release 1.5.16 {\n  update from >= \n}\n")
    code, out, err = run(capsys, "can-upgrade", "--to", "1.5.16", *FACTS, "--policy", str(bad),
                         "--output", str(target))
    assert code == 2 and not target.exists()
    target.write_text("previous\n")
    code, _, _ = run(capsys, "can-upgrade", "--to", "1.5.16", *FACTS, "--policy", str(bad),
                     "-o", str(target))
    assert code == 2 and target.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tdxpolicy", "verdict.json"]


def test_output_is_atomic_when_rendering_fails(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure half-way through writing leaves the target as it was and no temporary."""
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with output.open_output(target) as sink:
            sink.write("half a docu")
            raise RuntimeError("renderer failed")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with output.open_output(target) as sink:
        sink.write("new\n")
    assert target.read_text() == "new\n"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_fleet_summary_json_goes_through_the_atomic_writer(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    summary = tmp_path / "summary.json"
    code, out, err = run(capsys, *DOCUMENT_COMMANDS["fleet"], "--summary-json", str(summary))
    doc = json.loads(summary.read_text())
    assert doc["tdxpolicy"] == "fleet-summary/1" and doc["exit_code"] == code
    assert summary.read_text().count("\n") == 1  # one line, as before
    assert err.startswith("fleet: ")


# --- environment variables ---------------------------------------------------------------------


def test_policy_from_the_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    extra = tmp_path / "extra.tdxpolicy"
    extra.write_text('format 1\nissued 2026-01-01\nsource "env test"\n\n'
                     'release 9.7.00 {\n    update from >= 9.7.00\n}\n')
    flags = ["list", "--format", "json", "--no-default-policy",
             "--policy", str(DATA / "site.tdxpolicy"), "--policy", str(extra)]
    code, expected, _ = run(capsys, *flags)
    assert code == 0
    monkeypatch.setenv("TDXPOLICY_POLICY", os.pathsep.join([str(DATA / "site.tdxpolicy"),
                                                            str(extra)]))
    monkeypatch.setenv("TDXPOLICY_NO_DEFAULT_POLICY", "1")
    code, got, _ = run(capsys, "list", "--format", "json")
    assert code == 0 and got == expected
    versions = [r["version"] for r in json.loads(got)["releases"]]
    assert any(v.startswith("9.7.") for v in versions) and any(v.startswith("9.1.")
                                                               for v in versions)
    # A --policy on the command line replaces the variable's list.
    code, only_site, _ = run(capsys, "list", "--format", "json", "--policy",
                             str(DATA / "site.tdxpolicy"))
    assert not any(r["version"].startswith("9.7.") for r in json.loads(only_site)["releases"])
    monkeypatch.setenv("TDXPOLICY_NO_DEFAULT_POLICY", "0")
    monkeypatch.delenv("TDXPOLICY_POLICY")
    code, embedded, _ = run(capsys, "list", "--format", "json")
    assert "1.5.16" in [r["version"] for r in json.loads(embedded)["releases"]]
    monkeypatch.setenv("TDXPOLICY_NO_DEFAULT_POLICY", "perhaps")
    code, _, err = run(capsys, "list")
    assert code == 2 and "perhaps" in err


def test_help_names_the_environment_variables(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "list", "--help")
    assert "TDXPOLICY_POLICY" in out and "TDXPOLICY_NO_DEFAULT_POLICY" in out


# --- colour ------------------------------------------------------------------------------------

COLOURING = ["can-upgrade", "path", "select", "list", "preflight", "update"]


@pytest.mark.parametrize("name", COLOURING)
def test_colour_follows_no_color_force_color_and_term(name: str,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      host: Callable[[str], list[str]]) -> None:
    args = _args(name, host)
    _, plain, _ = run(capsys, *args)  # stdout is not a terminal here: no colour
    assert not ANSI.search(plain)
    monkeypatch.setenv("FORCE_COLOR", "1")
    _, forced, _ = run(capsys, *args)
    assert ANSI.search(forced) and ANSI.sub("", forced) == plain
    monkeypatch.setenv("NO_COLOR", "1")  # wins over FORCE_COLOR
    _, out, _ = run(capsys, *args)
    assert out == plain
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("FORCE_COLOR", "0")
    _, out, _ = run(capsys, *args)
    assert out == plain


def test_colour_rules_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    assert output.color_enabled(Tty())
    monkeypatch.setenv("TERM", "dumb")
    assert not output.color_enabled(Tty())
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert output.color_enabled(Tty())
    monkeypatch.setenv("NO_COLOR", "x")
    assert not output.color_enabled(Tty())


def _pty_run(args: list[str], env: dict[str, str]) -> str:
    """Run the CLI with stdout on a pseudo-terminal; what it wrote there."""
    import pty

    parent, child = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "tdxpolicy", *args], stdout=child,
                              stderr=subprocess.PIPE, env=env, cwd=REPO, timeout=60)
        os.close(child)
        child = -1
        chunks = []
        while True:
            try:
                data = os.read(parent, 65536)
            except OSError:  # EIO: the other side is closed and drained
                break
            if not data:
                break
            chunks.append(data)
        assert proc.returncode in (0, 1), proc.stderr
    finally:
        if child != -1:
            os.close(child)
        os.close(parent)
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in STYLE_ENV}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_terminal_text_is_coloured_and_wrapped_to_columns() -> None:
    args = ["can-upgrade", "--from", "1.5.06", "--to", "1.5.16"]
    text = _pty_run(args, _env(COLUMNS="80", TERM="xterm"))
    lines = ANSI.sub("", text).splitlines()
    assert ANSI.search(text)  # a terminal: colour
    assert max(len(line) for line in lines) <= 80, [ln for ln in lines if len(ln) > 80]
    # Continuation lines hang under the message column of the check table.
    row = next(ln for ln in lines if ln.startswith("  warn    advisory"))
    column = row.index("Intel:")
    after = lines[lines.index(row) + 1]
    assert after.startswith(" " * column) and not after.startswith(" " * (column + 1))
    # NO_COLOR on a terminal: wrapped, no colour.
    plain = _pty_run(args, _env(COLUMNS="80", NO_COLOR="1"))
    assert not ANSI.search(plain) and ANSI.sub("", text) == plain


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("columns", [50, 60, 72])
def test_narrow_terminals_keep_every_line_within_the_width(columns: int) -> None:
    # A citation longer than the message column has room for is right-aligned to the width
    # instead of overflowing it (at 60 columns it once made 61-character lines).
    args = ["can-upgrade", "--from", "1.5.06", "--to", "1.5.16", "--seamldr", "2.0.00",
            "--cpuid", "0x806F8", "--remaining", "5"]
    lines = ANSI.sub("", _pty_run(args, _env(COLUMNS=str(columns), TERM="xterm"))).splitlines()
    assert max(len(line) for line in lines) <= columns, [ln for ln in lines if len(ln) > columns]
    assert any(ln.strip().startswith("[tdx_module_1.5.16.tdxpolicy:") for ln in lines)


def test_pipe_keeps_one_line_per_check(capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["can-upgrade", "--from", "1.5.06", "--to", "1.5.16"]
    _, out, _ = run(capsys, *args)
    n_checks = len(json.loads(run(capsys, *args, "--format", "json")[1])["checks"])
    rows = [ln for ln in out.splitlines()
            if re.match(r"  (pass|fail|warn|unknown) ", ln)]
    assert len(rows) == n_checks
    assert max(len(ln) for ln in out.splitlines()) > 200  # the advisory, unwrapped
    # COLUMNS asks for wrapping even into a pipe; a file named with --output never wraps.
    monkeypatch.setenv("COLUMNS", "80")
    _, wrapped, _ = run(capsys, *args)
    assert max(len(ln) for ln in wrapped.splitlines()) <= 80
    target = Path("verdict.txt")
    run(capsys, *args, "--output", str(target))
    assert target.read_text() == out


@pytest.mark.parametrize("name", ["path", "select"])
def test_paths_and_selections_wrap_too(name: str, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    args = {"path": ["path", "--to", "1.5.16", "--from", "1.5.06"],
            "select": ["select", "--from", "1.5.06"]}[name]
    _, unwrapped, _ = run(capsys, *args)
    monkeypatch.setenv("COLUMNS", "72")
    _, out, _ = run(capsys, *args)
    assert max(len(ln) for ln in out.splitlines()) <= 72
    assert " ".join(out.split()) == " ".join(unwrapped.split())  # same words, rewrapped


# --- help, completion --------------------------------------------------------------------------


def _all_commands() -> list[list[str]]:
    load_commands()
    names: list[list[str]] = []
    for name in COMMAND_MODULES:
        if name in ("image", "catalogue"):
            continue
        names.append([name])
    names += [["image", c] for c in ("inspect", "verify", "convert", "join")]
    names += [["catalogue", "build"], ["image"], ["catalogue"], []]  # [] : tdxpolicy --help
    return names


@pytest.mark.parametrize("command", _all_commands(), ids=lambda c: " ".join(c) or "tdxpolicy")
def test_help_shows_metavars_not_python_types(command: list[str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*command, "--help"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "Usage: tdxpolicy" in out
    python_types = re.findall(r"<(?:str|int|float|bool|path|Path|list\[[^>]*\]|"
                              r"Optional\[[^>]*\]|[a-z_]+\[[^>]*\])>", out)
    assert python_types == [], python_types
    # click's default metavars for untyped options would mean an option lacks its own.
    assert not re.search(r"\b(TEXT|INTEGER|FLOAT)\b", out), out


# typer finds the user's shell by walking the process tree (shellingham); a test run with no
# shell among its ancestors (a detached CI job) would find none. typer's own switch for tests
# makes the shell an argument instead, so these tests name it.
_NAMED_SHELL = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}


def test_show_completion_prints_a_script() -> None:
    p = subprocess.run([sys.executable, "-m", "tdxpolicy", "--show-completion", "bash"],
                       capture_output=True, text=True, env=_env(**_NAMED_SHELL), cwd=REPO,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert "_TDXPOLICY_COMPLETE=complete_bash" in p.stdout


def test_completion_completes_commands_and_options() -> None:
    def complete(words: str) -> list[str]:
        env = _env(_TDXPOLICY_COMPLETE="complete_bash", COMP_WORDS=words,
                   COMP_CWORD=str(len(words.split()) - (0 if words.endswith(" ") else 1)))
        p = subprocess.run([sys.executable, "-c",
                            "import sys; from tdxpolicy.cli import main; "
                            "sys.argv[0] = 'tdxpolicy'; main()"],
                           capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
        return p.stdout.split()

    assert "can-upgrade" in complete("tdxpolicy can-up")
    assert "--output" in complete("tdxpolicy can-upgrade --out")


def test_install_completion_writes_the_shell_files(tmp_path: Path) -> None:
    env = _env(HOME=str(tmp_path), SHELL="/bin/bash", **_NAMED_SHELL)
    p = subprocess.run([sys.executable, "-m", "tdxpolicy", "--install-completion", "bash"],
                       capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "_TDXPOLICY_COMPLETE" in "".join(
        f.read_text() for f in tmp_path.rglob("*") if f.is_file())


# --- the one way out and the codecs -------------------------------------------------------------


def test_every_registered_renderer_exists() -> None:
    import importlib

    for key, table in output.RENDERERS.items():
        module, _, name = key.rpartition(".")
        assert hasattr(importlib.import_module(module), name), key
        for fmt, (target, kind) in table.items():
            mod, _, fn = target.partition(":")
            assert callable(getattr(importlib.import_module(mod), fn)), (key, fmt, target)
            assert kind in (output.TEXT, output.DOC, output.LINE, output.STREAM, output.JSON_STREAM)


def test_register_adds_a_format(capsys: pytest.CaptureFixture[str]) -> None:
    from tdxpolicy.commands.about import VersionInfo, version_info

    saved = dict(output.RENDERERS[f"{VersionInfo.__module__}.VersionInfo"])
    try:
        output.register(VersionInfo, "short", lambda info, style: f"{info.tool}\n")
        output.emit(version_info(), "short", sys.stdout)
        out, _ = capsys.readouterr()
        assert out.strip() and "\n" not in out.strip()
    finally:
        output.RENDERERS[f"{VersionInfo.__module__}.VersionInfo"] = saved


def test_json_is_always_valid_utf8() -> None:
    name = os.fsdecode(b"image-\xff.bin")  # a file name that is not UTF-8
    for pretty in (True, False):
        text = output.dumps({"path": name, "note": "café"}, pretty=pretty)
        text.encode("utf-8")
        # the name as people see it everywhere else (safe_text.py): \xff, escaped
        assert "café" in text and "image-\\\\xff.bin" in text
        assert json.loads(text) == {"path": "image-\\xff.bin", "note": "café"}


def test_hostfacts_codec_round_trips() -> None:
    from tdxpolicy.codecs import hostfacts as codec

    text = '{"module_version": "1.5.06", "cpuid": ["0x806F8"], "num_remaining_updates": 3}'
    facts = codec.from_json(text)
    assert codec.from_json(json.dumps(codec.to_json(facts))) == facts
    assert codec.to_json(facts) == {"module_version": "1.5.06", "cpuid": ["0x806F8"],
                                    "num_remaining_updates": 3}


# --- the CLI's own shape -----------------------------------------------------------------------

# Function-level imports allowed per module of tdxpolicy/cli. Command modules reach their
# library through one LazyModule each (no imports inside functions); __init__ keeps the few
# that main() needs only when it runs. `lint` and `audit` are listed apart: their restructuring
# belongs to the lint/audit unification (they adopt tdxpolicy.output after it lands).
MAX_FUNCTION_IMPORTS = {"__init__.py": 8}
NOT_YET_ADOPTED = {("catalogue_cmds.py", "_lint"), ("audit_cmds.py", "*")}


def _function_imports(path: Path) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, fn: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, fn or child.name)
            elif isinstance(child, (ast.Import, ast.ImportFrom)) and fn is not None:
                found.append((fn, child.lineno))
            else:
                visit(child, fn)

    visit(ast.parse(path.read_text()), None)
    return found


@pytest.mark.parametrize("path", sorted((REPO / "tdxpolicy" / "cli").glob("*.py")),
                         ids=lambda p: p.name)
def test_few_function_level_imports_in_cli(path: Path) -> None:
    imports = [(fn, line) for fn, line in _function_imports(path)
               if (path.name, fn) not in NOT_YET_ADOPTED and (path.name, "*") not in NOT_YET_ADOPTED]
    assert len(imports) <= MAX_FUNCTION_IMPORTS.get(path.name, 0), imports


def test_the_import_counter_counts() -> None:
    # The counter sees imports inside functions (and nested functions), not module-level ones.
    assert len(_function_imports(REPO / "tdxpolicy" / "cli" / "catalogue_cmds.py")) >= 5
    assert _function_imports(REPO / "tdxpolicy" / "cli" / "options.py") == []


def test_no_json_dumps_outside_the_output_module() -> None:
    """One JSON policy: the CLI and the writers of documents and records use output.dumps.
    (fleet's ``_csv_field`` writes a nested value inside one CSV field, not a document;
    safe_text.dumps is the one policy output.dumps calls; junit quotes a check's facts inside
    an XML text node.)"""
    allowed = {("fleet.py", "_csv_field"), ("safe_text.py", "dumps"),
               ("junit.py", "_details")}
    offenders = []
    files = [*(REPO / "tdxpolicy" / "cli").glob("*.py"), *(REPO / "tdxpolicy" / "render").glob("*.py"),
             *(REPO / "tdxpolicy" / "codecs").glob("*.py"),
             *(REPO / "tdxpolicy" / "commands").glob("*.py"),
             REPO / "tdxpolicy" / "fleet.py", REPO / "tdxpolicy" / "host" / "records.py"]
    for path in files:
        if path.name in ("audit_cmds.py", "sarif.py", "hostfacts.py"):
            # audit/lint unification's files; hostfacts.py quotes a bad value in a message
            continue

        def visit(node: ast.AST, fn: str | None) -> None:
            for child in ast.iter_child_nodes(node):
                name = child.name if isinstance(child, ast.FunctionDef) else fn
                if (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
                        and child.func.attr == "dumps"
                        and isinstance(child.func.value, ast.Name)
                        and child.func.value.id == "json"
                        and (path.name, fn) not in allowed):
                    offenders.append(f"{path.name}:{child.lineno}")
                visit(child, name)

        visit(ast.parse(path.read_text()), None)
    assert offenders == []
