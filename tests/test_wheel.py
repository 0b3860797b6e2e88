"""The built wheel carries grammars, schemas and the embedded catalogue, and works installed.

Builds with ``pip wheel --no-build-isolation`` (hatchling is a test dependency), installs it
into a fresh, self-contained venv (no ``--system-site-packages``: the base interpreter's
packages are not the test environment's, and a machine's system Python may have none) together
with its dependencies from the package index pip already uses, pinned to the versions installed
in the environment running the tests, and runs ``tdxpolicy`` from outside the source tree. So
the wheel's own metadata must name every dependency it needs: a missing one fails here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("wheel")
    # Build from a clean copy of what the wheel is made of (no caches, no stray files); the
    # README is the project's long description (a placeholder if the checkout has none yet).
    src = tmp_path_factory.mktemp("src")
    shutil.copy2(REPO / "pyproject.toml", src)
    for d in ("tdxpolicy", "grammars", "schemas"):
        shutil.copytree(REPO / d, src / d, ignore=shutil.ignore_patterns("__pycache__"))
    readme = REPO / "README.md"
    (src / "README.md").write_text(readme.read_text() if readme.is_file() else "tdxpolicy\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (whl,) = out.glob("tdxpolicy-*.whl")
    return whl


def test_wheel_contains_grammars_schemas_and_catalogue(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "tdxpolicy/grammars/policy.lark" in names
    assert "tdxpolicy/schemas/catalogue.schema.json" in names
    for schema in (REPO / "schemas").glob("*.json"):
        assert f"tdxpolicy/schemas/{schema.name}" in names
    assert "tdxpolicy/data/compiled_catalogue.py" in names
    shipped = {n for n in names if n.startswith("tdxpolicy/data/releases/")}
    assert shipped == {f"tdxpolicy/data/releases/{p.name}"
                       for p in (REPO / "tdxpolicy" / "data" / "releases").glob("*.tdxpolicy")}
    assert len(shipped) == 18


def _constraints(tmp_path: Path) -> Path:
    """``name==version`` of every distribution in the running environment but tdxpolicy."""
    from importlib.metadata import distributions

    pins = sorted({f"{d.metadata['Name']}=={d.version}" for d in distributions()
                   if d.metadata["Name"] and d.metadata["Name"].lower() != "tdxpolicy"})
    out = tmp_path / "constraints.txt"
    out.write_text("\n".join(pins) + "\n")
    return out


def test_installed_wheel_runs(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    # The venv sees nothing but its own site-packages (checked below, before installing).
    isolated = subprocess.run([str(py), "-c", "import typer"], capture_output=True, timeout=60)
    assert isolated.returncode != 0, "the test venv can see packages it did not install"
    proc = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "-c", str(_constraints(tmp_path)), str(wheel)],
        timeout=600, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    exe = venv / "bin" / "tdxpolicy"
    proc = subprocess.run([str(exe), "show", "1.5.16"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("release 1.5.16 (series 1.5)\n")
    assert "    at tdx_module_1.5.16.tdxpolicy:20:5\n" in proc.stdout
    # the installed copy is the one that ran, and it finds its grammar (parsing a document)
    doc = tmp_path / "site.tdxpolicy"
    doc.write_text("format 1\nrelease 1.5.16 {\n  updat from any\n}\n")
    proc = subprocess.run([str(exe), "lint", str(doc)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert "unknown statement 'updat'; did you mean 'update'?" in proc.stderr
    where = subprocess.run([str(py), "-c", "import tdxpolicy; print(tdxpolicy.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    assert str(venv) in where
