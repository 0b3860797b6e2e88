"""Shared fixtures.

Tests that read Intel's real published data use the ``intel_dir`` fixture, which skips
cleanly when ``../shared/intel`` is absent (a fresh clone has no ``../shared``); every such
area also has tests on data the tests generate themselves.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests must not fail on a slow or loaded machine (CI shares two cores): no per-example
# deadline, and no "too slow" health check. Examples stay random; a failure prints its seed.
settings.register_profile(
    "tdxpolicy", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("tdxpolicy")

REPO = Path(__file__).resolve().parent.parent

# The tests never read or write the user's cache of parsed documents
# (tdxpolicy/sources/document_cache.py): this session, and every command it starts, keeps one
# of its own, removed at the end.
_CACHE_HOME = tempfile.mkdtemp(prefix="tdxpolicy-tests-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE_HOME
os.environ.pop("TDXPOLICY_NO_CACHE", None)
atexit.register(shutil.rmtree, _CACHE_HOME, ignore_errors=True)


def _find_intel_dir() -> Path | None:
    env = os.environ.get("TDXPOLICY_INTEL_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "intel")
    for c in candidates:
        if (c / "mapping_file.json").is_file():
            return c
    return None


INTEL_DIR = _find_intel_dir()


@pytest.fixture
def intel_dir() -> Path:
    if INTEL_DIR is None:
        pytest.skip("Intel's published data (../shared/intel) is not present")
    return INTEL_DIR


@pytest.fixture
def repo_root() -> Path:
    return REPO


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-docs", action="store_true", default=False,
        help="tests/test_docs_examples.py: rewrite the console examples of README.md and "
             "docs/*.md with the output of real runs (review the diff afterwards)",
    )
