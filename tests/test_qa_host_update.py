"""QA (host area): update must write nothing when the upload interface is not what a kernel
creates, and the real writer must never follow a symbolic link planted in sysfs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from simkernel import FakeClock, SimKernel, signed_image, site_catalogue
from tdxpolicy.errors import HostError
from tdxpolicy.host.probe import probe
from tdxpolicy.host.records import read_records
from tdxpolicy.host.sysfs import RealSysfs
from tdxpolicy.host.upload import Outcome, UpdateRequest, run_update
from tdxpolicy.verdict import MoveOptions


@pytest.fixture(scope="module")
def image() -> tuple[bytes, str, str]:
    return signed_image(0x200)


def _request(sim: SimKernel, tmp_path: Path, data: bytes) -> UpdateRequest:
    return UpdateRequest(
        image_data=data, image_path="tdx_module_1.5.16.img",
        options=MoveOptions(acknowledged=frozenset({"td-build"})), timeout=5,
        sysfs_root=sim.sysfs, proc_root=sim.proc, lock_path=tmp_path / "lock",
        record_path=tmp_path / "rec.jsonl", kernel=sim.kernel)


def _plant(sim: SimKernel, name: str, kind: str, tmp_path: Path) -> Path:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    attr = sim.upload_dir / name
    attr.unlink()
    if kind == "symlink":
        attr.symlink_to(target)
    elif kind == "dir":
        attr.mkdir()
    else:
        os.mkfifo(attr)
    return target


@pytest.mark.parametrize("io_kind", ["sim", "real"])
@pytest.mark.parametrize("name, kind", [
    ("data", "symlink"), ("loading", "symlink"), ("data", "dir"), ("status", "fifo"),
])
def test_planted_upload_attribute_writes_nothing(name: str, kind: str, io_kind: str,
                                                 tmp_path: Path, image) -> None:  # type: ignore[no-untyped-def]
    sim = SimKernel(tmp_path / "host", installs="1.5.16")
    elsewhere = _plant(sim, name, kind, tmp_path)
    before = sim.snapshot()
    clock = FakeClock()
    req = _request(sim, tmp_path, image[0])
    with pytest.raises(HostError) as e:
        run_update(req, site_catalogue(image[1]), io=sim if io_kind == "sim" else RealSysfs(),
                   clock=clock, sleep=clock.sleep, trusted_key_hashes=(image[2],))
    assert e.value.code == "bad-host-data"
    assert f"the firmware upload attribute '{name}' in {sim.upload_dir} is not a regular file" \
        in e.value.message
    assert sim.writes == [] and sim.snapshot() == before
    assert elsewhere.read_bytes() == b""
    (rec,) = read_records(req.record_path)
    assert rec["outcome"] == "host-unavailable" and rec["exit_code"] == 3


def test_planted_symlink_swapped_in_after_preflight_is_denied(tmp_path: Path, image) -> None:  # type: ignore[no-untyped-def]
    """The re-read after the lock sees the planted link: denied, nothing written."""
    sim = SimKernel(tmp_path / "host", installs="1.5.16")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"")

    def swap() -> None:
        (sim.upload_dir / "data").unlink()
        (sim.upload_dir / "data").symlink_to(elsewhere)

    sim.on_read(sim.version_path, 2, swap)
    clock = FakeClock()
    result = run_update(_request(sim, tmp_path, image[0]), site_catalogue(image[1]), io=sim,
                        clock=clock, sleep=clock.sleep, trusted_key_hashes=(image[2],))
    assert result.outcome is Outcome.DENIED and result.exit_code == 1
    assert [c.code for c in result.verdict.failed] == ["facts-unchanged"]  # type: ignore[union-attr]
    assert "is not a regular file" in result.verdict.failed[0].message  # type: ignore[union-attr]
    assert sim.writes == [] and elsewhere.read_bytes() == b""


def test_real_writer_does_not_follow_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"")
    link = tmp_path / "data"
    link.symlink_to(target)
    with pytest.raises(OSError):
        RealSysfs().write_bytes(link, b"image")
    assert target.read_bytes() == b""
    assert RealSysfs().is_regular(target) and not RealSysfs().is_regular(link)
    assert not RealSysfs().is_regular(tmp_path)


def test_probe_of_a_clean_tree_still_passes(tmp_path: Path) -> None:
    sim = SimKernel(tmp_path / "host")
    assert probe(sim.sysfs, sim.proc, RealSysfs()).interface.upload_status == "idle"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("ack, outcome, code", [(("td-build",), "updated", 0), ((), "denied", 1)])
def test_record_that_cannot_be_appended_still_reports_the_outcome(
        ack: tuple[str, ...], outcome: str, code: int, tmp_path: Path, image,  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """--record /dev/full opens but every write fails (ENOSPC): the host was (or was not)
    changed, so the outcome must still be printed, with a warning, never a traceback."""
    from tdxpolicy.cli import host_cmds, main
    from tdxpolicy.host import sysfs as sysfs_mod
    from simkernel import site_policy_text

    sim = SimKernel(tmp_path / "host", installs="1.5.16")
    clock = FakeClock()
    monkeypatch.setattr(host_cmds, "TEST_CLOCK", (clock, clock.sleep))
    monkeypatch.setattr(sysfs_mod, "default_io", lambda: sim)
    monkeypatch.setattr(host_cmds, "TEST_TRUSTED_KEY_HASHES", (image[2],))
    img = tmp_path / "tdx_module_1.5.16.img"
    img.write_bytes(image[0])
    policy = tmp_path / "site.tdxpolicy"
    policy.write_text(site_policy_text(image[1]))
    args = ["update", "--image", str(img), "--no-default-policy", "--policy", str(policy),
            "--sysfs-root", str(sim.sysfs), "--proc-root", str(sim.proc), *sim.kernel_args(),
            "--record", "/dev/full", "--lock-file", str(tmp_path / "lock")]
    for w in ack:
        args += ["--acknowledge", w]
    rc = main(args)
    out, err = capsys.readouterr()
    assert rc == code
    assert f"Outcome: {outcome}: " in out
    assert "Traceback" not in out + err
    assert ("tdxpolicy: warning: --record: could not append this attempt to /dev/full: ENOSPC"
            in err)


@pytest.mark.parametrize("value", ["0", "0.5", "-1"])
def test_timeout_below_one_second_is_refused_before_anything(value: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """An upload cannot be cancelled: a timeout that would expire before the first poll is a
    usage error (exit 2), decided before the image is read or the host probed."""
    from tdxpolicy.cli import main

    code = main(["update", "--image", str(tmp_path / "absent.img"), "--timeout", value,
                 "--format", "json"])
    assert code == 2
    assert "is not in the range x>=1.0" in capsys.readouterr().out  # typer 0.28 wording (pyproject)
