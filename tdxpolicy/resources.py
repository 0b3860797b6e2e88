"""Find the files shipped with the package: grammars, schemas, the embedded catalogue.

``grammars/`` and ``schemas/`` live at the top level of the repository and are copied into
the wheel as ``tdxpolicy/grammars`` and ``tdxpolicy/schemas`` (pyproject.toml). An installed
package finds them inside itself; a source checkout finds them beside the package.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = ["grammar_path", "schema_path", "data_dir", "package_data"]

_PKG = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """``grammars`` or ``schemas``: inside the installed package, else the source checkout."""
    inside = _PKG / name
    if inside.is_dir():
        return inside
    beside = _PKG.parent / name
    if beside.is_dir():
        return beside
    raise FileNotFoundError(f"tdxpolicy is installed without its {name}/ directory")


def grammar_path(name: str) -> Path:
    return data_dir("grammars") / name


def schema_path(name: str) -> Path:
    return data_dir("schemas") / name


def package_data(name: str) -> Path:
    """A file under ``tdxpolicy/data`` (always inside the package, installed or not)."""
    return _PKG / "data" / name
