"""CLI commands that decide moves: ``can-upgrade``, ``path``, ``select``, ``list``, ``fleet``.

Each command: options -> one library call (:mod:`tdxpolicy.engine`, :mod:`tdxpolicy.fleet`)
-> render (:mod:`tdxpolicy.render`) -> exit code (docs/cli.md#contract). Only typer and the
standard library are imported at module level; everything else is imported inside the
command so that ``tdxpolicy --help`` and the other commands do not pay for it.
"""

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Iterable, Optional, Sequence

import typer

from . import ExitCode, app
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
from .options import FormatOpt, NoDefaultPolicyOpt, OutputFormat, PolicyOpt, ToOpt, load_policy

if TYPE_CHECKING:
    from ..catalogue import Catalogue, Release
    from ..hostfacts import HostFacts
    from ..verdict import Check, MoveOptions, Verdict
    from ..version import Version

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


# --- shared steps ------------------------------------------------------------------------------


def _probe_running(facts: "HostFacts") -> "HostFacts":
    """No running version given: read it from the host (docs/cli.md#host-facts);
    facts given by flags or --facts win over probed ones. HostError (exit 3) when the host
    cannot tell."""
    from dataclasses import replace

    from ..errors import HostError, Problem
    from ..host.probe import probe_facts

    try:
        probed = probe_facts()
    except HostError as e:
        hint = Problem("give --from VERSION (or --facts FILE) to decide without probing this host")
        raise HostError(list(e.problems) + [hint], code=e.code) from None
    if probed.module_version is None:
        raise HostError("running module version unknown: give --from or --facts")
    given = {
        name: getattr(facts, name)
        for name in ("seamldr_version", "cpuid", "num_remaining_updates", "host")
        if getattr(facts, name) is not None
    }
    return replace(probed, **given)


def _host_facts(
    from_: str | None, seamldr: str | None, cpuid: list[str] | None, remaining: str | None,
    facts: Path | None,
) -> "HostFacts":
    host = host_facts_from_options(from_, seamldr, cpuid, remaining, facts)
    if host.module_version is None:
        host = _probe_running(host)
    return host


def _target(to: str | None) -> "Version | None":
    return parse_version_flag("--to", to) if to is not None else None


def _image_checks(
    images: Sequence[Path], catalogue: "Catalogue", target: "Version | None",
    has_to: bool = True,
) -> "tuple[Version | None, tuple[Check, ...], Catalogue]":
    """Read each ``--image`` and cross-check it; returns (target, the images' checks, the
    catalogue to decide with).

    Without ``--to`` the first image's identified version is the target. An image identified
    as the target lends it the facts no policy source declares (``with_image_facts``: e.g.
    its debug bit); the image checks themselves compare with the catalogue as given.
    """
    from ..image import read_image, with_image_facts
    from ..errors import InputError
    from ..image import image_move_checks
    from ..image.reader import read_file_limited

    checks: list[Check] = []
    named = target  # what the operator gave with --to (None without it)
    decide_with = catalogue
    for path in images:
        try:
            # Size-capped, and never blocks on a FIFO or reads a device (the image reader's
            # own file access).
            data = read_file_limited(path)
        except InputError as e:
            raise InputError(f"--image: cannot read {path}: {e.problems[0].message}",
                             code=e.code) from None
        ident, found = image_move_checks(data, str(path), catalogue, target, named=named)
        if target is None:
            if ident is None:
                hint = ("give --to VERSION" if has_to else
                        "add a policy document that declares its MRSEAM (--policy), or use "
                        "'tdxpolicy path --to VERSION --image PATH'")
                raise InputError(
                    f"--image: {path}: the image's version could not be identified from the "
                    f"catalogue; {hint}", code="unidentified-image")
            target = ident
            ident, found = image_move_checks(data, str(path), catalogue, target, named=named)
        checks.extend(found)
        if ident is not None and ident == target:
            decide_with = with_image_facts(decide_with, read_image(data, str(path)), target)
    return target, tuple(checks), decide_with


def _need_target(target: "Version | None") -> "Version":
    from ..errors import InputError

    if target is None:
        raise InputError("--to VERSION is required (or --image PATH)", code="usage")
    return target


