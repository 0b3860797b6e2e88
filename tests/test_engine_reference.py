"""tdxpolicy allows exactly what Intel's reference selector would install (issue #3, item 3).

For every running version the catalogue knows, every P-SEAMLDR in a fixed set, every CPU in
the union of all CPUID tables (plus an unknown CPU and a stepping variant) and every target,
``decide(...).allowed`` equals :func:`reference_selector.would_install`, with host facts fully
given (5 updates left) and advisories acknowledged. The checks tdxpolicy adds (svn, handoff,
support status, ...) must therefore never fire where the reference installs.

Catalogues: the embedded one and one built from ../shared/intel/release-facts.json (both
against the oracle fed with Intel's raw data; skipped without ../shared), and generated ones
(oracle and catalogue from the same plain data; always run).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Iterable

import pytest

from factories import block, catalogue, intel_catalogue
from reference_selector import RefModule, would_install
from tdxpolicy.catalogue import Catalogue
from tdxpolicy.engine import decide
from tdxpolicy.hostfacts import HostFacts
from tdxpolicy.verdict import MoveOptions
from tdxpolicy.version import Version, parse_version

LOADERS = ("1.5.00", "1.5.05", "2.0.00", "2.0.03", "1.0.00", "3.0.00")
OPTIONS = MoveOptions(acknowledged=frozenset({"all"}))


def _cpus(modules: Iterable[RefModule]) -> list[int]:
    table = sorted({c for m in modules for c in m.cpuid_table})
    # an unknown CPU, and a stepping variant of a known one (stepping is ignored)
    return table + [0x50650, (table[0] & ~0xF) | 0x3]


def disagreements(cat: Catalogue, modules: list[RefModule]) -> tuple[int, list[str]]:
    by_version = {parse_version(m.version).key: m for m in modules}
    cpus = _cpus(modules)
    out: list[str] = []
    n = 0
    for running in cat.releases:
        for loader in LOADERS:
            for cpu in cpus:
                facts = HostFacts(running.version, parse_version(loader), (cpu,), 5)
                for target in cat.releases:
                    n += 1
                    ref = by_version.get(target.version.key)
                    want = ref is not None and would_install(ref, running.version.text, loader,
                                                             (cpu,))
                    verdict = decide(cat, facts, target.version, OPTIONS)
                    if verdict.allowed != want:
                        failed = [f"{c.code}={c.result.value}" for c in verdict.failed]
                        out.append(f"{running.version} -> {target.version} on P-SEAMLDR "
                                   f"{loader}, CPU {cpu:#x}: reference {want}, tdxpolicy "
                                   f"{verdict.allowed} {failed}")
    return n, out


def intel_modules(intel_dir: Path) -> list[RefModule]:
    """What the reference script sees: releases with a mapping entry and a published image."""
    data = json.loads((intel_dir / "release-facts.json").read_text())
    mods = []
    for r in data["releases"]:
        img = r.get("from_published_image")
        if r.get("min_module_version_for_td_preserving") is None or img is None:
            continue
        mods.append(RefModule(
            r["version"], r["min_module_version_for_td_preserving"],
            tuple(r["min_seamldr_versions"]), tuple(int(c, 16) for c in img["cpuid_table"]),
            (1 << 31) if img.get("debug") else 0))
    return mods


def test_agrees_with_reference_on_intel_catalogue(intel_dir: Path) -> None:
    mods = intel_modules(intel_dir)
    assert len(mods) == 11
    n, bad = disagreements(intel_catalogue(intel_dir), mods)
    assert n > 10_000
    assert bad == []


def test_agrees_with_reference_on_embedded_catalogue(intel_dir: Path) -> None:
    sources = pytest.importorskip("tdxpolicy.sources")
    cat = sources.load_catalogue([])
    assert len(cat) >= 11
    n, bad = disagreements(cat, intel_modules(intel_dir))
    assert bad == []


def generated_modules(seed: int) -> tuple[Catalogue, list[RefModule]]:
    """Random Intel-like releases: two series, random minimum versions, P-SEAMLDR lines and
    CPUID tables, a few debug-signed; SVN never falls with the version and handoff is 0, as
    in all of Intel's published data. Some releases have no update policy (the reference never
    sees them)."""
    rnd = random.Random(seed)
    tables = [(0x806F8, 0xC06F0), (0x806F8, 0xC06F0, 0xA06F0), (0xA06D0,), (0xA06D0, 0xA06E0)]
    loader_sets = [("1.5.00",), ("1.5.00", "2.0.00"), ("2.0.00",), ("2.0.03",), ("1.5.05",)]
    blocks, mods = [], []
    for major, minor, svn_major in ((1, 5, 1), (2, 0, 3)):
        updates = sorted(rnd.sample(range(1, 30), 7))
        svn_minor = 1
        for i, u in enumerate(updates):
            v = Version(major, minor, u)
            svn_minor += rnd.choice((0, 1))
            min_v = Version(major, minor, rnd.choice(updates[: i + 1]))
            table = rnd.choice(tables)
            loaders = rnd.choice(loader_sets)
            debug = rnd.random() < 0.15
            has_policy = rnd.random() < 0.85
            blocks.append(block(
                v, svn=f"{svn_major}.{svn_minor}", platforms=table, seamldr=loaders,
                handoff=(0, 0), debug=debug,
                update_from=[f"{major}.{minor}.*, >= {min_v.text}"] if has_policy else []))
            if has_policy:
                mods.append(RefModule(v.text, min_v.text, loaders, table,
                                      (1 << 31) if debug else 0))
    return catalogue(*blocks), mods


@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_reference_on_generated_catalogues(seed: int) -> None:
    cat, mods = generated_modules(seed)
    n, bad = disagreements(cat, mods)
    assert n > 5_000
    assert bad == []
    # Not vacuous: the reference installs something, and refuses something, here.
    allowed = sum(
        would_install(m, r.version.text, "2.0.00", (m.cpuid_table[0],))
        for m in mods for r in cat.releases)
    assert allowed > 0


def test_oracle_refuses_rollback_and_allows_reinstall() -> None:
    m = RefModule("1.5.08", "1.5.01", ("1.5.00",), (0x806F8,))
    assert would_install(m, "1.5.08", "1.5.00", (0x806F5,))
    assert not would_install(m, "1.5.09", "1.5.00", (0x806F8,))
    assert not would_install(m, "1.5.08", "2.0.00", (0x806F8,))
    assert not would_install(RefModule("1.5.08", "1.5.01", ("1.5.00",), (0x806F8,), 1 << 31),
                             "1.5.06", "1.5.00", (0x806F8,))
