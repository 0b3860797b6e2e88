"""A simulated kernel: a fake sysfs/procfs tree driven like the real TDX host driver.

The tree is made of plain files (so the real reader, :class:`~tdxpolicy.host.sysfs.RealSysfs`,
can probe it and tests can check contents and mtimes), and :class:`SimKernel` also implements
the :class:`~tdxpolicy.host.sysfs.SysfsIO` protocol in-process for what plain files cannot do
(docs/domain.md#linux-interface):

* writing ``1`` to ``loading`` starts a ``fw_upload`` (status ``receiving``; ``EBUSY`` if one
  is already running), ``data`` collects the image, ``0`` to ``loading`` ends it;
* every read of ``status`` then moves the upload on: ``preparing`` -> ``transferring`` ->
  ``programming`` -> ``idle``;
* ``error`` is empty on success or ``<progress>:<error>`` (``transferring:firmware-invalid``,
  ``preparing:device-busy``, ...);
* on success the running ``version`` becomes the installed one and ``num_remaining_updates``
  drops by one; after a destructive failure reading ``version`` fails with ``ENXIO``.

The kernel itself only validates the image header (0x200 on the merged kernel, 0x100 on older
ones); what P-SEAMLDR would do afterwards is chosen by the test through :class:`Fault`.
Every write is logged in :attr:`SimKernel.writes`, and protocol misuse (data before
``loading``=1, ...) in :attr:`SimKernel.protocol_errors`.
"""

from __future__ import annotations

import errno
import os
import shutil
import struct
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Callable

from tdxpolicy.host.sysfs import ATTR_LIMIT, RealSysfs

__all__ = ["Fault", "Cpu", "SimKernel", "LAYOUTS", "SAPPHIRE_RAPIDS", "GRANITE_RAPIDS",
           "signed_image", "site_policy_text", "site_catalogue", "header_ok", "FakeClock"]


class Fault(str, Enum):
    NONE = "none"
    REJECT = "reject"  # P-SEAMLDR refuses before the old module shuts down: harmless
    MODULE_LOST = "module-lost"  # refused after shutdown: ENXIO on version, reboot required
    STUCK = "stuck"  # status stays `transferring`
    BUSY = "busy"  # another upload is in progress (status `receiving`, loading=1 -> EBUSY)
    DEVICE_BUSY = "device-busy"  # v8-v10 kernels: TD build in progress -> preparing:device-busy
    VANISH = "vanish"  # the upload directory disappears mid-update
    BUDGET_ZERO = "budget-zero"  # num_remaining_updates is 0


@dataclass(frozen=True)
class Cpu:
    family: int
    model: int
    stepping: int


SAPPHIRE_RAPIDS = Cpu(6, 0x8F, 8)  # CPUID.1.EAX 0x806F8
GRANITE_RAPIDS = Cpu(6, 0xAD, 1)  # 0xA06D1

# generation -> (version, seamldr version, remaining, upload dir), relative to the sysfs root.
# Written from the kernel series' own patches (docs/kernel-generations.md), independently of
# tdxpolicy.generations, so that the probe is tested against a second reading of the sources.
_FLAT = (
    "devices/faux/tdx_host/version",
    "devices/faux/tdx_host/seamldr_version",
    "devices/faux/tdx_host/num_remaining_updates",
    "class/firmware/tdx_module",
)
_SEAMLDR_DIR = (
    "devices/faux/tdx_host/version",
    "devices/faux/tdx_host/seamldr/version",
    "devices/faux/tdx_host/seamldr/num_remaining_updates",
)
LAYOUTS = {
    "merged": _FLAT,
    "v9-v10": _FLAT,
    "v8": _FLAT,
    "v4-v7": _SEAMLDR_DIR + ("class/firmware/tdx_module",),
    "v1-v3": _SEAMLDR_DIR + ("class/firmware/seamldr_upload",),
    # The name this simulator used before the generations were split: the v1-v3 tree.
    "series-v3-v7": _SEAMLDR_DIR + ("class/firmware/seamldr_upload",),
    "legacy": (
        "devices/virtual/tdx/tdx_tsm/version",
        "devices/virtual/tdx/seamldr/version",
        "devices/virtual/tdx/seamldr/num_remaining_updates",
        "class/firmware/seamldr_upload",
    ),
}

