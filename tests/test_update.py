"""update end to end against the simulated kernel: every fault, every denial path, records.

Must hold (issue 5): nothing is written under the upload directory unless every check passed
(contents and mtimes compared, and the simulator's write log empty) on every denial path and
in dry run; every fault ends with the right outcome, exit code and record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simkernel import (
    Cpu,
    FakeClock,
    Fault,
    SimKernel,
    signed_image,
    site_catalogue,
    site_policy_text,
)
from tdxpolicy.cli import host_cmds
from tdxpolicy.cli import main
from tdxpolicy.errors import HostError, InputError
from tdxpolicy.host import sysfs as sysfs_mod
from tdxpolicy.host.lock import UpdateLock
from tdxpolicy.host.preflight import HOST_CHECKS
from tdxpolicy.host.records import read_records
from tdxpolicy.host.sysfs import RealSysfs
from tdxpolicy.host.upload import Outcome, UpdateRequest, run_update
from tdxpolicy.verdict import MoveOptions
from tdxpolicy.version import parse_version
import os
from tdxpolicy.host.probe import probe

DATA = Path(__file__).parent / "data" / "host"
CASES = json.loads((DATA / "update_cases.json").read_text())["cases"]


@pytest.fixture(scope="module")
def image() -> tuple[bytes, bytes, str, str]:
    img200, seamhash, key_hash = signed_image(0x200)
    img100, seamhash100, _ = signed_image(0x100)
    assert seamhash100 == seamhash
    return img200, img100, seamhash, key_hash


def make_sim(tmp_path: Path, spec: dict[str, Any]) -> SimKernel:
    kw = dict(spec)
    module_lost = kw.pop("module_lost", False)
    if "fault" in kw:
        kw["fault"] = Fault(kw["fault"])
    if "cpus" in kw:
        kw["cpus"] = tuple(Cpu(*c) for c in kw["cpus"])
    if "bugs" in kw:
        kw["bugs"] = tuple(kw["bugs"])
    sim = SimKernel(tmp_path / "host", installs="1.5.16", **kw)
    sim.module_lost = module_lost
    return sim


def request_for(case: dict[str, Any], sim: SimKernel, tmp_path: Path,
                image: tuple[bytes, bytes, str, str]) -> UpdateRequest:
    data = image[1] if case.get("image_format") == 0x100 else image[0]
    return UpdateRequest(
        image_data=data,
        image_path="tdx_module_1.5.16.img",
        target=parse_version(case["to"]) if "to" in case else None,
        options=MoveOptions(acknowledged=frozenset(case.get("acknowledge", ()))),
        dry_run=case.get("dry_run", False),
        timeout=case.get("timeout", 60),
        sysfs_root=sim.sysfs,
        proc_root=sim.proc,
        lock_path=tmp_path / "run" / "tdxpolicy.lock",
        record_path=tmp_path / "var" / "updates.jsonl",
        kernel=sim.kernel,
    )


def validator(repo_root: Path, name: str = "update-record.schema.json", ref: str = ""):  # type: ignore[no-untyped-def]
    import jsonschema
    from referencing import Registry, Resource

    schemas = [json.loads(p.read_text()) for p in (repo_root / "schemas").glob("*.schema.json")]
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas if "$id" in s)
    main_schema = json.loads((repo_root / "schemas" / name).read_text())
    if ref:
        main_schema = {"$ref": main_schema["$id"] + ref}
    return jsonschema.Draft202012Validator(main_schema, registry=registry)


def check_case(case: dict[str, Any], result_outcome: str, exit_code: int, record: dict[str, Any],
               sim: SimKernel, before: dict[str, tuple[bytes, int]], data: bytes) -> None:
    assert result_outcome == case["outcome"]
    assert exit_code == case["exit"]
    assert record["outcome"] == case["outcome"] and record["exit_code"] == case["exit"]
    assert record["kernel_error"] == case.get("kernel_error")
    assert sim.protocol_errors == []
    failed = [c["code"] for c in record["verdict"]["checks"]
              if c["result"] in ("fail", "unknown")] if record["verdict"] else []
    if "failed" in case:
        assert set(case["failed"]) <= set(failed), failed
        # Host checks are exact: none fails beyond the expected ones.
        assert {c for c in failed if c in HOST_CHECKS} == \
            {c for c in case["failed"] if c in HOST_CHECKS}
    else:
        assert failed == []
    if "unacknowledged" in case:
        assert record["unacknowledged"] == case["unacknowledged"]
    if case["written"]:
        # The fw_upload sequence, exactly once: loading=1, the image, loading=0.
        assert sim.writes == [("loading", 1), ("data", len(data)), ("loading", 1)]
        assert sim.uploads == [data]
        after = record["facts_after"]
        assert after.get("module_version") == case["version_after"]
        assert after.get("num_remaining_updates") == case["remaining_after"]
        if "statuses" in case:
            assert record["statuses"] == case["statuses"]
    else:
        assert sim.writes == [] and sim.uploads == []
        assert sim.snapshot() == before  # contents and mtimes of every file
        assert record["facts_after"] is None


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_update_library(case: dict[str, Any], tmp_path: Path, image, repo_root: Path) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim(tmp_path, case["sim"])
    req = request_for(case, sim, tmp_path, image)
    before = sim.snapshot()
    clock = FakeClock()
    seen: list[str] = []
    result = run_update(
        req, site_catalogue(image[2]), io=sim, clock=clock, sleep=clock.sleep,
        progress=lambda status, elapsed: seen.append(status),
        can_write=(lambda p: False) if case.get("can_write") is False else None,
        trusted_key_hashes=None if case.get("trusted") is False else (image[3],),
    )
    records = read_records(req.record_path)
    assert len(records) == 1 and records[0] == result.record
    validator(repo_root).validate(records[0])
    check_case(case, result.outcome.value, result.exit_code, records[0], sim, before,
               req.image_data)
    if case["outcome"] == "timeout":
        assert clock.t >= case["timeout"]
    if case["written"] and case["outcome"] != "timeout":
        assert seen and (seen[-1] == "idle" or case["sim"].get("fault") == "vanish")


CLI_CASES = [c for c in CASES if c["id"] in (
    "updated", "rejected-before-shutdown", "module-lost", "stuck-status-timeout",
    "busy-upload-in-progress", "advisory-not-acknowledged", "dry-run-allowed",
    "dry-run-needs-acknowledgement", "0x100-image-on-merged-kernel", "budget-zero",
    "test-key-not-trusted-by-default", "device-busy", "interface-vanishes-mid-update")]


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, image):  # type: ignore[no-untyped-def]
    clock = FakeClock()
    monkeypatch.setattr(host_cmds, "TEST_CLOCK", (clock, clock.sleep))

    def install(sim: SimKernel, trusted: bool = True) -> None:
        monkeypatch.setattr(sysfs_mod, "default_io", lambda: sim)
        monkeypatch.setattr(host_cmds, "TEST_TRUSTED_KEY_HASHES",
                            (image[3],) if trusted else None)
    return install


def cli_args(case: dict[str, Any], sim: SimKernel, tmp_path: Path, image, fmt: str) -> list[str]:  # type: ignore[no-untyped-def]
    img = tmp_path / ("tdx_module_1.5.16.img")
    img.write_bytes(image[1] if case.get("image_format") == 0x100 else image[0])
    policy = tmp_path / "site.tdxpolicy"
    policy.write_text(site_policy_text(image[2]))
    args = ["update", "--image", str(img), "--no-default-policy", "--policy", str(policy),
            "--sysfs-root", str(sim.sysfs), "--proc-root", str(sim.proc), *sim.kernel_args(),
            "--record", str(tmp_path / "var" / "updates.jsonl"),
            "--lock-file", str(tmp_path / "run" / "tdxpolicy.lock"),
            "--timeout", str(case.get("timeout", 60)), "--format", fmt]
    for w in case.get("acknowledge", ()):
        args += ["--acknowledge", w]
    if case.get("dry_run"):
        args.append("--dry-run")
    if "to" in case:
        args += ["--to", case["to"]]
    return args


@pytest.mark.parametrize("case", CLI_CASES, ids=[c["id"] for c in CLI_CASES])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_update_cli(case: dict[str, Any], fmt: str, tmp_path: Path, image, cli_env,  # type: ignore[no-untyped-def]
                    capsys: pytest.CaptureFixture[str], repo_root: Path) -> None:
    sim = make_sim(tmp_path, case["sim"])
    cli_env(sim, trusted=case.get("trusted", True))
    args = cli_args(case, sim, tmp_path, image, fmt)
    before = sim.snapshot()
    code = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    records = read_records(tmp_path / "var" / "updates.jsonl")
    assert len(records) == 1
    data = Path(args[2]).read_bytes()
    check_case(case, records[0]["outcome"], code, records[0], sim, before, data)
    if fmt == "json":
        doc = json.loads(out)
        validator(repo_root).validate(doc)
        assert doc["outcome"] == case["outcome"]
    else:
        assert f"Outcome: {case['outcome']}: " in out
        if case.get("kernel_error"):
            assert f"Kernel error: {case['kernel_error']}\n" in out


def test_cli_text_updated(tmp_path: Path, image, cli_env, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    case = next(c for c in CASES if c["id"] == "updated")
    sim = make_sim(tmp_path, case["sim"])
    cli_env(sim)
    assert main(cli_args(case, sim, tmp_path, image, "text")) == 0
    out, err = capsys.readouterr()
    assert out == ("Outcome: updated: 1.5.06 -> 1.5.16 is running; num_remaining_updates 12 -> "
                   "11\n")
    assert err == ""  # no progress display: stderr is not a terminal


def test_cli_dry_run_lists_acknowledgements(tmp_path: Path, image, cli_env,  # type: ignore[no-untyped-def]
                                            capsys: pytest.CaptureFixture[str]) -> None:
    case = next(c for c in CASES if c["id"] == "dry-run-needs-acknowledgement")
    sim = make_sim(tmp_path, case["sim"])
    cli_env(sim)
    assert main(cli_args(case, sim, tmp_path, image, "text")) == 1
    out, _ = capsys.readouterr()
    assert ("fail    advisories-acknowledged  advisories of 1.5.16 not acknowledged: td-build; "
            "read them and re-run with --acknowledge td-build") in out
    assert out.endswith("Outcome: denied: denied by preflight (advisories-acknowledged); nothing "
                        "was written\n")


# --- the lock, the re-read, the record file ------------------------------------------------------


def _run(sim: SimKernel, tmp_path: Path, image, **kw: Any):  # type: ignore[no-untyped-def]
    case = {"acknowledge": ["td-build"], **kw.pop("case", {})}
    req = request_for(case, sim, tmp_path, image)
    clock = FakeClock()
    return req, run_update(req, site_catalogue(image[2]), io=kw.pop("io", sim), clock=clock,
                           sleep=clock.sleep, trusted_key_hashes=(image[3],), **kw)


def test_concurrent_update_is_denied(tmp_path: Path, image) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim(tmp_path, {})
    before = sim.snapshot()
    with UpdateLock(tmp_path / "run" / "tdxpolicy.lock"):
        req, result = _run(sim, tmp_path, image)
    assert result.outcome is Outcome.DENIED and result.exit_code == 1
    assert [c.code for c in result.verdict.failed] == ["update-lock"]  # type: ignore[union-attr]
    assert sim.writes == [] and sim.snapshot() == before
    # Once the other run is gone, the same update goes through.
    req, result = _run(sim, tmp_path, image)
    assert result.outcome is Outcome.UPDATED
    assert [r["outcome"] for r in read_records(req.record_path)] == ["denied", "updated"]


def test_lock_file_cannot_be_created(tmp_path: Path, image) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim(tmp_path, {})
    (tmp_path / "run").write_text("a file where the lock directory should be")
    req, result = _run(sim, tmp_path, image)
    assert result.outcome is Outcome.DENIED
    assert sim.writes == []


@pytest.mark.parametrize("change, expected", [
    ("version", "module_version 1.5.06 -> 1.5.08"),
    ("remaining", "num_remaining_updates 12 -> 11"),
    ("vanish", "upload_dir "),
    ("busy", "upload_status idle -> receiving"),
])
def test_facts_changed_before_write(change: str, expected: str, tmp_path: Path, image) -> None:  # type: ignore[no-untyped-def]
    """The host is read again right before writing; a difference denies."""
    sim = make_sim(tmp_path, {})

    def act() -> None:
        if change == "version":
            sim.set_version("1.5.08")
        elif change == "remaining":
            sim.remaining_path.write_text("11\n")
        elif change == "vanish":
            sim._vanish()
        else:
            sim.status = "receiving"
            sim._mirror()

    sim.on_read(sim.version_path, 2, act)  # the second probe: after the lock
    before = sim.snapshot()
    req, result = _run(sim, tmp_path, image)
    assert result.outcome is Outcome.DENIED and result.exit_code == 1
    failed = [c for c in result.verdict.failed]  # type: ignore[union-attr]
    assert [c.code for c in failed] == ["facts-unchanged"]
    assert expected in failed[0].message
    assert sim.writes == []
    if change != "vanish":
        changed = {k for k in before if sim.snapshot()[k] != before[k]}
        assert changed <= {str(sim.version_path), str(sim.remaining_path),
                           str(sim.upload_dir / "status"), str(sim.upload_dir / "error")}


def test_unwritable_record_stops_before_anything(tmp_path: Path, image) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim(tmp_path, {})
    (tmp_path / "var").write_text("not a directory")
    with pytest.raises(InputError) as e:
        _run(sim, tmp_path, image)
    assert e.value.code == "unwritable-record"
    assert e.value.message.startswith(f"--record: cannot open {tmp_path}/var/updates.jsonl for "
                                      "appending: ")
    assert sim.writes == [] and sim._read_counts == {}


def test_host_error_is_recorded(tmp_path: Path, image) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim(tmp_path, {})
    sim.version_path.write_text("garbage\n")
    with pytest.raises(HostError):
        req, _ = _run(sim, tmp_path, image)
    (rec,) = read_records(tmp_path / "var" / "updates.jsonl")
    assert rec["outcome"] == "host-unavailable" and rec["exit_code"] == 3
    assert rec["image"]["sha256"] and rec["verdict"] is None
    assert sim.writes == []


def test_denials_with_the_real_writer(tmp_path: Path, image) -> None:  # type: ignore[no-untyped-def]
    """The production I/O (RealSysfs) on plain files: denial and dry run touch nothing."""
    for i, spec in enumerate(({"fault": "busy"}, {"offline": "1"}, {"fault": "budget-zero"})):
        sim = make_sim(tmp_path / str(i), spec)
        before = sim.snapshot()
        _, result = _run(sim, tmp_path / str(i), image, io=RealSysfs())
        assert result.outcome is Outcome.DENIED
        assert sim.snapshot() == before
    sim = make_sim(tmp_path / "dry", {})
    before = sim.snapshot()
    _, result = _run(sim, tmp_path / "dry", image, io=RealSysfs(), case={"dry_run": True})
    assert result.outcome is Outcome.DRY_RUN and sim.snapshot() == before


def test_records_accumulate(tmp_path: Path, image, repo_root: Path) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim(tmp_path, {})
    _run(sim, tmp_path, image, case={"dry_run": True})
    _run(sim, tmp_path, image)
    _run(sim, tmp_path, image)  # 1.5.16 now runs: a reinstall, uses one more update
    recs = read_records(tmp_path / "var" / "updates.jsonl")
    assert [r["outcome"] for r in recs] == ["dry-run", "updated", "updated"]
    assert [r["facts_after"] and r["facts_after"]["num_remaining_updates"] for r in recs] == \
        [None, 11, 10]
    assert recs[2]["verdict"]["kind"] == "reinstall"
    v = validator(repo_root)
    for r in recs:
        v.validate(r)
        assert r["image"]["sha384"] == __import__("hashlib").sha384(image[0]).hexdigest()


def test_sim_refuses_bad_header_harmlessly(tmp_path: Path) -> None:
    """The simulator's kernel checks the header itself (a guard for the simulator)."""
    sim = SimKernel(tmp_path, installs="1.5.16")
    io = sim
    io.write_bytes(sim.upload_dir / "loading", b"1")
    io.write_bytes(sim.upload_dir / "data", b"\0" * 8192)
    io.write_bytes(sim.upload_dir / "loading", b"0")
    statuses = [io.read_bytes(sim.upload_dir / "status").decode().strip() for _ in range(3)]
    assert statuses == ["preparing", "idle", "idle"]
    assert (sim.upload_dir / "error").read_text().strip() == "preparing:firmware-invalid"


