"""CLI commands for the running host: ``probe``, ``preflight``, ``update``.

Options in, one call into :mod:`tdxpolicy.host`, render, exit code (docs/cli.md#contract "The
running host"): ``probe`` 0/3; ``preflight`` 0 allowed, 1 denied, 3 host unavailable;
``update`` 0 updated (or dry run allowed), 1 denied (nothing written), 3 host unavailable,
4 attempted and failed. Only typer and the standard library are imported at module level.

Test seams (never set in production code): :data:`TEST_TRUSTED_KEY_HASHES` replaces Intel's
production key hash for image verification, :data:`TEST_CAN_WRITE` the privilege check,
:data:`TEST_CLOCK` the monotonic clock and sleep. The sysfs I/O comes from
:func:`tdxpolicy.host.sysfs.default_io`, which tests patch with the simulated kernel.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Optional

import typer

from . import ExitCode, app
from .facts_opts import (
    AcknowledgeOpt,
    AllowDebugOpt,
    AllowRollbackOpt,
    StrictOpt,
    move_options_from,
    parse_version_flag,
)
from .image_cmds import KernelChoice
from .options import FormatOpt, NoDefaultPolicyOpt, OutputFormat, PolicyOpt, ToOpt, load_policy

if TYPE_CHECKING:
    from ..host.preflight import Preflight
    from ..host.probe import ProbeResult
    from ..host.upload import UpdateResult

TEST_TRUSTED_KEY_HASHES: tuple[str, ...] | None = None
TEST_CAN_WRITE: Callable[[Path], bool] | None = None
TEST_CLOCK: tuple[Callable[[], float], Callable[[float], None]] | None = None

_HOST = "Host"

SysfsRootOpt = Annotated[
    Path,
    typer.Option("--sysfs-root", metavar="DIR", help="Where sysfs is mounted (tests: a fake tree).",
                 rich_help_panel=_HOST),
]
ProcRootOpt = Annotated[
    Path,
    typer.Option("--proc-root", metavar="DIR", help="Where procfs is mounted (tests: a fake tree).",
                 rich_help_panel=_HOST),
]
KernelOpt = Annotated[
    Optional[KernelChoice],
    typer.Option("--kernel", metavar="GEN",
                 help="The running kernel's generation, when sysfs cannot tell it: v8, v9-v10 "
                 "and merged share one layout, v1-v3 and v4-v7 another "
                 "(docs/kernel-generations.md). Must match the probed layout.",
                 rich_help_panel=_HOST),
]
ImageOpt = Annotated[
    Optional[Path],
    typer.Option("--image", metavar="PATH", help="The module image that would be uploaded."),
]


def _out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _json(doc: Any) -> str:
    from . import json_text

    return json_text(doc)


def _color() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _read_image(path: Path) -> bytes:
    from ..image.reader import read_file_limited

    return read_file_limited(path)


# --- text rendering ----------------------------------------------------------------------------


def _formats_text(iface: Any) -> str:
    """``0x200``, or ``0x100 (v8) or 0x200 (v9-v10, merged)`` for an undecided layout."""
    from ..generations import accepting

    if iface.generation is not None:
        return ", ".join(iface.image_formats)
    return " or ".join(f"{f} ({', '.join(g.value for g in accepting(f, iface.generations))})"
                       for f in iface.image_formats)


def render_probe(result: ProbeResult) -> str:
    from ..host.probe import format_cpu_list
    from ..hostfacts import format_cpuid

    f, i = result.facts, result.interface
    lines = [
        f"TDX host{' ' + f.host if f.host else ''}: {i.label} kernel interface "
        f"({i.tdx_host})",
        f"  module version         {f.module_version or 'unknown (module lost)'}",
        f"  P-SEAMLDR version      {f.seamldr_version or 'unknown'}",
        f"  remaining updates      "
        f"{f.num_remaining_updates if f.num_remaining_updates is not None else 'unknown'}",
        f"  CPUID.1.EAX            "
        + (" ".join(format_cpuid(c) for c in f.cpuid) if f.cpuid else "unknown")
        + f" ({i.packages} package{'s' if i.packages != 1 else ''})",
        f"  offline CPUs           "
        + ("unknown" if i.offline_cpus is None else (format_cpu_list(i.offline_cpus) or "none")),
        f"  seamret_invd_vmcs bug  {'yes' if i.seamret_invd_vmcs else 'no'}",
        f"  upload interface       {i.upload_dir or 'none'}"
        + (f" (status {i.upload_status})" if i.upload_status else ""),
        f"  accepted image format  {_formats_text(i)}",
    ]
    if i.generation is None:
        lines.append(f"  kernel generation      one of {', '.join(g.value for g in i.generations)}"
                     f" ({i.layout} layout: sysfs cannot tell them apart; name it with --kernel)")
    elif i.generation_stated:
        lines.append(f"  kernel generation      {i.label} (stated with --kernel)")
    for p in i.problems:
        lines.append(f"  problem: {p}")
    return "\n".join(lines) + "\n"


def render_preflight(pf: Preflight, color: bool) -> str:
    from ..render.text import render_verdict

    head = render_probe(pf.probe)
    img = ""
    if pf.image is not None:
        im = pf.image
        img = (f"Image {im.path}: {im.format or 'unrecognised format'}, "
               f"{'version ' + im.version if im.version else 'version not identified'}, "
               f"sha256 {im.sha256}\n")
    adv = ""
    if pf.unacknowledged:
        adv = ("Advisories to acknowledge before an update: "
               + ", ".join(pf.unacknowledged) + "\n")
    return head + img + render_verdict(pf.verdict, color) + adv


def render_update(result: UpdateResult, color: bool) -> str:
    from ..render.text import render_verdict

    out = ""
    pf = result.preflight
    if pf is not None and (not pf.allowed or result.outcome.value in ("denied", "dry-run")):
        out += render_verdict(pf.verdict, color)
        if pf.unacknowledged and result.outcome.value == "dry-run":
            out += "Would need: " + " ".join(f"--acknowledge {w}" for w in pf.unacknowledged) + "\n"
    rec = result.record
    out += f"Outcome: {result.outcome.value}: {result.message}\n"
    if rec.get("kernel_error"):
        out += f"Kernel error: {rec['kernel_error']}\n"
    return out


# --- commands ----------------------------------------------------------------------------------


@app.command("probe")
def probe_cmd(
    sysfs_root: SysfsRootOpt = Path("/sys"),
    proc_root: ProcRootOpt = Path("/proc"),
    kernel: KernelOpt = None,
    format: FormatOpt = OutputFormat.text,
) -> int:
    """Read the host's TDX facts and update interface from sysfs and procfs.
    Exit 0, or 3 with the reason when the host has no usable update interface."""
    from ..host.probe import probe

    result = probe(sysfs_root, proc_root,
                   kernel=None if kernel is None else kernel.value).require_usable()
    _out(_json(result.to_json()) if format is OutputFormat.json else render_probe(result))
    return ExitCode.OK


@app.command("preflight")
def preflight_cmd(
    to: ToOpt = None,
    image: ImageOpt = None,
    sysfs_root: SysfsRootOpt = Path("/sys"),
    proc_root: ProcRootOpt = Path("/proc"),
    kernel: KernelOpt = None,
    allow_debug: AllowDebugOpt = False,
    allow_rollback: AllowRollbackOpt = False,
    strict: StrictOpt = False,
    acknowledge: AcknowledgeOpt = None,
    policy: PolicyOpt = None,
    no_default_policy: NoDefaultPolicyOpt = False,
    format: FormatOpt = OutputFormat.text,
) -> int:
    """Probe the host, verify the image, decide, and check the host: one verdict.
    Exit 0 allowed, 1 denied, 3 host facts unavailable."""
    from ..errors import InputError
    from ..host.preflight import preflight
    from ..host.probe import probe

    if to is None and image is None:
        raise InputError("give --to VERSION or --image PATH", code="usage")
    target = parse_version_flag("--to", to) if to is not None else None
    data = _read_image(image) if image is not None else None
    catalogue = load_policy(policy, no_default_policy)
    options = move_options_from(allow_debug, allow_rollback, strict, acknowledge)
    result = probe(sysfs_root, proc_root, kernel=None if kernel is None else kernel.value)
    pf = preflight(result, catalogue, target=target, options=options, image_data=data,
                   image_path=None if image is None else str(image),
                   can_write=TEST_CAN_WRITE, trusted_key_hashes=TEST_TRUSTED_KEY_HASHES)
    if format is OutputFormat.json:
        _out(_json(pf.to_json()))
    else:
        _out(render_preflight(pf, _color()))
    return ExitCode.OK if pf.allowed else ExitCode.DENIED


@app.command("update")
def update_cmd(
    image: Annotated[Path, typer.Option("--image", metavar="PATH",
                                        help="The module image to upload.")],
    to: ToOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run",
                                          help="Do every check, write nothing.")] = False,
    # At least one second: an upload cannot be cancelled once written, so a timeout that
    # expires before the first poll would only turn a running update into an unknown outcome.
    timeout: Annotated[float, typer.Option("--timeout", metavar="S", min=1.0,
                                           help="Seconds to wait for status idle (>= 1).")]
    = 300.0,
    acknowledge: AcknowledgeOpt = None,
    record: Annotated[Path, typer.Option("--record", metavar="FILE",
                                         help="JSON Lines file every attempt is appended to.")]
    = Path("/var/lib/tdxpolicy/updates.jsonl"),
    lock_file: Annotated[Path, typer.Option("--lock-file", metavar="FILE",
                                            help="Lock file against concurrent updates.")]
    = Path("/run/lock/tdxpolicy.lock"),
    sysfs_root: SysfsRootOpt = Path("/sys"),
    proc_root: ProcRootOpt = Path("/proc"),
    kernel: KernelOpt = None,
    allow_debug: AllowDebugOpt = False,
    allow_rollback: AllowRollbackOpt = False,
    strict: StrictOpt = False,
    policy: PolicyOpt = None,
    no_default_policy: NoDefaultPolicyOpt = False,
    format: FormatOpt = OutputFormat.text,
) -> int:
    """Update the running TDX module through fw_upload, only when preflight allows and every
    advisory is acknowledged. Exit 0 updated (or dry run allowed), 1 denied (nothing written),
    3 host unavailable, 4 update attempted and failed. Every attempt is recorded."""
    from ..host.upload import UpdateRequest, run_update

    target = parse_version_flag("--to", to) if to is not None else None
    data = _read_image(image)
    catalogue = load_policy(policy, no_default_policy)
    options = move_options_from(allow_debug, allow_rollback, strict, acknowledge)
    request = UpdateRequest(
        image_data=data, image_path=str(image), target=target, options=options,
        dry_run=dry_run, timeout=timeout, sysfs_root=sysfs_root, proc_root=proc_root,
        lock_path=lock_file, record_path=record,
        kernel=None if kernel is None else kernel.value,
    )
    kwargs: dict[str, Any] = {}
    if TEST_CLOCK is not None:
        kwargs["clock"], kwargs["sleep"] = TEST_CLOCK
    progress = _progress()
    try:
        result = run_update(request, catalogue, progress=progress, can_write=TEST_CAN_WRITE,
                            trusted_key_hashes=TEST_TRUSTED_KEY_HASHES, **kwargs)
    finally:
        if progress is not None:
            progress.close()
    if format is OutputFormat.json:
        _out(_json(result.record))
    else:
        _out(render_update(result, _color()))
    if result.record_error is not None:
        sys.stderr.write(f"tdxpolicy: warning: {result.record_error}; the outcome above was "
                         "not recorded\n")
    return result.exit_code


class _Progress:
    """A one-line status display on stderr (only used when stderr is a terminal)."""

    def __init__(self) -> None:
        self.open = False

    def __call__(self, status: str, elapsed: float) -> None:
        sys.stderr.write(f"\r\x1b[Kupdating: {status:<12} {elapsed:6.1f} s")
        self.open = status != "idle"
        if not self.open:
            sys.stderr.write("\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.open:  # a timeout or a vanished interface left the line open
            sys.stderr.write("\n")
            self.open = False


def _progress() -> _Progress | None:
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    return _Progress() if tty else None