def _emit(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _color() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    import os

    if os.environ.get("NO_COLOR"):
        return False
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _json(doc: Any) -> str:
    from ..render.json_out import dumps

    return dumps(doc) + "\n"


def _decide_with_images(
    catalogue: "Catalogue", host: "HostFacts", target: "Version", options: "MoveOptions",
    extra: "tuple[Check, ...]",
) -> "Verdict":
    from ..engine import decide

    verdict = decide(catalogue, host, target, options)
    return verdict.with_checks(extra) if extra else verdict


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
    format: FormatOpt = OutputFormat.text,
) -> int:
    """Decide one move (upgrade, reinstall or rollback). Exit 0 allowed, 1 denied."""
    target = _target(to)
    host = _host_facts(from_, seamldr, cpuid, remaining, facts)
    options = move_options_from(allow_debug, allow_rollback, strict, acknowledge,
                                assume_unknown_ok)
    catalogue = load_policy(policy, no_default_policy)
    extra: tuple[Check, ...] = ()
    if image:
        target, extra, catalogue = _image_checks(image, catalogue, target)
    verdict = _decide_with_images(catalogue, host, _need_target(target), options, extra)
    if format is OutputFormat.json:
        from ..render.json_out import verdict_json

        _emit(_json(verdict_json(verdict)))
    else:
        from ..render.text import render_verdict

        _emit(render_verdict(verdict, color=_color()))
    return ExitCode.OK if verdict.allowed else ExitCode.DENIED


def _path_with_images(result: Any, extra: "tuple[Check, ...]") -> Any:
    """Append the image's checks to the last hop; a hop they deny makes the path not found."""
    from dataclasses import replace

    if not extra or not result.found or not result.hops:
        return result
    last = result.hops[-1].with_checks(extra)
    hops = result.hops[:-1] + (last,)
    if last.allowed:
        return replace(result, hops=hops)
    return replace(result, found=False, hops=(),
                   reason=f"the image for {last.to_version} fails its checks",
                   blocking=last.failed)


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
) -> int:
    """Shortest sequence of permitted moves within the remaining-update budget.
    Exit 0 found, 1 none."""
    from ..engine import plan

    target = _target(to)
    host = _host_facts(from_, seamldr, cpuid, remaining, facts)
    options = move_options_from(allow_debug, allow_rollback, strict, acknowledge,
                                assume_unknown_ok)
    catalogue = load_policy(policy, no_default_policy)
    extra: tuple[Check, ...] = ()
    if image:
        target, extra, catalogue = _image_checks(image, catalogue, target)
    result = plan(catalogue, host, _need_target(target), options, max_hops=max_hops)
    result = _path_with_images(result, extra)
    if format is OutputFormat.json:
        from ..render.json_out import path_json

        _emit(_json(path_json(result)))
    else:
        from ..render.text import render_path

        _emit(render_path(result, color=_color()))
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
    format: FormatOpt = OutputFormat.text,
) -> int:
    """The newest release this host can move to (one hop unless --max-hops), with every
    candidate and why it fails. With --image: whether the image's release is reachable.
    Exit 0 found, 1 none."""
    from ..verdict import Candidate, SelectResult

    host = _host_facts(from_, seamldr, cpuid, remaining, facts)
    options = move_options_from(allow_debug, allow_rollback, strict, acknowledge,
                                assume_unknown_ok)
    catalogue = load_policy(policy, no_default_policy)
    if image:
        from ..engine import plan

        target, extra, catalogue = _image_checks(image, catalogue, None, has_to=False)
        assert target is not None
        p = _path_with_images(
            plan(catalogue, host, target, options, max_hops=max_hops or 1), extra
        )
        from ..verdict import Result

        failed = tuple(dict.fromkeys(c.code for c in p.blocking)) if not p.found else ()
        unknown = tuple(dict.fromkeys(c.code for c in p.blocking
                                      if c.result is Result.UNKNOWN)) if not p.found else ()
        # select never picks a reinstall or a rollback (engine.select): an image of the
        # running release or an older one is listed as a candidate but not selected.
        running = host.module_version
        newer = running is not None and target.key > running.key
        chosen = p.found and newer
        result = SelectResult(
            selected=target if chosen else None,
            path=p.hops if chosen else (),
            candidates=(Candidate(target, p.found, failed, len(p.hops) if p.found else None,
                                  unknown),),
        )
    else:
        from ..engine import select

        result = select(catalogue, host, options, max_hops=max_hops or 1)
    if format is OutputFormat.json:
        from ..render.json_out import select_json

        _emit(_json(select_json(result, host.module_version)))
    else:
        from ..render.text import render_select

        _emit(render_select(result, color=_color(), from_version=host.module_version))
    return ExitCode.OK if result.selected is not None else ExitCode.DENIED


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
) -> int:
    """Every release of the catalogue, newest first, with its status for these host facts
    (when any are given). Exit 0. The host is not probed: give --from or --facts."""
    host = host_facts_from_options(from_, seamldr, cpuid, remaining, facts)
    catalogue = load_policy(policy, no_default_policy)
    given = facts is not None or any(
        x for x in (from_, seamldr, cpuid, remaining)
    )
    rows: "Iterable[tuple[Release, Verdict | None]]"
    if given:
        from ..engine import decide_each

        options = move_options_from(allow_debug, allow_rollback, strict, acknowledge,
                                    assume_unknown_ok)
        rows = decide_each(catalogue, host, options)  # streamed: one verdict at a time
    else:
        rows = ((r, None) for r in catalogue.newest_first())
    if format is OutputFormat.json:
        from ..render.json_out import write_list_json

        write_list_json(sys.stdout.write, rows, host.module_version, with_status=given)
    else:
        from ..render.text import write_list

        write_list(sys.stdout.write, catalogue, rows, color=_color(),
                   from_version=host.module_version, with_status=given)
    sys.stdout.flush()
    return ExitCode.OK