class _Tty:
    def __init__(self) -> None:
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self.text += s
        return len(s)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("case_id, last", [("updated", "idle"), ("stuck-status-timeout",
                                                                  "transferring")])
def test_progress_on_a_terminal(case_id: str, last: str, tmp_path: Path, image, cli_env,  # type: ignore[no-untyped-def]
                                monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    case = next(c for c in CASES if c["id"] == case_id)
    sim = make_sim(tmp_path, case["sim"])
    cli_env(sim)
    args = cli_args(case, sim, tmp_path, image, "text")
    tty = _Tty()
    monkeypatch.setattr("sys.stderr", tty)
    main(args)
    lines = tty.text.split("\r\x1b[K")
    assert [ln.split()[1] for ln in lines[1:2]] == ["preparing"]
    assert lines[-1].startswith(f"updating: {last}") and lines[-1].endswith(" s\n")


def test_interrupted_wait_is_recorded(tmp_path: Path, image, repo_root: Path) -> None:  # type: ignore[no-untyped-def]
    sim = make_sim(tmp_path, {"fault": "stuck"})
    clock = FakeClock()

    def sleep(s: float) -> None:
        raise KeyboardInterrupt

    req = request_for({"acknowledge": ["td-build"]}, sim, tmp_path, image)
    result = run_update(req, site_catalogue(image[2]), io=sim, clock=clock, sleep=sleep,
                        trusted_key_hashes=(image[3],))
    assert result.outcome is Outcome.INTERRUPTED and result.exit_code == 4
    (rec,) = read_records(req.record_path)
    validator(repo_root).validate(rec)
    assert rec["statuses"] == ["preparing"] and rec["outcome"] == "interrupted"
    # The lock was released: the next run is not blocked by it (but by the busy upload).
    _, again = _run(sim, tmp_path, image)
    assert [c.code for c in again.verdict.failed] == ["upload-idle"]  # type: ignore[union-attr]


# --- update writes nothing to an unexpected upload interface (was test_qa_host_update.py)


@pytest.fixture(scope="module")
def image200() -> tuple[bytes, str, str]:
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
                                                 tmp_path: Path, image200) -> None:  # type: ignore[no-untyped-def]
    sim = SimKernel(tmp_path / "host", installs="1.5.16")
    elsewhere = _plant(sim, name, kind, tmp_path)
    before = sim.snapshot()
    clock = FakeClock()
    req = _request(sim, tmp_path, image200[0])
    with pytest.raises(HostError) as e:
        run_update(req, site_catalogue(image200[1]), io=sim if io_kind == "sim" else RealSysfs(),
                   clock=clock, sleep=clock.sleep, trusted_key_hashes=(image200[2],))
    assert e.value.code == "bad-host-data"
    assert f"the firmware upload attribute '{name}' in {sim.upload_dir} is not a regular file" \
        in e.value.message
    assert sim.writes == [] and sim.snapshot() == before
    assert elsewhere.read_bytes() == b""
    (rec,) = read_records(req.record_path)
    assert rec["outcome"] == "host-unavailable" and rec["exit_code"] == 3


