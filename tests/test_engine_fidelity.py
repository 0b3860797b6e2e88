"""Issue 10, items 4-7, end to end through the CLI and preflight (the engine-level cases are
in tests/data/engine/features.json and debug_evidence.json).

4. TDX_FEATURES0 bits lost (`features`): Intel's 2.0.04 -> 2.0.05 loses bits 31 and 36.
5. No claim without evidence: a release known only from Intel's mapping file has no image
   fact, so `debug` is unknown; an image given with --image proves it.
6. Right words: select shows unknown apart from failed, in text and in select/1.
7. Images that lie about their name: Intel's 1.5.16 image saved as tdx_module_1.5.13.blob.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from simkernel import SimKernel, signed_image, site_policy_text
from tdxpolicy.catalogue import merge
from tdxpolicy.cli import main
from tdxpolicy.host.preflight import preflight
from tdxpolicy.host.probe import probe
from tdxpolicy.resources import schema_path
from tdxpolicy.sources.document import parse_document
from tdxpolicy.verdict import MoveOptions

GNR = ["--seamldr", "2.0.00", "--cpuid", "0xA06D0", "--remaining", "5"]
SPR = ["--seamldr", "2.0.00", "--cpuid", "0x806F8", "--remaining", "5"]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    code = main([*args, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def _check(doc: dict[str, Any], code: str) -> dict[str, Any]:
    return next(c for c in doc["checks"] if c["code"] == code)


def _validate(doc: dict[str, Any], name: str) -> None:
    reg: Registry[Any] = Registry()
    for n in ("verdict", "select", "path"):
        s = json.loads(schema_path(f"{n}.schema.json").read_text())
        reg = reg.with_resource(s["$id"], Resource.from_contents(s))
    schema = json.loads(schema_path(f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator(schema, registry=reg).validate(doc)


# --- item 4 ------------------------------------------------------------------------------------


def test_lost_features_warn_naming_the_bits(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _run(capsys, "can-upgrade", "--from", "2.0.04", "--to", "2.0.05", *GNR)
    assert code == 0  # a warning: allowed without --strict
    f = _check(doc, "features")
    assert f["result"] == "warn"
    assert f["facts"]["lost"] == [31, 36]
    assert f["facts"]["from_features0"] == "0x12AF1F0FBF"
    assert f["facts"]["to_features0"] == "0x226F3F0FBF"
    assert "bits 31, 36 (DYNAMIC_PAMT)" in f["message"]
    assert f["message"].endswith("(acknowledge with --acknowledge features-lost)")
    assert f["source"]["file"] == "tdx_module_2.0.05.tdxpolicy"
    _validate(doc, "verdict")


def test_lost_features_deny_under_strict_until_acknowledged(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _run(capsys, "can-upgrade", "--from", "2.0.04", "--to", "2.0.05", *GNR,
                     "--strict", "--acknowledge", "td-build")
    assert code == 1
    # 2.0.05 is also a preview (Intel: 2.0 "currently not supported"), which --strict denies
    assert {c["code"] for c in doc["checks"] if c["result"] != "pass"} == {
        "features", "support-status"}
    code, doc = _run(capsys, "can-upgrade", "--from", "2.0.04", "--to", "2.0.05", *GNR,
                     "--strict", "--acknowledge", "td-build", "--acknowledge", "features-lost")
    assert _check(doc, "features")["result"] == "pass"
    assert _check(doc, "features")["message"].startswith("acknowledged (features-lost): ")
    assert {c["code"] for c in doc["checks"] if c["result"] != "pass"} == {"support-status"}


def test_no_lost_features_within_intel_1_5(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _run(capsys, "can-upgrade", "--from", "1.5.08", "--to", "1.5.16", *SPR)
    f = _check(doc, "features")
    assert (f["result"], f["facts"]["lost"]) == ("pass", [])


def test_lost_features_in_text_with_next_hint(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["can-upgrade", "--from", "2.0.04", "--to", "2.0.05", *GNR,
                 "--acknowledge", "td-build"]) == 0
    out = capsys.readouterr().out
    assert "  warn    features           release 2.0.05 lacks TDX_FEATURES0 bits 31, 36 " \
           "(DYNAMIC_PAMT) that the running 2.0.04 has" in out
    assert "acknowledge with --acknowledge features-lost" in out.split("Next")[1]


def test_path_select_and_fleet_apply_the_features_check(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # path: under --strict the only hop into 2.0.05 loses bits
    code, doc = _run(capsys, "path", "--from", "2.0.04", "--to", "2.0.05", *GNR, "--strict",
                     "--acknowledge", "td-build")
    assert code == 1
    assert {c["code"] for c in doc["blocking"]} == {"features", "support-status"}
    # "all" acknowledges the lost bits too; 2.0.05 stays a preview, which --strict denies
    code, doc = _run(capsys, "path", "--from", "2.0.04", "--to", "2.0.05", *GNR, "--strict",
                     "--acknowledge", "all")
    assert code == 1 and {c["code"] for c in doc["blocking"]} == {"support-status"}
    code, doc = _run(capsys, "path", "--from", "2.0.04", "--to", "2.0.05", *GNR,
                     "--acknowledge", "td-build")
    assert code == 0 and _check(doc["hops"][0], "features")["result"] == "warn"
    # select: the chosen hop carries the check
    code, doc = _run(capsys, "select", "--from", "2.0.04", *GNR, "--acknowledge", "td-build")
    assert code == 0 and doc["selected"] == "2.0.08"
    assert _check(doc["path"][0], "features")["facts"]["lost"] == [27]
    _validate(doc, "select")
    # fleet: the same verdict per host
    facts = tmp_path / "f.jsonl"
    facts.write_text(json.dumps({"module_version": "2.0.04", "seamldr_version": "2.0.00",
                                 "cpuid": ["0xA06D0"], "num_remaining_updates": 5}) + "\n")
    assert main(["fleet", str(facts), "--to", "2.0.05", "--strict", "--acknowledge",
                 "td-build", "--full"]) == 1
    captured = capsys.readouterr()
    line = json.loads(captured.out)
    assert line["allowed"] is False and _check(line, "features")["result"] == "warn"
    assert "features 1" in captured.err  # the summary counts it among the failing checks
    # the compact row names it among the failing checks
    assert main(["fleet", str(facts), "--to", "2.0.05", "--strict", "--acknowledge",
                 "td-build"]) == 1
    row = json.loads(capsys.readouterr().out)
    assert row["action"] == "blocked" and "features" in row["failed"]


def test_update_requires_the_features_acknowledgement(tmp_path: Path) -> None:
    data, seamhash, key_hash = signed_image(0x200)
    # The simulated host runs 1.5.06; make the site's 1.5.06 have a bit 1.5.16 lacks (bit 31).
    text = site_policy_text(seamhash).replace("features0   0x2E1F0FBF", "features0   0xAE1F0FBF")
    cat = merge([parse_document(text, "site.tdxpolicy")])
    sim = SimKernel(tmp_path)

    def pf(*ack: str) -> Any:
        return preflight(probe(sim.sysfs, sim.proc, sim, sim.kernel), cat, target=None,
                         options=MoveOptions(acknowledged=frozenset(ack)), image_data=data,
                         image_path="img", can_write=lambda p: True,
                         trusted_key_hashes=(key_hash,), require_acknowledged=True)

    p = pf("td-build")
    assert not p.allowed
    assert p.unacknowledged == ("features-lost",)
    check = next(c for c in p.verdict.checks if c.code == "advisories-acknowledged")
    assert "--acknowledge features-lost" in check.message
    p = pf("td-build", "features-lost")
    assert p.allowed and p.unacknowledged == ()


# --- item 5 ------------------------------------------------------------------------------------


def test_mapping_file_only_release_has_unknown_debug(
        capsys: pytest.CaptureFixture[str], intel_dir: Path) -> None:
    code, doc = _run(capsys, "can-upgrade", "--no-default-policy", "--policy",
                     str(intel_dir / "mapping_file.json"), "--from", "1.5.08", "--to", "1.5.16",
                     *SPR, "--assume-unknown-ok", "--acknowledge", "all")
    assert code == 1
    debug = _check(doc, "debug")
    assert debug["result"] == "unknown"  # never "pass, production-signed"; never relaxed
    assert debug["facts"]["debug"] is None


def test_image_proves_the_debug_bit_the_catalogue_lacks(
        capsys: pytest.CaptureFixture[str], intel_dir: Path) -> None:
    code, doc = _run(capsys, "can-upgrade", "--no-default-policy", "--policy",
                     str(intel_dir / "mapping_file.json"), "--policy",
                     str(intel_dir / "tdx-module-releases.md"), "--from", "1.5.08", *SPR,
                     "--acknowledge", "all", "--image", str(intel_dir / "blobs" /
                                                            "tdx_module_1.5.16.blob"))
    debug = _check(doc, "debug")
    assert debug["result"] == "pass"
    assert debug["source"] == {"file": str(intel_dir / "blobs" / "tdx_module_1.5.16.blob"),
                               "offset": 4096 + 12}


# --- item 6 ------------------------------------------------------------------------------------


def test_select_reports_unknown_host_facts_as_unknown(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _run(capsys, "select", "--from", "1.5.08", "--seamldr", "2.0.00")
    assert code == 1
    _validate(doc, "select")
    c = next(c for c in doc["candidates"] if c["version"] == "1.5.16")
    assert c["unknown"] == ["cpu", "remaining-updates"]
    assert set(c["unknown"]) <= set(c["failed"])
    assert main(["select", "--from", "1.5.08", "--seamldr", "2.0.00"]) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("  1.5.16"))
    assert row.endswith("  unknown: cpu, remaining-updates")
    assert "failed:" not in row


# --- item 7 ------------------------------------------------------------------------------------


@pytest.fixture
def liar(intel_dir: Path, tmp_path: Path) -> Path:
    """Intel's 1.5.16 image under the name of 1.5.13."""
    p = tmp_path / "tdx_module_1.5.13.blob"
    shutil.copyfile(intel_dir / "blobs" / "tdx_module_1.5.16.blob", p)
    return p


