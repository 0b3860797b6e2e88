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
