"""The CLI's contract with typer: the installed typer is one pyproject.toml allows, the CLI
reaches typer through its public names only, and the usage errors typer produces read the
same on every release of that range (issue #11, item 5).

When a new typer release is admitted to the range, these messages are what must not move; a
change here is a change of the user-visible contract (docs/cli.md#errors)."""

from __future__ import annotations

import ast
import io
import json
import tomllib
from contextlib import redirect_stderr, redirect_stdout
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tdxpolicy.cli import main

REPO = Path(__file__).resolve().parent.parent


def _typer_requirement() -> Requirement:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    (typer_req,) = [r for r in reqs if r.name == "typer"]
    return typer_req


def test_installed_typer_is_in_the_declared_range() -> None:
    req = _typer_requirement()
    assert req.specifier, "typer must be bounded (see the reason beside it in pyproject.toml)"
    assert any(s.operator == "<" for s in req.specifier), str(req.specifier)
    assert req.specifier.contains(version("typer")), (version("typer"), str(req.specifier))


def test_the_cli_imports_no_private_typer_module() -> None:
    """No `typer._x` module and no click package: the CLI stays on typer's public surface."""
    offenders = []
    for path in sorted((REPO / "tdxpolicy").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "click" or (parts[0] == "typer" and any(
                        p.startswith("_") for p in parts[1:])):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: {name}")
    assert not offenders, offenders


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


MOVE = ("can-upgrade", "--from", "1.5.06", "--to", "1.5.16")

# (argv, exact stderr). Each of these is produced by typer's parser, not by tdxpolicy's own
# validation: the wording is typer's, the "tdxpolicy: " prefix and the hint line are ours.
USAGE_ERRORS = [
    ((*MOVE, "--format", "xml"),
     "tdxpolicy: Invalid value for '--format': 'xml' is not one of 'text', 'json', 'nfd', "
     "'prometheus', 'junit'.\n"
     "(try 'tdxpolicy can-upgrade --help')\n"),
    ((*MOVE, "--bogus"),
     "tdxpolicy: No such option: --bogus\n(try 'tdxpolicy can-upgrade --help')\n"),
    ((*MOVE, "--remaining"),
     "tdxpolicy: Option '--remaining' requires an argument.\n"),
    (("nosuchcmd",),
     "tdxpolicy: No such command 'nosuchcmd'.\n(try 'tdxpolicy --help')\n"),
    (("image", "verify"),
     "tdxpolicy: Missing argument 'PATH'.\n(try 'tdxpolicy image verify --help')\n"),
    (("update", "--image", "absent.img", "--timeout", "0.5"),
     "tdxpolicy: Invalid value for '--timeout': 0.5 is not in the range x>=1.0.\n"
     "(try 'tdxpolicy update --help')\n"),
    (("list", "--allow-debug", "maybe"),
     "tdxpolicy: Got unexpected extra argument(s) (maybe)\n(try 'tdxpolicy list --help')\n"),
]


@pytest.mark.parametrize("argv,expected", USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_error_messages_are_pinned(argv: tuple[str, ...], expected: str) -> None:
    code, out, err = _run(*argv)
    assert (code, out, err) == (2, "", expected)


def test_usage_errors_in_json_carry_typers_message() -> None:
    code, out, err = _run("list", "--format", "JSON", "--bogus")
    assert code == 2 and err == ""
    assert json.loads(out) == {"error": {"code": "usage", "message": "No such option: --bogus"}}


def test_a_group_without_a_subcommand_prints_its_help_and_exits_2() -> None:
    code, out, err = _run("image")
    assert code == 2 and out == ""
    assert err.startswith("Usage: tdxpolicy image [OPTIONS] COMMAND [ARGS]...")
    assert "verify" in err and "tdxpolicy:" not in err
