"""``image inspect|verify|convert|join`` as library calls (docs/cli.md#commands).

Images are checked offline like the kernel and P-SEAMLDR would, against Intel's production
key only unless the caller passes ``trusted_key_hashes`` (tests; there is deliberately no
option for it), and identified against the catalogue.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .._value import value
from ..errors import InputError
from ..model import Location
from ..verdict import Check
from . import PolicySpec

if TYPE_CHECKING:  # pragma: no cover
    from ..image.identity import Identity
    from ..image.reader import Image

__all__ = ["ImageReport", "WrittenImage", "inspect_image", "verify_image", "convert_image",
           "join_image"]


@value
class ImageReport:
    """An image, who it is, and (``verify``) the checks it was put through; ``checks is None``
    for ``inspect`` (nothing was checked)."""

    image: Image
    identity: Identity
    checks: tuple[Check, ...] | None = None

    @property
    def valid(self) -> bool:
        from ..image.verify import is_valid

        return self.checks is not None and is_valid(self.checks)


@value
class WrittenImage:
    """An image ``convert``/``join`` wrote: where, what was done, and its report."""

    path: Path
    what: str
    size: int
    report: ImageReport


def _trusted(trusted_key_hashes: Sequence[str] | None) -> tuple[str, ...]:
    from ..image.verify import INTEL_KEY_HASH

    return tuple(trusted_key_hashes) if trusted_key_hashes is not None else (INTEL_KEY_HASH,)


def _load(path: Path, module: Path | None) -> Image:
    from ..image.reader import load_image, load_pair

    if module is not None:
        return load_pair(module, path)
    return load_image(path)


def inspect_image(path: Path, policy: PolicySpec, module: Path | None = None) -> ImageReport:
    """Every header and sigstruct field; PATH is a ``.sigstruct`` when ``module`` is given."""
    from ..image.identity import identify

    image = _load(path, module)
    return ImageReport(image, identify(image.sigstruct.seamhash_hex, policy.load()))


def verify_image(path: Path, policy: PolicySpec, module: Path | None = None,
                 kernel: str | None = None,
                 trusted_key_hashes: Sequence[str] | None = None) -> ImageReport:
    """The checks the kernel (of generation ``kernel``, when named) and P-SEAMLDR make."""
    from ..image.identity import identify, identity_checks
    from ..image.verify import verify

    image = _load(path, module)
    checks = verify(image, kernel=kernel, trusted_key_hashes=_trusted(trusted_key_hashes))
    ident = identify(image.sigstruct.seamhash_hex, policy.load())
    return ImageReport(image, ident, tuple(checks) + tuple(identity_checks(image, ident)))


def _written(out: Path, data: bytes, force: bool, what: str,
             trusted_key_hashes: Sequence[str] | None) -> WrittenImage:
    from ..image.convert import write_new_file
    from ..image.identity import identify
    from ..image.reader import read_image
    from ..image.verify import verify

    if str(out) == "-":
        # `-o -`: the image is the output (the CLI sends the report to stderr).
        import sys

        binary = getattr(sys.stdout, "buffer", None)
        if binary is None:  # a text-only stream put in place by an embedding program
            raise InputError("-o -: standard output takes no binary data here", code="usage")
        sys.stdout.flush()
        binary.write(data)
        binary.flush()
        out = Path("<stdout>")
    else:
        write_new_file(out, data, force=force)
    image = read_image(data, str(out))
    ident = identify(image.sigstruct.seamhash_hex, PolicySpec().load())
    checks = tuple(verify(image, trusted_key_hashes=_trusted(trusted_key_hashes)))
    return WrittenImage(out, what, len(data), ImageReport(image, ident, checks))


def _format(to: str) -> object:
    from ..image.reader import ImageFormat

    return ImageFormat.TDX_IMAGE if to == "0x200" else ImageFormat.TDX_BLOB


def check_image_output(out: Path, json_report: bool) -> None:
    """Refuse, before any work, an output the image cannot go to: a directory; standard
    output (``-``) when it carries the JSON report or is a terminal."""
    import sys

    if str(out) == "-":
        if json_report:
            raise InputError("-o -: standard output carries the JSON report with --format "
                             "json; write the image to a file", code="usage")
        try:
            tty = sys.stdout.isatty()
        except (AttributeError, ValueError):
            tty = False
        if tty:
            raise InputError("-o -: standard output is a terminal; redirect it to a file or "
                             "a pipe for the binary image", code="usage")
    elif out.is_dir():
        raise InputError.at(
            "this is a directory; give the name of the image file to write, e.g. "
            f"{out / 'tdx_module.bin'}", Location(str(out)), code="output-is-directory")


def convert_image(path: Path, output: Path, to: str = "0x200", force: bool = False,
                  trusted_key_hashes: Sequence[str] | None = None) -> WrittenImage:
    """Rewrite an image's header (``to``: ``0x200`` or ``0x100``), verified before and after;
    written atomically, never over an existing file without ``force``."""
    from ..image.convert import convert

    image = _load(path, None)
    data, _ = convert(image, _format(to), str(output),  # type: ignore[arg-type]
                      trusted_key_hashes=_trusted(trusted_key_hashes))
    return _written(output, data, force, f"converted from {image.format_label}",
                    trusted_key_hashes)


def join_image(module: Path, sigstruct: Path, output: Path, to: str = "0x200",
               force: bool = False,
               trusted_key_hashes: Sequence[str] | None = None) -> WrittenImage:
    """Build an image from a module and its sigstruct, verified before and after."""
    from ..image.convert import join
    from ..image.reader import read_file_limited

    mod = read_file_limited(module)
    sig = read_file_limited(sigstruct)
    data, _ = join(mod, sig, _format(to), str(module), str(sigstruct),  # type: ignore[arg-type]
                   str(output), trusted_key_hashes=_trusted(trusted_key_hashes))
    return _written(output, data, force, f"joined {module.name} + {sigstruct.name}",
                    trusted_key_hashes)
