"""Audit output: audit/1 JSON (schema), text lines, SARIF 2.1.0 (schema, golden file,
fingerprints)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from tdxpolicy import __version__
from tdxpolicy.audit import RULES, AuditImage, ImageFailure, fingerprint, relativize, run_audit
from tdxpolicy.audit.report import to_json, to_text
from tdxpolicy.model import Location, ReleaseFacts, Sourced, Svn
from tdxpolicy.render.sarif import FINGERPRINT_KEY, to_sarif
from tdxpolicy.resources import schema_path
from tdxpolicy.sources.document import parse_document

DATA = Path(__file__).parent / "data" / "audit"
TODAY = dt.date(2026, 11, 26)
H1 = "11" * 48

SMALL_DOC = f"""format 1
expires 2026-01-31

release 1.5.01 {{
    mrseam 0x{H1}
    svn    1.4
    update from >= 1.5.01
}}

release 1.5.05 {{
    svn    1.3
    update from >= 1.5.02
}}
"""


def small_image() -> AuditImage:
    return AuditImage(
        path="blobs/tdx_module_1.5.01.blob",
        facts=ReleaseFacts(
            seamhash=Sourced(H1, Location("blobs/tdx_module_1.5.01.blob", offset=0x1384)),
            svn=Sourced(Svn(1, 5), Location("blobs/tdx_module_1.5.01.blob", offset=0x13B4)),
        ),
        failures=(
            ImageFailure("checksum", "the 16-bit word sum of the file is 0x1234, expected 0",
                         Location("blobs/tdx_module_1.5.01.blob", offset=2)),
        ),
    )


def small_report(text: str = SMALL_DOC):
    doc = parse_document(text, "policy/site.tdxpolicy")
    return run_audit([doc], [small_image()], today=TODAY)


def sarif_validator() -> jsonschema.Draft7Validator:
    schema = json.loads((DATA / "sarif-2.1.0-subset.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def test_small_case_findings() -> None:
    rules = [f.rule for f in small_report().findings]
    assert sorted(rules) == sorted([
        "stale-document", "unknown-version-ref", "svn-decrease", "no-published-mrseam",
        "image-invalid", "image-mismatch", "unreachable-release",
    ])


def test_json_validates_against_schema() -> None:
    schema = json.loads(schema_path("audit.schema.json").read_text())
    out = to_json(small_report())
    jsonschema.Draft202012Validator(schema).validate(out)
    assert out["tdxpolicy"] == "audit/1"
    assert out["summary"] == {"findings": 7, "error": 3, "warning": 4, "note": 0,
                              "documents": 1, "images": 1}


def test_json_schema_refuses_unknown_rule() -> None:
    schema = json.loads(schema_path("audit.schema.json").read_text())
    out = to_json(small_report())
    out["findings"][0]["rule"] = "made-up"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(out)


def test_json_image_location_has_offset() -> None:
    out = to_json(small_report())
    inv = [f for f in out["findings"] if f["rule"] == "image-invalid"]
    assert inv[0]["locations"] == [{"file": "blobs/tdx_module_1.5.01.blob", "offset": 2}]


def test_text_lines() -> None:
    lines = to_text(small_report()).splitlines()
    assert lines[0] == (
        "blobs/tdx_module_1.5.01.blob:@0x2: error image-invalid: image "
        "blobs/tdx_module_1.5.01.blob does not verify (checksum): the 16-bit word sum of the "
        "file is 0x1234, expected 0"
    )
    assert "policy/site.tdxpolicy:2:1: warning stale-document: document expired on 2026-01-31 " \
        "(today is 2026-11-26): verdicts that use it warn (policy-fresh) and fail under " \
        "--strict; review it and issue it again with a new expires date" in lines
    assert lines[-1] == "7 findings: 3 errors, 4 warnings, 0 notes (1 document, 1 image audited)"


def test_text_clean_summary() -> None:
    report = run_audit([], today=TODAY)
    assert to_text(report) == "no findings (0 documents, 0 images audited)\n"


def test_sarif_validates_against_sarif_schema() -> None:
    sarif_validator().validate(to_sarif(small_report(), __version__))


def test_sarif_schema_is_not_vacuous() -> None:
    """The vendored schema rejects what SARIF 2.1.0 rejects (misspelt or misplaced keys,
    bad levels, line 0)."""
    v = sarif_validator()
    good = to_sarif(small_report(), __version__)
    bad_level = json.loads(json.dumps(good))
    bad_level["runs"][0]["results"][0]["level"] = "fatal"
    bad_key = json.loads(json.dumps(good))
    bad_key["runs"][0]["results"][0]["ruleID"] = "x"
    bad_line = json.loads(json.dumps(good))
    res = next(r for r in bad_line["runs"][0]["results"]
               if "startLine" in r["locations"][0]["physicalLocation"].get("region", {}))
    res["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    no_version = json.loads(json.dumps(good))
    del no_version["version"]
    for bad in (bad_level, bad_key, bad_line, no_version):
        assert not v.is_valid(bad)


def test_sarif_structure() -> None:
    log = to_sarif(small_report(), __version__)
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [r.id for r in RULES]
    for r in run["tool"]["driver"]["rules"]:
        assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
        assert r["shortDescription"]["text"] and r["fullDescription"]["text"]
        assert "Basis:" in r["help"]["text"]
    by_rule = {res["ruleId"]: res for res in run["results"]}
    svn = by_rule["svn-decrease"]
    assert run["tool"]["driver"]["rules"][svn["ruleIndex"]]["id"] == "svn-decrease"
    assert svn["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "policy/site.tdxpolicy", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 11, "startColumn": 5},
    }
    assert svn["relatedLocations"][0]["physicalLocation"]["region"] == {
        "startLine": 6, "startColumn": 5}
    img = by_rule["image-invalid"]
    assert img["locations"][0]["physicalLocation"]["region"] == {"byteOffset": 2}
    for res in run["results"]:
        assert len(res["partialFingerprints"][FINGERPRINT_KEY]) == 32


def test_golden_sarif() -> None:
    """The whole SARIF log of a small case, byte for byte after normalising only the tool
    version (the one value that must vary)."""
    log = to_sarif(small_report(), "VERSION")
    golden = DATA / "golden" / "small.sarif.json"
    assert json.dumps(log, indent=2) + "\n" == golden.read_text()


def test_fingerprints_survive_moved_lines() -> None:
    moved = "# a comment added at the top\n\n" + SMALL_DOC.replace("format 1\n", "format 1\n\n")
    a = {(f.rule, fingerprint(f)) for f in small_report().findings}
    b_report = small_report(moved)
    assert [f.locations[0].line for f in b_report.findings if f.rule == "svn-decrease"] == [14]
    b = {(f.rule, fingerprint(f)) for f in b_report.findings}
    assert a == b


def test_fingerprints_differ_when_values_differ() -> None:
    a = {f.rule: fingerprint(f) for f in small_report().findings}
    b = {f.rule: fingerprint(f) for f in small_report(SMALL_DOC.replace("1.3", "1.2")).findings}
    assert a["svn-decrease"] != b["svn-decrease"]
    assert a["stale-document"] == b["stale-document"]


def test_fingerprints_distinct_within_a_report() -> None:
    fps = [fingerprint(f) for f in small_report().findings]
    assert len(fps) == len(set(fps))


def test_relativize_makes_paths_relative_to_base() -> None:
    doc = parse_document(SMALL_DOC, "/srv/repo/policy/site.tdxpolicy")
    abs_report = run_audit([doc], today=TODAY)
    rel = relativize(abs_report, "/srv/repo")
    assert {loc.file for f in rel.findings for loc in f.locations} == {"policy/site.tdxpolicy"}
    assert rel.documents == ("policy/site.tdxpolicy",)
    outside = relativize(abs_report, "/elsewhere")
    assert outside.findings == abs_report.findings
    # the same finding has the same fingerprint whichever checkout it was found in
    other = relativize(run_audit([replace(doc)], today=TODAY), "/srv/repo")
    assert [fingerprint(f) for f in rel.findings] == [fingerprint(f) for f in other.findings]


def test_sarif_embedded_documents_use_their_own_base() -> None:
    doc = replace(parse_document(SMALL_DOC, "tdx_module_1.5.01.tdxpolicy"), embedded=True)
    log = to_sarif(run_audit([doc], today=TODAY))
    art = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert art == {"uri": "tdx_module_1.5.01.tdxpolicy", "uriBaseId": "TDXPOLICY_EMBEDDED"}
    sarif_validator().validate(log)
