"""CLI command ``diff``: review a change of policy data (:mod:`tdxpolicy.diff`).

Options -> load both sides and the host facts -> :func:`tdxpolicy.diff.diff_catalogues` ->
render (:mod:`tdxpolicy.render.diff`) -> exit 1 when a runtime path is lost or an SVN lowered.
Only typer and the standard library are imported at module level (start-up budget). No
``from __future__ import annotations``: typer reads the annotations at run time.
"""

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from . import ExitCode, app
from .facts_opts import AcknowledgeOpt, AssumeUnknownOkOpt

if TYPE_CHECKING:  # pragma: no cover
    from ..catalogue import Catalogue
    from ..hostfacts import HostFacts

#: The side of a diff that names the catalogue embedded in this tdxpolicy.
EMBEDDED = "@embedded"
MAX_FLEET_LINE_BYTES = 64 * 1024


class DiffFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"


def _side(arg: str) -> "Catalogue":
    from ..sources import load_catalogue

    if arg == EMBEDDED:
        return load_catalogue([], include_default=True)
    return load_catalogue([Path(arg)], include_default=False)


def _fleet_hosts(path: Path) -> "list[HostFacts]":
    """Host facts from a JSON Lines file (the ``fleet`` input); any bad line is an error."""
    from ..errors import InputError
    from ..model import Location
    from ..sources.hostfacts import decode_json_text, facts_from_obj

    name = str(path)
    hosts: list[HostFacts] = []
    try:
        fh = sys.stdin.buffer if name == "-" else path.open("rb")
    except OSError as e:
        raise InputError(f"--fleet: cannot read {name}: {e.strerror or e}", code="unreadable") from None
    with fh:
        for n, raw in enumerate(iter(lambda: fh.readline(MAX_FLEET_LINE_BYTES + 1), b""), 1):
            if len(raw) > MAX_FLEET_LINE_BYTES:
                raise InputError.at(f"line longer than {MAX_FLEET_LINE_BYTES} bytes",
                                    Location(name, n), code="invalid-host-facts")
            if not raw.strip():
                continue
            obj = decode_json_text(raw.rstrip(b"\r\n"), name, line=n)
            hosts.append(facts_from_obj(obj, name, line=n))
    return hosts


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
) -> int:
    """Review a change of policy data: releases added and removed, facts and rules changed,
    and which runtime paths it opens or closes. Exit 1 when a runtime path is lost or an SVN
    is lowered (a pipeline can gate a data refresh on it), 0 otherwise, 2 for bad input."""
    from .. import __version__
    from ..diff import diff_catalogues
    from ..render.diff import diff_json, diff_sarif, diff_text
    from ..render.json_out import dumps
    from .facts_opts import move_options_from, read_facts_file

    old_cat = _side(old)
    new_cat = _side(new)
    hosts: list[HostFacts] | None = None
    if facts or fleet is not None:
        hosts = [read_facts_file(p) for p in facts or ()]
        if fleet is not None:
            hosts += _fleet_hosts(fleet)
    options = move_options_from(acknowledge=acknowledge, assume_unknown_ok=assume_unknown_ok)
    d = diff_catalogues(old_cat, new_cat, old_name=old, new_name=new, hosts=hosts,
                        options=options, max_hops=max_hops)
    if format is DiffFormat.json:
        sys.stdout.write(dumps(diff_json(d)) + "\n")
    elif format is DiffFormat.sarif:
        sys.stdout.write(dumps(diff_sarif(d, __version__)) + "\n")
    else:
        sys.stdout.write(diff_text(d))
    return ExitCode.DENIED if d.breaking else ExitCode.OK