class FleetFormat(str, Enum):
    json = "json"
    csv = "csv"
    text = "text"


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
                                  "and a summary table.")
    ] = FleetFormat.json,
) -> int:
    """Decide for every host of a fleet: JSON Lines in, one line out per input line, in
    order (compact rows; --full for whole documents); summary on stderr. Exit 2 if any line
    was malformed, else 1 if any host is blocked, else 0 (hosts already current are fine)."""
    import gc

    from ..errors import InputError
    from ..fleet import check_keep
    from ..sources import settle_heap

    if (to is None) == (not select_):
        raise InputError("fleet: give exactly one of --to VERSION or --select", code="usage")
    if to is not None and max_hops is not None:
        # A --to verdict is one move; silently ignoring the hop limit would mislead.
        raise InputError("fleet: --max-hops applies only with --select (--to decides one "
                         "direct move per host)", code="usage")
    if full and format is not FleetFormat.json:
        raise InputError("fleet: --full writes JSON documents; it goes with --format json only",
                         code="usage")
    kept = check_keep(keep or ())
    target = _target(to)
    options = move_options_from(allow_debug, allow_rollback, strict, acknowledge,
                                assume_unknown_ok)
    catalogue = load_policy(policy, no_default_policy)
    # Speed device (docs/performance.md#settle-heap): everything loaded so far lives for the
    # whole run; settling it keeps the cyclic GC from re-scanning it on every collection that
    # the per-line JSON objects trigger, whatever the catalogue's size. Unfrozen at the end
    # (in-process callers, tests).
    settle_heap()
    try:
        return _fleet_run(facts_file, summary_json, catalogue, options, target,
                          max_hops or 1, "full" if full else format.value, kept)
    finally:
        gc.unfreeze()


def _fleet_run(facts_file: str, summary_json: "Path | None", catalogue: "Catalogue",
               options: "MoveOptions", target: "Version | None", max_hops: int, fmt: str,
               kept: "tuple[str, ...]") -> int:
    import os

    from ..errors import InputError
    from ..fleet import run_fleet, streaming_input

    summary_out = None
    if summary_json is not None and str(summary_json) != "-":
        try:
            summary_out = open(summary_json, "w", encoding="utf-8")
        except OSError as e:
            raise InputError(f"--summary-json: cannot write {summary_json}: {e.strerror or e}",
                             code="unwritable") from None
    if facts_file == "-":
        raw = sys.stdin.buffer
        name = "<stdin>"
        close = False
    else:
        try:
            raw = open(facts_file, "rb")
        except OSError as e:
            raise InputError(f"cannot read {facts_file}: {e.strerror or e}",
                             code="unreadable") from None
        name = facts_file
        close = True
    stream: Any = raw
    try:
        try:
            gzipped = raw.peek(2)[:2] == b"\x1f\x8b"  # type: ignore[union-attr]
        except (AttributeError, OSError):
            gzipped = False
        if gzipped:
            import gzip

            stream = gzip.GzipFile(fileobj=raw, mode="rb")
        sys.stdout.flush()
        summary = run_fleet(
            stream, sys.stdout.buffer, catalogue, options,
            target=target, max_hops=max_hops, file=name, fmt=fmt, keep=kept,
            line_by_line=streaming_input(raw),
        )
    except (EOFError, OSError) as e:
        if isinstance(e, OSError) and (e.filename is not None or
                                       isinstance(e, BrokenPipeError)):
            raise
        # a read that fails part way (EIO from a special file, a vanished NFS mount, a
        # truncated or corrupt gzip stream)
        reason = getattr(e, "strerror", None) or e
        raise InputError(f"cannot read {name}: {reason}", code="unreadable") from None
    finally:
        if close:
            raw.close()
    if summary.output_closed:
        # The reader went away (`fleet ... | head`): point stdout at /dev/null so that the
        # interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    else:
        sys.stdout.flush()
    if summary_json is not None:
        import json

        text = json.dumps(summary.to_json()) + "\n"
        if summary_out is not None:
            with summary_out:
                summary_out.write(text)
        else:
            sys.stderr.write(text)
    if summary_json is None or summary_out is not None:
        sys.stderr.write(summary.render() + "\n")
    if summary.interrupted:
        return 130
    return summary.exit_code