def test_planted_symlink_swapped_in_after_preflight_is_denied(tmp_path: Path, image200) -> None:  # type: ignore[no-untyped-def]
    """The re-read after the lock sees the planted link: denied, nothing written."""
    sim = SimKernel(tmp_path / "host", installs="1.5.16")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"")

    def swap() -> None:
        (sim.upload_dir / "data").unlink()
        (sim.upload_dir / "data").symlink_to(elsewhere)

    sim.on_read(sim.version_path, 2, swap)
    clock = FakeClock()
    result = run_update(_request(sim, tmp_path, image200[0]), site_catalogue(image200[1]), io=sim,
                        clock=clock, sleep=clock.sleep, trusted_key_hashes=(image200[2],))
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
        ack: tuple[str, ...], outcome: str, code: int, tmp_path: Path, image200,  # type: ignore[no-untyped-def]
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
    monkeypatch.setattr(host_cmds, "TEST_TRUSTED_KEY_HASHES", (image200[2],))
    img = tmp_path / "tdx_module_1.5.16.img"
    img.write_bytes(image200[0])
    policy = tmp_path / "site.tdxpolicy"
    policy.write_text(site_policy_text(image200[1]))
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
    usage error (exit 2), decided before the image200 is read or the host probed."""
    from tdxpolicy.cli import main

    code = main(["update", "--image", str(tmp_path / "absent.img"), "--timeout", value,
                 "--format", "json"])
    assert code == 2
    assert "is not in the range x>=1.0" in capsys.readouterr().out  # typer 0.28 wording (pyproject)
