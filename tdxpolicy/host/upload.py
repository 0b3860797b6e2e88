"""The guarded update: preflight, lock, re-read, ``fw_upload``, read back, classify, record.

Sequence (docs/cli.md#commands; docs/domain.md#linux-interface):

1. probe and :func:`~tdxpolicy.host.preflight.preflight` with every advisory required to be
   acknowledged; a denial writes nothing (exit 1). ``dry_run`` stops here (exit 0 if allowed);
2. take the exclusive :class:`~tdxpolicy.host.lock.UpdateLock` (held by another run: denied);
3. probe again and compare with what preflight saw: anything changed -> denied;
4. write ``1`` to ``loading``, the image to ``data``, ``0`` to ``loading``;
5. poll ``status`` until ``idle`` (progress callback, ``timeout``);
6. read ``error`` (``<progress>:<error>``), ``version`` and ``num_remaining_updates`` and
   classify: ``updated`` (the target runs, the budget dropped by one), ``rejected`` (an error,
   the module still answers: nothing was lost), ``module-lost`` (``version`` fails with ENXIO:
   every TD is gone, reboot), ``timeout`` (``status`` never returned to ``idle``).

Every run appends one record (:mod:`tdxpolicy.host.records`). The world is injected: the
sysfs I/O, the clocks and the sleep, so that tests drive it with the simulated kernel.
"""

from __future__ import annotations

import datetime as _dt
import errno
import time
import dataclasses
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Collection

from .._value import field, replace, value
from ..catalogue import Catalogue
from ..errors import HostError
from ..hostfacts import HostFacts
from ..verdict import Check, MoveOptions, Result, Verdict
from ..version import Version, VersionError, parse_version
from . import sysfs as _sysfs
from .lock import DEFAULT_LOCK, LockBusy, UpdateLock
from .preflight import ImageInfo, Preflight, image_info, preflight
from ..codecs.hostfacts import to_json as facts_to_json
from .probe import ProbeResult, probe
from .records import DEFAULT_RECORD, RECORD_TAG, RecordFile
from .sysfs import SysfsIO

__all__ = [
    "Outcome",
    "UpdateRequest",
    "UpdateResult",
    "run_update",
    "classify",
    "DEFAULT_TIMEOUT",
]

DEFAULT_TIMEOUT = 300.0


class Outcome(str, Enum):
    UPDATED = "updated"
    REJECTED = "rejected"  # error set, module alive: harmless
    MODULE_LOST = "module-lost"  # version fails with ENXIO: reboot required
    TIMEOUT = "timeout"  # status never returned to idle
    INTERRUPTED = "interrupted"  # the operator stopped the wait (the update itself goes on)
    UNEXPECTED = "unexpected-version"  # no error, but neither the old nor the target version
    DENIED = "denied"  # nothing written
    DRY_RUN = "dry-run"  # allowed, nothing written
    HOST_UNAVAILABLE = "host-unavailable"  # probe failed, nothing written

    @property
    def exit_code(self) -> int:
        return _EXIT[self]


_EXIT = {
    Outcome.UPDATED: 0,
    Outcome.DRY_RUN: 0,
    Outcome.DENIED: 1,
    Outcome.HOST_UNAVAILABLE: 3,
    Outcome.REJECTED: 4,
    Outcome.MODULE_LOST: 4,
    Outcome.TIMEOUT: 4,
    Outcome.INTERRUPTED: 4,
    Outcome.UNEXPECTED: 4,
}


@value
class UpdateRequest:
    image_data: bytes = field(repr=False)
    image_path: str
    target: Version | None = None
    options: MoveOptions = field(default_factory=MoveOptions)
    dry_run: bool = False
    timeout: float = DEFAULT_TIMEOUT
    sysfs_root: Path = Path("/sys")
    proc_root: Path = Path("/proc")
    lock_path: Path = DEFAULT_LOCK
    record_path: Path = DEFAULT_RECORD
    # The running kernel's generation as the operator named it (--kernel), for layouts that
    # several generations share; None: every candidate is held to (the strictest answer).
    kernel: str | None = None


@value
class UpdateResult:
    outcome: Outcome
    message: str
    preflight: Preflight | None
    facts_after: HostFacts | None
    kernel_error: str | None
    record: dict[str, Any]
    # Why the record could not be appended (disk full, I/O error), None when it was. The
    # outcome stands either way: what happened on the host must still be reported.
    record_error: str | None = None

    @property
    def exit_code(self) -> int:
        return self.outcome.exit_code

    @property
    def verdict(self) -> Verdict | None:
        return None if self.preflight is None else self.preflight.verdict


