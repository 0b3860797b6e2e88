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
from dataclasses import field, replace
from pathlib import Path
from typing import Any

from .._value import value
from ..errors import HostError, InputError, Problem
from ..generations import LAYOUTS, Generation, abi
from ..hostfacts import HostFacts, format_cpuid
from ..model import Location
from ..version import Version, VersionError, parse_version
from . import sysfs as _sysfs
from .sysfs import ATTR_LIMIT, SysfsIO

__all__ = [
    "Generation",
    "Interface",
    "ProbeResult",
    "probe",
    "probe_facts",
    "state_generation",
    "encode_cpuid_eax",
    "parse_cpuinfo",
    "parse_cpu_list",
    "UPLOAD_STATUSES",
    "UPLOAD_FILES",
    "SEAMRET_BUG",
]

# /proc/cpuinfo on a host with many hundreds of CPUs is a few MiB; anything far beyond is junk.
CPUINFO_LIMIT = 32 << 20

# fw_upload's status words (Documentation/ABI/testing/sysfs-class-firmware;
# docs/domain.md#linux-interface).
UPLOAD_STATUSES = ("idle", "receiving", "preparing", "transferring", "programming")
# The fw_upload attributes the update sequence uses.
UPLOAD_FILES = ("loading", "data", "status", "error")

SEAMRET_BUG = "seamret_invd_vmcs"

HINT_NOT_TDX = (
    "this host does not run a TDX-enabled kernel with a TDX module: enable TDX in the BIOS "
    "(TME-MT and SEAM loader settings) and boot a kernel with TDX host support "
    "(kvm_intel.tdx=1)"
)
HINT_ROOT = "run as root (the P-SEAMLDR attributes are readable by root only)"
HINT_MODULE_LOST = (
    "the TDX module is gone (a runtime update failed after the old module shut down): every "
    "TD on this host was lost and TDX is unusable until the host is rebooted; reboot it"
)
HINT_SEAMRET = (
    "the CPU reports the seamret_invd_vmcs erratum (/proc/cpuinfo 'bugs'), so the kernel "
    "disables TDX module runtime updates (Documentation/arch/x86/tdx.rst): load a CPU "
    "microcode update that fixes the erratum, or update the TDX module through a BIOS update "
    "and a reboot"
)
HINT_NO_UPLOAD = (
    "the kernel exposes no TDX module update interface: the running module does not report "
    "TD-preserving update support (TDX_FEATURES0 bit 1) or the kernel has no runtime update "
    "support; boot a kernel with TDX module runtime update, or update the module through a "
    "BIOS update and a reboot"
)


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
    """Host facts in the contract's JSON form; unknown facts are left out."""
    out: dict[str, Any] = {}
    if facts.module_version is not None:
        out["module_version"] = facts.module_version.text
    if facts.seamldr_version is not None:
        out["seamldr_version"] = facts.seamldr_version.text
    if facts.cpuid is not None:
        out["cpuid"] = [format_cpuid(c) for c in facts.cpuid]
    if facts.num_remaining_updates is not None:
        out["num_remaining_updates"] = facts.num_remaining_updates
    if facts.host is not None:
        out["host"] = facts.host
    return out




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
    """The sysfs layout and the generations that share it. Within the ``seamldr-dir`` layout
    the upload directory's name tells v1-v3 (``seamldr_upload``) from v4-v7 (``tdx_module``);
    within ``flat`` nothing does (docs/kernel-generations.md)."""
    flat = abi(Generation.MERGED)
    legacy = abi(Generation.LEGACY)
    if io.is_dir(sysfs / flat.tdx_host):
        if io.is_dir(sysfs / flat.tdx_host / "seamldr"):
            candidates = LAYOUTS["seamldr-dir"]
            present = tuple(g for g in candidates if io.is_dir(sysfs / abi(g).upload_dir))
            return "seamldr-dir", present if len(present) == 1 else candidates
        if io.exists(sysfs / flat.seamldr_version) or io.is_dir(sysfs / flat.upload_dir):
            return "flat", LAYOUTS["flat"]
        # Only `version`: every generation hides the P-SEAMLDR attributes and the upload
        # directory when updates are unsupported, so any of them may be running.
        return "tdx_host", LAYOUTS["seamldr-dir"] + LAYOUTS["flat"]
    if io.is_dir(sysfs / legacy.tdx_host):
        return "legacy", LAYOUTS["legacy"]
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


# --- /proc/cpuinfo -----------------------------------------------------------------------------


@value
class CpuInfo:
    cpuid: tuple[int, ...]  # CPUID.1.EAX per physical package, in package order
    seamret_invd_vmcs: bool
    logical: int


