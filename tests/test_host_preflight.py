"""preflight: probe + image verification + the engine + host checks, one verdict; exit 0/1/3.

Each host check fails alone here with its exact message; preflight never writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simkernel import Fault, SimKernel, signed_image, site_catalogue, site_policy_text
from tdxpolicy.cli import host_cmds, main
from tdxpolicy.host import sysfs as sysfs_mod
from tdxpolicy.host.preflight import HOST_CHECKS, preflight
from tdxpolicy.host.probe import probe
from tdxpolicy.verdict import MoveOptions
from tdxpolicy.version import parse_version

from test_update import validator


@pytest.fixture(scope="module")
def image() -> tuple[bytes, bytes, str, str]:
    img200, seamhash, key_hash = signed_image(0x200)
    img100, _, _ = signed_image(0x100)
    return img200, img100, seamhash, key_hash


def _pf(sim: SimKernel, image, *, fmt: int = 0x200, can_write: bool = True, **kw: Any):  # type: ignore[no-untyped-def]
    data = image[0] if fmt == 0x200 else image[1]
    stated = kw.pop("kernel", sim.kernel)
    return preflight(probe(sim.sysfs, sim.proc, sim, stated), site_catalogue(image[2]),
                     target=kw.pop("target", None), options=MoveOptions(), image_data=data,
                     image_path="img", can_write=lambda p: can_write,
                     trusted_key_hashes=(image[3],), **kw)


def host_results(pf) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {c.code: (c.result.value, c.message) for c in pf.verdict.checks if c.code in HOST_CHECKS}


def test_all_host_checks_pass(tmp_path: Path, image) -> None:  # type: ignore[no-untyped-def]
    sim = SimKernel(tmp_path)
    pf = _pf(sim, image)
    assert pf.allowed and pf.target == parse_version("1.5.16")
    assert pf.advisories == ("td-build",) and pf.unacknowledged == ("td-build",)
    res = host_results(pf)
    assert set(res) == set(HOST_CHECKS) - {"advisories-acknowledged"}
    assert all(r == "pass" for r, _ in res.values())
    assert res["kernel-image-format"][1] == "the merged kernel accepts 0x200 images"


@pytest.mark.parametrize("spec, fmt, can_write, code, result, message", [
    ({"fault": Fault.BUSY}, 0x200, True, "upload-idle", "fail",
     "another upload is in progress (status: receiving); wait for it to finish (status idle) "
     "and run preflight again"),
    ({"offline": "3,5-6"}, 0x200, True, "cpus-online", "fail",
     "CPUs 3,5-6 are offline; bring every CPU online (echo 1 > "
     "/sys/devices/system/cpu/cpuN/online) before updating"),
    ({"offline": None}, 0x200, True, "cpus-online", "unknown",
     "the kernel does not list offline CPUs (devices/system/cpu/offline is missing)"),
    ({}, 0x200, False, "privileges", "fail",
     "cannot write {upload}/loading, {upload}/data: run as root"),
    ({}, 0x100, True, "kernel-image-format", "fail",
     "the merged kernel accepts only 0x200 images, this one is 0x100: convert it with "
     "'tdxpolicy image convert IN -o OUT'"),
    ({"generation": "legacy"}, 0x200, True, "kernel-image-format", "fail",
     "the legacy kernel accepts only 0x100 images, this one is 0x200: convert it with "
     "'tdxpolicy image convert IN -o OUT --to 0x100'"),
])
def test_one_host_check_fails(spec: dict[str, Any], fmt: int, can_write: bool, code: str,
                              result: str, message: str, tmp_path: Path, image) -> None:  # type: ignore[no-untyped-def]
    sim = SimKernel(tmp_path, **spec)
    before = sim.snapshot()
    pf = _pf(sim, image, fmt=fmt, can_write=can_write)
    assert not pf.allowed
    res = host_results(pf)
    bad = {k: v for k, v in res.items() if v[0] != "pass"}
    assert bad == {code: (result, message.format(upload=sim.upload_dir))}
    assert sim.writes == [] and sim.snapshot() == before


def test_module_lost_and_seamret(tmp_path: Path, image) -> None:  # type: ignore[no-untyped-def]
    sim = SimKernel(tmp_path / "a")
    sim.module_lost = True
    res = host_results(_pf(sim, image))
    assert res["module-alive"][0] == "fail"
    assert res["module-alive"][1].startswith(f"{sim.version_path}: ENXIO: the TDX module is gone")
    sim = SimKernel(tmp_path / "b", bugs=("seamret_invd_vmcs",), upload=False)
    res = host_results(_pf(sim, image))
    assert res["seamret-invd-vmcs"][0] == "fail"
    assert res["upload-interface"] == ("fail", "no upload interface: " + res["seamret-invd-vmcs"][1])
    assert res["upload-idle"][0] == res["privileges"][0] == "unknown"


def test_required_acknowledgement(tmp_path: Path, image) -> None:  # type: ignore[no-untyped-def]
    sim = SimKernel(tmp_path)
    pf = _pf(sim, image, require_acknowledged=True)
    assert host_results(pf)["advisories-acknowledged"] == (
        "fail", "advisories of 1.5.16 not acknowledged: td-build; read them and re-run with "
        "--acknowledge td-build")


# --- the command -----------------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, image, tmp_path: Path):  # type: ignore[no-untyped-def]
    def setup(sim: SimKernel) -> list[str]:
        monkeypatch.setattr(sysfs_mod, "default_io", lambda: sim)
        monkeypatch.setattr(host_cmds, "TEST_TRUSTED_KEY_HASHES", (image[3],))
        policy = tmp_path / "site.tdxpolicy"
        policy.write_text(site_policy_text(image[2]))
        (tmp_path / "img200").write_bytes(image[0])
        (tmp_path / "img100").write_bytes(image[1])
        return ["--no-default-policy", "--policy", str(policy), "--sysfs-root", str(sim.sysfs),
                "--proc-root", str(sim.proc), *sim.kernel_args()]
    return setup


def test_cli_preflight_json(tmp_path: Path, cli, capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
                            repo_root: Path) -> None:
    sim = SimKernel(tmp_path / "h")
    common = cli(sim)
    assert main(["preflight", "--image", str(tmp_path / "img200"), "--format", "json",
                 *common]) == 0
    doc = json.loads(capsys.readouterr().out)
    validator(repo_root, ref="#/$defs/preflight").validate(doc)
    assert doc["allowed"] is True and doc["target"] == "1.5.16"
    assert doc["image"]["version"] == "1.5.16" and doc["image"]["format"] == "0x200"
    assert doc["unacknowledged"] == ["td-build"]
    assert sim.writes == []


def test_cli_preflight_exit_codes(tmp_path: Path, cli, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    sim = SimKernel(tmp_path / "h")
    common = cli(sim)
    before = sim.snapshot()
    assert main(["preflight", "--to", "1.5.16", *common]) == 0
    out = capsys.readouterr().out
    assert "ALLOWED: 1.5.06 -> 1.5.16 (upgrade)" in out
    assert "Advisories to acknowledge before an update: td-build" in out
    assert main(["preflight", "--image", str(tmp_path / "img100"), *common]) == 1
    out = capsys.readouterr().out
    assert "fail    kernel-image-format" in out
    assert main(["preflight", *common]) == 2
    assert capsys.readouterr().err == "tdxpolicy: give --to VERSION or --image PATH\n"
    assert main(["preflight", "--to", "1.5.16", "--sysfs-root", str(tmp_path)]) == 3
    assert "no TDX host interface" in capsys.readouterr().err
    sim.version_path.write_text("\x00\x01")
    before = sim.snapshot()
    assert main(["preflight", "--to", "1.5.16", *common]) == 3
    assert capsys.readouterr().err == (f"tdxpolicy: {sim.version_path}: the TDX module version "
                                       "holds binary data, expected text\n")
    assert sim.writes == [] and sim.snapshot() == before
