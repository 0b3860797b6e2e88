"""``diff`` as a library call: review a change of policy data (:mod:`tdxpolicy.diff`), with
the host impact counted over host facts files and a fleet's JSON Lines."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ..errors import InputError
from ..hostfacts import HostFacts
from ..verdict import MoveOptions

if TYPE_CHECKING:  # pragma: no cover
    from ..catalogue import Catalogue
    from ..diff import CatalogueDiff

__all__ = ["EMBEDDED", "MAX_FLEET_LINE_BYTES", "diff_sources", "fleet_hosts"]

#: The side of a diff that names the catalogue embedded in this tdxpolicy.
EMBEDDED = "@embedded"
MAX_FLEET_LINE_BYTES = 64 * 1024


def _side(arg: str) -> Catalogue:
    from ..sources import load_catalogue

    if arg == EMBEDDED:
        return load_catalogue([], include_default=True)
    return load_catalogue([Path(arg)], include_default=False)


def fleet_hosts(path: Path) -> list[HostFacts]:
    """Host facts from a JSON Lines file (the ``fleet`` input; ``-``: stdin); any bad line is
    an error."""
    from ..codecs.hostfacts import decode_json_text, facts_from_obj
    from ..model import Location

    name = str(path)
    hosts: list[HostFacts] = []
    try:
        fh = sys.stdin.buffer if name == "-" else path.open("rb")
    except OSError as e:
        raise InputError(f"--fleet: cannot read {name}: {e.strerror or e}",
                         code="unreadable") from None
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


def diff_sources(old: str, new: str, options: MoveOptions, *, facts: Sequence[Path] = (),
                 fleet: Path | None = None, max_hops: int = 3) -> CatalogueDiff:
    """``diff OLD NEW``: each side a policy source or directory, or :data:`EMBEDDED`. With
    hosts (host facts files ``facts`` and/or a ``fleet`` JSON Lines file), count those whose
    selected target changes."""
    from ..codecs.hostfacts import read_facts_file
    from ..diff import diff_catalogues

    old_cat = _side(old)
    new_cat = _side(new)
    hosts: list[HostFacts] | None = None
    if facts or fleet is not None:
        hosts = [read_facts_file(p) for p in facts]
        if fleet is not None:
            hosts += fleet_hosts(fleet)
    return diff_catalogues(old_cat, new_cat, old_name=old, new_name=new, hosts=hosts,
                           options=options, max_hops=max_hops)
