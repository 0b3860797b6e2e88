"""CLI commands: ``tdxpolicy image inspect|verify|convert|join`` (docs/cli.md#commands).

Each command: options, one call into :mod:`tdxpolicy.image`, render, exit. Only typer and the
standard library are imported at module level (start-up cost); the image package itself is
light (no ``cryptography``: signatures are checked with ``pow()``).

Exit codes: ``verify`` 0 valid, 1 invalid, 2 unreadable; ``inspect`` 0, 2 unreadable;
``convert``/``join`` 0 written, 2 refused (input invalid, output exists, unwritable).
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from . import ExitCode, app
from .options import FormatOpt, NoDefaultPolicyOpt, OutputFormat, PolicyOpt, load_policy

if TYPE_CHECKING:
    from ..image.reader import Image

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


def _trusted() -> tuple[str, ...]:
    from ..image.verify import INTEL_KEY_HASH

    return TRUSTED_KEY_HASHES if TRUSTED_KEY_HASHES is not None else (INTEL_KEY_HASH,)


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
OutOpt = Annotated[Path, typer.Option("-o", "--output", metavar="OUT",
                                      help="Output image file ('-': standard output).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")]


def _load(path: Path, module: Optional[Path]) -> Image:
    from ..image.reader import load_image, load_pair

    if module is not None:
        return load_pair(module, path)
    return load_image(path)


def _emit(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _json(doc: Any) -> str:
    from . import json_text

    return json_text(doc)


@image_app.command("inspect")
def inspect_cmd(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="Image (0x100 or 0x200), or a "
                                         ".sigstruct with --module.")],
    module: ModuleOpt = None,
    policy: PolicyOpt = None,
    no_default_policy: NoDefaultPolicyOpt = False,
    format: FormatOpt = OutputFormat.text,
) -> int:
    """Every header and sigstruct field, decoded, with its byte offset."""
    from ..image.identity import identify
    from ..image.render import image_document, render_inspect

    image = _load(path, module)
    ident = identify(image.sigstruct.seamhash_hex, load_policy(policy, no_default_policy))
    if format is OutputFormat.json:
        _emit(_json(image_document(image, ident, None)))
    else:
        _emit(render_inspect(image, ident))
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
) -> int:
    """The checks the kernel and P-SEAMLDR make, offline. Exit 0 valid, 1 invalid, 2 unreadable."""
    from ..image.identity import identify, identity_checks
    from ..image.render import image_document, render_verify
    from ..image.verify import is_valid, verify

    image = _load(path, module)
    checks = verify(image, kernel=None if kernel is None else kernel.value,
                    trusted_key_hashes=_trusted())
    ident = identify(image.sigstruct.seamhash_hex, load_policy(policy, no_default_policy))
    checks = checks + identity_checks(image, ident)
    if format is OutputFormat.json:
        _emit(_json(image_document(image, ident, checks)))
    else:
        _emit(render_verify(image, ident, checks))
    return ExitCode.OK if is_valid(checks) else ExitCode.DENIED


def _check_output(out: Path, fmt: OutputFormat) -> None:
    """Refuse an output the image cannot go to, before any work: a directory, or standard
    output when it carries the JSON report or is a terminal."""
    from ..errors import InputError
    from ..model import Location

    if str(out) == "-":
        if fmt is OutputFormat.json:
            raise InputError.at("-o -: standard output carries the JSON report with --format "
                                "json; write the image to a file", code="usage")
        try:
            tty = sys.stdout.isatty()
        except (AttributeError, ValueError):
            tty = False
        if tty:
            raise InputError.at("-o -: standard output is a terminal; redirect it to a file or "
                                "a pipe for the binary image", code="usage")
    elif out.is_dir():
        raise InputError.at(
            "this is a directory; give the name of the image file to write, e.g. "
            f"{out / 'tdx_module.bin'}", Location(str(out)), code="output-is-directory")


def _write(out: Path, data: bytes, force: bool, fmt: OutputFormat, what: str) -> int:
    from ..image.convert import write_new_file
    from ..image.identity import identify
    from ..image.reader import read_image
    from ..image.render import image_document
    from ..image.verify import verify

    to_stdout = str(out) == "-"
    if to_stdout:
        # The image is the output; the one-line report goes to stderr (text only, see
        # _check_output).
        binary = getattr(sys.stdout, "buffer", None)
        if binary is None:  # a text-only stream put in place by an embedding program
            from ..errors import InputError

            raise InputError("-o -: standard output takes no binary data here", code="usage")
        sys.stdout.flush()
        binary.write(data)
        binary.flush()
    else:
        write_new_file(out, data, force=force)
    name = "<stdout>" if to_stdout else str(out)
    image = read_image(data, name)
    ident = identify(image.sigstruct.seamhash_hex, load_policy(None, False))
    if fmt is OutputFormat.json:
        checks = verify(image, trusted_key_hashes=_trusted())
        _emit(_json(image_document(image, ident, checks)))
    else:
        who = "unknown release" if ident.version is None else str(ident.version)
        line = f"wrote {name}: {what}, format {image.format_label}, {len(data)} bytes ({who})\n"
        if to_stdout:
            sys.stderr.write(line)
        else:
            _emit(line)
    return ExitCode.OK


def _format(to: ToFormat) -> Any:
    from ..image.reader import ImageFormat

    return ImageFormat.TDX_IMAGE if to is ToFormat.v200 else ImageFormat.TDX_BLOB


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
    from ..image.convert import convert

    _check_output(output, format)
    image = _load(path, None)
    data, _ = convert(image, _format(to), str(output), trusted_key_hashes=_trusted())
    return _write(output, data, force, format, f"converted from {image.format_label}")


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
    from ..image.convert import join
    from ..image.reader import read_file_limited

    _check_output(output, format)
    mod = read_file_limited(module)
    sig = read_file_limited(sigstruct)
    data, _ = join(mod, sig, _format(to), str(module), str(sigstruct), str(output),
                   trusted_key_hashes=_trusted())
    return _write(output, data, force, format, f"joined {module.name} + {sigstruct.name}")
