"""Options that describe the host and how a move is judged (docs/cli.md#host-facts and
"Options for moves"), shared by every command that decides moves.

Use them as typer parameter annotations::

    @app.command("can-upgrade")
    def can_upgrade(from_: FromOpt = None, seamldr: SeamldrOpt = None, cpuid: CpuidOpt = None,
                    remaining: RemainingOpt = None, facts: FactsOpt = None, ...):
        host = host_facts_from_options(from_, seamldr, cpuid, remaining, facts)

Flags override values from ``--facts``. Malformed values raise
:class:`~tdxpolicy.errors.InputError` naming the flag and what was expected (exit 2).
Only the standard library and typer are imported at module level (start-up speed).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional, Sequence

import typer

from . import LazyModule
from .._value import replace
from ..errors import InputError
from ..hostfacts import HostFacts, parse_cpuid_field
from ..verdict import MoveOptions
from ..version import Version, VersionError, parse_version

if TYPE_CHECKING:  # pragma: no cover
    from ..codecs import hostfacts as codec
else:  # the host facts codec, imported when --facts or --cpuid is given (start-up budget)
    codec = LazyModule("tdxpolicy.codecs.hostfacts")

__all__ = [
    "FromOpt",
    "SeamldrOpt",
    "CpuidOpt",
    "RemainingOpt",
    "FactsOpt",
    "AssumeUnknownOkOpt",
    "AllowDebugOpt",
    "AllowRollbackOpt",
    "StrictOpt",
    "AcknowledgeOpt",
    "parse_version_flag",
    "parse_cpuid_flag",
    "read_facts_file",
    "host_facts_from_options",
    "move_options_from",
]

_FACTS = "Host facts"
_MOVE = "Move options"

FromOpt = Annotated[
    Optional[str],
    typer.Option("--from", metavar="VERSION", help="Running TDX module version, e.g. 1.5.06.",
                 rich_help_panel=_FACTS),
]
SeamldrOpt = Annotated[
    Optional[str],
    typer.Option("--seamldr", metavar="VERSION", help="Running P-SEAMLDR version, e.g. 2.0.00.",
                 rich_help_panel=_FACTS),
]
CpuidOpt = Annotated[
    Optional[list[str]],
    typer.Option("--cpuid", metavar="HEX",
                 help="CPUID.1.EAX of a CPU package, e.g. 0x806F8 (repeatable: one per package).",
                 rich_help_panel=_FACTS),
]
RemainingOpt = Annotated[
    Optional[str],
    typer.Option("--remaining", metavar="N",
                 help="P-SEAMLDR num_remaining_updates (runtime updates left before a reboot).",
                 rich_help_panel=_FACTS),
]
FactsOpt = Annotated[
    Optional[Path],
    typer.Option("--facts", metavar="FILE",
                 help="Host facts JSON (schemas/host-facts.schema.json); flags override it.",
                 rich_help_panel=_FACTS),
]
AssumeUnknownOkOpt = Annotated[
    bool,
    typer.Option("--assume-unknown-ok",
                 help="Off-line planning: host facts not given (P-SEAMLDR, CPUID, remaining "
                 "updates) do not deny. Never relaxes versions the catalogue does not know.",
                 rich_help_panel=_FACTS),
]
AllowDebugOpt = Annotated[
    bool, typer.Option("--allow-debug", help="Permit a debug-signed target.", rich_help_panel=_MOVE)
]
AllowRollbackOpt = Annotated[
    bool,
    typer.Option("--allow-rollback",
                 help="Permit a rollback the policy does not grant (loader rules still apply).",
                 rich_help_panel=_MOVE),
]
StrictOpt = Annotated[
    bool,
    typer.Option("--strict", help="Stale documents and warnings deny.", rich_help_panel=_MOVE),
]
AcknowledgeOpt = Annotated[
    Optional[list[str]],
    typer.Option("--acknowledge", metavar="WORD",
                 help="Acknowledge an advisory of the target (e.g. td-build), or "
                 "'features-lost' for TDX_FEATURES0 bits the move loses; 'all' for every one. "
                 "Repeatable.",
                 rich_help_panel=_MOVE),
]


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def parse_version_flag(flag: str, text: str) -> Version:
    """A version given on the command line; the error names the flag."""
    try:
        return parse_version(text.strip())
    except VersionError:
        raise InputError(f"{flag}: expected a version like 1.5.06, got {_shown(text)}",
                         code="invalid-flag") from None


def target_flag(to: str | None) -> Version | None:
    """``--to``: the target version, or ``None`` when not given."""
    return None if to is None else parse_version_flag("--to", to)


def parse_cpuid_flag(text: str, flag: str = "--cpuid") -> int:
    """``0x806F8`` (or ``806F8``): CPUID.1.EAX, 32 bits at most."""
    value = parse_cpuid_field(text.strip())
    if value is None:
        raise InputError(f"{flag}: expected a hex value like 0x806F8, got {_shown(text)}",
                         code="invalid-flag")
    return value


def parse_count_flag(flag: str, text: str) -> int:
    t = text.strip()
    if t.startswith("-") and t[1:].isdigit():
        raise InputError(f"{flag}: expected a whole number >= 0, got {_shown(text)} "
                         "(a count cannot be negative)", code="invalid-flag")
    if not t.isdigit() or not t.isascii():
        raise InputError(f"{flag}: expected a whole number >= 0, got {_shown(text)}",
                         code="invalid-flag")
    if len(t.lstrip("0")) > 9:
        raise InputError(f"{flag}: expected a whole number from 0 to 999999999, got "
                         f"{_shown(text)} (P-SEAMLDR counts far fewer updates)",
                         code="invalid-flag")
    return int(t)


def read_facts_file(path: Path) -> HostFacts:
    """Read and validate a ``--facts`` file (``-`` reads stdin)."""
    return codec.read_facts_file(path, "--facts")


def host_facts_from_options(
    from_: str | None = None,
    seamldr: str | None = None,
    cpuid: Sequence[str] | None = None,
    remaining: str | int | None = None,
    facts: Path | None = None,
) -> HostFacts:
    """The host facts given on the command line: ``--facts`` first, flags override it.

    A fact given by neither stays ``None`` (unknown). Nothing is probed here; commands decide
    whether to probe the host when the running version is unknown.
    """
    base = read_facts_file(facts) if facts is not None else HostFacts(origin="flags")
    changes: dict[str, object] = {}
    if from_ is not None:
        changes["module_version"] = parse_version_flag("--from", from_)
    if seamldr is not None:
        changes["seamldr_version"] = parse_version_flag("--seamldr", seamldr)
    if cpuid:
        changes["cpuid"] = tuple(parse_cpuid_flag(c) for c in cpuid)
    if remaining is not None:
        if isinstance(remaining, int):
            if remaining < 0:
                raise InputError(f"--remaining: expected a whole number >= 0, got {remaining}",
                                 code="invalid-flag")
            changes["num_remaining_updates"] = remaining
        else:
            changes["num_remaining_updates"] = parse_count_flag("--remaining", remaining)
    if not changes:
        return base
    if facts is not None:
        changes["origin"] = "file+flags"
    return replace(base, **changes)


def move_options_from(
    allow_debug: bool = False,
    allow_rollback: bool = False,
    strict: bool = False,
    acknowledge: Sequence[str] | None = None,
    assume_unknown_ok: bool = False,
    today: _dt.date | None = None,
) -> MoveOptions:
    """MoveOptions from the move flags; ``today`` defaults to the real date (for ``expires``)."""
    words = frozenset(w.strip() for w in (acknowledge or ()) if w.strip())
    return MoveOptions(
        allow_debug=allow_debug,
        allow_rollback=allow_rollback,
        strict=strict,
        assume_unknown_ok=assume_unknown_ok,
        today=today if today is not None else _dt.date.today(),
        acknowledged=words,
    )
