"""The move commands as library calls: ``can-upgrade``, ``path``, ``select``, ``list``,
``fleet`` (docs/cli.md#commands).

Each takes the host facts the operator gave (flags and ``--facts``, already parsed), the move
options, the policy sources and the module images named with ``--image``, and returns one
result for :func:`tdxpolicy.output.emit`. Two pieces of domain logic live here rather than in
the command line:

- which host facts win (:func:`resolve_host`): without a running version the host is probed,
  and facts the operator gave override the probed ones (docs/cli.md#host-facts);
- images as move targets (:func:`image_checks`): each image is read, identified and
  cross-checked against the catalogue; the checks join the verdict of the move to it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterable, Sequence

from .._value import replace, value
from ..errors import HostError, InputError, Problem
from ..hostfacts import HostFacts
from ..verdict import Check, MoveOptions, PathResult, Result, SelectResult, Verdict
from ..version import Version
from . import PolicySpec

if TYPE_CHECKING:  # pragma: no cover
    from ..catalogue import Catalogue, Release
    from ..fleet import FleetSummary

__all__ = [
    "Selection",
    "ReleaseList",
    "resolve_host",
    "image_checks",
    "can_upgrade",
    "find_path",
    "select_release",
    "list_releases",
    "run_fleet_file",
]

# The facts an operator may give that override what the probe read (the running version is
# what triggers the probe, so it is never both given and probed).
GIVEN_OVER_PROBED = ("seamldr_version", "cpuid", "num_remaining_updates", "host")


@value
class Selection:
    """What ``select`` answers: the engine's :class:`~tdxpolicy.verdict.SelectResult` and the
    running version it was selected from (``select/1``'s ``from``)."""

    result: SelectResult
    from_version: Version | None = None

    @property
    def found(self) -> bool:
        return self.result.selected is not None


@value
class ReleaseList:
    """What ``list`` answers: the catalogue and its rows, newest first, each a release and
    the verdict of a move there (``None`` when no host facts were given). ``rows`` is an
    iterator: each verdict is decided when its row is written and not kept (a catalogue of
    100,000 releases would otherwise hold 100,000 verdicts); read it once."""

    catalogue: Catalogue
    rows: Iterable[tuple[Release, Verdict | None]]
    from_version: Version | None = None
    with_status: bool = False


def resolve_host(given: HostFacts, probe: Any = None) -> HostFacts:
    """The host facts to decide with: ``given`` when it names the running version; else the
    probed facts, with every fact in ``given`` winning over its probed value.

    Raises :class:`~tdxpolicy.errors.HostError` (exit 3) when the host cannot tell its running
    version. ``probe`` replaces :func:`tdxpolicy.host.probe.probe_facts` (tests)."""
    if given.module_version is not None:
        return given
    if probe is None:
        from ..host.probe import probe_facts as probe
    try:
        probed: HostFacts = probe()
    except HostError as e:
        hint = Problem("give --from VERSION (or --facts FILE) to decide without probing this host")
        raise HostError(list(e.problems) + [hint], code=e.code) from None
    if probed.module_version is None:
        raise HostError("running module version unknown: give --from or --facts")
    overrides = {name: getattr(given, name) for name in GIVEN_OVER_PROBED
                 if getattr(given, name) is not None}
    return replace(probed, **overrides)


def image_checks(
    images: Sequence[Path], catalogue: Catalogue, target: Version | None,
    has_to: bool = True,
) -> tuple[Version | None, tuple[Check, ...], Catalogue]:
    """Read each image and cross-check it; returns (target, the images' checks, the
    catalogue to decide with).

    Without a target the first image's identified version is the target. An image identified
    as the target lends it the facts no policy source declares (``with_image_facts``: e.g.
    its debug bit); the image checks themselves compare with the catalogue as given.
    """
    from ..image import image_move_checks, read_image, with_image_facts
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


def _need_target(target: Version | None) -> Version:
    if target is None:
        raise InputError("--to VERSION is required (or --image PATH)", code="usage")
    return target


def _path_with_images(result: PathResult, extra: tuple[Check, ...]) -> PathResult:
    """Append the image's checks to the last hop; a hop they deny makes the path not found."""
    if not extra or not result.found or not result.hops:
        return result
    last = result.hops[-1].with_checks(extra)
    hops = result.hops[:-1] + (last,)
    if last.allowed:
        return replace(result, hops=hops)
    return replace(result, found=False, hops=(),
                   reason=f"the image for {last.to_version} fails its checks",
                   blocking=last.failed)


def can_upgrade(policy: PolicySpec, given: HostFacts, target: Version | None,
                options: MoveOptions, images: Sequence[Path] = ()) -> Verdict:
    """``can-upgrade``: the verdict of one move (to ``target``, or to the release the first
    image is identified as)."""
    from ..engine import decide

    host = resolve_host(given)
    catalogue = policy.load()
    extra: tuple[Check, ...] = ()
    if images:
        target, extra, catalogue = image_checks(images, catalogue, target)
    verdict = decide(catalogue, host, _need_target(target), options)
    return verdict.with_checks(extra) if extra else verdict


def find_path(policy: PolicySpec, given: HostFacts, target: Version | None,
              options: MoveOptions, images: Sequence[Path] = (),
              max_hops: int | None = None) -> PathResult:
    """``path``: the shortest sequence of permitted moves within the update budget."""
    from ..engine import plan

    host = resolve_host(given)
    catalogue = policy.load()
    extra: tuple[Check, ...] = ()
    if images:
        target, extra, catalogue = image_checks(images, catalogue, target)
    result = plan(catalogue, host, _need_target(target), options, max_hops=max_hops)
    return _path_with_images(result, extra)


def select_release(policy: PolicySpec, given: HostFacts, options: MoveOptions,
                   images: Sequence[Path] = (), max_hops: int | None = None) -> Selection:
    """``select``: the newest release this host can move to; with images, whether the first
    image's release is reachable (as the only candidate)."""
    from ..engine import plan, select
    from ..verdict import Candidate

    host = resolve_host(given)
    catalogue = policy.load()
    hops = max_hops or 1
    if not images:
        return Selection(select(catalogue, host, options, max_hops=hops), host.module_version)
    target, extra, catalogue = image_checks(images, catalogue, None, has_to=False)
    assert target is not None
    p = _path_with_images(plan(catalogue, host, target, options, max_hops=hops), extra)
    failed = tuple(dict.fromkeys(c.code for c in p.blocking)) if not p.found else ()
    unknown = tuple(dict.fromkeys(c.code for c in p.blocking
                                  if c.result is Result.UNKNOWN)) if not p.found else ()
    # select never picks a reinstall or a rollback (engine.select): an image of the running
    # release or an older one is listed as a candidate but not selected.
    running = host.module_version
    newer = running is not None and target.key > running.key
    chosen = p.found and newer
    result = SelectResult(
        selected=target if chosen else None,
        path=p.hops if chosen else (),
        candidates=(Candidate(target, p.found, failed, len(p.hops) if p.found else None,
                              unknown),),
    )
    return Selection(result, host.module_version)


def list_releases(policy: PolicySpec, given: HostFacts, options: MoveOptions,
                  facts_given: bool) -> ReleaseList:
    """``list``: every release; with host facts (``facts_given``), the verdict of moving
    there, decided one release at a time as the rows are written
    (:func:`tdxpolicy.engine.decide_each`)."""
    catalogue = policy.load()
    if not facts_given:
        return ReleaseList(catalogue, ((r, None) for r in catalogue.newest_first()),
                           given.module_version, False)
    from ..engine import decide_each

    return ReleaseList(catalogue, decide_each(catalogue, given, options),
                       given.module_version, True)


def run_fleet_file(
    facts_file: str, out: IO[bytes], policy: PolicySpec, options: MoveOptions, *,
    target: Version | None, select: bool, max_hops: int | None, fmt: str,
    keep: Sequence[str] = (), stdin: IO[bytes] | None = None,
) -> FleetSummary:
    """``fleet``: decide every host of a JSON Lines file (``-``: ``stdin``; gzip too) and write
    one output line per input line to ``out``. Usage errors (both or neither of a target and
    ``select``, ``--max-hops`` with a target, ``full`` rows in another format, a bad ``keep``
    column) raise :class:`~tdxpolicy.errors.InputError` before anything is read."""
    import gc

    from ..fleet import check_keep

    if (target is None) == (not select):
        raise InputError("fleet: give exactly one of --to VERSION or --select", code="usage")
    if target is not None and max_hops is not None:
        # A --to verdict is one move; silently ignoring the hop limit would mislead.
        raise InputError("fleet: --max-hops applies only with --select (--to decides one "
                         "direct move per host)", code="usage")
    kept = check_keep(keep)
    catalogue = policy.load()
    # Speed device (docs/performance.md#settle-heap): everything loaded so far lives for the
    # whole run; freezing it keeps the cyclic GC from re-scanning the catalogue on every
    # collection that the per-line JSON objects trigger, whatever the catalogue's size.
    # Unfrozen at the end (in-process callers, tests). Remove both calls to undo; answers do
    # not change.
    from ..sources import settle_heap

    settle_heap()
    try:
        return _fleet_stream(facts_file, out, catalogue, options, target, max_hops or 1, fmt,
                             kept, stdin if stdin is not None else sys.stdin.buffer)
    finally:
        gc.unfreeze()


def _fleet_stream(facts_file: str, out: IO[bytes], catalogue: Catalogue,
                  options: MoveOptions, target: Version | None, max_hops: int, fmt: str,
                  kept: tuple[str, ...], stdin: IO[bytes]) -> FleetSummary:
    from ..fleet import run_fleet, streaming_input

    raw: Any
    if facts_file == "-":
        raw, name, close = stdin, "<stdin>", False
    else:
        try:
            raw = open(facts_file, "rb")
        except OSError as e:
            raise InputError(f"cannot read {facts_file}: {e.strerror or e}",
                             code="unreadable") from None
        name, close = facts_file, True
    stream: Any = raw
    try:
        try:
            gzipped = raw.peek(2)[:2] == b"\x1f\x8b"
        except (AttributeError, OSError):
            gzipped = False
        if gzipped:
            import gzip

            stream = gzip.GzipFile(fileobj=raw, mode="rb")
        return run_fleet(
            stream, out, catalogue, options,
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
