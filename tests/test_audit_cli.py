"""`tdxpolicy audit`: exit codes (0 clean or below --fail-on, 1 findings at or above it, 2
unreadable input), formats, and the real Intel data (skipped when ../shared/intel is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from imagekit import build_image

from tdxpolicy.cli import main
from tdxpolicy.resources import schema_path

CASES = Path(__file__).parent / "data" / "audit" / "cases"
SARIF_SCHEMA = Path(__file__).parent / "data" / "audit" / "sarif-2.1.0-subset.schema.json"
CLEAN = CASES / "clean--consistent-catalogue"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["audit", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_clean_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--no-default-policy", "--policy", str(CLEAN), "--today",
                       "2026-11-26")
    assert (code, out) == (0, "no findings (2 documents, 0 images audited)\n")


def test_findings_exit_1_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--no-default-policy", "--policy", str(CLEAN), "--today",
                       "2026-11-27", "--fail-on", "warning")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].endswith(
        "clean--consistent-catalogue/site.tdxpolicy:3:1: warning stale-document: document "
        "expired on 2026-11-26 (today is 2026-11-27): verdicts that use it warn (policy-fresh) "
        "and fail under --strict; review it and issue it again with a new expires date"
    )
    assert lines[-1] == "1 finding: 0 errors, 1 warning, 0 notes (2 documents, 0 images audited)"


def test_json_output_validates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--no-default-policy", "--policy", str(CASES / "never-matches--trigger"),
                       "--format", "json", "--today", "2026-11-26")
    assert code == 0  # warnings only: they do not fail by default (--fail-on error)
    doc = json.loads(out)
    jsonschema.Draft202012Validator(json.loads(schema_path("audit.schema.json").read_text())).validate(doc)
    assert "never-matches" in {f["rule"] for f in doc["findings"]}


def test_sarif_output_validates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--no-default-policy", "--policy", str(CASES / "svn-decrease--trigger"),
                       "--format", "sarif", "--today", "2026-11-26")
    assert code == 1
    log = json.loads(out)
    jsonschema.Draft7Validator(json.loads(SARIF_SCHEMA.read_text())).validate(log)
    assert any(r["ruleId"] == "svn-decrease" for r in log["runs"][0]["results"])


def test_default_catalogue_alone_has_the_known_gaps(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--format", "json", "--today", "2026-11-26")
    assert code == 0  # warnings only
    rules = [(f["rule"], f["subject"]) for f in json.loads(out)["findings"]]
    assert ("no-published-mrseam", "2.0.05") in rules
    assert ("no-update-policy", "1.5.28") in rules
    assert not any(r == "source-disagreement" for r, _ in rules)


def test_images_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "tdx_module_1.5.01.blob").write_bytes(build_image(0x100))
    (tmp_path / "junk.bin").write_bytes(b"\x00" * 100)
    (tmp_path / "README.txt").write_text("not an image, not looked at")
    code, out, _ = run(capsys, "--no-default-policy", "--policy", str(CLEAN), "--images",
                       str(tmp_path), "--format", "json", "--today", "2026-11-26")
    assert code == 1
    doc = json.loads(out)
    assert doc["summary"]["images"] == 2
    by_subject = {}
    for f in doc["findings"]:
        by_subject.setdefault(Path(f["subject"]).name, set()).add(f["rule"])
    # the synthetic image is signed with a test key (not Intel's) and its hash is unknown
    assert by_subject["tdx_module_1.5.01.blob"] == {"image-invalid", "image-mismatch"}
    assert by_subject["junk.bin"] == {"image-invalid"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "/nonexistent/site.tdxpolicy"], "no such file or directory"),
        (["--images", "/nonexistent/blobs"], "no such file or directory"),
        (["--today", "2026-02-30"], "--today: expected a date like 2026-11-26 (YYYY-MM-DD), "
                                    "got '2026-02-30'"),
    ],
)
def test_unreadable_input_exit_2(capsys: pytest.CaptureFixture[str], args: list[str],
                                 message: str) -> None:
    code, out, _ = run(capsys, *args, "--format", "json")
    assert code == 2
    err = json.loads(out)["error"]
    assert message in err["message"]


def test_empty_images_directory_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _out, err = run(capsys, "--images", str(tmp_path))
    assert code == 2
    assert "no images in directory" in err


def test_bad_document_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.tdxpolicy"
    bad.write_text("format 1\nrelease 1.5 {\n}\n")
    code, _out, err = run(capsys, "--policy", str(bad))
    assert code == 2
    assert f"{bad}:2:" in err


# --- Intel's real data ------------------------------------------------------------------------


def test_real_intel_data(capsys: pytest.CaptureFixture[str], intel_dir: Path) -> None:
    """Every published source and image together with the embedded catalogue: the known gaps
    (docs/domain.md#intel-data) are found, and nothing else."""
    code, out, _ = run(capsys, "--policy", str(intel_dir), "--images", str(intel_dir / "blobs"),
                       "--format", "json", "--today", "2026-11-26")
    # Intel's own data has warnings only (its known gaps): by default they do not fail a
    # pipeline; `--fail-on warning` makes them fail (test_fail_on_matrix_on_real_data).
    assert code == 0
    doc = json.loads(out)
    jsonschema.Draft202012Validator(json.loads(schema_path("audit.schema.json").read_text())).validate(doc)
    got = sorted((f["rule"], f["subject"]) for f in doc["findings"])
    gaps = ["1.5.20", "1.5.24", "1.5.25", "1.5.28", "2.0.12", "2.0.14", "2.0.16"]
    assert got == sorted(
        [("no-update-policy", v) for v in gaps]
        + [("no-published-mrseam", "2.0.05")]
        + [("features-lost", "2.0.05"), ("features-lost", "2.0.08"), ("features-lost", "2.0.08")]
        + [("unreachable-release", "2.0.04")]
    )
    lost = [f["message"] for f in doc["findings"] if f["rule"] == "features-lost"]
    assert any("2.0.04 -> 2.0.05 loses TDX_FEATURES0 bits 31, 36" in m for m in lost)
    assert doc["summary"]["images"] == 9


def test_real_intel_data_sarif(capsys: pytest.CaptureFixture[str], intel_dir: Path) -> None:
    code, out, _ = run(capsys, "--no-default-policy", "--policy", str(intel_dir), "--images",
                       str(intel_dir / "blobs"), "--format", "sarif", "--today", "2026-11-26")
    assert code == 0
    log = json.loads(out)
    jsonschema.Draft7Validator(json.loads(SARIF_SCHEMA.read_text())).validate(log)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in log["runs"][0]["results"]}
    assert any(u.endswith("mapping_file.json") or u.endswith("README.md") for u in uris)
