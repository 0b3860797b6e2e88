"""The kernel ABI for TDX module runtime updates, one row per kernel generation.

The runtime-update series went through ten revisions before it was merged, and kernels built
from several of them are in use. They differ in where sysfs puts the attributes, which image
header they take, whether they verify the 0x100 checksum, how many sigstruct pages they pass to
P-SEAMLDR (and with which loader parameter version), and how they ask the running module to
shut down. Every host and image decision that depends on the kernel reads it from
:data:`TABLE`; ``docs/kernel-generations.md`` gives the source of every cell.

Some generations share a sysfs layout (:data:`LAYOUTS`) and cannot be told apart from sysfs:
the probe then reports every candidate, and each check takes the strictest answer over them
unless the operator states the generation (``--kernel``).

Pure data and small pure functions; imports nothing from the rest of the package except
:mod:`tdxpolicy.version`, so that both :mod:`tdxpolicy.host` and :mod:`tdxpolicy.image` use it.
"""

from __future__ import annotations

from ._value import value
from enum import Enum
from typing import Callable

from .version import Version

__all__ = [
    "Generation",
    "ShutdownFlag",
    "KernelABI",
    "TABLE",
    "LAYOUTS",
    "abi",
    "detect_layout",
    "UPDATE_COMPAT_BIT",
    "ALWAYS_FLAG_GENERATIONS",
    "loader_accepts_multi_page",
    "accepting",
]


class Generation(str, Enum):
    """A kernel generation (stable values: add, never rename)."""

    V1_V3 = "v1-v3"
    V4_V7 = "v4-v7"
    V8 = "v8"
    V9_V10 = "v9-v10"
    MERGED = "merged"
    LEGACY = "legacy"  # Intel's older out-of-tree interface (devices/virtual/tdx)


class ShutdownFlag(str, Enum):
    """How the kernel sets AVOID_COMPAT_SENSITIVE (bit 16 of RCX) on TDH.SYS.SHUTDOWN."""

    NEVER = "never"
    IF_SUPPORTED = "if-supported"  # only when TDX_FEATURES0.UPDATE_COMPAT is set: harmless
    ALWAYS = "always"  # unconditionally: a module without UPDATE_COMPAT refuses to shut down


# TDX_FEATURES0 bit 47 (UPDATE_COMPAT): the module accepts AVOID_COMPAT_SENSITIVE.
UPDATE_COMPAT_BIT = 47


@value
class KernelABI:
    """One row of the table. Paths are relative to the sysfs root."""

    generation: Generation
    layout: str  # generations with the same layout cannot be told apart from sysfs
    tdx_host: str
    version: str
    seamldr_version: str
    remaining: str
    upload_dir: str
    formats: tuple[str, ...]  # header formats the kernel accepts ("0x100", "0x200")
    checksum_verified: bool  # the 0x100 16-bit word sum is checked by the kernel
    max_sigstruct_pages: int  # more are refused (0x200) or clamped (0x100, v5-v8)
    clamps_sigstruct_pages: bool  # True: more pages than the maximum are silently dropped
    # seamldr_params.version the kernel passes when the sigstruct spans more than one page;
    # None when the kernel passes only one page.
    multi_page_params_version: int | None
    shutdown_flag: ShutdownFlag
    remaining_required: bool  # num_remaining_updates exists next to the upload directory
    note: str  # one line for messages


_FLAT = "devices/faux/tdx_host"