# What each kernel does with an image before P-SEAMLDR sees it.
TAKES_0x200 = {"merged", "v9-v10"}
VERIFIES_CHECKSUM = {"v1-v3", "series-v3-v7", "legacy"}
# Kernels that pass a multi-page sigstruct with seamldr_params.version = 1 (v5-v8 changelogs).
MULTI_PAGE_V1 = {"v4-v7", "v8"}
# Kernels that set AVOID_COMPAT_SENSITIVE on TDH.SYS.SHUTDOWN unconditionally (v8-v10).
SHUTDOWN_FLAG_ALWAYS = {"v8", "v9-v10"}
UPDATE_COMPAT = 1 << 47


def _word_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    return sum(struct.unpack(f"<{len(data) // 2}H", data)) & 0xFFFF


def header_ok(image: bytes, generation: str) -> bool:
    """The kernel's own header check (docs/domain.md#image-formats); nothing else."""
    if generation in TAKES_0x200:
        if len(image) < 4096:
            return False
        version, _ck, sig, sig_pages, mod_pages = struct.unpack_from("<HH8sII", image, 0)
        return (
            version == 0x200
            and sig == b"TDX-BLOB"
            and sig_pages <= 1
            and mod_pages <= 496
            and len(image) == 4096 * (1 + sig_pages + mod_pages)
        )
    if len(image) < 24:
        return False
    version, _ck, _off, sig, length = struct.unpack_from("<HHI8sI", image, 0)
    if generation in VERIFIES_CHECKSUM and _word_sum(image) != 0:
        return False
    return version == 0x100 and sig == b"TDX-BLOB" and length == len(image)