def encode_cpuid_eax(family: int, model: int, stepping: int) -> int:
    """CPUID.1.EAX from the kernel's decoded family/model/stepping (Intel SDM vol. 2A, CPUID
    leaf 1): a family above 15 is 15 plus the extended family (bits 27:20); for families 6 and
    15 the model's high nibble is the extended model (bits 19:16)."""
    if not 0 <= stepping <= 0xF:
        raise ValueError(f"stepping {stepping} is out of range 0-15")
    if not 0 <= family <= 0xF + 0xFF:
        raise ValueError(f"cpu family {family} is out of range 0-270")
    if family < 0xF:
        base_family, ext_family = family, 0
    else:
        base_family, ext_family = 0xF, family - 0xF
    if base_family in (0x6, 0xF):
        if not 0 <= model <= 0xFF:
            raise ValueError(f"model {model} is out of range 0-255")
        ext_model, base_model = model >> 4, model & 0xF
    else:
        if not 0 <= model <= 0xF:
            raise ValueError(f"model {model} is out of range 0-15 for cpu family {family}")
        ext_model, base_model = 0, model
    return (ext_family << 20) | (ext_model << 16) | (base_family << 8) | (base_model << 4) | stepping


_INT_RE = re.compile(r"[0-9]{1,6}")


def parse_cpuinfo(text: str, file: str = "/proc/cpuinfo") -> CpuInfo:
    """CPUID.1.EAX per physical package, and whether any CPU has the seamret_invd_vmcs bug."""
    blocks: list[tuple[int, dict[str, str]]] = []
    current: dict[str, str] = {}
    # (block start line, key) -> (line, column of the value): errors name the exact line.
    where: dict[tuple[int, str], tuple[int, int]] = {}
    start = 1
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            if current:
                blocks.append((start, current))
                current = {}
            continue
        if not current:
            start = lineno
        key, sep, value = line.partition(":")
        if not sep:
            raise HostError(
                [Problem(f"expected 'key : value', got {line[:60]!r}", Location(file, lineno, 1))],
                code="bad-host-data",
            )
        current[key.strip()] = value.strip()
        where[(start, key.strip())] = (lineno, len(line) - len(value.lstrip()) + 1)
    if current:
        blocks.append((start, current))
    processors = [(ln, b) for ln, b in blocks if "processor" in b]
    if not processors:
        raise HostError(
            [Problem("no 'processor' entries: this is not /proc/cpuinfo of an x86 host",
                     Location(file))],
            code="bad-host-data",
        )
    packages: dict[int, int] = {}
    bug = False
    for ln, b in processors:
        def field_int(name: str, ln: int = ln, b: dict[str, str] = b) -> int:
            v = b.get(name)
            if v is None:
                raise HostError(
                    [Problem(f"processor entry has no '{name}' line", Location(file, ln, 1))],
                    code="bad-host-data",
                )
            if not _INT_RE.fullmatch(v):
                line, col = where.get((ln, name), (ln, 1))
                raise HostError(
                    [Problem(f"'{name}': expected a decimal number, got {v[:40]!r}",
                             Location(file, line, col))],
                    code="bad-host-data",
                )
            return int(v)

        vendor = b.get("vendor_id")
        if vendor != "GenuineIntel":
            raise HostError(
                [Problem(f"vendor_id is {vendor!r}, not GenuineIntel: {HINT_NOT_TDX}",
                         Location(file, ln, 1))],
                code="not-tdx-host",
            )
        try:
            eax = encode_cpuid_eax(field_int("cpu family"), field_int("model"),
                                   field_int("stepping"))
        except ValueError as e:
            raise HostError([Problem(str(e), Location(file, ln, 1))], code="bad-host-data") from None
        pkg = field_int("physical id") if "physical id" in b else 0
        prev = packages.get(pkg)
        if prev is not None and prev != eax:
            # One package has one CPUID signature; two means the file is not from one host.
            raise HostError(
                [Problem(f"package {pkg} reports two CPUID signatures "
                         f"({format_cpuid(prev)} and {format_cpuid(eax)})", Location(file, ln, 1))],
                code="bad-host-data",
            )
        packages[pkg] = eax
        if SEAMRET_BUG in b.get("bugs", "").split():
            bug = True
    cpuid = tuple(packages[p] for p in sorted(packages))
    return CpuInfo(cpuid, bug, len(processors))


def parse_cpu_list(text: str, path: Path | str = "offline") -> tuple[int, ...]:
    """The kernel's CPU list format (``0-3,8``); empty means none."""
    s = text.strip()
    if not s:
        return ()
    ranges: list[tuple[int, int]] = []
    for part in s.split(","):
        m = re.fullmatch(r"([0-9]{1,5})(?:-([0-9]{1,5}))?", part)
        if m is None:
            raise _fail(
                Path(path), f"the offline CPU list: expected a list like 4-7,9, got {s[:40]!r}",
                "bad-host-data",
            )
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if hi < lo:
            raise _fail(Path(path), f"the offline CPU list: bad range {part!r}", "bad-host-data")
        ranges.append((lo, hi))
    # Merge the ranges before enumerating: overlapping ranges in a hostile file (hundreds of
    # '0-99999') must cost no more than one (at most 100000 CPUs listed).
    out: list[int] = []
    for lo, hi in sorted(ranges):
        start = max(lo, out[-1] + 1) if out else lo
        out.extend(range(start, hi + 1))
    return tuple(out)


def format_cpu_list(cpus: tuple[int, ...]) -> str:
    """``(4, 5, 6, 7, 9)`` -> ``4-7,9``."""
    parts: list[str] = []
    i = 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        parts.append(str(cpus[i]) if i == j else f"{cpus[i]}-{cpus[j]}")
        i = j + 1
    return ",".join(parts)
