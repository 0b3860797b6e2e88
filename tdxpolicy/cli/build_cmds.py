"""CLI command ``catalogue build``: Intel's published sources -> reviewed policy documents.

Options -> one library call (:func:`tdxpolicy.catalogue_build.write_documents`: sources
loaded without the embedded catalogue, one document per release written to ``-o DIR``, each
file atomically; nothing is written unless every source loaded) -> its report to stderr. No ``from __future__ import
annotations``: typer reads the annotations at run time.
"""

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from . import ExitCode, LazyModule, app
from ..errors import InputError
from ..output import emit, stderr_sink

if TYPE_CHECKING:  # pragma: no cover
    from .. import catalogue_build as lib
else:  # the library, imported when the command runs (start-up budget)
    lib = LazyModule("tdxpolicy.catalogue_build")

catalogue_app = typer.Typer(help="Build the catalogue from Intel's published sources.",
                            no_args_is_help=True, add_completion=False,
                            rich_markup_mode=None)
app.add_typer(catalogue_app, name="catalogue")


def _date(flag: str, text: Optional[str]) -> "Optional[dt.date]":
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{flag}: expected a date like 2026-11-28, got {text!r}",
                         code="invalid-flag") from None


@catalogue_app.command("build")
def build_cmd(
    sources: Annotated[list[Path], typer.Argument(
        metavar="SOURCE...",
        help="Intel's sources: a checkout of the binaries repository (mapping_file.json, "
        "README.md, joined_files/*.blob), the source repository's README (MRSEAM table), "
        "module images, or any other --policy source.")],
    output: Annotated[Path, typer.Option("-o", "--output", metavar="DIR",
                                         help="Directory to write the documents to.")],
    issued: Annotated[Optional[str], typer.Option(
        "--issued", metavar="DATE", help="The documents' issued date (default: today).")] = None,
    expires: Annotated[Optional[str], typer.Option(
        "--expires", metavar="DATE",
        help="An expiry date for the documents (none by default).")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace the .tdxpolicy documents already in DIR.")] = False,
) -> int:
    """Write one .tdxpolicy document per release from Intel's published sources, each fact
    with its provenance, ready to review and pin with --policy DIR --no-default-policy."""
    report = lib.write_documents(sources, output, issued=_date("--issued", issued) or dt.date.today(),
                             expires=_date("--expires", expires), force=force, root=Path.cwd())
    # What was done goes to stderr: a message, not a document (stdout stays empty).
    emit(report, "text", stderr_sink())
    return ExitCode.OK
