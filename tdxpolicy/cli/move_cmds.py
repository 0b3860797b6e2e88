"""CLI commands that decide moves: ``can-upgrade``, ``path``, ``select``, ``list``, ``fleet``.

Each command: options -> one library call (:mod:`tdxpolicy.commands.moves`) -> one way out
(:func:`tdxpolicy.cli.options.emit_result`) -> exit code (docs/cli.md#contract). Only typer,
the standard library and the light value types are imported at module level; the library
is imported in one place, :func:`_lib`, when a command runs.
"""

import os
import sys
from io import BytesIO
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from . import ExitCode, LazyModule, app
from .facts_opts import (
    AcknowledgeOpt,
    AllowDebugOpt,
    AllowRollbackOpt,
    AssumeUnknownOkOpt,
    CpuidOpt,
    FactsOpt,
    FromOpt,
    RemainingOpt,
    SeamldrOpt,
    StrictOpt,
    host_facts_from_options,
    move_options_from,
    parse_version_flag,
)
from .options import (
    EXPORT_FORMATS,
    DecideFormat,
    DecideFormatOpt,
    FormatOpt,
    NoDefaultPolicyOpt,
    OutputFormat,
    OutputOpt,
    PolicyOpt,
    RecordOpt,
    SelectFormat,
    SelectFormatOpt,
    ToOpt,
    emit_result,
)
from ..commands import PolicySpec
from ..errors import InputError
from ..output import check_output, emit, open_output, stderr_sink

if TYPE_CHECKING:  # pragma: no cover
    from ..commands import exports
    from ..commands import moves as lib
    from ..fleet import FleetSummary
    from ..host.probe import ProbeResult
    from ..hostfacts import HostFacts
    from ..verdict import MoveOptions
    from ..version import Version
else:  # the library, imported when a command first uses it (start-up budget)
    lib = LazyModule("tdxpolicy.commands.moves")
    exports = LazyModule("tdxpolicy.commands.exports")

MaxHopsOpt = Annotated[
    Optional[int],
    typer.Option("--max-hops", metavar="N", min=1,
                 help="At most N runtime updates (default: path: the remaining-update budget; "
                 "select: 1)."),
]
ImageOpt = Annotated[
    Optional[list[Path]],
    typer.Option("--image", metavar="PATH",
                 help="Module image to install (repeatable): its own facts are cross-checked "
                 "against the catalogue; without --to its identified version is the target."),
]



def _target(to: "str | None") -> "Version | None":
    return parse_version_flag("--to", to) if to is not None else None


# --- commands --------------------------------------------------------------------------------


@app.command("can-upgrade")
def can_upgrade(
    to: ToOpt = None,
    from_: FromOpt = None,
    seamldr: SeamldrOpt = None,
    cpuid: CpuidOpt = None,
    remaining: RemainingOpt = None,
    facts: FactsOpt = None,
    assume_unknown_ok: AssumeUnknownOkOpt = False,
    allow_debug: AllowDebugOpt = False,
    allow_rollback: AllowRollbackOpt = False,
    strict: StrictOpt = False,
    acknowledge: AcknowledgeOpt = None,
    image: ImageOpt = None,
    policy: PolicyOpt = None,
    no_default_policy: NoDefaultPolicyOpt = False,
    format: DecideFormatOpt = DecideFormat.text,
    output: OutputOpt = None,
    record: RecordOpt = None,
) -> int:
    """Decide one move (upgrade, reinstall or rollback). Exit 0 allowed, 1 denied."""
    check_output(output)
    target = _target(to)
    host = host_facts_from_options(from_, seamldr, cpuid, remaining, facts)
    options = move_options_from(allow_debug, allow_rollback, strict, acknowledge,
                                assume_unknown_ok)
    probe = _probe_for_export(host, format.value)
    if probe is not None:
        host = lib.resolve_host(host, probe=lambda: probe.facts)
    verdict = lib.can_upgrade(PolicySpec.of(policy, no_default_policy), host, target,
                                 options, image or ())
    if format.value in EXPORT_FORMATS:
        emit_result(exports.host_export(facts=host, probe=probe, verdicts=[verdict],
                                        record_file=record), format, output)
    else:
        emit_result(verdict, format, output)
    return ExitCode.OK if verdict.allowed else ExitCode.DENIED


