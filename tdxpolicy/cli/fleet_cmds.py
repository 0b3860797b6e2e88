"""CLI command ``fleet``: the move decisions of :mod:`.move_cmds` for every host of a JSON Lines
file (docs/fleet.md).

Options -> one library call (:func:`tdxpolicy.commands.moves.run_fleet_file`) -> the rows
streamed as they are decided, the summary through the one way out -> exit code. A module of
its own so that the common commands do not build its many options at start-up.
"""

import os
import sys
from enum import Enum
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from . import LazyModule, app
from .facts_opts import (
    AcknowledgeOpt,
    AllowDebugOpt,
    AllowRollbackOpt,
    AssumeUnknownOkOpt,
    StrictOpt,
    move_options_from,
    target_flag,
)
from .options import NoDefaultPolicyOpt, OutputFormat, OutputOpt, PolicyOpt, ToOpt, emit_result
from .move_cmds import MaxHopsOpt
from ..commands import PolicySpec
from ..errors import InputError
from ..output import check_output, emit, open_output, stderr_sink

if TYPE_CHECKING:  # pragma: no cover
    from ..commands import exports
    from ..commands import moves as lib
    from ..fleet import FleetSummary
    from ..verdict import MoveOptions
else:  # the library, imported when the command runs (start-up budget)
    lib = LazyModule("tdxpolicy.commands.moves")
    exports = LazyModule("tdxpolicy.commands.exports")



class FleetFormat(str, Enum):
    """fleet's formats (rows are written by tdxpolicy.fleet; its summary through the output
    registry)."""

    json = "json"
    csv = "csv"
    text = "text"
    junit = "junit"


@app.command("fleet")
def fleet_cmd(
    facts_file: Annotated[
        str, typer.Argument(metavar="FACTS.jsonl", help="One host-facts JSON object per line "
                            "(gzip-compressed too); '-' reads stdin.")
    ],
    to: ToOpt = None,
    select_: Annotated[
        bool, typer.Option("--select", help="Per host: the newest release it can move to.")
    ] = False,
    max_hops: MaxHopsOpt = None,
    full: Annotated[
        bool, typer.Option("--full", help="The whole verdict (or select) document per host "
                           "instead of the compact row (JSON only).")
    ] = False,
    keep: Annotated[
        Optional[list[str]],
        typer.Option("--keep", metavar="KEY", help="Copy this input column to every output "
                     "line unchanged (repeatable); it is accepted on input.")
    ] = None,
    summary_json: Annotated[
        Optional[Path],
        typer.Option("--summary-json", metavar="FILE", help="Also write the summary as JSON "
                     "to FILE ('-': to stderr instead of the one-line summary).")
    ] = None,
    assume_unknown_ok: AssumeUnknownOkOpt = False,
    allow_debug: AllowDebugOpt = False,
    allow_rollback: AllowRollbackOpt = False,
    strict: StrictOpt = False,
    acknowledge: AcknowledgeOpt = None,
    policy: PolicyOpt = None,
    no_default_policy: NoDefaultPolicyOpt = False,
    format: Annotated[
        FleetFormat, typer.Option("--format", case_sensitive=False,
                                  help="json: one JSON line per host (default); csv: a header "
                                  "and one row per host; text: the blocked and malformed hosts "
                                  "and a summary table; junit: one test suite per host (written "
                                  "when every host is decided).")
    ] = FleetFormat.json,
    output: OutputOpt = None,
) -> int:
    """Decide for every host of a fleet: JSON Lines in, one line out per input line, in
    order (compact rows; --full for whole documents); summary on stderr. Exit 2 if any line
    was malformed, else 1 if any host is blocked, else 0 (hosts already current are fine)."""
    if full and format not in (FleetFormat.json, FleetFormat.junit):
        raise InputError("fleet: --full writes JSON documents; it goes with --format json "
                         "(or junit: one test case per check) only", code="usage")
    check_output(output)
    if summary_json is not None:
        check_output(summary_json, "--summary-json")
    options = move_options_from(allow_debug, allow_rollback, strict, acknowledge,
                                assume_unknown_ok)
    sys.stdout.flush()
    if format is FleetFormat.junit:
        # A JUnit report is one XML document: the rows are gathered (compact, or --full for a
        # case per check), then written at once.
        rows = BytesIO()
        summary = lib.run_fleet_file(
            facts_file, rows, PolicySpec.of(policy, no_default_policy), options,
            target=target_flag(to), select=select_, max_hops=max_hops,
            fmt="full" if full else "json", keep=keep or ())
        emit_result(exports.fleet_rows(rows.getvalue()), format, output)
    else:
        summary = _fleet_to(output, facts_file, policy, no_default_policy, options, to, select_,
                            max_hops, "full" if full else format.value, keep)
    if summary_json is not None and str(summary_json) != "-":
        emit_result(summary, OutputFormat.json, summary_json)
    elif summary_json is not None:
        emit(summary, "json", stderr_sink())
    if summary_json is None or str(summary_json) != "-":
        emit(summary, "text", stderr_sink())
    return 130 if summary.interrupted else summary.exit_code


def _fleet_to(output: Optional[Path], facts_file: str, policy: PolicyOpt,
              no_default_policy: bool, options: "MoveOptions", to: Optional[str],
              select_: bool, max_hops: Optional[int], fmt: str,
              keep: Optional[list[str]]) -> "FleetSummary":
    with open_output(output) as sink:
        assert sink.binary is not None
        summary = lib.run_fleet_file(
            facts_file, sink.binary, PolicySpec.of(policy, no_default_policy), options,
            target=target_flag(to),
            select=select_, max_hops=max_hops, fmt=fmt, keep=keep or ())
        if summary.output_closed and not sink.is_file:
            # The reader went away (`fleet ... | head`): point stdout at /dev/null so that
            # the interpreter's final flush does not fail again.
            _silence_stdout()
        else:
            sink.binary.flush()
    return summary


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
