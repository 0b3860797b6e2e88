"""CLI command ``catalogue build``: Intel's published sources -> reviewed policy documents.

Options -> :func:`tdxpolicy.sources.load_catalogue` (no embedded catalogue) ->
:func:`tdxpolicy.catalogue_build.build_documents` -> written to ``-o DIR`` (each file written
atomically; nothing is written unless every source loaded). No ``from __future__ import
annotations``: typer reads the annotations at run time.
"""

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import ExitCode, app

catalogue_app = typer.Typer(help="Build the catalogue from Intel's published sources.",
                            no_args_is_help=True, add_completion=False,
                            rich_markup_mode=None)
app.add_typer(catalogue_app, name="catalogue")


def _date(flag: str, text: Optional[str]) -> "object":
    import datetime as dt

    from ..errors import InputError

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
    import datetime as dt
    import os
    import tempfile

    from ..catalogue_build import build_documents, describe_sources
    from ..errors import InputError
    from ..model import Location
    from ..sources import load_catalogue

    day = _date("--issued", issued) or dt.date.today()
    until = _date("--expires", expires)
    if output.exists() and not output.is_dir():
        raise InputError.at(f"-o: {output} exists and is not a directory", Location(str(output)),
                            code="usage")
    existing = sorted(output.glob("*.tdxpolicy")) if output.is_dir() else []
    if existing and not force:
        raise InputError.at(f"-o: {output} already holds {len(existing)} .tdxpolicy document(s); "
                            "give --force to replace them", Location(str(output)), code="usage")
    catalogue = load_catalogue(sources, include_default=False)
    if not len(catalogue):
        raise InputError("no release found in the sources given", code="usage")
    docs = build_documents(catalogue, issued=day, expires=until,  # type: ignore[arg-type]
                           origin=describe_sources(sources), root=Path.cwd())
    output.mkdir(parents=True, exist_ok=True)
    for name, data in docs.items():
        fd, tmp = tempfile.mkstemp(dir=output, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, output / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    for old in existing:
        if old.name not in docs:
            old.unlink()
    sys.stderr.write(f"wrote {len(docs)} documents to {output} "
                     f"({', '.join(r.version.text for r in catalogue)})\n")
    return ExitCode.OK
