"""CLI commands that decide moves: ``can-upgrade``, ``path``, ``select``, ``list`` (``fleet``,
the same decisions for many hosts, is :mod:`.fleet_cmds`).

Each command: options -> one library call (:mod:`tdxpolicy.commands.moves`) -> one way out
(:func:`tdxpolicy.cli.options.emit_result`) -> exit code (docs/cli.md#contract). Only typer,
the standard library and the light value types are imported at module level; the library
is imported in one place, :func:`_lib`, when a command runs.
"""

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
    target_flag,
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
from ..output import check_output

if TYPE_CHECKING:  # pragma: no cover
    from ..commands import exports
    from ..commands import moves as lib
    from ..host.probe import ProbeResult
    from ..hostfacts import HostFacts
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
    target = target_flag(to)
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
    target = target_flag(to)
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
