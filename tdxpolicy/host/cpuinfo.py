"""What ``/proc`` and the kernel's CPU lists say about the CPUs: CPUID.1.EAX per physical
package (docs/domain.md#cpu) and the ``seamret_invd_vmcs`` erratum from ``/proc/cpuinfo``
(docs/domain.md#kernel-generations), and the kernel's CPU list format (``0-3,8``) of
``devices/system/cpu/offline``.

Pure parsing of text already read (:mod:`tdxpolicy.host.probe` reads, bounded); content no
kernel writes is a located :class:`~tdxpolicy.errors.HostError`, never a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path

from .._value import value
from ..errors import HostError, Problem
from ..hostfacts import format_cpuid
from ..model import Location
from .hints import HINT_NOT_TDX

__all__ = [
    "SEAMRET_BUG",
    "CpuInfo",
    "encode_cpuid_eax",
    "parse_cpuinfo",
    "parse_cpu_list",
    "format_cpu_list",
]

SEAMRET_BUG = "seamret_invd_vmcs"


def _bad_data(path: Path | str, message: str) -> HostError:
    return HostError([Problem(message, Location(str(Path(path))))], code="bad-host-data")


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
            raise _bad_data(path, f"the offline CPU list: expected a list like 4-7,9, got {s[:40]!r}")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if hi < lo:
            raise _bad_data(path, f"the offline CPU list: bad range {part!r}")
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