@app.command("path")
def path_cmd(
    to: ToOpt = None,
    max_hops: MaxHopsOpt = None,
    from_: FromOpt = None,
    seamldr: SeamldrOpt = None,
    cpuid: CpuidOpt = None,
    remaining: RemainingOpt = None,
    facts: FactsOpt = None,
    assume_unknown_ok: AssumeUnknownOkOpt = False,
    allow_debug: AllowDebugOpt = False,
    allow_rollback: AllowRollbackOpt = False,
    strict: StrictOpt = False,
    acknowledge: AcknowledgeOpt = None,
    image: ImageOpt = None,
    policy: PolicyOpt = None,
    no_default_policy: NoDefaultPolicyOpt = False,
    format: FormatOpt = OutputFormat.text,
    output: OutputOpt = None,
) -> int:
    """Shortest sequence of permitted moves within the remaining-update budget.
    Exit 0 found, 1 none."""
    check_output(output)
    target = _target(to)
    host = host_facts_from_options(from_, seamldr, cpuid, remaining, facts)
    options = move_options_from(allow_debug, allow_rollback, strict, acknowledge,
                                assume_unknown_ok)
    result = lib.find_path(PolicySpec.of(policy, no_default_policy), host, target, options,
                              image or (), max_hops)
    emit_result(result, format, output)
    return ExitCode.OK if result.found else ExitCode.DENIED


@app.command("select")
def select_cmd(
    max_hops: MaxHopsOpt = None,
    from_: FromOpt = None,
    seamldr: SeamldrOpt = None,
    cpuid: CpuidOpt = None,
    remaining: RemainingOpt = None,
    facts: FactsOpt = None,
    assume_unknown_ok: AssumeUnknownOkOpt = False,
    allow_debug: AllowDebugOpt = False,
    allow_rollback: AllowRollbackOpt = False,
    strict: StrictOpt = False,
    acknowledge: AcknowledgeOpt = None,
    image: ImageOpt = None,
    policy: PolicyOpt = None,
    no_default_policy: NoDefaultPolicyOpt = False,
    format: SelectFormatOpt = SelectFormat.text,
    output: OutputOpt = None,
    record: RecordOpt = None,
) -> int:
    """The newest release this host can move to (one hop unless --max-hops), with every
    candidate and why it fails. With --image: whether the image's release is reachable.
    Exit 0 found, 1 none."""
    check_output(output)
    host = host_facts_from_options(from_, seamldr, cpuid, remaining, facts)
    options = move_options_from(allow_debug, allow_rollback, strict, acknowledge,
                                assume_unknown_ok)
    probe = _probe_for_export(host, format.value)
    if probe is not None:
        host = lib.resolve_host(host, probe=lambda: probe.facts)
    selection = lib.select_release(PolicySpec.of(policy, no_default_policy), host, options,
                                      image or (), max_hops)
    if format.value in EXPORT_FORMATS:
        emit_result(exports.host_export(facts=lib.resolve_host(host), probe=probe,
                                        select=selection.result, record_file=record),
                    format, output)
    else:
        emit_result(selection, format, output)
    return ExitCode.OK if selection.found else ExitCode.DENIED


def _probe_for_export(host: "HostFacts", fmt: str) -> "ProbeResult | None":
    """For the exporter formats, the probe of this host when its facts come from it (the
    update-interface label and metric need it); None otherwise."""
    if fmt not in EXPORT_FORMATS:
        return None
    return exports.probe_if_needed(host)


@app.command("list")
def list_cmd(
    from_: FromOpt = None,
    seamldr: SeamldrOpt = None,
    cpuid: CpuidOpt = None,
    remaining: RemainingOpt = None,
    facts: FactsOpt = None,
    assume_unknown_ok: AssumeUnknownOkOpt = False,
    allow_debug: AllowDebugOpt = False,
    allow_rollback: AllowRollbackOpt = False,
    strict: StrictOpt = False,
    acknowledge: AcknowledgeOpt = None,
    policy: PolicyOpt = None,
    no_default_policy: NoDefaultPolicyOpt = False,
    format: FormatOpt = OutputFormat.text,
    output: OutputOpt = None,
) -> int:
    """Every release of the catalogue, newest first, with its status for these host facts
    (when any are given). Exit 0. The host is not probed: give --from or --facts."""
    check_output(output)
    host = host_facts_from_options(from_, seamldr, cpuid, remaining, facts)
    given = facts is not None or any(x for x in (from_, seamldr, cpuid, remaining))
    options = move_options_from(allow_debug, allow_rollback, strict, acknowledge,
                                assume_unknown_ok)
    listing = lib.list_releases(PolicySpec.of(policy, no_default_policy), host, options,
                                   facts_given=given)
    emit_result(listing, format, output)
    return ExitCode.OK


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
            target=_target(to), select=select_, max_hops=max_hops,
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
            target=_target(to),
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
