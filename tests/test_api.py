"""The typed Python API (``import tdxpolicy``) and the direction of imports between layers."""

from __future__ import annotations

import ast
import doctest
import subprocess
import sys
from pathlib import Path

import pytest

import tdxpolicy

REPO = Path(__file__).resolve().parent.parent
PKG = REPO / "tdxpolicy"


def test_docstring_examples_run() -> None:
    import tdxpolicy.api

    result = doctest.testmod(tdxpolicy.api, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8
    assert result.failed == 0


def test_api_round_trip() -> None:
    cat = tdxpolicy.load_catalogue()
    host = tdxpolicy.HostFacts(
        module_version=tdxpolicy.Version.parse("1.5.06"),
        seamldr_version=tdxpolicy.Version.parse("2.0.00"),
        cpuid=(0x806F8,),
        num_remaining_updates=2,
    )
    opts = tdxpolicy.MoveOptions(acknowledged=frozenset({"all"}))
    v = tdxpolicy.decide(cat, host, tdxpolicy.Version.parse("1.5.16"), opts)
    assert isinstance(v, tdxpolicy.Verdict) and v.allowed and v.kind is tdxpolicy.MoveKind.UPGRADE
    p = tdxpolicy.plan(cat, host, tdxpolicy.Version.parse("1.5.16"), opts)
    assert isinstance(p, tdxpolicy.PathResult) and p.found
    s = tdxpolicy.select(cat, host, opts)
    assert isinstance(s, tdxpolicy.SelectResult) and s.selected == tdxpolicy.Version(1, 5, 16)
    with pytest.raises(tdxpolicy.InputError):
        tdxpolicy.host_facts_from_json('{"cpuid": "nope"}')
    with pytest.raises(tdxpolicy.TdxPolicyError):
        tdxpolicy.load_catalogue([REPO / "no-such-file.tdxpolicy"])


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError):
        tdxpolicy.no_such_thing  # noqa: B018
    assert "decide" in dir(tdxpolicy)


def test_import_tdxpolicy_is_lazy() -> None:
    code = ("import sys, tdxpolicy; "
            "print(sorted(m for m in sys.modules if m.startswith('tdxpolicy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout
    assert out.strip() == "['tdxpolicy']"


# --- layers: pure modules import no CLI, no sources, no typer, and do no I/O ------------------

PURE = ["version.py", "model.py", "catalogue.py", "verdict.py", "hostfacts.py", "engine"]
FORBIDDEN_MODULES = ("tdxpolicy.cli", "tdxpolicy.sources", "typer", "click", "rich", "os",
                     "pathlib", "subprocess", "shutil", "socket", "io")
FORBIDDEN_CALLS = {"open", "print", "input"}


def _pure_files() -> list[Path]:
    out: list[Path] = []
    for name in PURE:
        p = PKG / name
        out.extend(sorted(p.rglob("*.py")) if p.is_dir() else [p])
    return out


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    pkg = _module_name(path).rsplit(".", 0 if path.name == "__init__.py" else 1)[0]
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names.append(mod)
            names.extend(f"{mod}.{a.name}" for a in node.names)
    return names


@pytest.mark.parametrize("path", _pure_files(), ids=lambda p: str(p.relative_to(PKG)))
def test_pure_modules_import_no_cli_sources_or_io(path: Path) -> None:
    bad = [n for n in _imports(path)
           if any(n == f or n.startswith(f + ".") for f in FORBIDDEN_MODULES)]
    assert not bad, f"{path.name} imports {bad}"
    calls = {
        node.func.id
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not (calls & FORBIDDEN_CALLS), f"{path.name} calls {calls & FORBIDDEN_CALLS}"


def test_renderers_do_no_io() -> None:
    for path in sorted((PKG / "render").glob("*.py")):
        calls = {
            node.func.id
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert not (calls & FORBIDDEN_CALLS), path
        assert not [n for n in _imports(path) if n.startswith(("tdxpolicy.cli", "typer", "sys"))]


def test_package_reexports_exactly_the_api() -> None:
    """tdxpolicy/__init__.py lists the public names lazily (to keep `import tdxpolicy` cheap);
    the two lists must not drift apart."""
    import tdxpolicy
    import tdxpolicy.api

    assert list(tdxpolicy._API) == tdxpolicy.api.__all__
    for name in tdxpolicy._API:
        assert getattr(tdxpolicy, name) is getattr(tdxpolicy.api, name)
