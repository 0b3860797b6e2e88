"""Audit rules, data-driven: tests/data/audit/cases/<rule>--<trigger|clean>[-what]/.

Each case directory holds policy documents (*.tdxpolicy) and ``expect.json``:
``{"today": "YYYY-MM-DD", "findings": [{"rule", "at", "message"}, ...]}`` (exact messages, in
report order). A case named ``<rule>--...`` runs only that rule (a fixture for one rule may
well trip another); ``clean--...`` cases run every rule. Every rule has a case that triggers it
and one that does not (checked below).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tdxpolicy.audit import RULE_IDS, run_audit
from tdxpolicy.audit.report import where
from tdxpolicy.sources.document import parse_document

CASES = Path(__file__).parent / "data" / "audit" / "cases"
CASE_DIRS = sorted(p for p in CASES.iterdir() if p.is_dir())
IMAGE_RULES = {"image-invalid", "image-mismatch"}  # cases in test_audit_images.py


def load_case(case: Path) -> tuple[list, dict]:
    docs = [parse_document(p.read_text(), p.name) for p in sorted(case.glob("*.tdxpolicy"))]
    return docs, json.loads((case / "expect.json").read_text())


def run_case(case: Path) -> list[dict[str, str]]:
    docs, expect = load_case(case)
    rule = case.name.split("--")[0]
    rules = None if rule == "clean" else [rule]
    report = run_audit(docs, today=dt.date.fromisoformat(expect["today"]), rules=rules)
    return [
        {"rule": f.rule, "at": where(f.locations[0]), "message": f.message}
        for f in report.findings
    ]


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_case(case: Path) -> None:
    _docs, expect = load_case(case)
    assert run_case(case) == expect["findings"]


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_trigger_cases_trigger_and_clean_cases_do_not(case: Path) -> None:
    _docs, expect = load_case(case)
    rule, kind = case.name.split("--")
    if rule == "clean" or kind.startswith("clean"):
        assert expect["findings"] == []
    else:
        assert kind.startswith("trigger")
        assert expect["findings"], "a trigger case must expect findings"
        assert {f["rule"] for f in expect["findings"]} == {rule}


def test_every_rule_has_a_trigger_and_a_clean_case() -> None:
    names = [p.name for p in CASE_DIRS]
    for rule in set(RULE_IDS) - IMAGE_RULES:
        assert any(n.startswith(f"{rule}--trigger") for n in names), rule
        assert any(n.startswith(f"{rule}--clean") for n in names), rule


def _neighbours_by_scan(known: list, w: object) -> str:
    # The rule's words for an unknown version, by a scan of every known release (what the
    # bisection in audit.rules._neighbours replaces).
    same = [k for k in known if k.series == w.series]  # type: ignore[attr-defined]
    below = [k for k in same if k < w]
    above = [k for k in same if k > w]
    near = ([below[-1].text] if below else []) + ([above[0].text] if above else [])
    if not near:
        return f"no release of series {w.series_text} is known"  # type: ignore[attr-defined]
    return "nearest known: " + " and ".join(near)


def test_unknown_version_neighbours_equal_a_scan() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from tdxpolicy.audit.rules import _neighbours
    from tdxpolicy.version import Version

    versions = st.builds(Version, st.integers(1, 2), st.integers(0, 2), st.integers(0, 6))

    @settings(max_examples=400, deadline=None)
    @given(st.sets(versions, max_size=12), versions)
    def check(known: set, w: Version) -> None:
        ordered = sorted(known - {w})
        assert _neighbours(ordered, w) == _neighbours_by_scan(ordered, w)

    check()
