"""The move commands through the real CLI entry point (docs/cli.md#contract): exit codes, JSON
documents that validate against the schemas, located errors in JSON mode, no tracebacks.

Most tests use a synthetic site document (tests/data/move/site.tdxpolicy, series 9.1) with
--no-default-policy so that they do not depend on Intel's data; a few use the embedded
catalogue for the contract's own examples."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from tdxpolicy.cli import main
from tdxpolicy.resources import schema_path

DATA = Path(__file__).parent / "data" / "move"
SITE = ["--policy", str(DATA / "site.tdxpolicy"), "--no-default-policy"]
HOST = ["--from", "9.1.00", "--seamldr", "9.1.02", "--cpuid", "0x806F8", "--remaining", "3"]


def _validator(name: str) -> jsonschema.Draft202012Validator:
    resources = []
    for n in ("verdict", "path", "select", "list", "fleet", "host-facts"):
        doc = json.loads(schema_path(f"{n}.schema.json").read_text())
        resources.append((doc["$id"], Resource.from_contents(doc)))
    registry: Registry = Registry().with_resources(resources)
    schema = json.loads(schema_path(f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], schema: str, *args: str) -> tuple[int, Any]:
    code, out, err = run(capsys, *args, "--format", "json")
    doc = json.loads(out)
    if code in (0, 1):
        errors = sorted(_validator(schema).iter_errors(doc), key=str)
        assert not errors, [e.message for e in errors]
    return code, doc


# --- can-upgrade ---------------------------------------------------------------------------


def test_can_upgrade_allowed_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "verdict", "can-upgrade", *SITE, *HOST, "--to", "9.1.02")
    assert code == 0
    assert doc["tdxpolicy"] == "verdict/1"
    assert (doc["from"], doc["to"], doc["kind"], doc["allowed"]) == ("9.1.00", "9.1.02", "upgrade", True)
    assert doc["reversible"] is False and "SVN" in doc["reversible_reason"]
    svn = next(c for c in doc["checks"] if c["code"] == "svn")
    assert svn["source"]["file"].endswith("site.tdxpolicy") and svn["source"]["line"] == 25


@pytest.mark.parametrize(
    ("to", "failing"),
    [
        ("9.1.04", ["update-rule"]),
        ("9.1.03", ["policy-deny"]),
        ("9.1.06", ["debug"]),
        ("9.1.08", ["support-status"]),
    ],
)
def test_can_upgrade_denied_names_the_failing_check(
    capsys: pytest.CaptureFixture[str], to: str, failing: list[str]
) -> None:
    code, doc = run_json(capsys, "verdict", "can-upgrade", *SITE, *HOST, "--to", to,
                         "--acknowledge", "all")
    assert code == 1
    assert doc["allowed"] is False
    assert [c["code"] for c in doc["checks"] if c["result"] in ("fail", "unknown")] == failing


def test_allow_debug_relaxes_debug(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "verdict", "can-upgrade", *SITE, *HOST, "--to", "9.1.06",
                         "--allow-debug")
    assert code == 0, [c for c in doc["checks"] if c["result"] != "pass"]


def test_unknown_facts_deny_unless_assumed(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "verdict", "can-upgrade", *SITE, "--from", "9.1.00",
                         "--to", "9.1.02")
    assert code == 1
    assert {c["code"] for c in doc["checks"] if c["result"] == "unknown"} == {
        "seamldr", "cpu", "remaining-updates"}
    code, doc = run_json(capsys, "verdict", "can-upgrade", *SITE, "--from", "9.1.00",
                         "--to", "9.1.02", "--assume-unknown-ok")
    assert code == 0


def test_strict_makes_an_advisory_warning_deny(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["can-upgrade", *SITE, "--from", "9.1.02", "--seamldr", "9.1.02", "--cpuid",
            "0x806F8", "--remaining", "3", "--to", "9.1.04"]
    code, doc = run_json(capsys, "verdict", *args)
    assert code == 0 and doc["strict"] is False
    assert [c["result"] for c in doc["checks"] if c["code"] == "advisory"] == ["warn"]
    code, doc = run_json(capsys, "verdict", *args, "--strict")
    assert code == 1 and doc["strict"] is True
    code, doc = run_json(capsys, "verdict", *args, "--strict", "--acknowledge", "td-build")
    assert code == 0


def test_contract_example_on_the_embedded_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "verdict", "can-upgrade", "--from", "1.5.06", "--to", "1.5.16",
                         "--seamldr", "2.0.00", "--cpuid", "0x806F8", "--remaining", "5")
    assert code == 0 and doc["kind"] == "upgrade"
    seamldr = next(c for c in doc["checks"] if c["code"] == "seamldr")
    assert seamldr["result"] == "pass"
    assert seamldr["source"]["file"] == "tdx_module_1.5.16.tdxpolicy"


def test_rollback_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "can-upgrade", "--from", "1.5.16", "--to", "1.5.08",
                       "--seamldr", "2.0.00", "--cpuid", "0x806F8", "--remaining", "5")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "DENIED: 1.5.16 -> 1.5.08 (rollback)"
    results = [ln.split()[0] for ln in lines[1:] if ln.startswith("  ") and not ln.startswith("  -")]
    order = {"fail": 0, "unknown": 1, "warn": 2, "pass": 3}
    assert results == sorted(results, key=order.__getitem__)
    assert "fail    svn" in out and "tdx_module_1.5.08.tdxpolicy:" in out
    assert "\x1b[" not in out  # not a TTY: no colour
    assert "Next" in out


def test_facts_file_and_flags_override(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "facts.json"
    f.write_text(json.dumps({"module_version": "9.1.00", "seamldr_version": "9.1.02",
                             "cpuid": ["0x806F8"], "num_remaining_updates": 0}))
    code, doc = run_json(capsys, "verdict", "can-upgrade", *SITE, "--facts", str(f), "--to", "9.1.02")
    assert code == 1
    assert [c["code"] for c in doc["checks"] if c["result"] == "fail"] == ["remaining-updates"]
    code, doc = run_json(capsys, "verdict", "can-upgrade", *SITE, "--facts", str(f),
                         "--remaining", "2", "--to", "9.1.02")
    assert code == 0


# --- bad input: exit 2, located JSON error, no traceback ---------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "1.5", "--to", "9.1.02"], "--from: expected a version like 1.5.06, got '1.5'"),
        (["--from", "9.1.00", "--to", "9.1.x"], "--to: expected a version like 1.5.06, got '9.1.x'"),
        (["--from", "9.1.00", "--to", "9.1.02", "--seamldr", "2"],
         "--seamldr: expected a version like 1.5.06, got '2'"),
        (["--from", "9.1.00", "--to", "9.1.02", "--cpuid", "zz"],
         "--cpuid: expected a hex value like 0x806F8, got 'zz'"),
        (["--from", "9.1.00", "--to", "9.1.02", "--cpuid", "0x1ffffffff"],
         "--cpuid: expected a hex value like 0x806F8, got '0x1ffffffff'"),
        (["--from", "9.1.00", "--to", "9.1.02", "--remaining", "-1"],
         "--remaining: expected a whole number >= 0, got '-1' (a count cannot be negative)"),
        (["--from", "9.1.00", "--to", "9.1.02", "--remaining", "lots"],
         "--remaining: expected a whole number >= 0, got 'lots'"),
        (["--from", "9.1.00"], "--to VERSION is required (or --image PATH)"),
    ],
)
def test_bad_flags(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, out, err = run(capsys, "can-upgrade", *SITE, *args, "--format", "json")
    assert code == 2
    assert json.loads(out)["error"]["message"] == message
    code, out, err = run(capsys, "can-upgrade", *SITE, *args)
    assert code == 2 and out == ""
    assert err == f"tdxpolicy: {message}\n"


def test_facts_file_of_the_wrong_shape(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "facts.json"
    f.write_text('{\n  "module_version": "1.5.06",\n  "cpuid": "0x806F8"\n}\n')
    code, doc = run_json(capsys, "verdict", "can-upgrade", "--facts", str(f), "--to", "1.5.16")
    assert code == 2
    (problem,) = doc["error"]["problems"]
    assert problem["location"] == {"file": str(f), "line": 3, "column": 3, "path": "$.cpuid"}
    assert problem["message"].startswith("expected a list of hex strings")
    code, out, err = run(capsys, "can-upgrade", "--facts", str(f), "--to", "1.5.16")
    assert code == 2
    assert err.splitlines()[1:] == ['      "cpuid": "0x806F8"', "      ^"]


def test_unreadable_facts_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, doc = run_json(capsys, "verdict", "can-upgrade", "--facts", str(tmp_path / "nope.json"),
                         "--to", "1.5.16")
    assert code == 2
    assert doc["error"]["message"].startswith(f"--facts: cannot read {tmp_path / 'nope.json'}")


def test_usage_error_in_json_mode(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "verdict", "path", "--from", "1.5.06", "--to", "1.5.16",
                         "--max-hops", "0")
    assert code == 2 and doc["error"]["code"] == "usage"
    assert "--max-hops" in doc["error"]["message"]


def test_unknown_version_is_not_an_input_error(capsys: pytest.CaptureFixture[str]) -> None:
    # A well-formed version the catalogue does not know is a denial, not bad input.
    code, doc = run_json(capsys, "verdict", "can-upgrade", *SITE, *HOST, "--to", "9.1.99",
                         "--assume-unknown-ok")
    assert code == 1
    assert [c["code"] for c in doc["checks"] if c["result"] != "pass"][0] == "target-known"


def test_image_identifies_the_target(capsys: pytest.CaptureFixture[str], intel_dir: Path) -> None:
    blob = intel_dir / "blobs" / "tdx_module_1.5.16.blob"
    host = ["--from", "1.5.06", "--seamldr", "2.0.00", "--cpuid", "0x806F8", "--remaining", "5",
            "--acknowledge", "all"]
    code, doc = run_json(capsys, "verdict", "can-upgrade", *host, "--image", str(blob))
    assert code == 0 and doc["to"] == "1.5.16"
    codes = [c["code"] for c in doc["checks"]]
    assert "image-identity" in codes and "image-valid" in codes
    # an image that is not the target denies the move
    code, doc = run_json(capsys, "verdict", "can-upgrade", *host, "--image", str(blob),
                         "--to", "1.5.13")
    assert code == 1
    assert [c["code"] for c in doc["checks"] if c["result"] == "fail"] == ["image-identity"]
    code, doc = run_json(capsys, "path", "path", *host, "--image", str(blob))
    assert code == 0 and doc["hops"][-1]["to"] == "1.5.16"
    code, doc = run_json(capsys, "select", "select", *host, "--image", str(blob))
    assert code == 0 and doc["selected"] == "1.5.16"


def test_image_that_is_not_an_image(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blob = tmp_path / "m.bin"
    blob.write_bytes(b"\0" * 16)
    code, doc = run_json(capsys, "verdict", "can-upgrade", *SITE, *HOST, "--image", str(blob))
    assert code == 2
    assert doc["error"]["message"]
    code, doc = run_json(capsys, "verdict", "can-upgrade", *SITE, *HOST,
                         "--image", str(tmp_path / "missing.bin"))
    assert code == 2
    assert doc["error"]["message"].startswith("--image: cannot read")


# --- path / select / list ---------------------------------------------------------------------


def test_path_needs_an_intermediate_hop(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "path", "path", *SITE, *HOST, "--to", "9.1.04",
                         "--acknowledge", "all")
    assert code == 0 and doc["found"] is True
    assert [(h["from"], h["to"]) for h in doc["hops"]] == [("9.1.00", "9.1.02"), ("9.1.02", "9.1.04")]
    assert all(h["allowed"] for h in doc["hops"])


def test_path_beyond_the_budget(capsys: pytest.CaptureFixture[str]) -> None:
    args = [a if a != "3" else "1" for a in HOST]
    code, doc = run_json(capsys, "path", "path", *SITE, *args, "--to", "9.1.04")
    assert code == 1
    assert doc["found"] is False and doc["hops"] == []
    assert "remain" in doc["reason"]
    code, doc = run_json(capsys, "path", "path", *SITE, *HOST, "--to", "9.1.04", "--max-hops", "1")
    assert code == 1 and doc["found"] is False


def test_select(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "select", "select", *SITE, *HOST)
    assert code == 0 and doc["selected"] == "9.1.02"
    assert [c["version"] for c in doc["candidates"]] == [
        "9.1.08", "9.1.06", "9.1.04", "9.1.03", "9.1.02", "9.1.00"]
    code, doc = run_json(capsys, "select", "select", *SITE, *HOST, "--max-hops", "2",
                         "--acknowledge", "all")
    assert code == 0 and doc["selected"] == "9.1.04"
    assert [h["to"] for h in doc["path"]] == ["9.1.02", "9.1.04"]


def test_select_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "select", "select", *SITE, "--from", "9.1.00", "--seamldr",
                         "9.1.02", "--cpuid", "0x806F8", "--remaining", "0")
    assert code == 1 and doc["selected"] is None and doc["path"] == []


def test_list_without_facts(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "list", "list", *SITE)
    assert code == 0
    assert [r["version"] for r in doc["releases"]] == [
        "9.1.08", "9.1.06", "9.1.04", "9.1.03", "9.1.02", "9.1.00"]
    assert all(r["status"] is None for r in doc["releases"])
    r08 = doc["releases"][0]
    assert r08["support"] == "withdrawn" and r08["support_reason"] == "recalled"
    assert doc["releases"][3]["policy"]["deny_from"] == [
        {"versions": "== 9.1.00", "reason": "9.1.03 corrupts state handed off by 9.1.00"}]


def test_list_with_facts(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "list", "list", *SITE, *HOST, "--acknowledge", "all")
    assert code == 0
    status = {r["version"]: r["status"] for r in doc["releases"]}
    assert status["9.1.02"] == {"kind": "upgrade", "allowed": True, "failed": [], "unknown": []}
    assert status["9.1.00"]["kind"] == "reinstall"
    assert status["9.1.04"] == {"kind": "upgrade", "allowed": False, "failed": ["update-rule"], "unknown": []}
    code, out, _ = run(capsys, "list", *SITE, *HOST, "--acknowledge", "all")
    assert out.splitlines()[0].split() == [
        "VERSION", "SERIES", "PUBLISHED", "STATUS", "UPDATE", "POLICY", "FROM", "9.1.00"]
    assert "9.1.04   9.1     2026-03-01  supported  from >= 9.1.02" in out
    assert out.rstrip().endswith("yes (reinstall)")


def test_list_embedded_newest_first(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "list", "list")
    assert code == 0
    keys = [tuple(int(x) for x in r["version"].split(".")) for r in doc["releases"]]
    assert keys == sorted(keys, reverse=True) and len(keys) >= 10


def test_no_running_version_without_probe(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import tdxpolicy.commands.moves as moves
    from tdxpolicy.errors import HostError

    def no_probe(facts: Any) -> Any:
        raise HostError("running module version unknown: give --from or --facts")

    monkeypatch.setattr(moves, "resolve_host", no_probe)
    code, doc = run_json(capsys, "verdict", "can-upgrade", "--to", "1.5.16")
    assert code == 3
    assert doc["error"] == {"code": "host-unavailable",
                            "message": "running module version unknown: give --from or --facts",
                            "problems": [{"message": "running module version unknown: give --from or --facts"}]}


def test_probe_when_no_running_version_given(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    probe_mod = importlib.import_module("tdxpolicy.host.probe")
    from tdxpolicy.hostfacts import HostFacts
    from tdxpolicy.version import Version

    def fake_probe_facts() -> HostFacts:
        return HostFacts(module_version=Version(9, 1, 0), seamldr_version=Version(9, 1, 2),
                         cpuid=(0x806F8,), num_remaining_updates=0, host="probed", origin="probe")

    monkeypatch.setattr(probe_mod, "probe_facts", fake_probe_facts)
    code, doc = run_json(capsys, "verdict", "can-upgrade", *SITE, "--to", "9.1.02")
    assert code == 1 and doc["from"] == "9.1.00"
    assert [c["code"] for c in doc["checks"] if c["result"] == "fail"] == ["remaining-updates"]
    # a flag overrides the probed fact
    code, doc = run_json(capsys, "verdict", "can-upgrade", *SITE, "--to", "9.1.02", "--remaining", "4")
    assert code == 0


def test_probe_failure_is_exit_3(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    probe_mod = importlib.import_module("tdxpolicy.host.probe")
    from tdxpolicy.errors import HostError

    def failing() -> Any:
        raise HostError("/sys: no TDX host interface", code="not-tdx-host")

    monkeypatch.setattr(probe_mod, "probe_facts", failing)
    code, doc = run_json(capsys, "verdict", "can-upgrade", *SITE, "--to", "9.1.02")
    assert code == 3 and doc["error"]["code"] == "not-tdx-host"
    assert [p["message"] for p in doc["error"]["problems"]] == [
        "/sys: no TDX host interface",
        "give --from VERSION (or --facts FILE) to decide without probing this host"]