@dataclasses.dataclass
class _Readback:
    status_seen: list[str] = dataclasses.field(default_factory=list)
    write_error: str | None = None  # the upload could not be started or fed
    started: bool = False  # `loading`=0 was written: the kernel owns the update now
    vanished: str | None = None  # status unreadable during the poll
    timed_out: bool = False
    interrupted: bool = False
    error: str | None = None
    version: Version | None = None
    version_error: str | None = None
    module_lost: bool = False
    remaining: int | None = None


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def run_update(
    request: UpdateRequest,
    catalogue: Catalogue,
    *,
    io: SysfsIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], _dt.datetime] = _now,
    progress: Callable[[str, float], None] | None = None,
    can_write: Callable[[Path], bool] | None = None,
    trusted_key_hashes: Collection[str] | None = None,
) -> UpdateResult:
    """Run one update attempt end to end and record it. Raises only
    :class:`~tdxpolicy.errors.InputError` (unwritable record file, unusable image or target:
    before anything happens) and :class:`~tdxpolicy.errors.HostError` (probe failed; recorded).
    """
    io = io if io is not None else _sysfs.default_io()
    t0 = clock()
    started_at = now()
    timings: dict[str, float] = {}
    info = image_info(request.image_data, request.image_path)
    records = RecordFile(request.record_path).open()
    ctx = _Context(request, info, started_at, t0, clock, now, timings, records)
    try:
        try:
            before = probe(request.sysfs_root, request.proc_root, io, request.kernel)
        except HostError as e:
            ctx.finish(Outcome.HOST_UNAVAILABLE, f"probe failed: {e.message}", None, None)
            raise
        pf = preflight(
            before, catalogue, target=request.target, options=request.options,
            image_data=request.image_data, image_path=request.image_path,
            can_write=can_write if can_write is not None else io.writable,
            require_acknowledged=True, trusted_key_hashes=trusted_key_hashes,
        )
        timings["preflight_s"] = clock() - t0
        if not pf.allowed:
            failed = ", ".join(c.code for c in pf.verdict.failed)
            return ctx.finish(Outcome.DENIED, f"denied by preflight ({failed}); nothing was "
                              "written", pf, None)
        if request.dry_run:
            return ctx.finish(Outcome.DRY_RUN, f"dry run: the update to {pf.target} is allowed; "
                              "nothing was written", pf, None)

        lock = UpdateLock(request.lock_path)
        try:
            lock.acquire()
        except LockBusy:
            pf = _with(pf, Check("update-lock", Result.FAIL,
                                 f"another update holds {request.lock_path}; wait for it to end",
                                 None, {"lock": str(request.lock_path)}))
            return ctx.finish(Outcome.DENIED, "denied: another update is running; nothing was "
                              "written", pf, None)
        except OSError as e:
            pf = _with(pf, Check("update-lock", Result.FAIL,
                                 f"cannot create the lock file {request.lock_path}: "
                                 f"{e.strerror or e}; give --lock-file PATH",
                                 None, {"lock": str(request.lock_path)}))
            return ctx.finish(Outcome.DENIED, "denied: no lock; nothing was written", pf, None)
        try:
            pf = _with(pf, Check("update-lock", Result.PASS, f"holding {request.lock_path}", None,
                                 {"lock": str(request.lock_path)}))
            # Re-read the host immediately before writing: preflight's facts must still hold.
            try:
                again = probe(request.sysfs_root, request.proc_root, io, request.kernel)
                changes = _changes(before, again)
            except HostError as e:
                changes = [f"the host can no longer be read: {e.message}"]
            if changes:
                pf = _with(pf, Check("facts-unchanged", Result.FAIL,
                                     "the host changed since preflight: " + "; ".join(changes)
                                     + "; run the update again", None, {"changes": changes}))
                return ctx.finish(Outcome.DENIED, "denied: the host changed since preflight; "
                                  "nothing was written", pf, None)
            pf = _with(pf, Check("facts-unchanged", Result.PASS,
                                 "the host is as preflight saw it", None, {}))
            assert before.interface.upload_dir is not None  # preflight's upload-interface passed
            t_upload = clock()
            rb = _upload(io, before.interface.upload_dir, request.image_data, request.timeout,
                         clock, sleep, progress)
            timings["upload_s"] = clock() - t_upload
            _read_back(io, before, rb)
        finally:
            lock.release()
        outcome, message = classify(before.facts, pf.target, rb)
        try:
            after: HostFacts | None = probe(request.sysfs_root, request.proc_root, io).facts
        except HostError:
            after = None
        if after is None or after.module_version is None:
            # The probe could not say more than the direct reads did.
            after = replace(before.facts, module_version=rb.version,
                            num_remaining_updates=rb.remaining)
        return ctx.finish(outcome, message, pf, after, rb)
    finally:
        records.close()


