"""The exporter formats as the CLI writes them (issue 14): ``--format nfd|prometheus`` on
``probe``/``can-upgrade``/``select``, ``--format junit`` on ``can-upgrade``/``preflight``/
``fleet``, ``probe --host``; each through ``--output`` (atomic). The renderers themselves are
tested in tests/test_exporters.py; here: the wiring, the facts they are given, exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from simkernel import SimKernel, signed_image, site_policy_text
from tdxpolicy.cli import main

MOVE = ["--from", "1.5.06", "--seamldr", "2.0.00", "--cpuid", "0x806F8", "--remaining", "12"]


def _labels(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, val = line.partition("=")
            out[name.removeprefix("feature.node.kubernetes.io/tdx-module.")] = val
    return out


def _families(text: str) -> dict[str, Any]:
    parser = pytest.importorskip("prometheus_client.parser")
    return {f.name: f for f in parser.text_string_to_metric_families(text)}


def test_can_upgrade_nfd_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tdx-module"
    code = main(["can-upgrade", *MOVE, "--to", "1.5.16", "--acknowledge", "td-build",
                 "--format", "nfd", "--output", str(out)])
    assert code == 0 and capsys.readouterr().out == ""
    text = out.read_text(encoding="utf-8")
    assert "\n# +expiry-time=" in text
    labels = _labels(text)
    assert labels["version"] == "1.5.06" and labels["seamldr"] == "2.0.00"
    assert labels["remaining-updates"] == "12"
    assert labels["update-allowed"] == "true" and labels["update-target"] == "1.5.16"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


def test_a_denied_move_labels_its_blocking_checks(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["can-upgrade", *MOVE, "--to", "1.5.01", "--format", "nfd"])
    assert code == 1
    labels = _labels(capsys.readouterr().out)
    assert labels["update-allowed"] == "false"
    assert {"blocked.rollback-rule", "blocked.svn"} <= set(labels)


def test_select_prometheus(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["select", *MOVE, "--acknowledge", "all", "--format", "prometheus",
                 "--record", str(tmp_path / "none.jsonl")])
    assert code == 0
    fams = _families(capsys.readouterr().out)
    (info,) = fams["tdx_module_info"].samples
    assert info.labels["version"] == "1.5.06" and info.labels["seamldr_version"] == "2.0.00"
    (allowed,) = fams["tdxpolicy_update_allowed"].samples
    assert allowed.labels["target"] == "1.5.16" and allowed.value == 1
    assert fams["tdx_module_remaining_updates"].samples[0].value == 12
    assert "tdxpolicy_last_update_outcome" not in fams or \
        not fams["tdxpolicy_last_update_outcome"].samples


def test_a_damaged_record_file_is_a_located_error(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    records = tmp_path / "updates.jsonl"
    records.write_text('{"tdxpolicy": "update-record/1"}\nnot json\n', encoding="utf-8")
    code = main(["select", *MOVE, "--format", "prometheus", "--record", str(records)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{records}:2" in err and "Traceback" not in err


def test_can_upgrade_and_fleet_junit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["can-upgrade", *MOVE, "--to", "1.5.01", "--format", "junit"])
    assert code == 1
    root = ET.fromstring(capsys.readouterr().out)
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert cases["svn"].find("failure") is not None
    assert cases["same-series"].find("failure") is None
    fleet = tmp_path / "hosts.jsonl"
    fleet.write_text("".join(json.dumps({
        "host": h, "module_version": v, "seamldr_version": "2.0.00", "cpuid": ["0x806F8"],
        "num_remaining_updates": 3}) + "\n" for h, v in (("a", "1.5.06"), ("b", "1.5.16"))))
    out = tmp_path / "fleet.xml"
    code = main(["fleet", str(fleet), "--to", "1.5.16", "--acknowledge", "all",
                 "--format", "junit", "--output", str(out)])
    assert code == 0
    root = ET.fromstring(out.read_text(encoding="utf-8"))
    assert [s.get("name") for s in root.iter("testsuite")] == ["a", "b"]


def _sim_args(sim: SimKernel) -> list[str]:
    return ["--sysfs-root", str(sim.sysfs), "--proc-root", str(sim.proc), *sim.kernel_args()]


def test_probe_exports_and_host_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from tdxpolicy.host import sysfs as sysfs_mod

    sim = SimKernel(tmp_path / "h")
    monkeypatch.setattr(sysfs_mod, "default_io", lambda: sim)
    monkeypatch.setenv("NODE_NAME", "node-7")
    assert main(["probe", *_sim_args(sim), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["host"] == "node-7"
    assert main(["probe", *_sim_args(sim), "--host", "given", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["host"] == "given"
    assert main(["probe", *_sim_args(sim), "--format", "nfd"]) == 0
    labels = _labels(capsys.readouterr().out)
    assert labels["version"] == "1.5.06" and labels["update-interface"]
    assert labels["update-allowed"] == "false"  # a probe decides nothing: fail closed
    assert main(["probe", *_sim_args(sim), "--format", "prometheus",
                 "--record", str(tmp_path / "none")]) == 0
    fams = _families(capsys.readouterr().out)
    assert fams["tdx_module_info"].samples[0].labels["interface"] != "unknown"


def test_preflight_junit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    from tdxpolicy.cli import host_cmds
    from tdxpolicy.host import sysfs as sysfs_mod

    data, seamhash, key = signed_image(0x200)
    sim = SimKernel(tmp_path / "h")
    monkeypatch.setattr(sysfs_mod, "default_io", lambda: sim)
    monkeypatch.setattr(host_cmds, "TEST_TRUSTED_KEY_HASHES", (key,))
    monkeypatch.setattr(host_cmds, "TEST_CAN_WRITE", lambda p: True)
    policy = tmp_path / "site.tdxpolicy"
    policy.write_text(site_policy_text(seamhash))
    img = tmp_path / "img"
    img.write_bytes(data)
    code = main(["preflight", "--image", str(img), "--no-default-policy", "--policy",
                 str(policy), *_sim_args(sim), "--format", "junit"])
    root = ET.fromstring(capsys.readouterr().out)
    names = {c.get("name") for c in root.iter("testcase")}
    assert {"cpus-online", "kernel-image-format", "svn"} <= names
    assert code in (0, 1)
