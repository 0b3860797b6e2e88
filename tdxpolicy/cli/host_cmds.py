"""CLI commands for the running host: ``probe``, ``preflight``, ``update``.

Options in, one call into :mod:`tdxpolicy.commands.host`, one way out
(:func:`tdxpolicy.cli.options.emit_result`), exit code (docs/cli.md#contract "The
running host"): ``probe`` 0/3; ``preflight`` 0 allowed, 1 denied, 3 host unavailable;
``update`` 0 updated (or dry run allowed), 1 denied (nothing written), 3 host unavailable,
4 attempted and failed. Only typer and the standard library are imported at module level.

Test seams (never set in production code): :data:`TEST_TRUSTED_KEY_HASHES` replaces Intel's
production key hash for image verification, :data:`TEST_CAN_WRITE` the privilege check,
:data:`TEST_CLOCK` the monotonic clock and sleep. The sysfs I/O comes from
:func:`tdxpolicy.host.sysfs.default_io`, which tests patch with the simulated kernel.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Callable, Optional

import typer

from . import ExitCode, LazyModule, app
from .facts_opts import (
    AcknowledgeOpt,
    AllowDebugOpt,
    AllowRollbackOpt,
    StrictOpt,
    move_options_from,
    parse_version_flag,
)
from .image_cmds import KernelChoice
from .options import (
    EXPORT_FORMATS,
    export_format_help,
    FormatOpt,
    HostNameOpt,
    NoDefaultPolicyOpt,
    OutputFormat,
    OutputOpt,
    PolicyOpt,
    RecordOpt,
    ToOpt,
    emit_result,
)
from ..commands import PolicySpec
from ..output import check_output

if TYPE_CHECKING:  # pragma: no cover
    from ..commands import exports
    from ..commands import host as lib
else:  # the library, imported when a command first uses it (start-up budget)
    lib = LazyModule("tdxpolicy.commands.host")
    exports = LazyModule("tdxpolicy.commands.exports")

class ProbeFormat(str, Enum):
    """``probe``: also the exporters (docs/exporters.md)."""

    text = "text"
    json = "json"
    nfd = "nfd"
    prometheus = "prometheus"


class PreflightFormat(str, Enum):
    """``preflight``: also JUnit for CI (one test case per check)."""

    text = "text"
    json = "json"
    junit = "junit"


ProbeFormatOpt = Annotated[
    ProbeFormat, typer.Option("--format", case_sensitive=False, help=export_format_help(
        "Output format: text, json;"))
]
PreflightFormatOpt = Annotated[
    PreflightFormat, typer.Option("--format", case_sensitive=False,
                                  help="Output format: text, json (preflight/1), junit (one "
                                  "test case per check).")
]
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



# --- commands ----------------------------------------------------------------------------------


@app.command("probe")
def probe_cmd(
    sysfs_root: SysfsRootOpt = Path("/sys"),
    proc_root: ProcRootOpt = Path("/proc"),
    kernel: KernelOpt = None,
    host: HostNameOpt = None,
    format: ProbeFormatOpt = ProbeFormat.text,
    output: OutputOpt = None,
    record: RecordOpt = None,
) -> int:
    """Read the host's TDX facts and update interface from sysfs and procfs.
    Exit 0, or 3 with the reason when the host has no usable update interface (with
    --format nfd or prometheus the file is written first: it describes that host too)."""
    check_output(output)
    gen = None if kernel is None else kernel.value
    if format.value in EXPORT_FORMATS:
        result = lib.probe_host(sysfs_root, proc_root, gen, host, require_usable=False)
        emit_result(exports.host_export(facts=result.facts, probe=result,
                                        record_file=record), format, output)
        result.require_usable()
        return ExitCode.OK
    result = lib.probe_host(sysfs_root, proc_root, gen, host)
    emit_result(result, format, output)
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
    format: PreflightFormatOpt = PreflightFormat.text,
    output: OutputOpt = None,
) -> int:
    """Probe the host, verify the image, decide, and check the host: one verdict.
    Exit 0 allowed, 1 denied, 3 host facts unavailable."""
    check_output(output)
    target = parse_version_flag("--to", to) if to is not None else None
    options = move_options_from(allow_debug, allow_rollback, strict, acknowledge)
    pf = lib.preflight_host(
        PolicySpec.of(policy, no_default_policy), options, target=target, image=image,
        sysfs_root=sysfs_root, proc_root=proc_root,
        kernel=None if kernel is None else kernel.value,
        can_write=TEST_CAN_WRITE, trusted_key_hashes=TEST_TRUSTED_KEY_HASHES)
    emit_result(pf, format, output)
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
    output: OutputOpt = None,
) -> int:
    """Update the running TDX module through fw_upload, only when preflight allows and every
    advisory is acknowledged. Exit 0 updated (or dry run allowed), 1 denied (nothing written),
    3 host unavailable, 4 update attempted and failed. Every attempt is recorded."""
    # Before anything touches the host: an --output that can never be written is refused.
    check_output(output)
    target = parse_version_flag("--to", to) if to is not None else None
    options = move_options_from(allow_debug, allow_rollback, strict, acknowledge)
    progress = _progress()
    try:
        result = lib.update_host(
            PolicySpec.of(policy, no_default_policy), options, image=image, target=target,
            dry_run=dry_run, timeout=timeout, record=record, lock_file=lock_file,
            sysfs_root=sysfs_root, proc_root=proc_root,
            kernel=None if kernel is None else kernel.value, progress=progress,
            can_write=TEST_CAN_WRITE, trusted_key_hashes=TEST_TRUSTED_KEY_HASHES,
            clock=TEST_CLOCK)
    finally:
        if progress is not None:
            progress.close()
    emit_result(result, format, output)
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
    """The progress line needs a terminal that understands ``\\r`` and erase-line (not
    ``TERM=dumb``)."""
    if os.environ.get("TERM") == "dumb":
        return None
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    return _Progress() if tty else None