def _with(pf: Preflight, check: Check) -> Preflight:
    return replace(pf, verdict=pf.verdict.with_checks((check,)))


def _changes(a: ProbeResult, b: ProbeResult) -> list[str]:
    out: list[str] = []
    fa, fb = a.facts, b.facts
    for name in ("module_version", "seamldr_version", "cpuid", "num_remaining_updates"):
        va, vb = getattr(fa, name), getattr(fb, name)
        if va != vb:
            out.append(f"{name} {_show(va)} -> {_show(vb)}")
    ia, ib = a.interface, b.interface
    for name in ("label", "upload_dir", "upload_status", "module_alive", "offline_cpus",
                 "seamret_invd_vmcs"):
        va, vb = getattr(ia, name), getattr(ib, name)
        if va != vb:
            out.append(f"{name} {_show(va)} -> {_show(vb)}")
    return out


def _show(v: Any) -> str:
    if v is None:
        return "unknown"
    if isinstance(v, Enum):
        return str(v.value)
    if isinstance(v, tuple):
        return "[" + ", ".join(hex(x) if isinstance(x, int) else str(x) for x in v) + "]"
    return str(v)


def _upload(
    io: SysfsIO, upload_dir: Path, image: bytes, timeout: float,
    clock: Callable[[], float], sleep: Callable[[float], None],
    progress: Callable[[str, float], None] | None,
) -> _Readback:
    """The fw_upload sequence (docs/domain.md#linux-interface). Never raises for the kernel's
    refusals."""
    rb = _Readback()
    loading, data, status = upload_dir / "loading", upload_dir / "data", upload_dir / "status"
    try:
        io.write_bytes(loading, b"1")
    except OSError as e:
        rb.write_error = f"writing 1 to {loading}: {_errno_text(e)}"
        return rb
    try:
        io.write_bytes(data, image)
    except OSError as e:
        rb.write_error = f"writing the image to {data}: {_errno_text(e)}"
        try:
            # fw_upload: -1 to `loading` aborts an upload that has not been started.
            io.write_bytes(loading, b"-1")
        except OSError:
            pass
        return rb
    try:
        io.write_bytes(loading, b"0")
    except OSError as e:
        rb.write_error = f"writing 0 to {loading}: {_errno_text(e)}"
        return rb
    rb.started = True
    start = clock()
    deadline = start + timeout
    interval = 0.05
    try:
        while True:
            try:
                st = io.read_bytes(status, 64).decode("ascii", "replace").strip()
            except OSError as e:
                rb.vanished = f"reading {status}: {_errno_text(e)}"
                break
            if not rb.status_seen or rb.status_seen[-1] != st:
                rb.status_seen.append(st)
            if progress is not None:
                progress(st, clock() - start)
            if st == "idle":
                break
            if clock() >= deadline:
                rb.timed_out = True
                break
            sleep(interval)
            interval = min(interval * 2, 0.5)
    except KeyboardInterrupt:
        # The kernel cannot cancel an update: stop waiting, but still read back and record.
        rb.interrupted = True
    return rb


def _errno_text(e: OSError) -> str:
    name = errno.errorcode.get(e.errno or 0, "")
    reason = e.strerror or str(e)
    return f"{name} ({reason})" if name else reason


def _read_back(io: SysfsIO, before: ProbeResult, rb: _Readback) -> None:
    iface = before.interface
    assert iface.upload_dir is not None
    try:
        text = io.read_bytes(iface.upload_dir / "error", 256).decode("ascii", "replace").strip()
        rb.error = text or None
    except OSError:
        rb.error = None
    try:
        raw = io.read_bytes(iface.version_path, 64).decode("ascii", "replace").strip()
        rb.version = parse_version(raw)
    except OSError as e:
        # Only the kernel's attribute (a regular file) failing with ENXIO means the module
        # is gone; a special file planted in its place fails the same way (probe.py agrees).
        if e.errno == errno.ENXIO and io.is_regular(iface.version_path):
            rb.module_lost = True
        rb.version_error = _errno_text(e)
    except VersionError as e:
        rb.version_error = str(e)
    try:
        raw = io.read_bytes(iface.remaining_path, 64).decode("ascii", "replace").strip()
        rb.remaining = int(raw) if raw.isdigit() else None
    except OSError:
        rb.remaining = None


