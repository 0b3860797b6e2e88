"""CLI commands: ``tdxpolicy image inspect|verify|convert|join`` (docs/cli.md#commands).

Each command: options, one call into :mod:`tdxpolicy.commands.image`, one way out
(:func:`tdxpolicy.cli.options.emit_result`), exit. Only typer and the
standard library are imported at module level (start-up cost); the image package itself is
light (no ``cryptography``: signatures are checked with ``pow()``).

Exit codes: ``verify`` 0 valid, 1 invalid, 2 unreadable; ``inspect`` 0, 2 unreadable;
``convert``/``join`` 0 written, 2 refused (input invalid, output exists, unwritable).
"""

from __future__ import annotations

from enum import Enum
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from . import ExitCode, LazyModule, app
from .options import (
    FormatOpt,
    NoDefaultPolicyOpt,
    OutputFormat,
    OutputOpt,
    PolicyOpt,
    emit_result,
)
from ..commands import PolicySpec
from ..output import check_output

if TYPE_CHECKING:  # pragma: no cover
    from ..commands import image as lib
else:  # the library, imported when a command first uses it (start-up budget)
    lib = LazyModule("tdxpolicy.commands.image")

__all__ = ["image_app"]

image_app = typer.Typer(
    name="image",
    help="TDX module images: inspect, verify offline like the kernel and P-SEAMLDR, convert "
    "between the 0x100 and 0x200 headers, join a module with its sigstruct.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
app.add_typer(image_app, name="image")

# Key hashes (SHA-384 of the modulus) that `image verify` trusts. Only Intel's production key;
# there is deliberately no option or environment variable to add one. Tests replace this
# attribute in-process to verify images signed with their own key.
TRUSTED_KEY_HASHES: Optional[tuple[str, ...]] = None


class KernelChoice(str, Enum):
    """Kernel generations (tdxpolicy.generations; docs/kernel-generations.md)."""

    v1_v3 = "v1-v3"
    v4_v7 = "v4-v7"
    v8 = "v8"
    v9_v10 = "v9-v10"
    merged = "merged"
    legacy = "legacy"


class ToFormat(str, Enum):
    v200 = "0x200"
    v100 = "0x100"


ModuleOpt = Annotated[
    Optional[Path],
    typer.Option("--module", metavar="BIN",
                 help="Treat PATH as a bare .sigstruct and read the module pages from BIN."),
]
OutOpt = Annotated[Path, typer.Option("-o", "--output", metavar="OUT", help="Output image file.")]
# inspect/verify print a report; --output names the file it goes to (convert/join's --output
# is the image they write, and their report goes to stdout).
ReportOpt = OutputOpt
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")]



@image_app.command("inspect")
def inspect_cmd(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="Image (0x100 or 0x200), or a "
                                         ".sigstruct with --module.")],
    module: ModuleOpt = None,
    policy: PolicyOpt = None,
    no_default_policy: NoDefaultPolicyOpt = False,
    format: FormatOpt = OutputFormat.text,
    output: ReportOpt = None,
) -> int:
    """Every header and sigstruct field, decoded, with its byte offset."""
    check_output(output)
    report = lib.inspect_image(path, PolicySpec.of(policy, no_default_policy), module)
    emit_result(report, format, output)
    return ExitCode.OK


@image_app.command("verify")
def verify_cmd(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="Image (0x100 or 0x200), or a "
                                         ".sigstruct with --module.")],
    module: ModuleOpt = None,
    kernel: Annotated[
        Optional[KernelChoice],
        typer.Option("--kernel", help="Kernel generation that will take the image "
                     "(docs/kernel-generations.md): v9-v10 and merged accept only 0x200; v1-v3, "
                     "v4-v7, v8 and legacy only 0x100 (checksum verified by v1-v3 and legacy). "
                     "Without it the format is reported but does not fail."),
    ] = None,
    policy: PolicyOpt = None,
    no_default_policy: NoDefaultPolicyOpt = False,
    format: FormatOpt = OutputFormat.text,
    output: ReportOpt = None,
) -> int:
    """The checks the kernel and P-SEAMLDR make, offline. Exit 0 valid, 1 invalid, 2 unreadable."""
    check_output(output)
    report = lib.verify_image(path, PolicySpec.of(policy, no_default_policy), module,
                                 kernel=None if kernel is None else kernel.value,
                                 trusted_key_hashes=TRUSTED_KEY_HASHES)
    emit_result(report, format, output)
    return ExitCode.OK if report.valid else ExitCode.DENIED


def _emit_written(written: "lib.WrittenImage", format: OutputFormat, output: Path) -> None:
    """The report of a written image: on stdout, or on stderr when the image itself went to
    stdout (``-o -``)."""
    if str(output) == "-":
        emit_result(written, format, None, stream=sys.stderr)
    else:
        emit_result(written, format, None)


@image_app.command("convert")
def convert_cmd(
    path: Annotated[Path, typer.Argument(metavar="IN", help="Image to convert.")],
    output: OutOpt,
    to: Annotated[ToFormat, typer.Option("--to", help="Output header format.")] = ToFormat.v200,
    force: ForceOpt = False,
    format: FormatOpt = OutputFormat.text,
) -> int:
    """Rewrite an image's header (0x100 -> 0x200, or back with --to 0x100), verified before
    and after; written atomically, never over an existing file without --force."""
    lib.check_image_output(output, format is OutputFormat.json)
    written = lib.convert_image(path, output, to.value, force,
                                   trusted_key_hashes=TRUSTED_KEY_HASHES)
    _emit_written(written, format, output)
    return ExitCode.OK


@image_app.command("join")
def join_cmd(
    module: Annotated[Path, typer.Option("--module", metavar="BIN", help="Module pages (.bin).")],
    sigstruct: Annotated[Path, typer.Option("--sigstruct", metavar="SIG",
                                            help="The module's sigstruct (.sigstruct).")],
    output: OutOpt,
    to: Annotated[ToFormat, typer.Option("--to", help="Output header format.")] = ToFormat.v200,
    force: ForceOpt = False,
    format: FormatOpt = OutputFormat.text,
) -> int:
    """Build an image from a module and its sigstruct, verified before and after."""
    lib.check_image_output(output, format is OutputFormat.json)
    written = lib.join_image(module, sigstruct, output, to.value, force,
                                trusted_key_hashes=TRUSTED_KEY_HASHES)
    _emit_written(written, format, output)
    return ExitCode.OK