def sigstruct_pages(image: bytes) -> int:
    """How many sigstruct pages the header declares."""
    version = struct.unpack_from("<H", image, 0)[0]
    if version == 0x200:
        return int(struct.unpack_from("<I", image, 12)[0])
    return max(0, (int(struct.unpack_from("<I", image, 4)[0]) - 4096) // 4096)


class SimKernel:
    """A fake TDX host. ``installs`` is the version a successful update leaves running."""

    def __init__(
        self,
        root: Path,
        *,
        generation: str = "merged",
        module: str = "1.5.06",
        seamldr: str | None = "2.0.00",
        remaining: int | None = 12,
        cpus: tuple[Cpu, ...] = (SAPPHIRE_RAPIDS, SAPPHIRE_RAPIDS),
        threads_per_package: int = 2,
        offline: str | None = "",
        bugs: tuple[str, ...] = (),
        hostname: str = "sim-host",
        upload: bool = True,
        installs: str | None = None,
        fault: Fault = Fault.NONE,
        vanish_module_lost: bool = False,
        vanish_updated: bool = False,
        features0: int = 0x226F3F0FBF,
    ) -> None:
        self.root = Path(root)
        self.sysfs = self.root / "sys"
        self.proc = self.root / "proc"
        self.generation = generation
        self.installs = installs
        self.fault = fault
        self.vanish_module_lost = vanish_module_lost
        # The new module lacks TD-preserving support: the kernel drops the upload interface
        # and the P-SEAMLDR attributes with it (docs/domain.md#linux-interface).
        self.vanish_updated = vanish_updated
        # TDX_FEATURES0 of the running module (default: 1.5.16's, no UPDATE_COMPAT) and the
        # P-SEAMLDR version: they decide what the shutdown and install steps do.
        self.features0 = features0
        self.seamldr = seamldr
        v, s, r, u = LAYOUTS[generation]
        self.version_path = self.sysfs / v
        self.seamldr_path = self.sysfs / s
        self.remaining_path = self.sysfs / r
        self.upload_dir = self.sysfs / u
        self.module_lost = False
        self.vanished = False
        self.status = "receiving" if fault is Fault.BUSY else "idle"
        self.error = ""
        self.received = bytearray()
        self.uploads: list[bytes] = []
        self.writes: list[tuple[str, int]] = []
        self.protocol_errors: list[str] = []
        self.denied_reads: set[Path] = set()
        self._pending: list[str] = []
        self._final: Callable[[], None] | None = None
        self._read_counts: dict[Path, int] = {}
        self._triggers: list[tuple[Path, int, Callable[[], None]]] = []
        self._real = RealSysfs()
        if fault is Fault.BUDGET_ZERO:
            remaining = 0
        self._build(module, seamldr, remaining, cpus, threads_per_package, offline, bugs,
                    hostname, upload)

    # --- the tree ------------------------------------------------------------------------------

    def _build(self, module: str, seamldr: str | None, remaining: int | None,
               cpus: tuple[Cpu, ...], threads: int, offline: str | None, bugs: tuple[str, ...],
               hostname: str, upload: bool) -> None:
        self._put(self.version_path, module + "\n")
        if upload:
            if seamldr is not None:
                self._put(self.seamldr_path, seamldr + "\n")
            if remaining is not None:
                self._put(self.remaining_path, f"{remaining}\n")
            self.upload_dir.mkdir(parents=True, exist_ok=True)
            for name, content in (("loading", "0\n"), ("data", ""), ("status", self.status + "\n"),
                                  ("error", "\n"), ("remaining_size", "0\n"), ("cancel", "")):
                self._put(self.upload_dir / name, content)
        if offline is not None:
            self._put(self.sysfs / "devices/system/cpu/offline", offline + "\n")
        lines: list[str] = []
        n = 0
        for pkg, cpu in enumerate(cpus):
            for _ in range(threads):
                lines += [
                    f"processor\t: {n}",
                    "vendor_id\t: GenuineIntel",
                    f"cpu family\t: {cpu.family}",
                    f"model\t\t: {cpu.model}",
                    "model name\t: Intel(R) Xeon(R) simulated",
                    f"stepping\t: {cpu.stepping}",
                    f"physical id\t: {pkg}",
                    "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic",
                    "bugs\t\t: spectre_v1 spectre_v2" + "".join(" " + b for b in bugs),
                    "",
                ]
                n += 1
        self._put(self.proc / "cpuinfo", "\n".join(lines) + "\n")
        self._put(self.proc / "sys/kernel/hostname", hostname + "\n")

    @staticmethod
    def _put(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def _mirror(self) -> None:
        """Keep the files on disk in step with the state, for RealSysfs readers and tests."""
        if not self.vanished and self.upload_dir.is_dir():
            self._put(self.upload_dir / "status", self.status + "\n")
            self._put(self.upload_dir / "error", self.error + "\n")

    def on_read(self, path: Path, count: int, action: Callable[[], None]) -> None:
        """Run ``action`` just before the ``count``-th read of ``path`` returns."""
        self._triggers.append((Path(path), count, action))

    @property
    def kernel(self) -> str:
        """The tree's own generation, as a test states it with ``--kernel`` (sysfs alone cannot
        tell v8, v9-v10 and merged apart)."""
        return "v1-v3" if self.generation == "series-v3-v7" else self.generation

    def kernel_args(self) -> list[str]:
        return ["--kernel", self.kernel]

    def set_version(self, text: str) -> None:
        self._put(self.version_path, text + "\n")

    # --- SysfsIO ---------------------------------------------------------------------------------

    def read_bytes(self, path: Path, limit: int = ATTR_LIMIT) -> bytes:
        path = Path(path)
        n = self._read_counts.get(path, 0) + 1
        self._read_counts[path] = n
        for p, c, action in self._triggers:
            if p == path and c == n:
                action()
        if path in self.denied_reads:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        if path == self.version_path and self.module_lost:
            raise OSError(errno.ENXIO, "No such device or address", str(path))
        if self._under_upload(path) and self.vanished:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        if path == self.upload_dir / "status":
            # The file always holds the current state (see _mirror); reading moves it on.
            current = self._real.read_bytes(path, limit)
            self._advance()
            return current
        return self._real.read_bytes(path, limit)

    def write_bytes(self, path: Path, data: bytes) -> None:
        path = Path(path)
        if not self._under_upload(path):
            self.protocol_errors.append(f"write outside the upload directory: {path}")
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        if self.vanished or not path.exists():
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        self.writes.append((path.name, len(data)))
        name = path.name
        if name == "loading":
            word = data.strip()
            if word == b"1":
                if self.status != "idle":
                    raise OSError(errno.EBUSY, "Device or resource busy", str(path))
                self.status = "receiving"
                self.error = ""
                self.received = bytearray()
            elif word == b"-1":
                # fw_upload: abort an upload that has not been started.
                if self.status == "receiving":
                    self.status = "idle"
                    self.error = "receiving:user-abort"
            elif word == b"0":
                if self.status != "receiving":
                    self.protocol_errors.append("loading=0 without loading=1")
                    raise OSError(errno.EINVAL, "Invalid argument", str(path))
                self._start(bytes(self.received))
            else:
                self.protocol_errors.append(f"loading={data!r}")
                raise OSError(errno.EINVAL, "Invalid argument", str(path))
            with open(path, "wb") as f:
                f.write(data)
        elif name == "data":
            if self.status != "receiving":
                self.protocol_errors.append("data written while not receiving")
                raise OSError(errno.EINVAL, "Invalid argument", str(path))
            self.received += data
            with open(path, "ab") as f:
                f.write(data)
        else:
            self.protocol_errors.append(f"unexpected write to {name}")
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        self._mirror()

    def exists(self, path: Path) -> bool:
        if self._under_upload(Path(path)) and self.vanished:
            return False
        return self._real.exists(path)

    def is_dir(self, path: Path) -> bool:
        if self._under_upload(Path(path)) and self.vanished:
            return False
        return self._real.is_dir(path)

    def is_regular(self, path: Path) -> bool:
        if self._under_upload(Path(path)) and self.vanished:
            return False
        return self._real.is_regular(path)

    def writable(self, path: Path) -> bool:
        return self.exists(path)

    # --- the update --------------------------------------------------------------------------

    def _under_upload(self, path: Path) -> bool:
        return path == self.upload_dir or self.upload_dir in path.parents

    def _start(self, image: bytes) -> None:
        self.uploads.append(image)
        self.status = "preparing"
        fault = self.fault
        if not header_ok(image, self.generation):
            self._plan(["idle"], self._fail("preparing:firmware-invalid"))
        elif fault is Fault.DEVICE_BUSY:
            self._plan(["idle"], self._fail("preparing:device-busy"))
        elif self.generation in SHUTDOWN_FLAG_ALWAYS and not self.features0 & UPDATE_COMPAT:
            # TDH.SYS.SHUTDOWN refuses the flag: the update stops before shutdown (-EIO).
            self._plan(["transferring", "idle"], self._fail("transferring:firmware-invalid"))
        elif (self.generation in MULTI_PAGE_V1 and sigstruct_pages(image) > 1
              and (self.seamldr or "").startswith("1.5.")):
            # seamldr_params.version 1: P-SEAMLDR 1.5 returns EBADPARAM after shutdown.
            self._plan(["transferring", "idle"], self._lose)
        elif self._remaining() == 0:
            self._plan(["idle"], self._fail("preparing:firmware-invalid"))
        elif fault is Fault.REJECT:
            self._plan(["transferring", "idle"], self._fail("transferring:firmware-invalid"))
        elif fault is Fault.MODULE_LOST:
            self._plan(["transferring", "idle"], self._lose)
        elif fault is Fault.STUCK:
            self._plan(["transferring"], None)  # and stays there
        elif fault is Fault.VANISH:
            self._plan(["transferring", "programming", "idle"], self._vanish)
        else:
            self._plan(["transferring", "programming", "idle"], self._succeed)

    def _plan(self, states: list[str], final: Callable[[], None] | None) -> None:
        self._pending = states
        self._final = final

    def _advance(self) -> None:
        if not self._pending:
            return
        nxt = self._pending.pop(0)
        if self.fault is Fault.VANISH and nxt == "programming":
            self._vanish()
            return
        if nxt == "idle" and self._final is not None:
            self._final()
        self.status = nxt
        self._mirror()

    def _remaining(self) -> int | None:
        try:
            return int(self.remaining_path.read_text())
        except (OSError, ValueError):
            return None

    def _fail(self, error: str) -> Callable[[], None]:
        def apply() -> None:
            self.error = error
        return apply

    def _lose(self) -> None:
        self.error = "transferring:firmware-invalid"
        self.module_lost = True

    def _succeed(self) -> None:
        if self.installs is None:
            raise AssertionError("SimKernel(installs=...) is needed for a successful update")
        self.set_version(self.installs)
        r = self._remaining()
        if r is not None:
            self._put(self.remaining_path, f"{r - 1}\n")
        self.error = ""

    def _vanish(self) -> None:
        self.vanished = True
        self._pending = []
        if self.vanish_module_lost:
            self.module_lost = True
        if self.vanish_updated:
            assert self.installs is not None
            self.set_version(self.installs)
            self.seamldr_path.unlink(missing_ok=True)
            self.remaining_path.unlink(missing_ok=True)
        shutil.rmtree(self.upload_dir, ignore_errors=True)

    # --- helpers for tests -------------------------------------------------------------------

    def snapshot(self) -> dict[str, tuple[bytes, int]]:
        """Contents and mtimes (ns) of every file under the upload directory and tdx_host."""
        out: dict[str, tuple[bytes, int]] = {}
        for top in (self.upload_dir, self.version_path.parent):
            if not top.is_dir():
                continue
            for dirpath, _dirs, files in os.walk(top):
                for f in files:
                    p = Path(dirpath) / f
                    if not p.is_file():  # a FIFO planted by a hostile-content test
                        out[str(p)] = (b"", p.lstat().st_mtime_ns)
                        continue
                    out[str(p)] = (p.read_bytes(), p.stat().st_mtime_ns)
        return out


# --- a signed image and a catalogue that knows it (for host tests) ------------------------------

SITE_POLICY = """\
format 1
issued 2026-01-01
source "tests/simkernel.py"

release 1.5.06 {{
    features0   0x2E1F0FBF
    svn         1.9
    platforms   0x806F8
    seamldr     2.0.00
    handoff     module 0 min 0
    update from >= 1.5.01
}}

release 1.5.16 {{
    mrseam      0x{seamhash}
    seamhash    0x{seamhash}
    features0   0x226F3F0FBF
    svn         1.11
    platforms   0x806F8 0xC06F0 0xA06F0
    seamldr     1.5.00 2.0.00
    handoff     module 0 min 0
    update from >= 1.5.01
    advisory td-build "Do not update while a TD build is in progress: the TD's measurement may be corrupted."
}}
"""


def signed_image(fmt: int = 0x200) -> tuple[bytes, str, str]:
    """(image bytes, seamhash hex, trusted key hash): a 1.5.16-like image signed with the
    test key of tests/imagekit.py."""
    import hashlib

    from imagekit import build_image, make_module, test_key

    data = build_image(fmt)
    seamhash = hashlib.sha384(make_module()).hexdigest().upper()
    return data, seamhash, test_key().key_hash


def site_policy_text(seamhash: str) -> str:
    return SITE_POLICY.format(seamhash=seamhash)


def site_catalogue(seamhash: str):  # type: ignore[no-untyped-def]
    from tdxpolicy.catalogue import merge
    from tdxpolicy.sources.document import parse_document

    return merge([parse_document(site_policy_text(seamhash), "site.tdxpolicy")])


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps = 0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps += 1
        self.t += s