def test_image_whose_name_lies_denies(capsys: pytest.CaptureFixture[str], liar: Path) -> None:
    code, doc = _run(capsys, "can-upgrade", "--from", "1.5.08", *SPR, "--acknowledge", "all",
                     "--image", str(liar))
    assert code == 1 and doc["to"] == "1.5.16"
    name = _check(doc, "image-name")
    assert name["result"] == "fail"
    assert name["message"] == (
        "file name says 1.5.13 but the seamhash identifies 1.5.16: the image may not be what "
        "its name says; give --to 1.5.16 if it is the release you mean to install")


def test_image_whose_name_lies_is_accepted_with_to_naming_its_identity(
        capsys: pytest.CaptureFixture[str], liar: Path) -> None:
    code, doc = _run(capsys, "can-upgrade", "--from", "1.5.08", "--to", "1.5.16", *SPR,
                     "--acknowledge", "all", "--image", str(liar))
    assert code == 0
    assert _check(doc, "image-name")["result"] == "warn"
    # --to naming what the file name claims is not an acceptance
    code, doc = _run(capsys, "can-upgrade", "--from", "1.5.08", "--to", "1.5.13", *SPR,
                     "--acknowledge", "all", "--image", str(liar))
    assert code == 1
    assert _check(doc, "image-name")["result"] == "fail"


def test_path_and_select_with_a_lying_image_deny(capsys: pytest.CaptureFixture[str],
                                                  liar: Path) -> None:
    code, doc = _run(capsys, "path", "--from", "1.5.08", *SPR, "--acknowledge", "all",
                     "--image", str(liar))
    assert code == 1 and doc["found"] is False
    assert "image-name" in {c["code"] for c in doc["blocking"]}
    code, doc = _run(capsys, "select", "--from", "1.5.08", *SPR, "--acknowledge", "all",
                     "--image", str(liar))
    assert code == 1 and doc["selected"] is None
    assert "image-name" in doc["candidates"][0]["failed"]
    code, doc = _run(capsys, "path", "--from", "1.5.08", "--to", "1.5.16", *SPR,
                     "--acknowledge", "all", "--image", str(liar))
    assert code == 0
