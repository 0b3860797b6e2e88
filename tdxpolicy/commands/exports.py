"""What the exporter formats need (``--format nfd|prometheus|junit``), gathered in one value.

A move command's answer (a verdict, a selection) says nothing of the host it was decided
for; the node-feature-discovery labels and the Prometheus metrics also name the running
module, its P-SEAMLDR, the update budget and the kernel's update interface
(docs/exporters.md). :func:`host_export` puts them together: the facts the decision used, the
probe of this host when the facts came from it, and, for Prometheus, the update records
(``update`` appends one per attempt). The renderers are pure functions of this value
(:mod:`tdxpolicy.render.export_formats`).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .._value import value

if TYPE_CHECKING:  # pragma: no cover
    from ..host.probe import ProbeResult
    from ..hostfacts import HostFacts
    from ..verdict import SelectResult, Verdict

__all__ = ["HostExport", "host_export", "FleetRows", "fleet_rows", "NFD_LIFETIME"]

#: How long node-feature-discovery keeps the labels of one run (`# +expiry-time=`): the
#: systemd timer in contrib/ refreshes them every 10 minutes, so an hour survives a few missed
#: runs and still drops the labels of a host whose exporter stopped.
NFD_LIFETIME = _dt.timedelta(hours=1)


@value
class HostExport:
    facts: HostFacts | None
    probe: ProbeResult | None
    verdicts: tuple[Verdict, ...]
    select: SelectResult | None
    now: _dt.datetime  # timezone-aware
    records: tuple[dict[str, Any], ...]  # update records, oldest first (Prometheus only)


def host_export(*, facts: HostFacts | None, probe: ProbeResult | None = None,
                verdicts: Sequence[Verdict] = (), select: SelectResult | None = None,
                record_file: Path | None = None,
                now: _dt.datetime | None = None) -> HostExport:
    """The export of one run. ``record_file``: the update records to read (default: those
    ``update`` appends); a missing file means no update yet."""
    from ..host.records import DEFAULT_RECORD

    path = DEFAULT_RECORD if record_file is None else record_file
    records = _read_records(path) if path.exists() else ()
    return HostExport(facts, probe, tuple(verdicts), select,
                      now or _dt.datetime.now(_dt.timezone.utc), records)


def probe_if_needed(given: HostFacts, probe: Any = None) -> ProbeResult | None:
    """The probe of this host when the decision's facts come from it (no ``--from``), for
    the update-interface label and metric; ``None`` when the facts were given."""
    if given.module_version is not None:
        return None
    if probe is None:
        from ..host.probe import probe as probe
    result: ProbeResult = probe()
    return result


def _read_records(path: Path) -> tuple[dict[str, Any], ...]:
    """The update records of ``path``; a line that is not a JSON object is a located error
    (exit 2), never a traceback and never silently skipped."""
    import json

    from ..errors import InputError
    from ..model import Location

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError.at(f"cannot read the update records: {e}", Location(str(path)),
                            code="unreadable") from None
    out: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            record = None
        if not isinstance(record, dict):
            raise InputError.at("not an update record (expected one JSON object per line, "
                                "as `tdxpolicy update` appends them)", Location(str(path), n),
                                code="invalid-input")
        out.append(record)
    return tuple(out)


@value
class FleetRows:
    """``fleet --format junit``: the decided lines (compact rows or ``--full`` documents)."""

    rows: tuple[dict[str, Any], ...]


def fleet_rows(jsonl: bytes) -> FleetRows:
    """The fleet's own JSON Lines output, read back (always well-formed: written here)."""
    import json

    return FleetRows(tuple(json.loads(line) for line in jsonl.splitlines() if line.strip()))
