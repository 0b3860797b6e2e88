"""Read the running host: TDX module, P-SEAMLDR, update budget, upload interface, CPUs.

Pure reading from the roots given as parameters (``/sys`` and ``/proc`` on a real host, fake
trees in tests), through a :class:`~tdxpolicy.host.sysfs.SysfsIO`; nothing is ever written.
The kernel ABI is the table of :mod:`tdxpolicy.generations` (one row per kernel generation,
sources in docs/kernel-generations.md). Sysfs shows one of four layouts:

* ``flat``: ``devices/faux/tdx_host/{version,seamldr_version,num_remaining_updates}`` and
  ``class/firmware/tdx_module``: the patch series v8, v9-v10 and the merged kernel. Sysfs cannot
  tell them apart (v8 takes 0x100 images, the others 0x200), so all three stay candidates
  until the operator names one (``--kernel``); every check takes the strictest answer.
* ``seamldr-dir``: ``devices/faux/tdx_host/seamldr/{version,num_remaining_updates}``: v1-v3
  (upload through ``class/firmware/seamldr_upload``) or v4-v7 (``class/firmware/tdx_module``),
  told apart by the upload directory when there is one.
* ``legacy``: ``devices/virtual/tdx/{tdx_tsm,seamldr}/version`` and ``seamldr_upload`` (Intel's
  older interface and reference script).

Which layout a host shows is :func:`tdxpolicy.generations.detect_layout`; ``/proc/cpuinfo``
and the offline CPU list are parsed by :mod:`tdxpolicy.host.cpuinfo`, and the hints that tell
the operator what to do are :mod:`tdxpolicy.host.hints`.

:func:`probe` is lenient about what makes an update impossible but leaves the facts readable
(module lost, no upload interface, the ``seamret_invd_vmcs`` bug): it records them in
:attr:`Interface.problems` so that ``preflight`` can turn them into failing checks.
:meth:`ProbeResult.require_usable` (the ``probe`` command) and :func:`probe_facts` (the move
commands) turn them into a :class:`~tdxpolicy.errors.HostError`. Content that no kernel writes
(garbage versions, oversized or binary files, unreadable attributes) is always a
:class:`~tdxpolicy.errors.HostError` with the file and what to do: exit 3, never a traceback.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path
from typing import Any

from .._value import field, replace, value
from ..errors import HostError, InputError, Problem
from ..generations import Generation, abi, detect_layout
from ..hostfacts import HostFacts
from ..model import Location
from ..version import Version, VersionError, parse_version
from . import sysfs as _sysfs
from .cpuinfo import (
    SEAMRET_BUG,
    CpuInfo,
    encode_cpuid_eax,
    format_cpu_list,
    parse_cpu_list,
    parse_cpuinfo,
)
from .hints import HINT_MODULE_LOST, HINT_NO_UPLOAD, HINT_NOT_TDX, HINT_ROOT, HINT_SEAMRET
from .sysfs import ATTR_LIMIT, SysfsIO

__all__ = [
    "Generation",
    "Interface",
    "ProbeResult",
    "probe",
    "probe_facts",
    "state_generation",
    "UPLOAD_STATUSES",
    "UPLOAD_FILES",
    # Parsed by tdxpolicy.host.cpuinfo and said by tdxpolicy.host.hints; kept here for the
    # callers that import them from this module (preflight, the host commands, tests).
    "SEAMRET_BUG",
    "CpuInfo",
    "encode_cpuid_eax",
    "parse_cpuinfo",
    "parse_cpu_list",
    "format_cpu_list",
    "HINT_NOT_TDX",
    "HINT_ROOT",
    "HINT_MODULE_LOST",
    "HINT_SEAMRET",
    "HINT_NO_UPLOAD",
]

# /proc/cpuinfo on a host with many hundreds of CPUs is a few MiB; anything far beyond is junk.
CPUINFO_LIMIT = 32 << 20

# fw_upload's status words (Documentation/ABI/testing/sysfs-class-firmware;
# docs/domain.md#linux-interface).
UPLOAD_STATUSES = ("idle", "receiving", "preparing", "transferring", "programming")
# The fw_upload attributes the update sequence uses.
UPLOAD_FILES = ("loading", "data", "status", "error")


def _layout_label(generations: tuple[Generation, ...]) -> str:
    """``v8``, or ``v8|v9-v10|merged`` when sysfs cannot tell the candidates apart."""
    return "|".join(g.value for g in generations)


@value
class Interface:
    """How the kernel exposes TDX module updates on this host, and what stands in the way.

    ``generations`` are the kernel generations whose sysfs layout matches (one when sysfs
    settles it; several when they share a layout, e.g. v8, v9-v10 and the merged kernel).
    ``generation_stated`` is True when the operator named the generation (``--kernel``)."""

    generations: tuple[Generation, ...]
    sysfs_root: Path
    proc_root: Path
    tdx_host: Path
    version_path: Path
    seamldr_version_path: Path
    remaining_path: Path
    upload_dir: Path | None  # None when the kernel exposes no upload interface
    upload_status: str | None  # fw_upload `status`, None without an upload directory
    module_alive: bool  # False when `version` fails with ENXIO
    offline_cpus: tuple[int, ...] | None  # None when the kernel does not say
    packages: int
    seamret_invd_vmcs: bool
    problems: tuple[str, ...] = ()  # why no update is possible (empty: usable)
    layout: str = ""
    generation_stated: bool = False

    @property
    def generation(self) -> Generation | None:
        """The kernel generation, or None when sysfs cannot tell the candidates apart."""
        return self.generations[0] if len(self.generations) == 1 else None

    @property
    def label(self) -> str:
        """``merged``, or ``v8|v9-v10|merged`` for an undecided layout."""
        return _layout_label(self.generations)

    @property
    def kernel(self) -> str | None:
        """The ``image verify --kernel`` value, None when undecided."""
        g = self.generation
        return None if g is None else g.value

    @property
    def image_formats(self) -> tuple[str, ...]:
        """Formats at least one candidate generation accepts (table order: 0x100 first)."""
        found = {f for g in self.generations for f in abi(g).formats}
        return tuple(f for f in ("0x100", "0x200") if f in found)

    @property
    def usable(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "generation": self.label,
            "generations": [g.value for g in self.generations],
            "generation_stated": self.generation_stated,
            "layout": self.layout,
            "sysfs_root": str(self.sysfs_root),
            "proc_root": str(self.proc_root),
            "tdx_host": str(self.tdx_host),
            "upload_dir": None if self.upload_dir is None else str(self.upload_dir),
            "upload_status": self.upload_status,
            "kernel": self.kernel,
            "image_formats": list(self.image_formats),
            "module_alive": self.module_alive,
            "offline_cpus": None if self.offline_cpus is None else list(self.offline_cpus),
            "packages": self.packages,
            "seamret_invd_vmcs": self.seamret_invd_vmcs,
            "usable": self.usable,
            "problems": list(self.problems),
        }


@value
class ProbeResult:
    facts: HostFacts
    interface: Interface
    # Every attribute read, path -> text (for records and for "facts changed" comparisons).
    raw: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def require_usable(self) -> ProbeResult:
        """This result, or a :class:`HostError` naming every reason no update is possible."""
        if self.interface.usable:
            return self
        raise HostError(
            [Problem(p) for p in self.interface.problems], code=_problem_code(self.interface)
        )

    def to_json(self) -> dict[str, Any]:
        """Host-facts JSON (docs/cli.md#host-facts) plus ``"interface"``;
        ``schemas/probe.schema.json``. Unknown facts are left out."""
        out = facts_to_json(self.facts)
        out["interface"] = self.interface.to_json()
        return out


def state_generation(result: ProbeResult, stated: Generation | str | None) -> ProbeResult:
    """``result`` with the generation the operator named (``--kernel``). The name must be one
    of the candidates sysfs left open; anything else is a usage error (exit 2), because a
    kernel whose layout does not match cannot be the running one."""
    if stated is None:
        return result
    try:
        gen = Generation(stated)
    except ValueError:
        choices = ", ".join(g.value for g in Generation)
        raise InputError(f"--kernel: unknown kernel generation {stated!r}; expected one of "
                         f"{choices}", code="usage") from None
    iface = result.interface
    if gen not in iface.generations:
        raise InputError(
            f"--kernel {gen.value}: the probed sysfs layout ({iface.layout}, {iface.tdx_host}) "
            f"belongs to {iface.label}, not to {gen.value}; see docs/kernel-generations.md",
            code="usage")
    return replace(result, interface=replace(iface, generations=(gen,), generation_stated=True))


def facts_to_json(facts: HostFacts) -> dict[str, Any]:
    """Host facts in the contract's JSON form (the one codec: codecs/hostfacts.py)."""
    from ..codecs.hostfacts import to_json

    return to_json(facts)




def _problem_code(iface: Interface) -> str:
    if not iface.module_alive:
        return "module-lost"
    if iface.seamret_invd_vmcs:
        return "seamret-invd-vmcs"
    return "no-update-interface"


# --- reading -----------------------------------------------------------------------------------


def _short(text: str) -> str:
    """At most 40 characters of a bad value, for a message."""
    return text if len(text) <= 40 else text[:37] + "..."


def _fail(path: Path, message: str, code: str = "host-unavailable") -> HostError:
    return HostError([Problem(message, Location(str(path)))], code=code)


class _Reader:
    """Bounded, decoded reads that turn every surprise into a located HostError."""

    def __init__(self, io: SysfsIO) -> None:
        self.io = io
        self.raw: list[tuple[str, str]] = []

    def text(self, path: Path, limit: int = ATTR_LIMIT, *, what: str) -> str:
        try:
            data = self.io.read_bytes(path, limit)
        except OSError as e:
            if e.errno == errno.ENXIO and not self.io.is_regular(path):
                # ENXIO means "module lost" only from the kernel's own attribute, a regular
                # file; opening a socket planted in its place fails the same way.
                raise _fail(path, f"cannot read {what}: {NOT_AN_ATTRIBUTE}",
                            "bad-host-data") from None
            raise _read_error(path, e, what) from None
        if len(data) > limit:
            raise _fail(
                path,
                f"{what} is larger than {limit} bytes: this is not what the kernel writes; "
                f"check that --sysfs-root/--proc-root point at a real sysfs/procfs",
                "bad-host-data",
            )
        if b"\0" in data:
            raise _fail(path, f"{what} holds binary data, expected text", "bad-host-data")
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError as e:
            raise _fail(
                path,
                f"{what} holds a non-ASCII byte at offset {e.start}, expected text",
                "bad-host-data",
            ) from None
        self.raw.append((str(path), text))
        return text

    def version(self, path: Path, *, what: str) -> Version:
        text = self.text(path, what=what).strip()
        try:
            return parse_version(text)
        except VersionError as e:
            raise _fail(path, f"{what}: {e}", "bad-host-data") from None

    def count(self, path: Path, *, what: str) -> int:
        text = self.text(path, what=what).strip()
        if not re.fullmatch(r"[0-9]{1,10}", text):
            raise _fail(
                path, f"{what}: expected a decimal count like 12, got {_short(text)!r}",
                "bad-host-data",
            )
        return int(text)


NOT_AN_ATTRIBUTE = ("it is not a regular file (a socket, FIFO, device or symbolic link), which no "
                    "kernel attribute is; check --sysfs-root and who changed this directory")


def _read_error(path: Path, e: OSError, what: str) -> HostError:
    code = e.errno
    if code == errno.ENOENT:
        return _fail(path, f"{what} is missing", "bad-host-data")
    if code in (errno.EACCES, errno.EPERM):
        return _fail(path, f"cannot read {what}: permission denied; {HINT_ROOT}", "permission")
    if code == errno.ENXIO:
        return _fail(path, f"reading {what} failed with ENXIO: {HINT_MODULE_LOST}", "module-lost")
    reason = e.strerror or str(e)
    return _fail(path, f"cannot read {what}: {reason}", "bad-host-data")


def _detect(io: SysfsIO, sysfs: Path) -> tuple[str, tuple[Generation, ...]]:
    """The sysfs layout and the generations that share it (:func:`detect_layout`); a
    :class:`HostError` when sysfs shows no TDX host interface at all."""
    found = detect_layout(lambda p: io.is_dir(sysfs / p), lambda p: io.exists(sysfs / p))
    if found is not None:
        return found
    flat = abi(Generation.MERGED)
    legacy = abi(Generation.LEGACY)
    raise HostError(
        [
            Problem(
                f"no TDX host interface: neither {sysfs / flat.tdx_host} nor "
                f"{sysfs / legacy.tdx_host} exists; {HINT_NOT_TDX}",
                Location(str(sysfs)),
            )
        ],
        code="not-tdx-host",
    )


def probe(
    sysfs_root: Path = Path("/sys"),
    proc_root: Path = Path("/proc"),
    io: SysfsIO | None = None,
    kernel: Generation | str | None = None,
) -> ProbeResult:
    """Read the host. Raises :class:`HostError` when this is not a TDX host or when an
    attribute holds something no kernel writes; records (does not raise) the conditions that
    only make an update impossible."""
    io = io if io is not None else _sysfs.default_io()
    sysfs_root = Path(sysfs_root)
    proc_root = Path(proc_root)
    rd = _Reader(io)
    layout_name, generations = _detect(io, sysfs_root)
    # Candidates of one layout share every attribute path; the first stands for all.
    layout = abi(generations[0])
    problems: list[str] = []

    # CPUs first: the seamret_invd_vmcs bug explains a missing upload interface.
    cpuinfo_path = proc_root / "cpuinfo"
    cpuinfo = rd.text(cpuinfo_path, CPUINFO_LIMIT, what="/proc/cpuinfo")
    cpus = parse_cpuinfo(cpuinfo, str(cpuinfo_path))
    offline_path = sysfs_root / "devices/system/cpu/offline"
    offline: tuple[int, ...] | None
    if io.exists(offline_path):
        offline = parse_cpu_list(rd.text(offline_path, what="the offline CPU list"), offline_path)
    else:
        offline = None

    version_path = sysfs_root / layout.version
    module_alive = True
    module_version: Version | None = None
    try:
        module_version = rd.version(version_path, what="the TDX module version")
    except HostError as e:
        if e.code != "module-lost":
            raise
        module_alive = False
        problems.append(f"{version_path}: reading the TDX module version failed with ENXIO: "
                        f"{HINT_MODULE_LOST}")

    uploads = [sysfs_root / abi(g).upload_dir for g in generations]
    upload_dir: Path | None = next((u for u in uploads if io.is_dir(u)), None)
    upload_status: str | None = None
    if upload_dir is not None:
        for name in UPLOAD_FILES:
            if not io.exists(upload_dir / name):
                raise _fail(
                    upload_dir / name,
                    f"the firmware upload attribute '{name}' is missing from {upload_dir}",
                    "bad-host-data",
                )
            if not io.is_regular(upload_dir / name):
                # A kernel attribute is a regular file; a symbolic link, FIFO or directory in
                # its place could redirect or swallow the image (docs/domain.md#linux-interface).
                raise _fail(
                    upload_dir / name,
                    f"the firmware upload attribute '{name}' in {upload_dir} is not a regular "
                    "file (a symbolic link, directory or special file): no kernel creates "
                    "that; check --sysfs-root and who changed this directory",
                    "bad-host-data",
                )
        upload_status = rd.text(upload_dir / "status", what="the upload status").strip()
        if upload_status not in UPLOAD_STATUSES:
            raise _fail(
                upload_dir / "status",
                f"the upload status: expected one of {', '.join(UPLOAD_STATUSES)}, "
                f"got {_short(upload_status)!r}",
                "bad-host-data",
            )

    # P-SEAMLDR attributes: required next to an upload interface (the kernel creates them
    # together, docs/domain.md#linux-interface); optional without one.
    seamldr_path = sysfs_root / layout.seamldr_version
    remaining_path = sysfs_root / layout.remaining
    seamldr: Version | None = None
    remaining: int | None = None
    if upload_dir is not None or io.exists(seamldr_path):
        seamldr = rd.version(seamldr_path, what="the P-SEAMLDR version")
    # Intel's reference script never read the budget on legacy kernels: optional there.
    if (upload_dir is not None and layout.remaining_required) or io.exists(remaining_path):
        remaining = rd.count(remaining_path, what="the number of remaining updates")

    if upload_dir is None:
        where = " or ".join(str(u) for u in dict.fromkeys(uploads))
        if cpus.seamret_invd_vmcs:
            problems.append(f"{where} is missing: {HINT_SEAMRET}")
        else:
            problems.append(f"{where} is missing: {HINT_NO_UPLOAD}")

    host = _hostname(io, proc_root)
    facts = HostFacts(
        module_version=module_version,
        seamldr_version=seamldr,
        cpuid=cpus.cpuid,
        num_remaining_updates=remaining,
        host=host,
        origin="probe",
    )
    iface = Interface(
        generations=generations,
        layout=layout_name,
        sysfs_root=sysfs_root,
        proc_root=proc_root,
        tdx_host=sysfs_root / layout.tdx_host,
        version_path=version_path,
        seamldr_version_path=seamldr_path,
        remaining_path=remaining_path,
        upload_dir=upload_dir,
        upload_status=upload_status,
        module_alive=module_alive,
        offline_cpus=offline,
        packages=len(cpus.cpuid),
        seamret_invd_vmcs=cpus.seamret_invd_vmcs,
        problems=tuple(problems),
    )
    return state_generation(ProbeResult(facts, iface, tuple(rd.raw)), kernel)


def probe_facts(
    sysfs_root: Path = Path("/sys"),
    proc_root: Path = Path("/proc"),
    io: SysfsIO | None = None,
) -> HostFacts:
    """Host facts of the running system for ``can-upgrade``/``path``/``select`` when no
    ``--from``/``--facts`` is given. Raises :class:`HostError` (exit 3) when the host is not a
    TDX host, the module is lost, or an attribute is unreadable. A host without an upload
    interface still yields facts (the P-SEAMLDR version and budget are then unknown)."""
    result = probe(sysfs_root, proc_root, io)
    if not result.interface.module_alive:
        result.require_usable()
    return result.facts


def _hostname(io: SysfsIO, proc_root: Path) -> str | None:
    path = proc_root / "sys/kernel/hostname"
    try:
        data = io.read_bytes(path, 256)
    except OSError:
        return None
    text = data.decode("ascii", "replace").strip()
    if not text or len(text) > 253 or not re.fullmatch(r"[A-Za-z0-9._-]+", text):
        return None
    return text
