"""Data-driven engine cases: every ``tests/data/engine/*.json`` file is discovered.

A file holds a catalogue (inline release facts and rules, ``"embedded"`` for the catalogue
shipped in the package, or ``"intel"`` for ../shared/intel/release-facts.json), default host
facts and options, and a list of cases. A case names a target and what is expected:

``decide`` (default op): ``kind``, ``allowed``, ``failing`` (exactly the set of denying check
codes), ``results`` (code -> result, or a list of results when a code appears several times),
``messages`` (code -> exact message of its first check), ``sources`` (code -> "file:line"),
``reversible``/``reversibility``.
``plan``: ``found``, ``hops`` (versions), ``reason``, ``blocking`` (codes); ``max_hops``.
``select``: ``selected``, ``hops``, ``candidates`` (version -> allowed); ``max_hops``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from factories import catalogue_from_spec, facts, intel_catalogue, options
from tdxpolicy.catalogue import Catalogue
from tdxpolicy.engine import CHECK_ORDER, decide, plan, select
from tdxpolicy.version import parse_version

DATA = Path(__file__).parent / "data" / "engine"
FILES = sorted(DATA.glob("*.json"))


def _cases() -> list[Any]:
    out = []
    for f in FILES:
        spec = json.loads(f.read_text())
        for i, case in enumerate(spec["cases"]):
            out.append(pytest.param(f, i, id=f"{f.stem}:{case.get('name', i)}"))
    return out


_CATALOGUES: dict[Path, Catalogue] = {}


def _catalogue(path: Path, spec: Any, request: pytest.FixtureRequest) -> Catalogue:
    cat_spec = spec["catalogue"]
    if cat_spec == "embedded":
        sources = pytest.importorskip("tdxpolicy.sources")
        if path not in _CATALOGUES:
            _CATALOGUES[path] = sources.load_catalogue([])
    elif cat_spec == "intel":
        intel_dir = request.getfixturevalue("intel_dir")
        if path not in _CATALOGUES:
            _CATALOGUES[path] = intel_catalogue(intel_dir)
    elif path not in _CATALOGUES:
        _CATALOGUES[path] = catalogue_from_spec(cat_spec)
    return _CATALOGUES[path]


def test_case_files_exist() -> None:
    assert len(FILES) >= 5


@pytest.mark.parametrize("path,index", _cases())
def test_case(path: Path, index: int, request: pytest.FixtureRequest) -> None:
    spec = json.loads(path.read_text())
    case = spec["cases"][index]
    cat = _catalogue(path, spec, request)
    host = facts({**spec.get("facts", {}), **case.get("facts", {})})
    opts = options({**spec.get("options", {}), **case.get("options", {})})
    expect = case["expect"]
    op = case.get("op", "decide")
    if op == "decide":
        _check_decide(cat, host, parse_version(case["target"]), opts, expect)
    elif op == "plan":
        _check_plan(cat, host, parse_version(case["target"]), opts, case.get("max_hops"), expect)
    elif op == "select":
        _check_select(cat, host, opts, case.get("max_hops", 1), expect)
    else:
        raise AssertionError(f"unknown op {op!r} in {path}")


def _check_decide(cat: Catalogue, host: Any, target: Any, opts: Any, expect: Any) -> None:
    v = decide(cat, host, target, opts)
    codes = [c.code for c in v.checks]
    # Every check is always listed, in the contract's order.
    assert list(dict.fromkeys(codes)) == list(CHECK_ORDER)
    assert v.strict == opts.strict
    if "kind" in expect:
        assert (None if v.kind is None else v.kind.value) == expect["kind"]
    if "allowed" in expect:
        assert v.allowed is expect["allowed"], [(c.code, c.result.value, c.message)
                                                 for c in v.failed]
    if "failing" in expect:
        assert sorted({c.code for c in v.failed}) == sorted(expect["failing"])
    for code, want in expect.get("results", {}).items():
        got = [c.result.value for c in v.checks if c.code == code]
        assert (got if isinstance(want, list) else got[0]) == want, (code, got)
        if not isinstance(want, list):
            assert len(set(got)) == 1, (code, got)
    for code, want in expect.get("messages", {}).items():
        got = next(c.message for c in v.checks if c.code == code)
        assert got == want
    for code, want in expect.get("sources", {}).items():
        src = next(c.source for c in v.checks if c.code == code)
        assert (None if src is None else f"{src.file}:{src.line}") == want
    if "reversible" in expect:
        assert v.reversibility is not None
        assert v.reversibility.possible is expect["reversible"]
    if "reversibility" in expect:
        assert v.reversibility is not None and v.reversibility.reason == expect["reversibility"]
    if not v.allowed:
        assert v.reversibility is None


def _check_plan(cat: Catalogue, host: Any, target: Any, opts: Any, max_hops: int | None,
                expect: Any) -> None:
    p = plan(cat, host, target, opts, max_hops)
    assert p.found is expect["found"], p.reason
    if "hops" in expect:
        assert [h.to_version.text for h in p.hops] == expect["hops"]
    if "kinds" in expect:
        assert [None if h.kind is None else h.kind.value for h in p.hops] == expect["kinds"]
    if "reason" in expect:
        assert p.reason == expect["reason"]
    if "reason_starts" in expect:
        assert p.reason is not None and p.reason.startswith(expect["reason_starts"]), p.reason
    if "blocking" in expect:
        assert sorted({c.code for c in p.blocking}) == sorted(expect["blocking"])
    for h in p.hops:
        assert h.allowed
    if p.found:
        assert p.reason is None and not p.blocking
    else:
        assert p.hops == () and p.reason


def _check_select(cat: Catalogue, host: Any, opts: Any, max_hops: int, expect: Any) -> None:
    s = select(cat, host, opts, max_hops)
    assert (None if s.selected is None else s.selected.text) == expect["selected"]
    if "hops" in expect:
        assert [h.to_version.text for h in s.path] == expect["hops"]
    for version, allowed in expect.get("candidates", {}).items():
        c = next(c for c in s.candidates if c.version.text == version)
        assert c.allowed is allowed, (version, c.failed)
    for version, failed in expect.get("candidate_failed", {}).items():
        c = next(c for c in s.candidates if c.version.text == version)
        assert list(c.failed) == failed, (version, c.failed)
    for version, unknown in expect.get("candidate_unknown", {}).items():
        c = next(c for c in s.candidates if c.version.text == version)
        assert list(c.unknown) == unknown, (version, c.unknown)
        assert set(c.unknown) <= set(c.failed)
    versions = [c.version.key for c in s.candidates]
    assert versions == sorted(versions, reverse=True)
    assert len(s.candidates) == len(cat)