def classify(before: HostFacts, target: Version, rb: _Readback) -> tuple[Outcome, str]:
    """The outcome from what the host says after the attempt (docs/domain.md#linux-interface)."""
    if rb.module_lost:
        return Outcome.MODULE_LOST, (
            f"the TDX module is gone (version: {rb.version_error}; kernel error: "
            f"{rb.error or 'none'}): every TD on this host was lost; reboot the host")
    if rb.interrupted:
        return Outcome.INTERRUPTED, (
            "interrupted while waiting for the kernel; the update cannot be cancelled and may "
            "still be running: watch the status file, then run 'tdxpolicy probe'")
    if rb.timed_out:
        last = rb.status_seen[-1] if rb.status_seen else "unknown"
        return Outcome.TIMEOUT, (
            f"the upload did not finish in time (status still {last}); the update cannot be "
            "cancelled: watch the status file, then run 'tdxpolicy probe'")
    if rb.write_error is not None:
        return Outcome.REJECTED, (
            f"the kernel refused the upload ({rb.write_error}); the module still runs "
            f"{rb.version or before.module_version}: nothing was installed")
    if rb.version is None:
        return Outcome.UNEXPECTED, (
            f"the running version cannot be read after the update ({rb.version_error}); "
            "run 'tdxpolicy probe'")
    budget_before = before.num_remaining_updates
    budget_used = (budget_before is not None and rb.remaining is not None
                   and rb.remaining == budget_before - 1)
    if rb.error:
        return Outcome.REJECTED, (
            f"rejected by the kernel ({rb.error}); the module still answers (version "
            f"{rb.version}): no TD was affected")
    vanished = f" (the upload interface vanished: {rb.vanished})" if rb.vanished else ""
    if rb.version == target and (rb.version != before.module_version or budget_used):
        if budget_used:
            note = f"; num_remaining_updates {budget_before} -> {rb.remaining}"
        elif rb.remaining is None:
            note = "; num_remaining_updates can no longer be read"
        else:
            note = (f"; note: num_remaining_updates went {budget_before} -> {rb.remaining}, "
                    "expected one less")
        return Outcome.UPDATED, (f"{before.module_version} -> {rb.version} is running{note}"
                                 f"{vanished}")
    if rb.version == before.module_version:
        return Outcome.REJECTED, (
            f"the kernel reported no error but {rb.version} still runs{vanished}: nothing was "
            "installed")
    return Outcome.UNEXPECTED, (
        f"the host now runs {rb.version}, neither {before.module_version} nor the target "
        f"{target}{vanished}")


@dataclasses.dataclass
class _Context:
    request: UpdateRequest
    info: ImageInfo
    started_at: _dt.datetime
    t0: float
    clock: Callable[[], float]
    now: Callable[[], _dt.datetime]
    timings: dict[str, float]
    records: RecordFile

    def finish(
        self, outcome: Outcome, message: str, pf: Preflight | None, after: HostFacts | None,
        rb: _Readback | None = None,
    ) -> UpdateResult:
        from ..codecs.verdict import verdict_json

        self.timings["total_s"] = self.clock() - self.t0
        req = self.request
        info = pf.image if pf is not None and pf.image is not None else self.info
        kernel_error = rb.error if rb is not None else None
        record: dict[str, Any] = {
            "tdxpolicy": RECORD_TAG,
            "started": self.started_at.isoformat(),
            "finished": self.now().isoformat(),
            "host": pf.probe.facts.host if pf is not None else None,
            "dry_run": req.dry_run,
            "outcome": outcome.value,
            "exit_code": outcome.exit_code,
            "message": message,
            "target": None if pf is None else pf.target.text,
            "image": info.to_json(),
            "facts_before": None if pf is None else facts_to_json(pf.probe.facts),
            "facts_after": None if after is None else facts_to_json(after),
            "interface": None if pf is None else pf.probe.interface.to_json(),
            "allowed": None if pf is None else pf.allowed,
            "verdict": None if pf is None else verdict_json(pf.verdict),
            "acknowledged": sorted(req.options.acknowledged),
            "unacknowledged": [] if pf is None else list(pf.unacknowledged),
            "kernel_error": kernel_error,
            "statuses": [] if rb is None else list(rb.status_seen),
            "write_error": None if rb is None else rb.write_error,
            "timings": {k: round(v, 6) for k, v in self.timings.items()},
        }
        record_error: str | None = None
        try:
            self.records.append(record)
        except OSError as e:
            record_error = (f"--record: could not append this attempt to "
                            f"{self.records.path}: {_errno_text(e)}")
        return UpdateResult(outcome, message, pf, after, kernel_error, record, record_error)
