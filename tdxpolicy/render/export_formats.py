"""The exporter formats as the output registry calls them (``f(result, style) -> str``), the
same decisions summarised once by :mod:`.exported` for both NFD and Prometheus:
adapters from command results to the pure renderers :mod:`.nfd`, :mod:`.prometheus` and
:mod:`.junit` (docs/exporters.md). Imported only when one of these formats is chosen."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..commands.exports import FleetRows, HostExport
    from ..host.preflight import Preflight
    from ..verdict import Verdict

__all__ = ["nfd_text", "prometheus", "verdict_junit", "preflight_junit", "fleet_junit"]


def nfd_text(export: HostExport, style: Any = None) -> str:
    from ..commands.exports import NFD_LIFETIME
    from .nfd import nfd_features

    return nfd_features(expires=export.now + NFD_LIFETIME, probe=export.probe,
                        facts=export.facts, verdicts=export.verdicts, select=export.select)


def prometheus(export: HostExport, style: Any = None) -> str:
    from .prometheus import prometheus_text

    return prometheus_text(now=export.now, facts=export.facts,
                           interface=None if export.probe is None else export.probe.interface,
                           verdicts=export.verdicts, select=export.select,
                           records=export.records)


def verdict_junit(verdict: Verdict, style: Any = None) -> str:
    from .junit import junit_verdicts

    return junit_verdicts([verdict], name="tdxpolicy can-upgrade")


def preflight_junit(preflight: Preflight, style: Any = None) -> str:
    from .junit import junit_preflight

    return junit_preflight(preflight)


def fleet_junit(fleet: FleetRows, style: Any = None) -> str:
    from .junit import junit_fleet

    return junit_fleet(fleet.rows)
