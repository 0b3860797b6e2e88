"""Start-up stays light (issue #3, item 9): the commands people run most must not import the
heavy libraries. A structural test (which modules get imported), not a timing test; the
timing is bench/bench_startup.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# hashlib loads OpenSSL (about 2 ms): digests on the start-up path use CPython's built-in
# SHA-256 (_sha2 from 3.12, _sha256 before; sources/embedded.py).
HEAVY = ("lark", "jsonschema", "rich", "cryptography", "pydantic", "packaging", "hashlib")

PROBE = """
import io, json, sys, contextlib
from tdxpolicy.cli import main
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    code = main(sys.argv[1:])
mods = sorted({m.split(".")[0] for m in sys.modules})
sys.stderr.write(json.dumps({"code": code, "modules": mods}))
"""

COMMANDS = [
    ["can-upgrade", "--from", "1.5.06", "--to", "1.5.16", "--seamldr", "2.0.00",
     "--cpuid", "0x806F8", "--remaining", "5"],
    ["can-upgrade", "--from", "1.5.06", "--to", "1.5.16", "--format", "json"],
    ["list"],
    ["list", "--from", "1.5.06", "--format", "json"],
    ["path", "--from", "1.5.06", "--to", "1.5.16", "--assume-unknown-ok"],
    ["select", "--from", "1.5.06", "--assume-unknown-ok"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_no_heavy_imports(args: list[str]) -> None:
    p = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                       cwd=REPO, timeout=60)
    result = json.loads(p.stderr.strip().splitlines()[-1])
    assert result["code"] in (0, 1)
    loaded = set(result["modules"])
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_the_probe_would_notice_a_heavy_import(tmp_path: Path) -> None:
    # The same probe on a command that must parse a policy document with lark does see lark,
    # so the absence above is meaningful. (Usually laid-out documents take the line scanner
    # of sources/document.py; a one-line block '{}' is left to lark.)
    site = tmp_path / "site.tdxpolicy"
    site.write_text((REPO / "tests" / "data" / "move" / "site.tdxpolicy").read_text()
                    + "\nrelease 9.9.99 {}\n")
    p = subprocess.run([sys.executable, "-c", PROBE, "list", "--policy", str(site)],
                       capture_output=True, text=True, cwd=REPO, timeout=60)
    result = json.loads(p.stderr.strip().splitlines()[-1])
    assert "lark" in result["modules"]


def test_import_time_of_the_cli_module_tree() -> None:
    # python -X importtime: nothing heavy even at import of the CLI package itself.
    p = subprocess.run([sys.executable, "-X", "importtime", "-c", "import tdxpolicy.cli"],
                       capture_output=True, text=True, cwd=REPO, timeout=60)
    imported = {line.split("|")[-1].strip().split(".")[0]
                for line in p.stderr.splitlines() if line.startswith("import time:")}
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def test_command_table_names_every_registered_command() -> None:
    """Adding a command without an entry in COMMAND_MODULES would make it unreachable when
    invoked by name (only the named module is imported); this keeps the table complete."""
    from tdxpolicy.cli import COMMAND_MODULES, app, load_commands

    load_commands()
    registered = {c.name for c in app.registered_commands} | {
        g.name for g in app.registered_groups
    }
    assert registered == set(COMMAND_MODULES)


def test_invoking_one_command_imports_only_its_module() -> None:
    out = subprocess.run(
        [sys.executable, "-c",
         "import sys; from tdxpolicy.cli import main\n"
         "main(['show', '1.5.16'])\n"
         "print(sorted(m for m in sys.modules if m.endswith('_cmds')), file=sys.stderr)"],
        capture_output=True, text=True, check=True,
    )
    assert out.stderr.strip().splitlines()[-1] == "['tdxpolicy.cli.catalogue_cmds']"


def test_package_is_mypy_strict_clean() -> None:
    """`mypy --strict` over the package (pyproject [tool.mypy]) stays clean; skipped where mypy
    is not installed (it is a test dependency)."""
    api = pytest.importorskip("mypy.api")
    out, err, status = api.run(["--config-file", str(REPO / "pyproject.toml"), str(REPO / "tdxpolicy")])
    assert status == 0, out[-3000:]
