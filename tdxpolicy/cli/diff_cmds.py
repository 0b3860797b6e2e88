"""CLI command ``diff``: review a change of policy data (:mod:`tdxpolicy.diff`).

Options -> one library call (:func:`tdxpolicy.commands.diff.diff_sources`) -> one way out
(:func:`tdxpolicy.cli.options.emit_result`) -> exit 1 when a runtime path is lost or an SVN
lowered. Only typer and the standard library are imported at module level (start-up budget).
No ``from __future__ import annotations``: typer reads the annotations at run time.
"""

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from . import ExitCode, LazyModule, app
from .facts_opts import AcknowledgeOpt, AssumeUnknownOkOpt, move_options_from
from .options import OutputOpt, emit_result
from ..output import check_output

if TYPE_CHECKING:  # pragma: no cover
    from ..commands import diff as lib
else:  # the library, imported when a command first uses it (start-up budget)
    lib = LazyModule("tdxpolicy.commands.diff")

class DiffFormat(str, Enum):
    """diff's formats (tdxpolicy.output.RENDERERS["tdxpolicy.diff.CatalogueDiff"])."""

    text = "text"
    json = "json"
    sarif = "sarif"


#: The side of a diff that names the catalogue embedded in this tdxpolicy (as
#: tdxpolicy.commands.diff.EMBEDDED; spelled here so that --help costs no library import).
EMBEDDED = "@embedded"



@app.command("diff")
def diff_cmd(
    old: Annotated[str, typer.Argument(metavar="OLD", help=(
        f"The data before: a policy source or directory (anything --policy takes), or "
        f"{EMBEDDED} for the catalogue embedded in this tdxpolicy."))],
    new: Annotated[str, typer.Argument(metavar="NEW", help="The data after (as OLD).")],
    facts: Annotated[Optional[list[Path]], typer.Option(
        "--facts", metavar="FILE",
        help="Host facts JSON (repeatable): count the hosts whose selected target changes.")] = None,
    fleet: Annotated[Optional[Path], typer.Option(
        "--fleet", metavar="FILE",
        help="Host facts as JSON Lines (the fleet input; - for stdin): count affected hosts.")] = None,
    acknowledge: AcknowledgeOpt = None,
    assume_unknown_ok: AssumeUnknownOkOpt = False,
    max_hops: Annotated[int, typer.Option("--max-hops", metavar="N", min=1, max=64,
                                          help="Hops a host may take (host impact).")] = 3,
    format: Annotated[DiffFormat, typer.Option("--format", case_sensitive=False,
                                               help="Output format.")] = DiffFormat.text,
    output: OutputOpt = None,
) -> int:
    """Review a change of policy data: releases added and removed, facts and rules changed,
    and which runtime paths it opens or closes. Exit 1 when a runtime path is lost or an SVN
    is lowered (a pipeline can gate a data refresh on it), 0 otherwise, 2 for bad input."""
    check_output(output)
    options = move_options_from(acknowledge=acknowledge, assume_unknown_ok=assume_unknown_ok)
    d = lib.diff_sources(old, new, options, facts=facts or (), fleet=fleet,
                            max_hops=max_hops)
    emit_result(d, format, output)
    return ExitCode.DENIED if d.breaking else ExitCode.OK