TABLE: tuple[KernelABI, ...] = (
    KernelABI(
        Generation.V1_V3, "seamldr-dir", _FLAT, f"{_FLAT}/version", f"{_FLAT}/seamldr/version",
        f"{_FLAT}/seamldr/num_remaining_updates", "class/firmware/seamldr_upload",
        ("0x100",), True, 1, False, None, ShutdownFlag.NEVER, True,
        "patch series v1-v3 (tdx_host/seamldr/ and seamldr_upload)",
    ),
    KernelABI(
        Generation.V4_V7, "seamldr-dir", _FLAT, f"{_FLAT}/version", f"{_FLAT}/seamldr/version",
        f"{_FLAT}/seamldr/num_remaining_updates", "class/firmware/tdx_module",
        ("0x100",), False, 4, True, 1, ShutdownFlag.IF_SUPPORTED, True,
        "patch series v4-v7 (tdx_host/seamldr/ and tdx_module)",
    ),
    KernelABI(
        Generation.V8, "flat", _FLAT, f"{_FLAT}/version", f"{_FLAT}/seamldr_version",
        f"{_FLAT}/num_remaining_updates", "class/firmware/tdx_module",
        ("0x100",), False, 4, True, 1, ShutdownFlag.ALWAYS, True,
        "patch series v8 (flat tdx_host attributes, 0x100 images)",
    ),
    KernelABI(
        Generation.V9_V10, "flat", _FLAT, f"{_FLAT}/version", f"{_FLAT}/seamldr_version",
        f"{_FLAT}/num_remaining_updates", "class/firmware/tdx_module",
        ("0x200",), False, 1, False, None, ShutdownFlag.ALWAYS, True,
        "patch series v9-v10 (flat tdx_host attributes, 0x200 images)",
    ),
    KernelABI(
        Generation.MERGED, "flat", _FLAT, f"{_FLAT}/version", f"{_FLAT}/seamldr_version",
        f"{_FLAT}/num_remaining_updates", "class/firmware/tdx_module",
        ("0x200",), False, 1, False, None, ShutdownFlag.NEVER, True,
        "the merged kernel (arch/x86/virt/vmx/tdx/seamldr.c)",
    ),
    KernelABI(
        Generation.LEGACY, "legacy", "devices/virtual/tdx", "devices/virtual/tdx/tdx_tsm/version",
        "devices/virtual/tdx/seamldr/version", "devices/virtual/tdx/seamldr/num_remaining_updates",
        "class/firmware/seamldr_upload",
        ("0x100",), True, 1, False, None, ShutdownFlag.NEVER, False,
        "Intel's older interface (devices/virtual/tdx, Intel's reference script)",
    ),
)

_BY_GEN = {row.generation: row for row in TABLE}

# layout -> the generations that share it, in table order.
LAYOUTS: dict[str, tuple[Generation, ...]] = {}
for _row in TABLE:
    LAYOUTS.setdefault(_row.layout, ())
    LAYOUTS[_row.layout] += (_row.generation,)

ALWAYS_FLAG_GENERATIONS = tuple(r.generation for r in TABLE if r.shutdown_flag is ShutdownFlag.ALWAYS)


def abi(generation: Generation | str) -> KernelABI:
    return _BY_GEN[Generation(generation)]


def detect_layout(
    is_dir: Callable[[str], bool], exists: Callable[[str], bool]
) -> tuple[str, tuple[Generation, ...]] | None:
    """The sysfs layout a host shows and the generations that share it, from two questions
    about paths relative to the sysfs root; None when sysfs shows no TDX host interface.

    Within the ``seamldr-dir`` layout the upload directory's name tells v1-v3
    (``seamldr_upload``) from v4-v7 (``tdx_module``); within ``flat`` nothing does
    (docs/kernel-generations.md#what-sysfs-can-and-cannot-tell)."""
    flat = abi(Generation.MERGED)
    legacy = abi(Generation.LEGACY)
    if is_dir(flat.tdx_host):
        if is_dir(f"{flat.tdx_host}/seamldr"):
            candidates = LAYOUTS["seamldr-dir"]
            present = tuple(g for g in candidates if is_dir(abi(g).upload_dir))
            return "seamldr-dir", present if len(present) == 1 else candidates
        if exists(flat.seamldr_version) or is_dir(flat.upload_dir):
            return "flat", LAYOUTS["flat"]
        # Only `version`: every generation hides the P-SEAMLDR attributes and the upload
        # directory when updates are unsupported, so any of them may be running.
        return "tdx_host", LAYOUTS["seamldr-dir"] + LAYOUTS["flat"]
    if is_dir(legacy.tdx_host):
        return "legacy", LAYOUTS["legacy"]
    return None


def accepting(fmt: str, generations: tuple[Generation, ...] | None = None) -> tuple[Generation, ...]:
    """The generations (of ``generations``, default all) whose kernel takes ``fmt`` images."""
    pool = generations if generations is not None else tuple(r.generation for r in TABLE)
    return tuple(g for g in pool if fmt in abi(g).formats)


# P-SEAMLDR series -> whether it accepts seamldr_params.version 1 (a sigstruct of more than one
# page). Only what a published source proves is listed: P-SEAMLDR 1.5's check_seamldr_params
# refuses every version but 0 with EBADPARAM (intel/tdx-loader, seamldr_install.c). No source
# for 2.x is public, so it is absent (unknown) and a multi-page sigstruct is refused for it.
_MULTI_PAGE_LOADERS: dict[tuple[int, int], bool] = {(1, 5): False}


def loader_accepts_multi_page(seamldr: Version | None) -> bool | None:
    """True/False when a source settles whether P-SEAMLDR ``seamldr`` takes a multi-page
    sigstruct (loader parameter version 1); None when nothing does."""
    if seamldr is None:
        return None
    return _MULTI_PAGE_LOADERS.get((seamldr.major, seamldr.minor))
